"""Collection health: duplicates and split leaks, broken experts, label issues (``mmx check``).

Every check reads a ``Collection`` — the trailers of a feature store or of a run (all it holds,
trailers added after training too: ``run_collection``), their genres,
their splits, and either their per-clip features (a store) or their trailer vectors (a run of
imported embeddings) — and returns ``Finding`` rows: which trailer(s), what is wrong, the
evidence, and what to do. ``mmx.health.report.check`` runs the checks by name (``CHECKS``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from mmx.config import DataConfig
from mmx.data.splits import split_entries
from mmx.data.store import FeatureStore
from mmx.data.vectors import EmbeddingSet, read_placeholders
from mmx.errors import MmxError
from mmx.run import TRAILERS_FILE, ModelRun, Run

SEVERITIES = ("error", "warning", "info")  # error: spoils a reported figure; warning: fix before training


@dataclass
class Finding:
    check: str  # "duplicates", "leaks", "experts", "labels"
    severity: str  # one of SEVERITIES
    kind: str  # what is wrong, e.g. "near-duplicate", "noise-like", "label issue"
    trailers: list[str]  # the trailer(s) concerned (empty for a collection-wide finding)
    evidence: dict  # the numbers behind the finding (scores, clip spans, counts)
    action: str  # what a curator should do
    expert: str | None = None  # the expert concerned (experts check)
    genre: str | None = None  # the genre concerned (labels check)
    score: float = 0.0  # how sure: higher = more certainly a problem (findings rank by it)

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class Collection:
    """What the checks read: trailers with genres and splits, and their clips or their vectors."""

    source: Path  # the store or run folder
    ids: list[str]  # every trailer checked, sorted
    genres: dict[str, list[str]]  # trailer → its genres as labelled, with the placeholders ("none") the import
    # left out of its genres and recorded (``EntryMeta.placeholders``, a run's trailers.csv)
    splits: dict[str, str]  # trailer → "train" / "val" / "test" (none: left out of training, or added after it)
    store: FeatureStore | None = None  # per-clip features (a store, or the store of a trained run)
    embeddings: EmbeddingSet | None = None  # trailer vectors (a run of imported embeddings)
    min_clips: int = DataConfig().min_clips  # the training rule: fewer clips and a trailer is left out
    genre_list: list[str] = field(default_factory=list)  # the genres a model of this collection predicts


def open_collection(path: str | Path | FeatureStore | Run) -> Collection:
    """The collection of a feature store (``manifest.json``) or of a run (a folder, or either opened)."""
    if isinstance(path, Run):
        return run_collection(path)
    path = Path(path.root if isinstance(path, FeatureStore) else path)
    if (path / "manifest.json").exists():
        store = FeatureStore(path)
        data = DataConfig()
        entries = store.entries()
        result = split_entries(entries, data.split_seed, data.split_fractions, data.min_clips)
        splits = {t: s for s, ids in result.ids.items() for t in ids}
        genres = {t: m.genres + m.placeholders for t, m in entries.items()}
        return Collection(path, sorted(entries), genres, splits, store=store, min_clips=data.min_clips,
                          genre_list=store.genres())
    if not path.is_dir():
        raise MmxError(f"{path} is neither a feature store nor a run folder; give `mmx check` a STORE or RUN")
    return run_collection(Run.open(path))


def run_collection(run: Run) -> Collection:
    """Every trailer a run holds, with its split where it has one.

    A trained run holds its store's entries — the trailers its embeddings, map and explorer show:
    those it was trained and evaluated on (with their split), those training left out (fewer than
    ``min_clips`` clips, no genres: no split), and those that joined it after training (``mmx add``,
    the explorer's ingest: no split) — each checked with its store's clips. A run of imported
    embeddings holds its vectors.
    """
    splits = {t: s for s, ids in run.info.splits.items() for t in ids}
    if isinstance(run, ModelRun):
        store = run.store
        entries = store.entries()
        genres = {t: m.genres + m.placeholders for t, m in entries.items()}
        return Collection(run.root, sorted(entries), genres, splits, store=store,
                          min_clips=run.config.data.min_clips, genre_list=list(run.info.genres))
    emb = run.embeddings()
    dropped = read_placeholders(run.root / TRAILERS_FILE)
    genres = {t: g + dropped.get(t, []) for t, g in zip(emb.ids, emb.genres)}
    return Collection(run.root, sorted(emb.ids), genres, splits, embeddings=emb,
                      genre_list=list(run.info.genres))
