"""FAISS indexes of a run's embeddings: exact equals brute force, approximate kinds keep recall."""

from __future__ import annotations

import time

import numpy as np
import pytest

from mmx.data.vectors import write_npz
from mmx.embeddings import ensure_embeddings, import_embeddings
from mmx.errors import ConfigError
from mmx.index import (
    EXACT_MAX_FLOATS,
    IndexConfig,
    build_index,
    build_run_index,
    index_config_for,
    load_run_index,
    search,
)
from mmx.retrieval import nearest, search_run
from mmx_cli.main import main


@pytest.fixture(scope="module")
def real_run(shared_data, tmp_path_factory):
    """The 7,594 real visualiser embeddings (1024-d) as an imported run."""
    src = shared_data / "mmx-visualiser"
    out = tmp_path_factory.mktemp("index") / "run"
    import_embeddings(src / "embeddings.npz", src / "metadata.csv", out)
    return out


def _brute_force(x: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    """(Q, k) rows of the k largest cosines, by a full sort (nothing shared with mmx.index)."""
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    return np.argsort(-(qn @ xn.T), axis=1, kind="stable")[:, :k]


def search_index(run, vectors: np.ndarray, k: int):
    """Trailer ids of the k nearest of each query from the run's matching index, or None without one."""
    found = load_run_index(run)
    if found is None:
        return None
    scores, rows = search(found.index, vectors, k)
    return [[found.ids[r] for r in row if r >= 0] for row in rows], scores


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)]))


@pytest.mark.slow
def test_exact_index_equals_brute_force_and_cosines(real_run):
    emb = ensure_embeddings(real_run)
    q = emb.vectors[::97]  # (79, 1024) real trailers as queries
    index = build_index(emb.vectors, IndexConfig(kind="exact"))
    scores, rows = search(index, q, 10)
    truth = _brute_force(emb.vectors, q, 10)
    assert _recall(rows, truth) == 1.0
    assert (rows[:, 0] == np.arange(0, len(emb.ids), 97)).all()  # a trailer is its own nearest neighbour
    np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-5)
    xn = emb.unit[rows[3]]
    np.testing.assert_allclose(scores[3], xn @ emb.unit[97 * 3], atol=1e-5)  # scores are the cosines


@pytest.mark.slow
@pytest.mark.parametrize("kind, target", [("ivf", 0.9), ("hnsw", 0.95)])
def test_approximate_indexes_keep_recall_on_real_embeddings(real_run, kind, target):
    emb = ensure_embeddings(real_run)
    q = emb.vectors[::53]  # (144, 1024)
    _, rows = search(build_index(emb.vectors, IndexConfig(kind=kind, ef_construction=64)), q, 10)
    assert _recall(rows, _brute_force(emb.vectors, q, 10)) >= target


@pytest.mark.slow
@pytest.mark.parametrize("kind, target", [("ivf", 0.9), ("hnsw", 0.95)])
def test_float16_storage_keeps_recall_and_cosines(real_run, kind, target):
    emb = ensure_embeddings(real_run)
    q = emb.vectors[::53]  # (144, 1024)
    index = build_index(emb.vectors, IndexConfig(kind=kind, ef_construction=64, storage="float16"))
    scores, rows = search(index, q, 10)
    assert _recall(rows, _brute_force(emb.vectors, q, 10)) >= target
    xn = emb.vectors / np.linalg.norm(emb.vectors, axis=1, keepdims=True)
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    np.testing.assert_allclose(scores, np.take_along_axis(qn @ xn.T, rows, axis=1), atol=2e-3)
    with pytest.raises(ConfigError, match="unknown index storage 'int4'"):
        build_index(emb.vectors, IndexConfig(kind=kind, storage="int4"))


@pytest.mark.slow
def test_index_chosen_by_size_and_dimension(shared_data, tmp_path):
    assert index_config_for(EXACT_MAX_FLOATS // 512, 512).kind == "exact"
    big, wide = index_config_for(1_000_000, 512), index_config_for(1_000_000, 2048)
    assert (big.kind, big.storage, big.nlist, big.nprobe) == ("ivf", "float16", 0, 8)  # √N cells
    assert (wide.kind, wide.storage, wide.nprobe) == ("ivf", "float16", 4)
    src = shared_data / "mmx-visualiser"
    import_embeddings(src / "embeddings.npz", src / "metadata.csv", tmp_path / "run")
    assert main(["index", "--run", str(tmp_path / "run")]) == 0  # 7,594 × 1024: small enough to stay exact
    assert load_run_index(tmp_path / "run").kind == "exact"


@pytest.mark.slow
def test_run_index_is_used_while_it_matches_the_embeddings(real_run):
    assert search_index(real_run, np.zeros((1, 1024), np.float32), 5) is None  # no index yet
    emb = ensure_embeddings(real_run)
    rc = main(["index", "--run", str(real_run), "--kind", "ivf", "--nprobe", "16"])
    assert rc == 0 and (real_run / "index-ivf.faiss").exists()
    ids, scores = search_index(real_run, emb.vectors[[5, 900]], 10)
    for row, q in zip(ids, (5, 900)):
        assert row[0] == emb.ids[q]
        assert len(set(row) & {h.trailer_id for h in nearest(emb, emb.vectors[q], 10)}) >= 8
    assert load_run_index(real_run).index.nprobe == 16  # the query-time setting is kept beside the index
    build_run_index(real_run, IndexConfig(kind="exact"))
    assert load_run_index(real_run).kind == "exact"  # the newest one answers
    assert load_run_index(real_run, "ivf").kind == "ivf"

    time.sleep(0.01)  # the embeddings change: the indexes no longer match and are not used
    write_npz(real_run / "embeddings.npz", emb.ids, emb.vectors[:, ::-1].copy())
    assert search_index(real_run, emb.vectors[:1], 5) is None


@pytest.mark.slow
def test_search_run_answers_from_the_exact_index_like_exact_search(shared_data, tmp_path):
    src = shared_data / "mmx-visualiser"
    run = tmp_path / "run"
    import_embeddings(src / "embeddings.npz", src / "metadata.csv", run)
    query = ensure_embeddings(run).ids[42]
    exact = search_run(run, query, 10)
    build_run_index(run, IndexConfig(kind="exact"))
    indexed = search_run(run, query, 10)
    assert [h.trailer_id for h in indexed] == [h.trailer_id for h in exact]
    assert query not in {h.trailer_id for h in indexed}  # the query is left out of its own hits
    np.testing.assert_allclose([h.score for h in indexed], [h.score for h in exact], atol=1e-5)
    assert [h.genres for h in indexed] == [h.genres for h in exact]


def test_tiny_collections_and_dimension_errors(tmp_path):
    x = np.random.default_rng(0).normal(size=(5, 8)).astype(np.float32)
    for kind in ("exact", "ivf", "hnsw"):
        scores, rows = search(build_index(x, IndexConfig(kind=kind)), x[:2], 10)
        assert rows[0, 0] == 0 and rows[1, 0] == 1 and (rows[:, 5:] == -1).all()  # 5 vectors, k = 10
    with pytest.raises(ValueError, match="queries are 4-d; the index holds 8-d"):
        search(build_index(x), x[:, :4], 3)
    with pytest.raises(ValueError, match="unknown index kind 'lsh'"):
        build_index(x, IndexConfig(kind="lsh"))
