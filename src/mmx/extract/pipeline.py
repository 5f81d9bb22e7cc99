"""One trailer file → per-clip expert features and keyframes (§4.1, §4.2).

For each video:

1. **scenes** — decode every frame, shrink it to ``scene_width`` and run PySceneDetect's content
   detector; keep every frame's timestamp (variable frame rates give the right clip times). The
   audio track is decoded and embedded meanwhile, on the expert threads;
2. **clips** — the scenes between cuts; each clip drops its first and last frame (§4.1); a video
   without a cut is one clip;
3. **sample** — keep, for each expert, the frames of the clip nearest to its own sampling times
   (``fps`` frames per second, centred on the clip, between ``min_frames`` and ``max_frames``),
   resized on the short side to the expert's ``size`` and centre-cropped; and each clip's middle
   frame as a small JPEG (``keyframes``);
4. **embed** — while decoding goes on, each video expert embeds the clips sampled so far in large
   batches on the expert threads (``schedule``): one vector per clip from its frames (or their
   TV-L1 flow); the audio expert embeds the 16 kHz mono track window by window, and each window
   goes to the clip its centre falls in (``<expert>__clip``, for NetVLAD in the model).

Steps 1–3 share one decoding pass (``DecodePass``; the sampling itself is ``ClipSampler``): the
decoded frames since the last cut are kept, and when the detector reports a cut the finished
scene's clip is sampled from them and they are dropped. A scene too long for ``scene_buffer_mb`` is
sampled in a second pass (``sample_clips``), so memory stays bounded whatever the length or
resolution of the trailer; ``scan`` is the decoding pass sampling nothing. The ``Extractor`` feeds
the samples to the experts (``ClipFeed``) and keeps the keyframes (``Keyframes``).
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import av
import numpy as np
import torch

from mmx.errors import ExtractError, VideoError
from mmx.experts import EXPERTS, Expert
from mmx.experts.base import SAMPLING_KEYS
from mmx.experts.torch_expert import auto_device, auto_precision, torch_threads
from mmx.extract.audio import load_audio, write_wav
from mmx.extract.cuts import CutDetector, scene_ranges
from mmx.extract.decode import (
    DecodeStats,
    Resizer,
    VideoInfo,
    decode_video,
    frame_time,
    probe,
)
from mmx.extract.flow import InlineExecutor, clip_flow, flow_executor
from mmx.extract.keyframes import KeyframeMaker, by_frame, keyframe_indices
from mmx.extract.schedule import ClipBatcher, ExpertPool, expert_threads
from mmx.extract.settings import ExtractConfig
from mmx.progress import QUIET, Reporter

# modality → the level its vectors are stored at (audio: one vector per window, NetVLAD in the model)
LEVELS = {"rgb": "clip", "flow": "clip", "audio": "window"}
Sample = tuple[int, int, np.ndarray]  # (expert, clip, (T, size, size, 3) uint8 frames) as sampling yields them



@dataclass(frozen=True)
class Clip:
    start: int  # first frame used (the scene's first frame is dropped)
    end: int  # one past the last frame used
    t0: float  # scene start, seconds
    t1: float  # scene end, seconds


@dataclass
class Scan:
    times: np.ndarray  # (n_frames,) presentation time of every decoded frame, seconds from the first
    cuts: list[int]  # frame index of every cut
    end: float  # end of the last frame, seconds
    bad_packets: int


@dataclass
class Extraction:
    """What one video gives: arrays for the store, clip times, and notes for the summary."""

    arrays: dict[str, np.ndarray]  # expert → (n_clips, dim) or (n_windows, dim); "<expert>__clip"
    clip_times: np.ndarray  # (n_clips, 2) start/end seconds
    flags: list[str] = field(default_factory=list)  # what was unusual (no audio, few clips, ...)
    info: dict = field(default_factory=dict)  # size, fps, duration, frames: kept in the entry's meta
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage (expert stages: thread-seconds)
    keyframes: list[bytes] | None = None  # one JPEG per clip, when kept


def load_experts(cfg: ExtractConfig) -> tuple[list[Expert], list[str]]:
    """Create the configured experts and check their weights; returns them and notes on left-out ones.

    Each expert is created through the registry with its sampling (the profile's, then
    ``cfg.sampling``), device and precision.
    """
    experts, notes = [], []
    device, precision = runtime(cfg)
    for name in cfg.experts:
        if name not in EXPERTS:
            known = ", ".join(EXPERTS.names()) or "none registered"
            raise ExtractError(f"unknown expert {name!r}; known: {known} (see `mmx experts`)")
        sampling = cfg.expert_sampling(name)
        unknown = sorted(set(sampling) - set(SAMPLING_KEYS))
        if unknown:
            raise ExtractError(f"sampling.{name}.{unknown[0]}: only {', '.join(SAMPLING_KEYS)} can be set")
        try:
            expert = EXPERTS.create(name, **sampling, device=device, precision=precision)
        except (ImportError, OSError, RuntimeError) as e:
            raise ExtractError(f"expert {name!r} is unavailable: {e}") from None
        expert.check_weights()  # WeightsMissing names the file and where it is expected
        if expert.modality not in LEVELS:
            raise ExtractError(f"expert {name!r} has modality {expert.modality!r}; "
                               f"expected one of {', '.join(LEVELS)}")
        if expert.level != LEVELS[expert.modality]:
            raise ExtractError(f"expert {name!r} ({expert.modality}) must be "
                               f"{LEVELS[expert.modality]}-level, not {expert.level}")
        if expert.modality == "flow" and not cfg.flow:
            notes.append(f"expert {name!r} left out: optical flow is switched off (flow=false)")
            continue
        experts.append(expert)
    if not experts:
        raise ExtractError("no experts to extract; name at least one with --experts")
    return experts, notes


def runtime(cfg: ExtractConfig) -> tuple[str, str]:
    """(device, precision) the experts run with: "auto" resolved for this machine."""
    device = auto_device() if cfg.device == "auto" else cfg.device
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ExtractError(f"device {device!r}: no CUDA GPU is visible to PyTorch here; use --device cpu")
    wanted = cfg.wanted_precision()
    return device, auto_precision(device) if wanted == "auto" else wanted


# ----------------------------------------------------------------------------------- 1. scan
def scan(path: Path, info: VideoInfo, cfg: ExtractConfig, progress: Reporter = QUIET) -> Scan:
    """Decode every frame once at ``scene_width``: frame times and scene cuts (the decoding pass, sampling nothing)."""
    stream = DecodePass(path, info, cfg, None, progress, desc="scenes")
    for _ in stream.samples():  # nothing to sample: it yields nothing
        pass
    return stream.scan


# ----------------------------------------------------------------------------------- 2. clips
def scene_clip(times: np.ndarray, a: int, b: int, end: float, drop: int) -> Clip:
    """Scene [a, b) → its clip without the first and last ``drop`` frames (all frames when the scene is short)."""
    t1 = float(times[b]) if b < len(times) else end
    start, stop = (a + drop, b - drop) if b - a > 2 * drop else (a, b)
    return Clip(start, stop, float(times[a]), t1)


def make_clips(s: Scan, drop: int) -> list[Clip]:
    """Scenes → clips without their first and last ``drop`` frames (all frames when the scene is short)."""
    return [scene_clip(s.times, a, b, s.end, drop) for a, b in scene_ranges(s.cuts, len(s.times))]


# ----------------------------------------------------------------------------------- 3. sample
def sample_indices(times: np.ndarray, clip: Clip, fps: float, min_frames: int, max_frames: int) -> np.ndarray:
    """Frames nearest to ``fps`` sampling times centred on the clip, ``min_frames``..``max_frames`` of them.

    A clip shorter than ``min_frames / fps`` repeats frames; a longer one than ``max_frames / fps``
    keeps its middle part.
    """
    seg = times[clip.start:clip.end]  # (F,)
    step = float(np.median(np.diff(seg))) if len(seg) > 1 else 0.0
    duration = float(seg[-1] - seg[0]) + step
    n = int(np.clip(round(duration * fps), min_frames, max_frames))
    mid = (seg[0] + seg[-1]) / 2
    targets = mid + (np.arange(n) - (n - 1) / 2) / fps  # (n,)
    nearest = np.abs(seg[None, :] - targets[:, None]).argmin(axis=1)  # (n,)
    return clip.start + nearest


@dataclass
class _Want:
    expert: int  # index into the expert list
    clip: int
    slots: list[int]  # positions in the clip's frame stack this frame fills


def expert_indices(times: np.ndarray, clip: Clip, expert: Expert) -> np.ndarray:
    """The frames ``expert`` takes from ``clip``; a flow expert one more than it gets flows."""
    extra = 1 if expert.modality == "flow" else 0
    return sample_indices(times, clip, expert.fps, expert.min_frames + extra, expert.max_frames + extra)


def plan_samples(
    times: np.ndarray, clips: list[Clip], experts: list[Expert], ids: list[int] | None = None,
) -> dict[int, list[_Want]]:
    """frame index → which (expert, clip, slots) need it; ``ids`` numbers the clips (default 0, 1, …)."""
    wants: dict[int, list[_Want]] = defaultdict(list)
    for e, expert in enumerate(experts):
        for c, clip in zip(ids or range(len(clips)), clips):
            idx = expert_indices(times, clip, expert)
            slots: dict[int, list[int]] = defaultdict(list)
            for slot, i in enumerate(idx):
                slots[int(i)].append(slot)
            for i, s in slots.items():
                wants[i].append(_Want(e, c, s))
    return wants


def sample_clips(
    path: Path, wants: dict[int, list[_Want]], experts: list[Expert],
    keyframe_at: dict[int, list[int]] | None = None, on_keyframe: Callable[[av.VideoFrame, list[int]], None] | None = None,
    progress: Reporter = QUIET,
) -> Iterator[Sample]:
    """Decode again; yield (expert, clip, (T, size, size, 3) uint8 frames) as soon as a clip is complete.

    Frame ``i`` in ``keyframe_at`` is handed to ``on_keyframe`` with the clips it is the keyframe of.
    """
    keyframe_at = keyframe_at or {}
    counts: dict[tuple[int, int], int] = defaultdict(int)  # (expert, clip) → frames it needs
    for ws in wants.values():
        for w in ws:
            counts[(w.expert, w.clip)] += len(w.slots)
    buffers: dict[tuple[int, int], np.ndarray] = {}
    missing = dict(counts)
    resizers: dict[int, Resizer] = defaultdict(Resizer)  # one scaler per output size
    last = max([*wants, *keyframe_at], default=-1)
    frames = progress.bar(decode_video(path), desc=f"{path.stem} sample", total=last + 1, unit="frame")
    for i, frame in enumerate(frames):
        if i > last:
            break
        if i in keyframe_at and on_keyframe is not None:
            on_keyframe(frame, keyframe_at.pop(i))
        crops: dict[int, np.ndarray] = {}  # size → crop, shared by experts of one size
        for w in wants.get(i, ()):
            size = experts[w.expert].size
            if size not in crops:
                crops[size] = resizers[size].crop(frame, size)
            key = (w.expert, w.clip)
            if key not in buffers:
                buffers[key] = np.empty((counts[key], size, size, 3), np.uint8)
            buffers[key][w.slots] = crops[size]
            missing[key] -= len(w.slots)
            if missing[key] == 0:
                yield w.expert, w.clip, buffers.pop(key)
    if buffers or any(missing.values()) or keyframe_at:
        raise VideoError(f"{path}: the second decoding pass gave fewer frames than the first; is the file changing?")


class ClipSampler:
    """Step 3 on decoded frames at hand: a clip's frames for every expert and its keyframe.

    Each expert's frames are resized on the short side to its ``size`` and centre-cropped (the crop
    of one frame at one size is made once for all experts); ``on_keyframe`` gets the scene's middle
    frame with the clip's number.
    """

    def __init__(self, experts: list[Expert], on_keyframe: Callable[[av.VideoFrame, list[int]], None] | None = None):
        self.experts, self.on_keyframe = experts, on_keyframe
        self.resizers: dict[int, Resizer] = defaultdict(Resizer)  # one scaler per output size

    def sample(
        self, frame: Callable[[int], av.VideoFrame], times: np.ndarray, scene: tuple[int, int], clip: Clip, c: int,
    ) -> Iterator[Sample]:
        """Clip number ``c`` of scene [a, b), its frames given by ``frame(i)``: (expert, c, (T, size, size, 3) uint8)."""
        a, b = scene
        if self.on_keyframe is not None:
            k = int(keyframe_indices(times[a:b], np.array([[clip.t0, clip.t1]]))[0])
            self.on_keyframe(frame(a + k), [c])
        crops: dict[tuple[int, int], np.ndarray] = {}  # (frame, size) → crop, shared by experts of one size
        for e, expert in enumerate(self.experts):
            idx = expert_indices(times, clip, expert)  # (T,)
            for i in idx.tolist():
                if (i, expert.size) not in crops:
                    crops[i, expert.size] = self.resizers[expert.size].crop(frame(i), expert.size)
            yield e, c, np.stack([crops[i, expert.size] for i in idx.tolist()])


class DecodePass:
    """Steps 1–3 in one decoding pass: frame times and cuts, and each scene's clip sampled as soon as its cut is found.

    The decoded frames since the last cut are kept (at most ``cfg.scene_buffer_mb``; none without a
    ``sampler``); when the content detector reports a cut, the scene before it is complete, the
    sampler takes its clip's frames for every expert (and its keyframe) from those frames, and they
    are dropped. A scene too long for the buffer is not sampled here (a second pass, ``sample_clips``,
    does it). ``samples()`` decodes and yields (expert, clip, frames) as ``sample_clips`` does;
    afterwards ``scan`` is set, ``clips`` holds the scenes' clips in the order they were closed and
    ``sampled`` the numbers of those sampled. They are ``make_clips(scan)`` unless the detector
    reported a cut inside a scene already closed (``Extractor`` then samples the clips that differ).
    """

    def __init__(self, path: Path, info: VideoInfo, cfg: ExtractConfig, sampler: ClipSampler | None,
                 progress: Reporter = QUIET, desc: str = "frames"):
        self.path, self.info, self.cfg, self.sampler = path, info, cfg, sampler
        self.progress, self.desc = progress, desc
        self.width = min(cfg.scene_width, info.width)
        self.height = max(2, round(info.height * self.width / info.width / 2) * 2)
        self.detector = CutDetector(info.fps, cfg.scene_threshold, cfg.min_scene_len)
        self.stats, self.small = DecodeStats(), Resizer()
        self.cap = cfg.scene_buffer_mb * 1e6  # bytes of decoded frames kept
        self.times: list[float] = []  # made non-decreasing from the first frame, as monotonic_times does
        self.first: float | None = None
        self.latest = -np.inf
        self.buffer: list[av.VideoFrame] = []  # frames buffer_from, buffer_from + 1, …
        self.buffer_from, self.held = 0, 0
        self.start = 0  # first frame of the scene not closed yet
        self.seen = 0  # detector cuts looked at
        self.clips: list[Clip] = []
        self.sampled: set[int] = set()
        self.scan: Scan | None = None

    def samples(self) -> Iterator[Sample]:
        frames = self.progress.bar(decode_video(self.path, self.stats), desc=f"{self.path.stem} {self.desc}",
                                   total=int(self.info.duration * self.info.fps) or None, unit="frame")
        for i, frame in enumerate(frames):
            self._add(i, frame)
            new, self.seen = sorted(c for c in self.detector.cuts[self.seen:] if c > self.start), len(self.detector.cuts)
            for cut in new:
                yield from self._close(np.asarray(self.times), cut, end=0.0)
        self.scan = self._finish()
        for cut in [c for c in self.scan.cuts if c > self.start] + [len(self.scan.times)]:
            yield from self._close(self.scan.times, cut, end=self.scan.end)
        self.buffer = []

    def _add(self, i: int, frame: av.VideoFrame) -> None:
        """Frame ``i``: its time, the detector, and the buffer while the scene still fits."""
        t = frame_time(frame, i, self.info.fps)
        self.first = t if self.first is None else self.first
        self.latest = max(self.latest, t)
        self.times.append(self.latest - self.first)
        self.detector.add(i, self.small.image(frame, self.width, self.height, "bgr24"))
        if self.sampler is not None and self.buffer_from + len(self.buffer) == i:  # still keeping every frame
            self.buffer.append(frame)
            self.held += sum(p.buffer_size for p in frame.planes)
            if self.held > self.cap:  # too long a scene: it goes to the second pass
                self.buffer, self.held, self.buffer_from = [], 0, i + 1

    def _finish(self) -> Scan:
        if not self.times:
            raise VideoError(f"{self.path}: no video frame could be decoded ({self.stats.bad_packets} corrupt packets)")
        t = np.asarray(self.times)
        step = float(np.median(np.diff(t))) if len(t) > 1 else 1.0 / self.info.fps
        return Scan(times=t, cuts=self.detector.finish(), end=float(t[-1] + step), bad_packets=self.stats.bad_packets)

    def _close(self, times: np.ndarray, b: int, end: float) -> Iterator[Sample]:
        """The open scene [start, b) is complete: sample its clip from the buffer when it is all there, drop its frames."""
        a, c = self.start, len(self.clips)
        clip = scene_clip(times, a, b, end, self.cfg.drop_frames)
        self.clips.append(clip)
        if self.sampler is not None and self.buffer_from <= a and self.buffer_from + len(self.buffer) >= b:
            self.sampled.add(c)
            yield from self.sampler.sample(self._frame, times, (a, b), clip, c)
        drop = max(0, min(b - self.buffer_from, len(self.buffer)))  # the next scene keeps frames b, b + 1, …
        self.buffer = self.buffer[drop:]
        self.buffer_from += drop
        self.held = sum(p.buffer_size for f in self.buffer for p in f.planes)
        self.start = b

    def _frame(self, i: int) -> av.VideoFrame:
        return self.buffer[i - self.buffer_from]


# ----------------------------------------------------------------------------------- 4. embed
def assign_windows(spans: np.ndarray, clips: list[Clip]) -> np.ndarray:
    """(n_windows, 2) start/end seconds → (n_windows,) int32 index of the clip holding each window's centre."""
    starts = np.array([c.t0 for c in clips])  # (n_clips,)
    centres = spans.mean(axis=1)  # (n_windows,)
    return np.clip(np.searchsorted(starts, centres, side="right") - 1, 0, len(clips) - 1).astype(np.int32)


