"""``mmx export``: a collection as a dataset others load in one line.

Layout of an exported folder (the Hugging Face ``datasets`` Parquet layout; ``datasets.load_dataset(DIR,
"clips", split="train")`` reads it, and so does any Parquet reader)::

    README.md                         dataset card: YAML ``configs`` (trailers, clips) + a datasheet
    mmx_export.json                   what ``mmx import DIR --format parquet`` needs: experts (dim, level,
                                      source), run genres, whether keyframes are in, format version
    trailers/<split>-NNNNN.parquet    one row per trailer: trailer_id, title, year, split, genres, n_clips,
                                      <expert>_mean (the mean of its rows/windows); with --run: embedding,
                                      genre_probs (the run's genre order, in mmx_export.json)
    clips/<split>-NNNNN.parquet       one row per clip: trailer_id, clip, start, end, one column per
                                      expert (clip-level: list<float32>; window-level: the clip's windows,
                                      list<list<float32>>; null where the trailer lacks the expert),
                                      keyframe (a ``datasets`` Image: the JPEG bytes; left out with
                                      --public-features-only), with --run
                                      genre_probs of the scene timeline

A trailer's shard split is the run's split of it (with ``--run``), else its entry's own split, else
mmx's hash split (``mmx.data.splits.hash_split`` with ``DataConfig``'s seed and 80/10/10, the split
``mmx train`` would give it), so ``split="train"`` always exists; the ``split`` column keeps the
entry's own split (null when it has none), which is what the round trip restores. A run of
imported embeddings (no store) exports the ``trailers`` config only. Arrays are written as they are
stored (float32 features, float64 clip times), so the round trip is bit-exact. Trailers are
written one at a time; only the rows of one Parquet row group are held.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from mmx.config import DataConfig
from mmx.data.formats.parquet import EXPORT_FORMAT, EXPORT_VERSION, MANIFEST
from mmx.data.splits import SPLITS, hash_split
from mmx.data.store import FeatureStore
from mmx.errors import InputError
from mmx.run import EmbeddingsRun, ModelRun, Run

ROW_GROUP = 4096  # clip rows per Parquet row group
SHARD_ROWS = 200_000  # clip rows per shard (~600 MB of 768-d float32)


@dataclass
class ExportConfig:
    public_features_only: bool = False  # leave keyframes out (a collection's pictures may not be yours to share)
    shard_rows: int = SHARD_ROWS  # rows per Parquet file
    title: str = ""  # the card's title (default: the folder's name)


@dataclass
class ExportSummary:
    out: Path
    trailers: dict[str, int] = field(default_factory=dict)  # split → trailers written
    clips: dict[str, int] = field(default_factory=dict)  # split → clips written
    experts: list[str] = field(default_factory=list)
    keyframes: bool = False


class ShardWriter:
    """Parquet files ``<config>/<split>-NNNNN.parquet`` of at most ``shard_rows`` rows, filled batch by batch."""

    def __init__(self, folder: Path, schema, shard_rows: int):
        self.folder, self.schema, self.shard_rows = folder, schema, shard_rows
        self.pending: dict[str, list] = {}  # split → record batches not yet written
        self.writers: dict[str, tuple] = {}  # split → (ParquetWriter, shard index, rows in shard)
        self.rows: dict[str, int] = {}

    def add(self, split: str, batch) -> None:
        self.pending.setdefault(split, []).append(batch)
        self.rows[split] = self.rows.get(split, 0) + batch.num_rows
        if sum(b.num_rows for b in self.pending[split]) >= ROW_GROUP:
            self._flush(split)

    def _flush(self, split: str) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        batches = self.pending.pop(split, [])
        if not batches:
            return
        table = pa.Table.from_batches(batches, self.schema)
        writer, index, rows = self.writers.get(split, (None, -1, self.shard_rows))
        if writer is None or rows >= self.shard_rows:
            if writer is not None:
                writer.close()
            index += 1
            writer, rows = pq.ParquetWriter(self.folder / f"{split}-{index:05d}.parquet", self.schema), 0
        writer.write_table(table)
        self.writers[split] = (writer, index, rows + table.num_rows)

    def close(self) -> dict[str, int]:
        for split in list(self.pending):
            self._flush(split)
        for writer, _, _ in self.writers.values():
            writer.close()
        return dict(self.rows)


def list_array(rows: np.ndarray | None, n: int, dim: int):
    """(n, dim) float32 → list<float32> of n rows; None → n nulls."""
    import pyarrow as pa

    if rows is None:
        return pa.nulls(n, pa.list_(pa.float32()))
    flat = pa.array(np.ascontiguousarray(rows, dtype=np.float32).reshape(-1))
    return pa.ListArray.from_arrays(pa.array(np.arange(0, n * dim + 1, dim, dtype=np.int32)), flat)


def window_array(windows: np.ndarray | None, clip_of: np.ndarray | None, n: int, dim: int):
    """(W, dim) windows + (W,) clip index → list<list<float32>> of n clips (a clip's windows in order)."""
    import pyarrow as pa

    if windows is None:
        return pa.nulls(n, pa.list_(pa.list_(pa.float32())))
    inner = list_array(windows, windows.shape[0], dim)
    counts = np.bincount(clip_of, minlength=n)  # windows are in clip order (non-decreasing)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), inner)


def clips_schema(store: FeatureStore, keyframes: bool, n_genres: int | None):
    import pyarrow as pa

    cols = [("trailer_id", pa.string()), ("clip", pa.int32()), ("start", pa.float64()), ("end", pa.float64())]
    for name, info in sorted(store.experts.items()):
        inner = pa.list_(pa.float32())
        cols.append((name, pa.list_(inner) if info.level == "window" else inner))
    if n_genres:
        cols.append(("genre_probs", pa.list_(pa.float32())))
    if not keyframes:
        return pa.schema(cols)
    import datasets  # the keyframe column is declared a datasets Image: {bytes, path} (load_dataset decodes it)

    features = datasets.Features.from_arrow_schema(pa.schema(cols))
    features["keyframe"] = datasets.Image()
    return features.arrow_schema


def trailers_schema(experts: dict, with_run: bool, embedding_only: bool):
    import pyarrow as pa

    cols = [("trailer_id", pa.string()), ("title", pa.string()), ("year", pa.int32()), ("split", pa.string()),
            ("genres", pa.list_(pa.string()))]
    if not embedding_only:
        cols += [("n_clips", pa.int32())] + [(f"{n}_mean", pa.list_(pa.float32())) for n in sorted(experts)]
    if with_run:
        cols.append(("embedding", pa.list_(pa.float32())))
        if not embedding_only:
            cols.append(("genre_probs", pa.list_(pa.float32())))
    return pa.schema(cols)


def clip_batch(store: FeatureStore, tid: str, schema, keyframes: bool, probs: np.ndarray | None):
    """The clip rows of one trailer as a record batch."""
    import pyarrow as pa

    meta = store.meta(tid)
    n = meta.n_clips
    times = store.load_clip_times(tid)  # (n, 2) float64 or None
    cols = {"trailer_id": pa.array([tid] * n), "clip": pa.array(np.arange(n, dtype=np.int32))}
    for i, col in enumerate(("start", "end")):
        cols[col] = pa.nulls(n, pa.float64()) if times is None else pa.array(np.ascontiguousarray(times[:, i]))
    for name, info in sorted(store.experts.items()):
        arr = store.load(tid, name)
        if info.level == "window":
            clip_of = None if arr is None else store.load_window_clips(tid, name)
            cols[name] = window_array(arr, clip_of, n, info.dim)
        else:
            cols[name] = list_array(arr, n, info.dim)
    if keyframes:
        images = store.keyframes(tid)
        cols["keyframe"] = pa.StructArray.from_arrays(
            [pa.array(images if images is not None else [None] * n, pa.binary()), pa.nulls(n, pa.string())],
            names=["bytes", "path"], mask=pa.array([images is None] * n))
    if probs is not None:
        cols["genre_probs"] = list_array(probs, n, probs.shape[1])
    return pa.RecordBatch.from_arrays([cols[f.name] for f in schema], schema=schema)


def expert_means(store: FeatureStore, tid: str) -> dict[str, np.ndarray | None]:
    return {name: (None if (a := store.load(tid, name)) is None else np.asarray(a, np.float64).mean(0).astype(np.float32))
            for name in sorted(store.experts)}


def trailer_rows(store: FeatureStore | None, run: Run | None) -> Iterator[dict]:
    """One dict per trailer (store order; a run without a store: the run's embeddings)."""
    if store is None:
        emb = run.embeddings()
        split_of = {t: s for s, ids in run.info.splits.items() if s in SPLITS for t in ids}
        for i, tid in enumerate(emb.ids):
            yield {"trailer_id": tid, "title": emb.titles[i], "year": emb.years[i], "split": split_of.get(tid),
                   "genres": emb.genres[i], "embedding": emb.vectors[i]}
        return
    vectors = run.embeddings() if run is not None else None
    for tid, meta in sorted(store.entries().items()):
        row = {"trailer_id": tid, "title": meta.title, "year": meta.year, "split": meta.split,
               "genres": meta.genres, "n_clips": meta.n_clips,
               **{f"{n}_mean": v for n, v in expert_means(store, tid).items()}}
        if vectors is not None:
            row["embedding"] = vectors.vectors[vectors.position[tid]]
        yield row


def export(out: str | Path, store: FeatureStore | None = None, run: Run | None = None,
           cfg: ExportConfig | None = None) -> ExportSummary:
    """Write ``store`` (and what ``run`` adds) to ``out``; see the module docstring."""
    from mmx.export_card import write_card

    cfg = cfg or ExportConfig()
    out = Path(out)
    if store is None and run is None:
        raise InputError("export needs --store, --run or both")
    if isinstance(run, ModelRun) and store is None:
        store = run.store
    if isinstance(run, EmbeddingsRun) and store is not None:
        raise InputError(f"{run.root} holds imported embeddings, not a network over {store.root}; export it without --store")
    if out.exists() and any(out.iterdir()):
        raise InputError(f"{out} exists and is not empty; export into a new folder")
    summary = ExportSummary(out, experts=sorted(store.experts) if store else [])
    summary.keyframes = bool(store) and not cfg.public_features_only and any(
        m.has_keyframes for m in store.entries().values())
    genres = run.info.genres if run is not None else None
    if store is not None:
        summary.clips = write_clips(out / "clips", store, run if isinstance(run, ModelRun) else None,
                                    summary.keyframes, cfg)
    summary.trailers = write_trailers(out / "trailers", store, run, cfg)
    manifest = {"format": EXPORT_FORMAT, "version": EXPORT_VERSION, "keyframes": summary.keyframes,
                "experts": {n: vars(e) for n, e in sorted(store.experts.items())} if store else {},
                "run": None if run is None else {"root": str(run.root), "kind": run.kind, "genres": genres},
                "trailers_only": store is None}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    write_card(out, summary, store, run, cfg)
    return summary


def shard_split(tid: str, own: str | None, run: Run | None) -> str:
    """The split a trailer's rows are written under (see the module docstring)."""
    if run is not None:
        for split, ids in run.info.splits.items():
            if split in SPLITS and tid in ids:  # an embeddings run has one split "all"
                return split
    data = DataConfig()
    return own or hash_split(tid, data.split_seed, data.split_fractions)


def write_clips(folder: Path, store: FeatureStore, run: ModelRun | None, keyframes: bool, cfg: ExportConfig) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    schema = clips_schema(store, keyframes, len(run.info.genres) if run is not None else None)
    writer = ShardWriter(folder, schema, cfg.shard_rows)
    for tid, meta in sorted(store.entries().items()):
        probs = None
        if run is not None:
            from mmx.timeline import clip_probabilities  # torch: only for a run's scene timeline

            probs = clip_probabilities(run, tid)  # (n_clips, G)
        writer.add(shard_split(tid, meta.split, run), clip_batch(store, tid, schema, keyframes, probs))
    return writer.close()


def write_trailers(folder: Path, store: FeatureStore | None, run: Run | None, cfg: ExportConfig) -> dict:
    import pyarrow as pa

    folder.mkdir(parents=True, exist_ok=True)
    schema = trailers_schema(store.experts if store else {}, run is not None, store is None)
    writer = ShardWriter(folder, schema, cfg.shard_rows)
    rows = list(trailer_rows(store, run))  # one small dict per trailer (means, not clips)
    if isinstance(run, ModelRun):
        from mmx.inference import predict_ids  # torch: only for a run's predictions

        probs, _ = predict_ids(run, [r["trailer_id"] for r in rows])  # (N, G)
        for r, p in zip(rows, probs):
            r["genre_probs"] = p.astype(np.float32)
    for r in rows:
        cols = [pa.array([r.get(f.name)], f.type) if not pa.types.is_list(f.type) or f.name == "genres"
                else list_array(None if r.get(f.name) is None else np.asarray(r[f.name])[None], 1,
                                0 if r.get(f.name) is None else len(r[f.name]))
                for f in schema]
        writer.add(shard_split(r["trailer_id"], r["split"], run), pa.RecordBatch.from_arrays(cols, schema=schema))
    return writer.close()
