"""Settings of the extraction front end (§4.1): scene cuts, clip trimming, audio, flow, sampling
profile, device and precision, parallelism, keyframes."""

from __future__ import annotations

from dataclasses import dataclass, field

from mmx.errors import ConfigError
from mmx.extract.profiles import get_profile

VIDEO_SUFFIXES = (".mp4", ".mkv", ".webm", ".avi", ".mov")  # what a folder given to `mmx extract` is searched for


@dataclass
class ExtractConfig:
    experts: list[str] = field(  # registry names (`mmx experts` lists them); the paper's four roles
        default_factory=lambda: ["appearance", "motion", "scene", "audio"]
    )
    scene_threshold: float = 27.0  # ContentDetector cut threshold (PySceneDetect's default)
    min_scene_len: int = 15  # frames at least between two cuts (PySceneDetect's default)
    scene_width: int = 256  # frames are shrunk to this width for scene detection only (PySceneDetect's default)
    drop_frames: int = 1  # frames dropped at each end of a clip (§4.1: first and last); short clips keep all
    audio_rate: int = 16000  # Hz; audio is resampled to mono 16-bit at this rate (VGGish's input)
    wav_dir: str | None = None  # keep each trailer's resampled audio as <wav_dir>/<trailer_id>.wav; None = don't
    flow: bool = True  # compute TV-L1 flow for flow-stream experts (~0.4 s per frame pair); False leaves them out
    flow_workers: int = -1  # processes computing TV-L1 flow: -1 = one per CPU core, 0 = in the extracting process
    workers: int = 1  # videos extracted in parallel processes, each loading its own experts
    threads: int = 0  # expert threads per worker, each running PyTorch single-threaded; 0 = the CPU cores this
    # process may use divided by ``workers`` (one intra-op thread per worker degrades gracefully on a busy machine)
    profile: str = "default"  # sampling profile (mmx.extract.profiles): "paper", "default" or "fast"
    sampling: dict[str, dict[str, float]] = field(default_factory=dict)  # expert → overrides of the profile's fps,
    # min_frames, max_frames or size, e.g. {"motion": {"size": 112, "max_frames": 8}}
    device: str = "auto"  # where the experts run: "cpu", "cuda", "cuda:N"; "auto" = a GPU when one is visible
    precision: str | None = None  # "fp32", "bf16", "fp16" or "auto" (half precision where the hardware has it
    # natively); None = the profile's. Experts that gain nothing from it (GIST, musicnn) stay in fp32
    scene_buffer_mb: float = 512  # decoded frames of the current scene kept (~1.4 MB per 720p frame) so that one
    # decoding pass cuts and samples; a longer scene is sampled in a second pass; 0 = always two passes
    keyframes: bool = True  # keep one small JPEG per clip (its middle frame) in the entry, for the explorer
    keyframe_width: int = 160  # pixels; the height follows the picture's aspect
    keyframe_quality: int = 80  # JPEG quality (1–95)
    min_clips: int = 10  # trailers with fewer clips are kept but flagged (§4.1 leaves them out of training)
    large_side: int = 1080  # short side above which a video is flagged as resized (frames are never kept full size)
    vfr_tolerance: float = 0.1  # frame durations varying by more than this fraction flag a variable frame rate

    def __post_init__(self) -> None:
        get_profile(self.profile)
        if self.precision not in (None, "auto", "fp32", "bf16", "fp16"):
            raise ConfigError(f"precision {self.precision!r} must be one of auto, fp32, bf16, fp16")
        if self.threads < 0 or self.workers < 1 or self.scene_buffer_mb < 0:
            raise ConfigError(f"threads ({self.threads}) and scene_buffer_mb ({self.scene_buffer_mb}) must be >= 0, "
                              f"workers ({self.workers}) >= 1")
        if not 16 <= self.keyframe_width <= 1024 or not 1 <= self.keyframe_quality <= 95:
            raise ConfigError("keyframe_width must be 16–1024 px and keyframe_quality 1–95")

    def expert_sampling(self, name: str) -> dict[str, float]:
        """The profile's sampling of expert ``name`` with this config's overrides on top."""
        return {**get_profile(self.profile).sampling.get(name, {}), **self.sampling.get(name, {})}

    def wanted_precision(self) -> str:
        """"fp32", "bf16", "fp16" or "auto": this config's, else its profile's."""
        return self.precision or get_profile(self.profile).precision

    def vector_settings(self) -> dict:
        """The settings that change the stored vectors: a rerun with equal ones skips a trailer."""
        return {
            "scene_threshold": self.scene_threshold,
            "min_scene_len": self.min_scene_len,
            "scene_width": self.scene_width,
            "drop_frames": self.drop_frames,
            "audio_rate": self.audio_rate,
        }
