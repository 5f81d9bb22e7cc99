"""One search stack: trailer embeddings and scene vectors are two vector sets searched by one ``Neighbours``,
answering one ``Hit`` type, with the same leave-out rules (the query row, or every row of its trailer); search
invariants on a run of imported embeddings, against a plain cosine ranking."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers import naive_rankings
from mmx import retrieval
from mmx.data.vectors import EmbeddingSet
from mmx.embeddings import ensure_embeddings, import_embeddings
from mmx.errors import InputError, UnknownTrailerError
from mmx.retrieval import Hit, Neighbours, TrailerVectors, nearest, search_run
from mmx.scenes.scene_set import SceneSet, scene_part
from mmx.scenes.searching import SceneVectors, search_scene
from mmx_cli.main import main


def trailer_set(n: int = 24, seed: int = 0) -> TrailerVectors:
    rng = np.random.default_rng(seed)
    ids = [f"tr{i:02d}" for i in range(n)]
    years = [2000 + i if i % 3 else None for i in range(n)]
    return TrailerVectors(EmbeddingSet(ids, rng.normal(size=(n, 8)).astype(np.float32),
                                       [["Drama"] if i % 2 else ["Horror", "Drama"] for i in range(n)],
                                       [f"Film {i}" if i % 4 else "" for i in range(n)], years))


def scene_set(n_trailers: int = 12, seed: int = 1) -> SceneVectors:
    """Trailers of 3–7 clips, 2 s each, vectors clustered by trailer; half of them titled."""
    rng = np.random.default_rng(seed)
    parts = {}
    for t in range(n_trailers):
        n = int(rng.integers(3, 8))
        starts = np.arange(n) * 2.0
        parts[f"tr{t:02d}"] = scene_part(rng.normal(size=8) + 0.5 * rng.normal(size=(n, 8)), np.c_[starts, starts + 2.0])
    scenes = SceneSet.from_parts(parts)
    return SceneVectors(scenes, {t: f"Film {t}" for t in scenes.trailer_ids[::2]})


SETS = {"trailers": trailer_set, "scenes": scene_set}


def test_trailer_and_scene_search_go_through_one_searcher_and_answer_one_hit_type(monkeypatch):
    searched = []
    real = Neighbours._nearest

    def spy(self, q, k, leave_out):
        searched.append(type(self.vectors))
        return real(self, q, k, leave_out)

    monkeypatch.setattr(retrieval.Neighbours, "_nearest", spy)
    trailers, scenes = trailer_set(), scene_set()
    trailer_hits = nearest(trailers.emb, "tr03", 5)
    query, scene_hits = search_scene(scenes.scenes, None, "tr03", seconds=2.5, k=5, titles=scenes.titles)
    assert searched == [TrailerVectors, SceneVectors]
    assert {type(h) for h in [*trailer_hits, query, *scene_hits]} == {Hit}
    # each kind answers the JSON it always gave: trailer hits with genres and year, scene hits with clip and seconds
    assert set(trailer_hits[0].as_dict()) == {"trailer_id", "title", "score", "genres", "year"}
    assert set(scene_hits[0].as_dict()) == {"trailer_id", "title", "score", "clip", "start", "end"}
    assert query.trailer_id == "tr03" and query.clip == 1 and (query.start, query.end) == (2.0, 4.0)
    hit = trailers.hit(7, 0.5)
    assert (hit.title, hit.genres, hit.year, hit.clip) == ("Film 7", ["Drama"], 2007, None)


@pytest.mark.parametrize("kind", SETS)
def test_leave_out_rules_hold_for_both_vector_sets(kind):
    vectors = SETS[kind]()
    search = Neighbours(vectors)
    n = len(vectors.unit)
    owner = [vectors.hit(r, 0.0).trailer_id for r in range(n)]
    for row in range(0, n, 5):
        own = vectors.rows_of(owner[row])
        alone = search.around(row, n)  # the query row is left out, nothing else
        assert sorted(h.row for h in alone) == [r for r in range(n) if r != row]
        apart = search.around(row, n, other_trailers=True)  # every row of its trailer is left out
        assert sorted(h.row for h in apart) == [r for r in range(n) if r not in own]
        assert all(h.trailer_id != owner[row] for h in apart)
        by_id = search.nearest(owner[row], n)  # a trailer id: the trailer is left out
        assert [h.row for h in by_id] == [h.row for h in search.around(own.start, n, other_trailers=True)]
        everything = search.search(vectors.unit[row], n)  # a vector: nothing is left out, the row itself first
        assert everything[0].row == row and len(everything) == n
        scores = [h.score for h in everything]
        assert scores == sorted(scores, reverse=True)
        np.testing.assert_allclose(scores, np.sort(vectors.unit @ vectors.unit[row])[::-1], atol=1e-5)


@pytest.mark.parametrize("kind", SETS)
def test_an_index_in_another_row_order_answers_like_exact_search(kind):
    """A run's index lists trailers added after it was built last (``index_rows``): its rows are mapped back."""
    pytest.importorskip("faiss")
    from mmx.index import IndexConfig, build_index

    vectors = SETS[kind]()
    n = len(vectors.unit)
    order = np.random.default_rng(2).permutation(n)  # index row i holds the set's row order[i]
    shuffled = Neighbours(vectors, build_index(vectors.unit[order], IndexConfig(kind="exact")), order, "exact")
    exact = Neighbours(vectors)
    for row in range(0, n, 3):
        for other in (False, True):
            found, want = shuffled.around(row, 6, other), exact.around(row, 6, other)
            assert [h.row for h in found] == [h.row for h in want]
            np.testing.assert_allclose([h.score for h in found], [h.score for h in want], atol=1e-5)


def test_a_query_of_the_wrong_dimension_names_the_vector_set():
    with pytest.raises(InputError, match="the query vector is 3-d; the run's scene vectors are 8-d"):
        Neighbours(scene_set()).search(np.ones(3), 2)


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
