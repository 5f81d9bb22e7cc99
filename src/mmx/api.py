"""The reading half of the Python API: what a user asks of a store or a run, each answer a small dataclass whose
``to_frame()`` is a pandas DataFrame (``pip install 'mmx[notebook]'``). ``import mmx`` names these functions
(``mmx.predict``, …) beside the library's own entry points; docs/python.md is the guide, every column documented.
The ``mmx`` commands call the same functions: ``mmx predict`` → ``predict`` / ``predict_video``, ``mmx search`` →
``search`` / ``search_scenes``, ``mmx scenes`` → ``index_scenes``.

Training and fine-tuning are the other half (``mmx.train.fit``: ``mmx.fit``, ``mmx.finetune``): reading never
imports training.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mmx.data.store import FeatureStore
from mmx.frames import data_frame
from mmx.progress import Reporter
from mmx.retrieval import Hit
from mmx.run import ModelRun, Run

if TYPE_CHECKING:
    from mmx.frames import DataFrame

RunLike = str | Path | Run
Progress = bool | Reporter


def reporter_of(progress: Progress) -> Reporter:
    """A ``progress`` argument as a Reporter: True → plain lines (bars on a terminal), False → nothing."""
    return progress if isinstance(progress, Reporter) else Reporter.auto(quiet=not progress)


# ---------------------------------------------------------------------------- opening
def open_store(path: str | Path, create: bool = False) -> FeatureStore:
    """The feature store in ``path``; ``create``: a new empty one when the folder holds none."""
    return FeatureStore.create(path) if create else FeatureStore(path)


def open_run(path: RunLike) -> Run:
    """The run in ``path``: a ``ModelRun`` (coarse or fine: a network) or an ``EmbeddingsRun`` (imported vectors)."""
    return Run.open(path)


@dataclass
class Trailers:
    """The trailers of a store or a run (``trailers``)."""

    rows: list[dict]  # one per trailer, the columns of ``to_frame``

    COLUMNS = ["trailer_id", "title", "year", "genres", "split", "n_clips", "experts"]

    def to_frame(self) -> DataFrame:
        """One row per trailer, sorted by id: ``trailer_id``; ``title`` ("" when unknown); ``year`` (float, NaN when
        unknown); ``genres`` (list of its labels, the first its primary genre); ``split`` ("train", "val", "test", or
        None: a store entry without one, or a run's trailer that training left out or that joined it later);
        ``n_clips`` (float, NaN for imported embeddings); ``experts`` (list of the experts its entry holds)."""
        return data_frame(self.rows, self.COLUMNS, floats=["year", "n_clips"])


def trailers(source: str | Path | FeatureStore | Run) -> Trailers:
    """Every trailer of a feature store or a run (a store's entries; a run's store entries with the run's split, or
    its imported embeddings)."""
    if isinstance(source, (str, Path)):
        source = FeatureStore(source) if (Path(source) / "manifest.json").exists() else Run.open(source)
    if isinstance(source, FeatureStore):
        return Trailers([_entry_row(m, m.split) for _, m in sorted(source.entries().items())])
    split = {t: s for s, ids in source.info.splits.items() for t in ids}
    if isinstance(source, ModelRun):
        return Trailers([_entry_row(m, split.get(t)) for t, m in sorted(source.store.entries().items())])
    emb = source.embeddings()
    rows = [{"trailer_id": t, "title": title, "year": year, "genres": list(genres), "split": split.get(t),
             "n_clips": None, "experts": []}
            for t, title, year, genres in zip(emb.ids, emb.titles, emb.years, emb.genres)]
    return Trailers(sorted(rows, key=lambda r: r["trailer_id"]))


def _entry_row(meta, split: str | None) -> dict:
    return {"trailer_id": meta.trailer_id, "title": meta.title, "year": meta.year, "genres": list(meta.genres),
            "split": split, "n_clips": meta.n_clips, "experts": list(meta.experts)}


# ---------------------------------------------------------------------------- genres
@dataclass
class Prediction:
    """One trailer's genres as the run's network sees them (Tbl. 4)."""

    trailer_id: str
    title: str
    genres: list[str]  # its given labels (none for a new video file)
    probabilities: dict[str, float]  # genre → sigmoid probability, every genre of the run in its order
    predicted: list[str]  # genres at or above the threshold, most probable first
    added: list[str]  # predicted but not given: labels to add, most probable first
    missing: list[str]  # given but not predicted: labels to drop, least probable first


@dataclass
class Predictions:
    """The answer of ``predict`` and ``predict_video``."""

    vocabulary: list[str]  # the run's genres, the keys of every probabilities
    threshold: float  # probability at or above which a genre is predicted
    items: list[Prediction]  # one per trailer, in the order asked

    def to_records(self) -> list[dict]:
        """Plain dicts (what `mmx predict --json` prints)."""
        return [asdict(p) for p in self.items]

    def to_frame(self) -> DataFrame:
        """One row per trailer: ``trailer_id``, ``title``, ``genres`` (given labels, a list), ``predicted``,
        ``added`` (labels to add), ``missing`` (labels to drop) — lists as in ``Prediction`` — then one float column
        per genre of ``vocabulary``: its probability."""
        rows = [{**{k: v for k, v in asdict(p).items() if k != "probabilities"}, **p.probabilities} for p in self.items]
        fixed = ["trailer_id", "title", "genres", "predicted", "added", "missing"]
        return data_frame(rows, fixed + [g for g in self.vocabulary if g not in fixed])


def _predictions(run: ModelRun, records: list[dict], threshold: float | None) -> Predictions:
    threshold = run.config.train.threshold if threshold is None else threshold
    return Predictions(list(run.info.genres), threshold, [Prediction(**r) for r in records])


def predict(run: RunLike, ids: str | list[str] | None = None, threshold: float | None = None,
            split: str | None = None) -> Predictions:
    """Genre probabilities, predicted labels and labels to add or drop for trailers of a run's store: ``ids`` (one
    id or a list), else every trailer of ``split`` ("train", "val", "test", "all"), else every trailer of the
    store. ``threshold``: the run's (0.3) unless given."""
    from mmx.inference import label_suggestions, model_run

    run = model_run(run)
    if isinstance(ids, str):
        ids = [ids]
    if ids is None:
        ids = run.split_ids(split) if split is not None else sorted(run.store.entries())
    return _predictions(run, label_suggestions(run, list(ids), threshold), threshold)


