"""Many video files → feature store entries: resumable, safe against bad files and kills.

* A trailer is the file's stem; ``labels.csv`` (the import format) gives its genres, title, year
  and split; a video without a row is stored without genres.
* A rerun skips every trailer whose entry was made from the same file (SHA-256) with the same
  expert and extraction settings; when only its labels changed, the entry is rewritten from the
  stored arrays; when it lacks keyframes, they are added from the video without running the
  experts; when its files no longer match the checksums recorded with it (``FeatureStore.verify_entry``),
  it is extracted again.
* Each entry is written atomically (``FeatureStore.write_entry``): a run killed at any moment
  leaves whole entries or none, and the next run does the rest.
* A file that cannot be extracted is reported with the reason and the batch goes on; entries
  already in the store are only ever replaced by a complete new extraction of the same trailer.
* A store that cannot be written (a full disk) stops the batch with ``StoreError``: the entries
  written so far are whole, and the same command run again does the rest.
"""

from __future__ import annotations

import importlib
import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import closing, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator

from mmx.data.labels_csv import LabelRow, placeholder_note, read_labels
from mmx.data.store import EntryMeta, FeatureStore, validate_trailer_id
from mmx.durable import sha256_file
from mmx.errors import Problem, VideoError
from mmx.experts import EXPERTS, Expert
from mmx.experts.base import SAMPLING_KEYS
from mmx.extract.keyframes import video_keyframes
from mmx.extract.pipeline import LEVELS, Extraction, Extractor, load_experts
from mmx.extract.settings import VIDEO_SUFFIXES, ExtractConfig
from mmx.inputs import ExpertInfo
from mmx.progress import QUIET, Reporter


@dataclass
class ExtractReport:
    extracted: list[str] = field(default_factory=list)
    relabelled: list[str] = field(default_factory=list)  # same features, new labels: entry rewritten
    keyframed: list[str] = field(default_factory=list)  # same features, keyframes added from the video
    unchanged: list[str] = field(default_factory=list)  # same file, same settings: skipped
    failed: list[Problem] = field(default_factory=list)  # not extracted, with the reason
    warnings: list[Problem] = field(default_factory=list)  # extracted, but unusual (no audio, few clips, ...)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage, summed over videos
    video_seconds: float = 0.0  # length of the video extracted in this run

    @property
    def ok(self) -> bool:
        return not self.failed


@dataclass
class Job:
    path: Path
    trailer_id: str
    fingerprint: dict  # file hash + settings: equal fingerprints give equal vectors
    label: LabelRow | None
    stamp: dict  # path, size and mtime: an unchanged stamp reuses the stored hash instead of rehashing