class Keyframes:
    """Each clip's keyframe as a small JPEG, made as decoding reaches its frame (seconds in ``timings``)."""

    def __init__(self, cfg: ExtractConfig, timings: dict[str, float]):
        self.make = KeyframeMaker(cfg.keyframe_width, cfg.keyframe_quality)
        self.images: dict[int, bytes] = {}  # clip → JPEG
        self.timings = timings

    def __call__(self, frame: av.VideoFrame, clips: list[int]) -> None:
        t = time.perf_counter()
        image = self.make(frame)
        self.images.update((c, image) for c in clips)
        self.timings["keyframes"] += time.perf_counter() - t


class ClipFeed:
    """Sampled clips → the video experts' batches: frames straight to the ``ClipBatcher``, a flow
    expert's through TV-L1 on ``flow_pool`` first, at most ``in_flight`` clips of flow ahead (memory)."""

    def __init__(self, experts: list[Expert], pool: ExpertPool, flow_pool: Executor, in_flight: int,
                 timings: dict[str, float]):
        self.experts, self.flow_pool, self.in_flight, self.timings = experts, flow_pool, in_flight, timings
        self.batcher = ClipBatcher(experts, pool)
        self.pending: list[tuple[int, int, Future]] = []  # flow clips computing: (expert, clip, flows)

    def add(self, samples: Iterator[Sample], stage: str) -> None:
        """Every sample of ``samples``; the time spent (decoding, sampling, waiting on flow) goes to ``stage``."""
        t = time.perf_counter()
        for e, c, frames in samples:
            if self.experts[e].modality == "flow":
                self.pending.append((e, c, self.flow_pool.submit(clip_flow, frames)))
                self._drain(keep=self.in_flight)
            else:
                self.batcher.add(e, c, frames)
        self.timings[stage] += time.perf_counter() - t

    def finish(self, ids: list[int]) -> dict[str, np.ndarray]:
        """Expert name → (len(ids), dim): row k the vectors of clip ``ids[k]``."""
        self._drain(keep=0)
        return self.batcher.finish(ids) if self.experts else {}

    def _drain(self, keep: int) -> None:
        """Hand finished flow clips to the batcher until at most ``keep`` remain in flight."""
        while len(self.pending) > keep:
            e, c, future = self.pending.pop(0)
            t = time.perf_counter()
            flows = future.result()  # (T, size, size, 2)
            self.timings["flow"] += time.perf_counter() - t
            self.batcher.add(e, c, flows)


