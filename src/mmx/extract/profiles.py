"""Named extraction profiles: how densely each expert samples its clips, and in which precision.

A profile is a starting point; ``ExtractConfig.sampling`` and ``ExtractConfig.precision`` override
it expert by expert. ``mmx extract --profile NAME`` picks one; docs/extraction.md's "Extraction profiles"
table gives each one's cost (seconds per minute of video) and what it does to quality on the
generated demo corpus.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mmx.errors import ConfigError


@dataclass(frozen=True)
class Profile:
    summary: str  # one line for `mmx extract --help` and docs/extraction.md
    sampling: dict[str, dict[str, float]] = field(default_factory=dict)  # expert → fps/min_frames/max_frames/size
    precision: str = "auto"  # "auto": bf16/fp16 where the hardware computes it natively; "fp32" everywhere else


PROFILES: dict[str, Profile] = {
    "paper": Profile(
        "every frame, as the paper (§4.2 averages frame-level features over the clip): appearance and scene on "
        "up to 64 frames per clip at 25 fps, I3D on up to 64 frames at 25 fps (its Kinetics input); fp32",
        sampling={"appearance": {"fps": 25, "max_frames": 64}, "scene": {"fps": 25, "max_frames": 64},
                  "motion": {"fps": 25, "min_frames": 16, "max_frames": 64}},
        precision="fp32",
    ),
    "default": Profile(
        "each expert's own rates: appearance 2 fps (≤ 16 frames), scene 1 fps (≤ 8), I3D 8 fps (8–16 frames, "
        "224 px); bf16 where the CPU or GPU has it"),
    "fast": Profile(
        "one frame per clip for appearance and scene, I3D on 8 frames at 112 px; bf16 where the hardware has it "
        "(the demo's profile)",
        sampling={"appearance": {"max_frames": 1}, "scene": {"max_frames": 1},
                  "motion": {"size": 112, "max_frames": 8}},
    ),
}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ConfigError(f"unknown extraction profile {name!r}; known: {', '.join(PROFILES)}") from None
