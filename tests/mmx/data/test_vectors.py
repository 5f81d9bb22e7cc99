"""Trailer vectors and their files: an embeddings npz and a trailers.csv round trip, bad files are named with what
is wrong; an EmbeddingSet subsets, grows in id order and gives unit rows."""

from __future__ import annotations

import numpy as np
import pytest

from mmx.data.vectors import (
    EmbeddingSet,
    read_ids,
    read_npz,
    read_placeholders,
    read_trailers_csv,
    unit_rows,
    write_npz,
    write_trailers_csv,
)
from mmx.errors import InputError


def test_an_embeddings_npz_round_trips_and_bad_files_are_named(tmp_path):
    x = np.random.default_rng(0).normal(size=(3, 4))
    path = write_npz(tmp_path / "emb.npz", ["b", "a", "c"], x)
    ids, vectors = read_npz(path)
    assert ids == ["b", "a", "c"] == read_ids(path) and vectors.dtype == np.float32
    np.testing.assert_array_equal(vectors, x.astype(np.float32))
    np.savez(tmp_path / "half.npz", trailer_id=np.array(["a"]))
    with pytest.raises(InputError, match=r"half.npz needs arrays trailer_id \(N,\) and embedding \(N, D\); missing: embedd"):
        read_npz(tmp_path / "half.npz")
    np.savez(tmp_path / "odd.npz", trailer_id=np.array(["a", "b"]), embedding=np.zeros((3, 4)))
    with pytest.raises(InputError, match=r"odd.npz: trailer_id \(2,\) and embedding \(3, 4\) must be"):
        read_npz(tmp_path / "odd.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="cannot read .*junk.npz as an npz of trailer embeddings"):
        read_npz(tmp_path / "junk.npz")
    with pytest.raises(InputError, match="cannot read the clip_id array of .*emb.npz"):
        read_ids(path, "clip_id")


def test_an_embedding_set_subsets_grows_in_id_order_and_gives_unit_rows():
    x = np.array([[3.0, 4.0], [0.0, 0.0]], np.float32)
    emb = EmbeddingSet(["a", "c"], x, [["Drama"], ["Horror", "Drama"]], ["A", "C"], [1999, None])
    grown = emb.with_trailer("b", np.array([1.0, 0.0]), ["Comedy"], "B", 2001)
    assert grown.ids == ["a", "b", "c"] and grown.genres[1] == ["Comedy"] and grown.years == [1999, 2001, None]
    np.testing.assert_array_equal(grown.vectors[1], [1.0, 0.0])
    assert grown.position["c"] == 2 and grown.dim == 2 and emb.ids == ["a", "c"]  # the set itself is unchanged
    sub = grown.subset(["c", "a"])
    assert sub.ids == ["c", "a"] and sub.titles == ["C", "A"] and sub.vectors.tolist() == [[0.0, 0.0], [3.0, 4.0]]
    np.testing.assert_allclose(emb.unit, [[0.6, 0.8], [0.0, 0.0]])  # a zero row stays zero, never NaN
    np.testing.assert_allclose(np.linalg.norm(unit_rows(np.random.default_rng(1).normal(size=(5, 3))), axis=1), 1.0,
                               rtol=1e-6)


def test_a_trailers_csv_round_trips_with_its_placeholder_genres(tmp_path):
    path = tmp_path / "trailers.csv"
    write_trailers_csv(path, [("t1", ["Drama", "Sci-Fi"], "A, with comma", 2001), ("t2", [], "", None)],
                       {"t2": ["none", "unknown"]})
    assert read_trailers_csv(path) == {"t1": (["Drama", "Sci-Fi"], "A, with comma", 2001), "t2": ([], "", None)}
    assert read_placeholders(path) == {"t2": ["none", "unknown"]}
    with pytest.raises(InputError, match="missing.csv is missing; re-create the run with `mmx import-embeddings`"):
        read_trailers_csv(tmp_path / "missing.csv")
