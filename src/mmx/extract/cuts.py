"""Scene cuts with PySceneDetect's content detector (§4.1: trailers are split into scene clips).

We decode the frames ourselves (PyAV, see ``decode``) and feed them, small and in BGR, to
``scenedetect.detectors.ContentDetector``: a cut is where the weighted change of hue, saturation
and brightness between two frames passes ``threshold``, with at least ``min_scene_len`` frames
between cuts. A video without any cut is one clip.

PySceneDetect 0.6.7.x (the ``extract`` extra pins it): its detectors take and return plain frame
numbers, and it declares OpenCV only as an optional extra, so pip installs it beside
``opencv-contrib-python-headless`` (0.7 hard-requires ``opencv-python``, which shadows the contrib
build). Only the detector is used; PySceneDetect never opens a file here.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from scenedetect.detectors import ContentDetector


class CutDetector:
    """Feed frames in order with ``add``; ``finish`` returns the frame index of every cut."""

    def __init__(self, fps: float, threshold: float = 27.0, min_scene_len: int = 15):
        self.fps = float(fps)  # frames per second of the video (cuts are frame numbers; kept for callers)
        self.detector = ContentDetector(threshold=threshold, min_scene_len=min_scene_len)
        self.cuts: list[int] = []
        self.last = -1

    def add(self, index: int, bgr: np.ndarray) -> None:
        """``bgr``: (H, W, 3) uint8 frame number ``index`` (indices consecutive from 0)."""
        self.last = index
        self.cuts += self.detector.process_frame(index, bgr)

    def finish(self) -> list[int]:
        if self.last >= 0:
            self.cuts += self.detector.post_process(self.last)
        return sorted({c for c in self.cuts if 0 < c <= self.last})


def detect_cuts(
    frames: Iterable[np.ndarray], fps: float, threshold: float = 27.0, min_scene_len: int = 15,
) -> list[int]:
    """Cut frame indices of a sequence of (H, W, 3) uint8 BGR frames."""
    detector = CutDetector(fps, threshold, min_scene_len)
    for i, frame in enumerate(frames):
        detector.add(i, frame)
    return detector.finish()


def scene_ranges(cuts: list[int], n_frames: int) -> list[tuple[int, int]]:
    """Cuts → [start, end) frame ranges covering all ``n_frames``; no cuts → one scene."""
    bounds = [0] + [c for c in cuts if 0 < c < n_frames] + [n_frames]
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
