"""Decoding with PyAV (FFmpeg): open a file, say clearly why it cannot be read, stream its frames.

Real trailers have bad packets, variable frame rates and sizes from 240p to 8K. A packet that
FFmpeg rejects (``av.error.InvalidDataError``) is skipped and counted, not fatal; every frame keeps
its own timestamp (so a variable frame rate gives the right clip times); frames are converted
straight to the small size a consumer asks for, so a huge picture never sits in memory as RGB.
A phone video stored sideways with a display matrix ("rotate" metadata) is seen upright: sizes
are the displayed ones and every image is turned as a player would show it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from mmx.errors import VideoError


@dataclass
class VideoInfo:
    width: int
    height: int
    fps: float  # average frame rate (the container's; per-frame timestamps are the truth)
    duration: float  # seconds, from the container (0.0 when it does not say)
    has_audio: bool
    codec: str
    rotation: int = 0  # degrees counter-clockwise the coded picture is turned for display (0, 90, 180, 270)


@dataclass
class DecodeStats:
    frames: int = 0  # frames decoded
    bad_packets: int = 0  # packets FFmpeg rejected and we skipped


def open_video(path: Path) -> av.container.InputContainer:
    """Open ``path`` for decoding, or raise ``VideoError`` with the reason in plain words."""
    try:
        size = os.path.getsize(path)
    except OSError as e:
        raise VideoError(f"{path}: cannot be read ({e.strerror})") from None
    if size == 0:
        raise VideoError(f"{path}: is empty (0 bytes)")
    if not os.access(path, os.R_OK):
        raise VideoError(f"{path}: cannot be read (permission denied)")
    try:
        return av.open(str(path))
    except av.error.FFmpegError as e:
        raise VideoError(
            f"{path}: is not a video FFmpeg can read ({_reason(e)}); is it truncated or not a video?"
        ) from None


def _reason(e: av.error.FFmpegError) -> str:
    return getattr(e, "strerror", None) or str(e)


def video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream | None:
    """The first real video stream: cover art in a music file (an "attached picture") is not video."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    return None


def probe(path: Path) -> VideoInfo:
    """Stream facts of ``path``; ``VideoError`` when it has no video stream (e.g. audio only)."""
    with open_video(path) as container:
        stream = video_stream(container)
        if stream is None:
            kind = "audio only" if container.streams.audio else "no streams"
            raise VideoError(f"{path}: has no video stream ({kind}); nothing to extract")
        if not stream.codec_context.width or not stream.codec_context.height:
            raise VideoError(f"{path}: its video stream has no picture size; is the file damaged?")
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        duration = float(container.duration) / av.time_base if container.duration else 0.0
        turns = _first_frame_turns(container, stream)
        width, height = stream.codec_context.width, stream.codec_context.height
        return VideoInfo(
            width=height if turns % 2 else width,
            height=width if turns % 2 else height,
            fps=float(rate) if rate else 25.0,
            duration=duration,
            has_audio=bool(container.streams.audio),
            codec=stream.codec_context.name,
            rotation=90 * turns,
        )


def quarter_turns(frame: av.VideoFrame) -> int:
    """Quarter turns counter-clockwise (0–3) that show ``frame`` as its display matrix says."""
    return round((getattr(frame, "rotation", 0) or 0) / 90) % 4  # PyAV < 14 has no display matrix: upright


def display_size(frame: av.VideoFrame) -> tuple[int, int]:
    """(width, height) of ``frame`` as displayed (swapped for a quarter-turned picture)."""
    return (frame.height, frame.width) if quarter_turns(frame) % 2 else (frame.width, frame.height)


def _first_frame_turns(container: av.container.InputContainer, stream) -> int:
    """The display matrix's quarter turns, read from the first decodable frame (0 when none decodes)."""
    for frame in decode_packets(_packets(container, stream, Path(container.name)), DecodeStats()):
        return quarter_turns(frame)
    return 0


def decode_video(path: Path, stats: DecodeStats | None = None) -> Iterator[av.VideoFrame]:
    """Every decodable frame of the first video stream, in order; bad packets are skipped and counted."""
    stats = stats if stats is not None else DecodeStats()
    with open_video(path) as container:
        stream = video_stream(container)
        if stream is None:
            raise VideoError(f"{path}: has no video stream; nothing to decode")
        stream.thread_type = "AUTO"  # frame + slice threads: several times faster on h264
        for frame in decode_packets(_packets(container, stream, path), stats):
            stats.frames += 1
            yield frame


def decode_packets(packets, stats: DecodeStats) -> Iterator[av.frame.Frame]:
    """The frames of ``packets``; a packet FFmpeg rejects is skipped and counted in ``stats``."""
    for packet in packets:
        try:
            frames = packet.decode()
        except av.error.InvalidDataError:
            stats.bad_packets += 1
            continue
        yield from frames


def _packets(container, stream, path: Path):
    """Demux packets of ``stream``; a container that breaks off mid-file ends the stream there."""
    demux = container.demux(stream)
    while True:
        try:
            packet = next(demux)
        except StopIteration:
            return
        except av.error.EOFError:
            return
        except av.error.InvalidDataError:  # damaged container structure: stop, keep what we have
            return
        yield packet


def frame_time(frame: av.VideoFrame, index: int, fps: float) -> float:
    """Presentation time of a frame in seconds; the frame's position at ``fps`` when it has no pts."""
    t = frame.time
    return float(t) if t is not None else index / fps


def scaled_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """(width, height) resized so the short side is ``short_side``, aspect kept, even numbers."""
    scale = short_side / min(width, height)
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


class Resizer:
    """Decoded frames → small numpy images, reusing one FFmpeg scaler (5× faster than one per frame)."""

    def __init__(self) -> None:
        self.reformatter = VideoReformatter()

    def image(self, frame: av.VideoFrame, width: int, height: int, fmt: str = "rgb24") -> np.ndarray:
        """(height, width, 3) uint8 in ``fmt`` ("rgb24" or "bgr24"), area-averaged when shrinking, upright
        (``width`` and ``height`` are the displayed picture's: a quarter-turned frame is scaled, then turned)."""
        turns = quarter_turns(frame)
        if turns % 2:
            width, height = height, width
        small = self.reformatter.reformat(frame, width=width, height=height, format=fmt, interpolation="AREA")
        img = small.to_ndarray()
        return np.ascontiguousarray(np.rot90(img, turns)) if turns else img

    def crop(self, frame: av.VideoFrame, size: int) -> np.ndarray:
        """Short side resized to ``size``, centre crop ``size``×``size`` → (size, size, 3) uint8 RGB."""
        w, h = scaled_size(*display_size(frame), size)
        w, h = max(w, size), max(h, size)
        img = self.image(frame, w, h)  # (h, w, 3)
        top, left = (h - size) // 2, (w - size) // 2
        return np.ascontiguousarray(img[top:top + size, left:left + size])


def monotonic_times(times: list[float]) -> np.ndarray:
    """Frame timestamps made non-decreasing (broken files repeat or go back), starting at 0."""
    t = np.maximum.accumulate(np.asarray(times, np.float64)) if times else np.zeros(0)
    return t - t[0] if t.size else t