def predict_video(run: RunLike, video: str | Path, threshold: float | None = None, progress: Progress = False
                  ) -> Predictions:
    """The genres of a new video file, extracted with the run's experts and settings into a temporary store (the
    run is not changed; ``mmx add`` makes a trailer join it). Its trailer id is the file's name without suffix."""
    from mmx.add import extracted_apart
    from mmx.inference import label_suggestions, model_run

    run = model_run(run)
    with extracted_apart(run, video, reporter_of(progress)) as (store, tid):
        return _predictions(run, label_suggestions(run, [tid], threshold, store=store), threshold)


# ---------------------------------------------------------------------------- search
@dataclass
class Hits:
    """The answer of ``search`` (trailers) and ``search_scenes`` (scenes)."""

    query: str  # what was searched for: a trailer id, a file, "vector", or "TRAILER_ID clip N"
    hits: list[Hit]  # best first
    scene: Hit | None = None  # scene search from a scene of the run: that scene (its trailer, clip and seconds)

    def to_records(self) -> list[dict]:
        """Plain dicts (what `mmx search --json` prints): the fields of each hit's kind."""
        return [h.as_dict() for h in self.hits]

    def to_frame(self) -> DataFrame:
        """One row per hit, best first: ``rank`` (1 = nearest), ``trailer_id``, ``title``, ``score`` (cosine
        similarity to the query); trailer hits then ``genres`` (list, the first the primary genre) and ``year``
        (float, NaN when unknown); scene hits ``clip`` (its number in the trailer), ``start`` and ``end`` (seconds,
        NaN when the store has no clip times)."""
        scenes = any(h.clip is not None for h in self.hits)
        extra, floats = (["clip", "start", "end"], ["start", "end"]) if scenes else (["genres", "year"], ["year"])
        rows = [{"rank": i + 1, **h.as_dict()} for i, h in enumerate(self.hits)]
        return data_frame(rows, ["rank", "trailer_id", "title", "score", *extra], floats=floats)


def search(run: RunLike, query: str | Path | np.ndarray, k: int = 10, progress: Progress = False) -> Hits:
    """The ``k`` trailers nearest to ``query`` by cosine: a trailer id of the run (left out of its own hits), the
    path of a new trailer's ``.npz`` (per-clip features in the import format, embedded with the run's network; or
    one ``embedding``), or a vector of the run's dimension. The run's embeddings are computed first when they are
    missing or stale (and said so, with ``progress``)."""
    from mmx.embeddings import ensure_embeddings
    from mmx.retrieval import Neighbours, search_run

    run = Run.open(run)
    ensure_embeddings(run, reporter_of(progress))
    if isinstance(query, (str, Path)):
        return Hits(str(query), search_run(run, str(query), k))
    return Hits("vector", Neighbours.of_run(run).search(np.asarray(query), k))


def index_scenes(run: RunLike, progress: Progress = False, batch_size: int = 8):
    """Compute and index every clip's scene vector of a coarse or fine run (``RUN/scenes.npz``, ``mmx scenes``);
    returns the ``mmx.scenes.scene_set.SceneSet`` (``to_frame()``: one row per scene)."""
    from mmx.scenes.compute import compute_scenes

    return compute_scenes(Run.open(run), reporter_of(progress), batch_size)


def search_scenes(run: RunLike, trailer_id: str | None = None, seconds: float | None = None,
                  video: str | Path | None = None, k: int = 10, other_trailers: bool = False,
                  progress: Progress = False) -> Hits:
    """The ``k`` scenes (clips) nearest to the scene of ``trailer_id`` covering ``seconds`` (default: its first
    clip), or to a short ``video`` file (extracted with the run's experts: ``video_scene_vector``);
    ``other_trailers`` leaves the query's own trailer out. Needs the run's scene vectors (``index_scenes``)."""
    from mmx.scenes.searching import open_scenes, search_run_scenes

    run = Run.open(run)
    scene = None if trailer_id is None else (trailer_id, None if seconds is None else float(seconds))
    opened = open_scenes(run)  # missing or stale scenes are said before a video is extracted
    vector = None if scene is not None or video is None else video_scene_vector(run, video, progress)
    query, hits = search_run_scenes(run, scene, vector, k, other_trailers, opened)
    what = str(video) if query is None else f"{query.trailer_id} clip {query.clip}"
    return Hits(what, hits, query)


def video_scene_vector(run: RunLike, video: str | Path, progress: Progress = False) -> np.ndarray:
    """(D,) the unit mean of a short video's scene vectors: the video extracted with the run's experts and settings
    into a temporary store (``mmx.add.extracted_apart``), its clips through the run's network."""
    from mmx.add import extracted_apart
    from mmx.data.vectors import unit_rows
    from mmx.scenes.compute import clip_vectors

    run = Run.open(run)
    with extracted_apart(run, video, reporter_of(progress)) as (store, tid):
        vectors = clip_vectors(run.model(), store, run.info, [tid], precision=run.precision)[tid]  # (C, D)
    return unit_rows(vectors.mean(0, keepdims=True))[0]