def find_videos(paths: list[str | Path], problems: list[Problem]) -> list[Path]:
    """Files as given, and every video file (by suffix) under the given folders, sorted."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            try:
                found += sorted(f for f in p.rglob("*") if f.suffix.lower() in VIDEO_SUFFIXES and not f.is_dir())
            except OSError as e:
                problems.append(Problem(str(p), f"folder cannot be read ({e.strerror})"))
        elif p.exists():
            found.append(p)
        else:
            problems.append(Problem(str(p), "does not exist (or is a broken link)"))
    broken = [f for f in found if not f.exists()]
    problems += [Problem(str(f), "does not exist (or is a broken link)") for f in broken]
    return [f for f in found if f.exists()]


def file_stamp(path: Path) -> dict:
    st = path.stat()
    return {"video": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def file_digest(path: Path, stamp: dict, old: EntryMeta | None) -> str:
    """SHA-256 of the file, or the stored one when the entry was made from this very path, size and mtime."""
    if old is not None and old.source.get("sha256") and all(old.source.get(k) == v for k, v in stamp.items()):
        return old.source["sha256"]
    return sha256_file(path)


def fingerprint(digest: str, experts: list[Expert], cfg: ExtractConfig) -> dict:
    """Everything that decides the vectors, in its JSON form (what the entry's meta keeps)."""
    fp = {"sha256": digest, "experts": {e.name: e.settings() for e in experts}, "extract": cfg.vector_settings()}
    return json.loads(json.dumps(fp, sort_keys=True))


def extract_videos(
    paths: list[str | Path],
    store: FeatureStore,
    cfg: ExtractConfig | None = None,
    labels: str | Path | None = None,
    progress: Reporter | bool = True,
    runner: Callable[..., Iterator[tuple[Job, Extraction | str]]] | None = None,
) -> ExtractReport:
    """Extract every video under ``paths`` into ``store``; see the module docstring.

    ``progress``: a ``Reporter`` (bars on a terminal, one line per video otherwise), or True for
    ``Reporter.auto()`` and False for none. ``runner`` runs the jobs (default ``run_jobs``: this
    process or ``cfg.workers`` processes; ``mmx.extract.ray_runner.runner(address)``: a Ray cluster).
    """
    cfg = cfg or ExtractConfig()
    reporter = progress if isinstance(progress, Reporter) else Reporter.auto(quiet=not progress)
    report = ExtractReport()
    experts, notes = load_experts(cfg)
    report.warnings += [Problem("experts", n) for n in notes]
    rows: dict[str, LabelRow] = {}
    if labels is not None:
        rows = {r.trailer_id: r for r in read_labels(Path(labels), report.warnings)}
        note = placeholder_note({t: r.placeholders for t, r in rows.items() if r.placeholders})
        if note:
            report.warnings.append(Problem(Path(labels).name, note))
    store.register_experts({
        e.name: ExpertInfo(e.dim, LEVELS[e.modality], f"mmx extract {json.dumps(e.settings(), sort_keys=True)}")
        for e in experts
    })
    videos = find_videos(paths, report.failed)
    plan = plan_jobs(videos, store, experts, cfg, rows, labels is not None, reporter)
    report.failed += plan.failed
    report.warnings += plan.warnings
    report.unchanged += plan.unchanged
    for old, job in plan.relabel:
        relabel(store, old, job)
        report.relabelled.append(job.trailer_id)
    for old, job in plan.keyframes:
        why = add_keyframes(store, old, job, cfg)
        if why:
            report.warnings.append(Problem(str(job.path), f"keyframes not added: {why}"))
        else:
            report.keyframed.append(job.trailer_id)
    jobs = plan.extract
    inner = reporter if cfg.workers == 1 and reporter.bars else QUIET  # per-frame bars of the one video in work
    results = (runner or run_jobs)(jobs, cfg, experts, inner)
    with closing(results):  # a stopped batch (a full disk) shuts the workers down at once
        for n, (job, result) in enumerate(reporter.bar(results, desc="extract", total=len(jobs), unit="video"), 1):
            if isinstance(result, str):
                report.failed.append(Problem(str(job.path), result))
                reporter.line(f"extract {n}/{len(jobs)} {job.trailer_id}: failed: {result}")
                continue
            write(store, job, result)
            report.extracted.append(job.trailer_id)
            report.warnings += [Problem(str(job.path), f) for f in result.flags]
            report.video_seconds += result.info["duration"]
            for k, v in result.timings.items():
                report.timings[k] = report.timings.get(k, 0.0) + v
            if not reporter.bars:
                reporter.line(f"extract {n}/{len(jobs)} {job.trailer_id}: {video_line(result)}")
    return report


STAGE_NAMES = {"audio": "audio decoding", "frames": "decoding + scenes + sampling",
               "sample": "sampling pass", "flow": "optical flow", "keyframes": "keyframes"}


def video_line(result: Extraction) -> str:
    """One video's figures: length, clips, each expert's thread-seconds and the other stages' seconds."""
    t = result.timings
    experts = ", ".join(f"{k.removeprefix('expert:')} {v:.1f}" for k, v in sorted(t.items()) if k.startswith("expert:"))
    stages = ", ".join(f"{STAGE_NAMES.get(k, k)} {v:.1f}" for k, v in t.items() if not k.startswith("expert:") and v >= 0.05)
    return (f"{result.info['duration']:.1f} s of video, {len(result.clip_times)} clips; experts (s): {experts}; "
            f"{stages} s")


@dataclass
class Plan:
    """What a run does with each video found; making the plan writes nothing."""

    extract: list[Job] = field(default_factory=list)  # to extract (new, changed, or settings changed)
    relabel: list[tuple[EntryMeta, Job]] = field(default_factory=list)  # same features, new labels: (entry, job)
    keyframes: list[tuple[EntryMeta, Job]] = field(default_factory=list)  # same features, no keyframes yet
    unchanged: list[str] = field(default_factory=list)  # same file, settings and labels: nothing to do
    failed: list[Problem] = field(default_factory=list)  # cannot be extracted, with the reason
    warnings: list[Problem] = field(default_factory=list)  # planned, but worth a note


def plan_jobs(
    videos: list[Path], store: FeatureStore, experts: list[Expert], cfg: ExtractConfig,
    rows: dict[str, LabelRow], labelled: bool, progress: Reporter = QUIET,
) -> Plan:
    """Sort the videos into what to extract, relabel, give keyframes or leave alone; reads the store
    (and rereads the entries it would keep against their checksums), never writes it."""
    plan = Plan()
    seen: dict[str, Path] = {}
    existing = store.entries()
    for path in progress.bar(videos, desc="check", unit="file"):
        tid = path.stem
        old = existing.get(tid)
        why = validate_trailer_id(tid)
        if why is None and tid in seen:
            why = f"same trailer id {tid!r} as {seen[tid]}; rename one of them"
        if why is None:
            try:
                stamp = file_stamp(path)
                digest = file_digest(path, stamp, old)
            except OSError as e:
                why = f"cannot be read ({e.strerror})"
        if why:
            plan.failed.append(Problem(str(path), why))
            continue
        seen[tid] = path
        label = rows.get(tid)
        if labelled and label is None:
            plan.warnings.append(Problem(str(path), "no row in labels.csv: stored without genres"))
        job = Job(path, tid, fingerprint(digest, experts, cfg), label, stamp)
        if old is not None and "video" not in old.source:
            plan.failed.append(Problem(str(path), f"trailer {tid!r} is already in the store from another source "
                                                  f"({', '.join(old.source) or 'unknown'}); not replaced"))
        elif old is not None and all(old.source.get(k) == v for k, v in job.fingerprint.items()):
            damage = store.verify_entry(tid)
            if damage:
                what = "; ".join(f"{d.file} {d.reason}" for d in damage)
                plan.warnings.append(Problem(str(path), f"store entry damaged ({what}): extracted again"))
                plan.extract.append(job)
            elif _labels_of(old) != _labels_of(_meta(job, 0)):
                plan.relabel.append((old, job))
            elif cfg.keyframes and not old.has_keyframes and old.has_clip_times:
                plan.keyframes.append((old, job))
            else:
                plan.unchanged.append(tid)
        else:
            plan.extract.append(job)
    return plan


def entry_config(meta: EntryMeta, experts: list[str] | None = None) -> ExtractConfig:
    """The settings a video's entry was extracted with (its experts' sampling and precision, the scene and
    clip settings), to extract another video the same way (``mmx serve``'s ingest)."""
    made = meta.source.get("experts", {})
    names = experts or sorted(made)
    video = [n for n in names if n in made and n in EXPERTS and EXPERTS.get(n).modality != "audio"]
    sampling = {n: {k: made[n][k] for k in SAMPLING_KEYS if k in made[n]} for n in video}
    lowered = sorted({made[n]["precision"] for n in names if "precision" in made.get(n, {})})
    return ExtractConfig(experts=names, sampling=sampling, precision=lowered[0] if lowered else "fp32",
                         **meta.source.get("extract", {}))


def store_config(store: FeatureStore, experts: list[str]) -> ExtractConfig:
    """The settings ``store``'s videos were extracted with (``entry_config`` of its first extracted entry),
    to extract one more video so that its vectors match theirs; the defaults for a store of imports."""
    for meta in store.entries().values():
        if "extract" in meta.source:
            return entry_config(meta, experts)
    return ExtractConfig(experts=experts)


def _meta(job: Job, n_clips: int, source: dict | None = None) -> EntryMeta:
    r = job.label
    return EntryMeta(
        trailer_id=job.trailer_id, genres=list(r.genres) if r else [], n_clips=n_clips, experts=[],
        title=r.title if r else "", year=r.year if r else None, split=r.split if r else None,
        placeholders=list(r.placeholders) if r else [], source=source or {},
    )


def _labels_of(m: EntryMeta) -> tuple:
    return m.genres, m.title, m.year, m.split, m.placeholders


def relabel(store: FeatureStore, old: EntryMeta, job: Job) -> None:
    """Rewrite an entry with new labels and its stored arrays (the features are unchanged)."""
    arrays = {name: store.load(old.trailer_id, name, mmap=False) for name in old.experts}
    for name in old.experts:
        if store.experts[name].level == "window":
            arrays[f"{name}__clip"] = store.load_window_clips(old.trailer_id, name)
    store.write_entry(_meta(job, old.n_clips, dict(old.source)), arrays, store.load_clip_times(old.trailer_id),
                      store.keyframes(old.trailer_id))


def add_keyframes(store: FeatureStore, old: EntryMeta, job: Job, cfg: ExtractConfig) -> str | None:
    """Give an entry its keyframes from its video and stored clip times (no expert runs); why not, or None."""
    try:
        images = video_keyframes(job.path, store.load_clip_times(old.trailer_id), cfg.keyframe_width,
                                 cfg.keyframe_quality)
    except VideoError as e:
        return str(e).removeprefix(f"{job.path}: ")
    store.add_keyframes(old.trailer_id, images)
    return None


def write(store: FeatureStore, job: Job, result: Extraction) -> None:
    source = {**job.stamp, **job.fingerprint, "flags": result.flags, **result.info}
    store.write_entry(_meta(job, len(result.clip_times), source), result.arrays, result.clip_times, result.keyframes)


# ----------------------------------------------------------------------------------- running
def _extract_one(extractor: Extractor, job: Job, progress: Reporter = QUIET) -> Extraction | str:
    """The extraction, or the reason the file failed (one bad video never stops the batch)."""
    try:
        return extractor.extract(job.path, job.trailer_id, progress)
    except VideoError as e:
        return str(e).removeprefix(f"{job.path}: ")
    except Exception as e:  # any other failure inside FFmpeg, OpenCV or an expert: report it, go on
        return f"{type(e).__name__}: {e}"


def run_jobs(
    jobs: list[Job], cfg: ExtractConfig, experts: list[Expert], progress: Reporter = QUIET,
) -> Iterator[tuple[Job, Extraction | str]]:
    """(job, result) for every job: in this process, or in ``cfg.workers`` processes as they finish."""
    if not jobs:
        return
    if cfg.workers <= 1:
        extractor = Extractor(cfg, experts)
        try:
            for job in jobs:
                yield job, _extract_one(extractor, job, progress)
        finally:
            extractor.close()
        return
    with _pool(cfg, sorted({type(e).__module__ for e in experts})) as pool:
        futures = {pool.submit(_worker_extract, job): job for job in jobs}
        for future in as_completed(futures):
            yield futures[future], future.result()


_WORKER: Extractor | None = None  # each worker process's own extractor (its own experts)


def _worker_init(cfg: ExtractConfig, modules: list[str]) -> None:
    global _WORKER
    for name in modules:  # the modules that register the experts (plugins too) in this fresh process
        importlib.import_module(name)
    experts, _ = load_experts(cfg)
    _WORKER = Extractor(replace(cfg, flow_workers=0), experts)  # flow in the worker: the workers are the pool


def _worker_extract(job: Job) -> Extraction | str:
    return _extract_one(_WORKER, job)


@contextmanager
def _pool(cfg: ExtractConfig, modules: list[str]) -> Iterator[ProcessPoolExecutor]:
    # "spawn": forking a process that runs torch / OpenCV thread pools can hang the child
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(cfg.workers, context, initializer=_worker_init, initargs=(cfg, modules))
    try:
        yield pool
    finally:
        pool.shutdown(cancel_futures=True)
