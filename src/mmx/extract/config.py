"""Settings of the extraction front end (§4.1): scene cuts, clip trimming, audio, flow, parallelism."""

from __future__ import annotations

from dataclasses import dataclass, field


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
    sampling: dict[str, dict[str, float]] = field(default_factory=dict)  # expert → overrides of its fps, min_frames,
    # max_frames or size, e.g. {"motion": {"size": 112, "max_frames": 8}} for a quick CPU run
    min_clips: int = 10  # trailers with fewer clips are kept but flagged (§4.1 leaves them out of training)
    large_side: int = 1080  # short side above which a video is flagged as resized (frames are never kept full size)
    vfr_tolerance: float = 0.1  # frame durations varying by more than this fraction flag a variable frame rate

    def vector_settings(self) -> dict:
        """The settings that change the stored vectors: a rerun with equal ones skips a trailer."""
        return {
            "scene_threshold": self.scene_threshold,
            "min_scene_len": self.min_scene_len,
            "scene_width": self.scene_width,
            "drop_frames": self.drop_frames,
            "audio_rate": self.audio_rate,
        }
