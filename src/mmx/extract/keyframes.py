"""One small picture per clip (the explorer's thumbnails and scene strips): the clip's middle frame.

The keyframe of a clip is the decoded frame nearest to the middle of the clip's start/end times
(``keyframe_indices``), shrunk to ``width`` pixels wide with its aspect kept and saved as a JPEG
through Pillow. Extraction keeps them in the same pass that samples the experts' frames; a store
entry made before keyframes existed gets them from its stored clip times (``video_keyframes``),
without running any expert.
"""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np

from mmx.errors import VideoError
from mmx.extract.decode import Resizer, decode_video, display_size, frame_time, monotonic_times, probe


def keyframe_indices(times: np.ndarray, clip_times: np.ndarray) -> np.ndarray:
    """(n_frames,) frame times and (n_clips, 2) clip start/end → (n_clips,) index of each clip's middle frame."""
    mids = clip_times.mean(axis=1)  # (n_clips,)
    out = np.empty(len(clip_times), np.int64)
    for c, (t0, t1) in enumerate(clip_times):
        inside = np.nonzero((times >= t0 - 1e-6) & (times < t1 - 1e-6))[0]  # the clip's frames
        pool = inside if inside.size else np.arange(len(times))
        out[c] = pool[np.abs(times[pool] - mids[c]).argmin()]
    return out


class KeyframeMaker:
    """Decoded frames → small JPEG bytes (``width`` px wide, even height, aspect kept)."""

    def __init__(self, width: int = 160, quality: int = 80):
        self.width, self.quality = width, quality
        self.resizer = Resizer()

    def __call__(self, frame: av.VideoFrame) -> bytes:
        from PIL import Image  # Pillow: the extract extra

        shown_w, shown_h = display_size(frame)
        width = min(self.width, shown_w)
        height = max(2, round(shown_h * width / shown_w / 2) * 2)
        rgb = self.resizer.image(frame, width, height)  # (height, width, 3) uint8
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format="JPEG", quality=self.quality)
        return buf.getvalue()


def frame_times(path: Path) -> np.ndarray:
    """(n_frames,) time of every decodable frame, seconds from the first (as the scan pass has them)."""
    fps = probe(path).fps
    times = [frame_time(frame, i, fps) for i, frame in enumerate(decode_video(path))]
    if not times:
        raise VideoError(f"{path}: no video frame could be decoded")
    return monotonic_times(times)


def grab_frames(path: Path, wanted: dict[int, list[int]], make: KeyframeMaker) -> dict[int, bytes]:
    """Decode ``path`` and turn frame ``i`` into the keyframe of each clip in ``wanted[i]``."""
    out: dict[int, bytes] = {}
    last = max(wanted, default=-1)
    for i, frame in enumerate(decode_video(path)):
        if i > last:
            break
        if i in wanted:
            image = make(frame)
            out.update((c, image) for c in wanted[i])
    return out


def by_frame(indices: np.ndarray) -> dict[int, list[int]]:
    """(n_clips,) frame index per clip → frame index → the clips whose keyframe it is."""
    out: dict[int, list[int]] = {}
    for c, i in enumerate(indices.tolist()):
        out.setdefault(i, []).append(c)
    return out


def video_keyframes(path: Path, clip_times: np.ndarray, width: int = 160, quality: int = 80) -> list[bytes]:
    """The keyframe of every clip of ``path``, from the clips' stored start/end times (two decoding passes:
    frame times, then the chosen frames; the experts are not run)."""
    wanted = keyframe_indices(frame_times(path), np.asarray(clip_times, np.float64))
    images = grab_frames(path, by_frame(wanted), KeyframeMaker(width, quality))
    if len(images) != len(wanted):
        raise VideoError(f"{path}: the second decoding pass gave fewer frames than the first; is the file changing?")
    return [images[c] for c in range(len(wanted))]
