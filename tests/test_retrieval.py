"""Retrieval maths against plain references, search invariants, and imported embeddings runs."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, silhouette_score

from mmx.data.vectors import write_npz
from mmx.embeddings import ensure_embeddings, import_embeddings
from mmx.errors import InputError, UnknownTrailerError
from mmx.metrics import mean_average_precision, precision_at_k, retrieval_metrics, silhouette
from mmx.retrieval import evaluate_retrieval, nearest, search_run
from mmx_cli.main import main

GENRES = ["Action", "Comedy", "Drama", "Horror", "Sci-Fi"]


def random_collection(n: int, d: int, seed: int) -> tuple[np.ndarray, list[list[str]]]:
    rng = np.random.default_rng(seed)
    genres = [list(rng.choice(GENRES, size=rng.integers(1, 3), replace=False)) for _ in range(n)]
    centres = {g: rng.normal(size=d) for g in GENRES}
    x = np.stack([sum(centres[g] for g in gs) + rng.normal(scale=1.5, size=d) for gs in genres])
    return x.astype(np.float32), genres


def naive_rankings(x: np.ndarray, q: int) -> list[int]:
    """Other trailers by decreasing cosine similarity to trailer q, one at a time."""
    def cos(a, b):
        return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))

    sims = [(cos(x[q], x[j]), j) for j in range(len(x)) if j != q]
    return [j for _, j in sorted(sims, key=lambda s: -s[0])]


def shares(a: list[str], b: list[str]) -> bool:
    return bool(set(a) & set(b))


@pytest.mark.parametrize("n,d,k,seed", [(30, 8, 5, 0), (57, 16, 10, 1), (12, 3, 11, 2)])
def test_precision_at_k_matches_a_loop(n, d, k, seed):
    x, genres = random_collection(n, d, seed)
    genres[3] = []  # an unlabelled trailer: never a query, never relevant
    expected = np.mean([
        np.mean([shares(genres[q], genres[j]) for j in naive_rankings(x, q)[:k]])
        for q in range(n) if genres[q]
    ])
    assert precision_at_k(x, genres, k) == pytest.approx(expected, abs=1e-12)
    queries = np.array([0, 3, 5, 7])  # a subset of queries, the whole collection as gallery
    expected_sub = np.mean([
        np.mean([shares(genres[q], genres[j]) for j in naive_rankings(x, q)[:k]]) for q in (0, 5, 7)
    ])
    assert precision_at_k(x, genres, k, queries) == pytest.approx(expected_sub, abs=1e-12)


def test_mean_average_precision_matches_scikit_learn():
    x, genres = random_collection(40, 6, 3)
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    aps = []
    for q in range(len(x)):
        others = [j for j in range(len(x)) if j != q]
        rel = [shares(genres[q], genres[j]) for j in others]
        aps.append(average_precision_score(rel, unit[others] @ unit[q]))
    assert mean_average_precision(x, genres) == pytest.approx(np.mean(aps), abs=1e-6)


def test_silhouette_is_scikit_learns_on_primary_genre():
    x, genres = random_collection(50, 8, 4)
    expected = silhouette_score(x, [g[0] for g in genres], metric="cosine")
    assert silhouette(x, genres) == pytest.approx(expected, abs=1e-9)
    assert np.isnan(silhouette(x[:5], [["Drama"]] * 5))  # one cluster: undefined
    m = retrieval_metrics(x, genres, k=10)
    assert set(m) >= {"precision_at_10", "map", "silhouette", "n_queries"} and m["n_queries"] == 50


def test_perfect_clusters_score_one():
    genres = [["Action"]] * 12 + [["Drama"]] * 12
    x = np.concatenate([np.tile([1.0, 0.0], (12, 1)), np.tile([0.0, 1.0], (12, 1))]).astype(np.float32)
    x += np.random.default_rng(0).normal(scale=0.01, size=x.shape).astype(np.float32)
    assert precision_at_k(x, genres, 10) == 1.0
    assert mean_average_precision(x, genres) == pytest.approx(1.0)
    assert silhouette(x, genres) > 0.95


# ---------------------------------------------------------------------------- imported embeddings
@pytest.fixture
def emb_files(tmp_path):
    x, genres = random_collection(30, 8, 5)
    ids = [f"t{i:02d}" for i in range(30)]
    bad_ids = ids + ["t00", "nometa", "nan-row", "zero-row"]
    bad_x = np.concatenate([x, x[:1], x[:1], np.full((1, 8), np.nan), np.zeros((1, 8))]).astype(np.float32)
    write_npz(tmp_path / "emb.npz", bad_ids, bad_x)
    with open(tmp_path / "meta.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["trailer_id", "genres", "title", "year"])
        for tid, gs in zip(ids, genres):
            w.writerow([tid, "|".join(gs), f"Title {tid}", 2000])
        w.writerow(["nan-row", "Drama", "", ""])
        w.writerow(["zero-row", "Drama", "", ""])
    return tmp_path, ids, x, genres


def test_import_embeddings_reports_bad_rows_and_keeps_the_rest(emb_files):
    tmp, ids, x, genres = emb_files
    report = import_embeddings(tmp / "emb.npz", tmp / "meta.csv", tmp / "run")
    reasons = [p.reason for p in report.problems]
    assert report.kept == ids
    assert len(reasons) == 4
    assert any("duplicate" in r and "'t00'" in r for r in reasons)
    assert any("'nometa'" in r and "missing from meta.csv" in r for r in reasons)
    assert any("'nan-row'" in r and "NaN" in r for r in reasons)
    assert any("'zero-row'" in r and "zeros" in r for r in reasons)
    emb = ensure_embeddings(tmp / "run")
    assert emb.ids == ids and emb.genres == genres and emb.titles[0] == "Title t00" and emb.years[0] == 2000
    np.testing.assert_array_equal(emb.vectors, x)
    result = evaluate_retrieval(tmp / "run")
    assert result["precision_at_10"] == pytest.approx(precision_at_k(x, genres, 10))
    assert result["kind"] == "embeddings" and "coarse" not in result
    with pytest.raises(Exception, match="already holds a run"):
        import_embeddings(tmp / "emb.npz", tmp / "meta.csv", tmp / "run")


def test_search_invariants_on_an_embeddings_run(emb_files, capsys):
    tmp, ids, x, genres = emb_files
    import_embeddings(tmp / "emb.npz", tmp / "meta.csv", tmp / "run")
    emb = ensure_embeddings(tmp / "run")
    for i in (0, 7, 29):
        top = nearest(emb, x[i], k=3)
        assert top[0].trailer_id == ids[i] and top[0].score == pytest.approx(1.0, abs=1e-6)
        by_id = nearest(emb, ids[i], k=5)
        assert ids[i] not in [h.trailer_id for h in by_id]
        assert [h.trailer_id for h in by_id] == [ids[j] for j in naive_rankings(x, i)[:5]]
        assert all(a.score >= b.score for a, b in zip(by_id, by_id[1:]))
    with pytest.raises(UnknownTrailerError, match="did you mean t01"):
        search_run(tmp / "run", "t01x")
    # a vector query through an npz with an `embedding` array; the wrong dimension is named
    np.savez(tmp / "q.npz", embedding=x[4])
    assert search_run(tmp / "run", str(tmp / "q.npz"), 1)[0].trailer_id == "t04"
    np.savez(tmp / "q3.npz", embedding=x[4][:3])
    with pytest.raises(InputError, match="8-d"):
        search_run(tmp / "run", str(tmp / "q3.npz"))
    np.savez(tmp / "clips.npz", appearance=np.zeros((5, 4), np.float32))
    with pytest.raises(InputError, match="no model"):
        search_run(tmp / "run", str(tmp / "clips.npz"))

    assert main(["search", "--run", str(tmp / "run"), "t05", "-k", "4", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert len(hits) == 4 and {"trailer_id", "score", "genres", "title"} <= set(hits[0])
    assert main(["evaluate", "--run", str(tmp / "run"), "--retrieval", "--json"]) == 0
    assert "precision_at_10" in json.loads(capsys.readouterr().out)
    assert main(["info", str(tmp / "run")]) == 0
    assert "embeddings" in capsys.readouterr().out
    assert main(["search", "--run", str(tmp / "run"), "nope"]) == 2
    assert "is not in the run" in capsys.readouterr().err
