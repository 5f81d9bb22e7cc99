"""Trailer vectors and their files: ``EmbeddingSet`` and the embeddings npz / trailers.csv formats.

An embeddings npz holds two arrays, ``trailer_id`` (N,) str and ``embedding`` (N, D) float32 —
the layout of the paper authors' visualiser data and of every run's ``embeddings.npz``. A
``trailers.csv`` (``trailer_id``, ``genres`` ``|``-separated, ``title``, ``year``, ``placeholders``: the
placeholder genres such as ``none`` its labels row gave, left out of ``genres``) carries the metadata of a
run of imported embeddings, which has no feature store.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from mmx.data.labels_csv import write_labels
from mmx.durable import atomic_write
from mmx.errors import InputError


@dataclass
class EmbeddingSet:
    """Trailer vectors with their metadata, row i of ``vectors`` belonging to ``ids[i]``."""

    ids: list[str]
    vectors: np.ndarray  # (N, D) float32
    genres: list[list[str]]  # per trailer, in the order the labels give (first = primary genre)
    titles: list[str]
    years: list[int | None]

    @cached_property
    def position(self) -> dict[str, int]:
        return {t: i for i, t in enumerate(self.ids)}

    @cached_property
    def unit(self) -> np.ndarray:
        """(N, D) rows scaled to unit length (for cosine similarity)."""
        return unit_rows(self.vectors)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def subset(self, ids: list[str]) -> "EmbeddingSet":
        rows = [self.position[t] for t in ids]
        return EmbeddingSet(
            list(ids), self.vectors[rows], [self.genres[r] for r in rows],
            [self.titles[r] for r in rows], [self.years[r] for r in rows],
        )

    def with_trailer(self, trailer_id: str, vector: np.ndarray, genres: list[str], title: str,
                     year: int | None) -> "EmbeddingSet":
        """A new set with one more trailer, rows sorted by id (as ``embed_run`` writes them)."""
        ids = [*self.ids, trailer_id]
        order = sorted(range(len(ids)), key=ids.__getitem__)
        vectors = np.concatenate([self.vectors, np.asarray(vector, np.float32)[None]])[order]  # (N+1, D)
        genre_lists, titles, years = self.genres + [genres], self.titles + [title], self.years + [year]
        return EmbeddingSet([ids[r] for r in order], vectors, [genre_lists[r] for r in order],
                            [titles[r] for r in order], [years[r] for r in order])


def unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norm, 1e-12)


def write_npz(path: str | Path, ids: list[str], vectors: np.ndarray) -> Path:
    """Write ``trailer_id`` (N,) str and ``embedding`` (N, D) float32 to ``path`` atomically."""
    buf = io.BytesIO()
    np.savez(buf, trailer_id=np.asarray(ids, dtype=str), embedding=np.asarray(vectors, dtype=np.float32))
    atomic_write(Path(path), buf.getvalue())
    return Path(path)


def read_npz(path: str | Path) -> tuple[list[str], np.ndarray]:
    """``(ids, (N, D) float32)`` of an embeddings npz, with errors naming the file and the problem."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = {"trailer_id", "embedding"} - set(z.files)
            if missing:
                raise InputError(
                    f"{path} needs arrays trailer_id (N,) and embedding (N, D); missing: {', '.join(sorted(missing))}"
                )
            ids, vectors = z["trailer_id"], z["embedding"]
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise InputError(f"cannot read {path} as an npz of trailer embeddings ({e})") from None
    if ids.ndim != 1 or vectors.ndim != 2 or len(ids) != len(vectors):
        raise InputError(f"{path}: trailer_id {ids.shape} and embedding {vectors.shape} must be (N,) and (N, D)")
    return [str(t) for t in ids], vectors.astype(np.float32, copy=False)


def read_ids(path: str | Path, key: str = "trailer_id") -> list[str]:
    """The trailer ids of an npz (``key``) without reading its vectors (an npz reads array by array)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return [str(t) for t in z[key]]
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as e:
        raise InputError(f"cannot read the {key} array of {path} ({e})") from None


def read_trailers_csv(path: Path) -> dict[str, tuple[list[str], str, int | None]]:
    """trailer_id → (genres, title, year) from an embeddings run's ``trailers.csv``."""
    if not path.exists():
        raise InputError(f"{path} is missing; re-create the run with `mmx import-embeddings`")
    out = {}
    with open(path, newline="", encoding="utf-8") as f:
        for rec in csv.DictReader(f):
            year = rec.get("year") or ""
            genres = [g for g in (rec.get("genres") or "").split("|") if g]
            out[rec["trailer_id"]] = (genres, rec.get("title") or "", int(year) if year else None)
    return out


def read_placeholders(path: Path) -> dict[str, list[str]]:
    """trailer_id → the placeholder genres its labels row gave (only trailers with some; older files have none)."""
    with open(path, newline="", encoding="utf-8") as f:
        return {rec["trailer_id"]: rec["placeholders"].split("|")
                for rec in csv.DictReader(f) if rec.get("placeholders")}


def write_trailers_csv(path: Path, rows: list[tuple[str, list[str], str, int | None]],
                       placeholders: dict[str, list[str]] | None = None) -> None:
    """``trailers.csv`` of imported embeddings: the labels.csv columns (``mmx.data.labels_csv``) and the
    placeholder genres each row gave."""
    placeholders = placeholders or {}
    write_labels(path, [{"trailer_id": tid, "genres": genres, "title": title, "year": year,
                         "placeholders": "|".join(placeholders.get(tid, []))} for tid, genres, title, year in rows],
                 extra=("placeholders",))