class Extractor:
    """Extracts videos with one set of experts (created once) on ``cfg.threads`` expert threads,
    optionally with a TV-L1 process pool."""

    def __init__(self, cfg: ExtractConfig, experts: list[Expert], flow_pool: Executor | None = None):
        self.cfg = cfg
        self.video_experts = [e for e in experts if e.modality in ("rgb", "flow")]
        self.audio_experts = [e for e in experts if e.modality == "audio"]
        needs_flow = any(e.modality == "flow" for e in experts)
        self.flow_pool = flow_pool or (flow_executor(cfg.flow_workers) if needs_flow else InlineExecutor())
        workers = (os.cpu_count() or 1) if cfg.flow_workers < 0 else cfg.flow_workers
        self.flow_in_flight = 2 * max(1, workers)  # clips of flow computed ahead of embedding
        self.threads = expert_threads(cfg.threads, cfg.workers)

    def close(self) -> None:
        self.flow_pool.shutdown()

    def extract(self, path: Path, trailer_id: str, progress: Reporter = QUIET) -> Extraction:
        """All experts for one video file; ``VideoError`` when the file cannot be used."""
        timings: dict[str, float] = defaultdict(float)
        info = probe(path)
        pool = ExpertPool(self.threads, timings)
        try:
            with torch_threads(1):  # the expert threads are the parallelism (see mmx.extract.schedule)
                audio = pool.submit("audio", self._embed_audio, path, trailer_id, timings)
                s, clips, arrays, keyframes = self._embed_video(path, info, pool, timings, progress)
                flags = self._video_flags(info, s, clips)
                audio_arrays, audio_flags = audio.result()
                flags += audio_flags
                for name, (vecs, spans) in audio_arrays.items():
                    arrays[name], arrays[f"{name}__clip"] = vecs, assign_windows(spans, clips)
        finally:
            pool.close()
        timings["audio"] -= sum(timings.get(f"expert:{e.name}", 0.0) for e in self.audio_experts)
        clip_times = np.array([[c.t0, c.t1] for c in clips], np.float64)
        meta = {"width": info.width, "height": info.height, "fps": round(info.fps, 3),
                "duration": round(s.end, 3), "frames": len(s.times), "codec": info.codec}
        return Extraction(arrays, clip_times, flags, meta, dict(timings), keyframes)

    def _video_flags(self, info: VideoInfo, s: Scan, clips: list[Clip]) -> list[str]:
        cfg = self.cfg
        flags = []
        if not s.cuts:
            flags.append("no scene cuts: the whole video is one clip")
        if len(clips) < cfg.min_clips:
            flags.append(f"{len(clips)} clip(s), fewer than {cfg.min_clips}: kept and flagged "
                         "(training leaves it out)")
        if s.bad_packets:
            flags.append(f"{s.bad_packets} corrupt packet(s) skipped")
        if min(info.width, info.height) > cfg.large_side:
            sizes = sorted({e.size for e in self.video_experts} | {min(cfg.scene_width, info.width)})
            flags.append(f"large picture {info.width}×{info.height}: frames resized while decoding "
                         f"(to {', '.join(map(str, sizes))} px)")
        if len(s.times) > 2:
            d = np.diff(s.times)
            d = d[d > 0]
            if d.size and (d.max() - d.min()) > cfg.vfr_tolerance * np.median(d):
                flags.append(f"variable frame rate ({1 / d.max():.1f}–{1 / d.min():.1f} fps): "
                             "clip times from frame timestamps")
        if info.duration and s.end < 0.9 * info.duration:
            flags.append(f"decoding stopped at {s.end:.1f} s of {info.duration:.1f} s: "
                         "truncated or damaged; kept what decoded")
        return flags

    def _embed_video(
        self, path: Path, info: VideoInfo, pool: ExpertPool, timings: dict, progress: Reporter,
    ) -> tuple[Scan, list[Clip], dict[str, np.ndarray], list[bytes] | None]:
        """Cut, sample and keyframe the video while the experts embed the finished clips on the pool.

        One decoding pass samples each scene's clip as it ends (``DecodePass``); a second pass
        (``sample_clips``) samples the clips it did not: scenes too long for the buffer, and any the
        detector's late cuts changed. Clips are numbered as the first pass closed them, the others
        after those; the arrays are put in the order of the clips.
        """
        experts = self.video_experts
        keyframes = Keyframes(self.cfg, timings) if self.cfg.keyframes else None
        feed = ClipFeed(experts, pool, self.flow_pool, self.flow_in_flight, timings)
        stream = DecodePass(path, info, self.cfg, ClipSampler(experts, keyframes), progress)
        feed.add(stream.samples(), "frames")
        s = stream.scan
        clips = make_clips(s, self.cfg.drop_frames)
        closed = {clip: c for c, clip in enumerate(stream.clips)}
        fresh = iter(range(len(stream.clips), len(stream.clips) + len(clips)))
        ids = [closed[clip] if clip in closed else next(fresh) for clip in clips]  # each clip's number
        later = [k for k, c in enumerate(ids) if c not in stream.sampled]
        if later:  # a second decoding pass for the clips not sampled yet
            clip_times = np.array([[clips[k].t0, clips[k].t1] for k in later], np.float64)
            at = by_frame(keyframe_indices(s.times, clip_times)) if keyframes is not None else {}
            keyframe_at = {i: [ids[later[j]] for j in js] for i, js in at.items()}
            wants = plan_samples(s.times, [clips[k] for k in later], experts, [ids[k] for k in later])
            feed.add(sample_clips(path, wants, experts, keyframe_at, keyframes, progress), "sample")
        arrays = feed.finish(ids)
        return s, clips, arrays, None if keyframes is None else [keyframes.images[c] for c in ids]

    def _embed_audio(
        self, path: Path, trailer_id: str, timings: dict,
    ) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], list[str]]:
        """Decode and resample the audio track, embed it: (expert → ((W, dim) windows, (W, 2) start/end s), flags)."""
        flags: list[str] = []
        if not self.audio_experts and self.cfg.wav_dir is None:
            return {}, flags
        stats = DecodeStats()
        wave = load_audio(path, self.cfg.audio_rate, stats)
        names = ", ".join(repr(e.name) for e in self.audio_experts)
        if wave is None or wave.size == 0:
            what = "no audio track" if wave is None else "an empty audio track"
            if self.audio_experts:
                flags.append(f"{what}: expert {names} missing, the rest extracted")
            return {}, flags
        if stats.bad_packets:
            flags.append(f"{stats.bad_packets} corrupt audio packet(s) skipped")
        if self.cfg.wav_dir is not None:
            write_wav(Path(self.cfg.wav_dir) / f"{trailer_id}.wav", wave, self.cfg.audio_rate)
        out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for expert in self.audio_experts:
            t = time.perf_counter()
            vecs, spans = expert.embed_audio(wave, self.cfg.audio_rate)  # (W, dim), (W, 2)
            timings[f"expert:{expert.name}"] += time.perf_counter() - t
            vecs, spans = np.asarray(vecs, np.float32), np.asarray(spans, np.float64)
            if len(vecs) == 0:
                flags.append(f"audio too short for expert {expert.name!r}: missing, the rest extracted")
                continue
            if vecs.shape[1:] != (expert.dim,) or spans.shape != (len(vecs), 2) or not np.isfinite(vecs).all():
                raise ValueError(f"expert {expert.name!r} returned windows {vecs.shape} / times {spans.shape}; "
                                 f"expected (n, {expert.dim}) finite and (n, 2)")
            out[expert.name] = (vecs, spans)
        return out, flags
