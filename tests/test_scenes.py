"""Scene vectors and scene search: the scene set, its index, queries, and scene retrieval metrics."""

from __future__ import annotations

import numpy as np
import pytest

from mmx.errors import InputError, UnknownTrailerError
from mmx.index import IndexConfig, build_index
from mmx.index import sized_config as scene_index_config
from mmx.retrieval import Neighbours
from mmx.scenes.evaluation import random_precision
from mmx.scenes.evaluation import scene_precision as precision_at_k
from mmx.scenes.scene_set import SceneSet, scene_part
from mmx.scenes.searching import SceneIndexConfig, SceneVectors, search_scene


def synthetic_scenes(n_trailers: int = 30, seed: int = 0) -> SceneSet:
    """Trailers of 5–14 clips, 2 s each with 0.1 s gaps, vectors clustered by trailer."""
    rng = np.random.default_rng(seed)
    parts = {}
    for t in range(n_trailers):
        n = int(rng.integers(5, 15))
        centre = rng.normal(size=16)
        starts = np.arange(n) * 2.1
        parts[f"tr{t:02d}"] = scene_part(centre + 0.8 * rng.normal(size=(n, 16)), np.c_[starts, starts + 2.0])
    return SceneSet.from_parts(parts)


@pytest.fixture(scope="module")
def scenes() -> SceneSet:
    return synthetic_scenes()


def test_scene_set_groups_clips_by_trailer_in_time_order(scenes):
    assert scenes.trailer_ids == sorted(scenes.trailer_ids)
    rows = scenes.rows_of("tr03")
    assert list(scenes.clip[rows.start : rows.stop]) == list(range(len(rows)))
    assert np.allclose(np.linalg.norm(scenes.vectors, axis=1), 1, atol=1e-5)
    assert scenes.row_at("tr03", 0.0) == rows[0]
    assert scenes.row_at("tr03", 2.05) == rows[1]  # in the gap after clip 0: the next clip
    assert scenes.row_at("tr03", 4.3) == rows[2]
    assert scenes.row_at("tr03", clip=1) == rows[1]
    with pytest.raises(InputError, match="outside"):
        scenes.row_at("tr03", 999.0)
    with pytest.raises(InputError, match="no clip 99"):
        scenes.row_at("tr03", clip=99)
    with pytest.raises(UnknownTrailerError, match="did you mean"):
        scenes.rows_of("tr3")


def test_adding_a_trailer_keeps_the_others(scenes):
    new = scenes.add("aa-new", np.ones((3, 16)), None)
    assert new.trailer_ids[0] == "aa-new" and len(new) == len(scenes) + 3
    assert np.isnan(new.start[new.rows_of("aa-new").start])
    old, moved = scenes.rows_of("tr05"), new.rows_of("tr05")
    np.testing.assert_array_equal(scenes.vectors[old.start : old.stop], new.vectors[moved.start : moved.stop])


def test_a_clip_is_its_own_top_hit(scenes):
    for row in range(0, len(scenes), 7):
        hits = Neighbours(SceneVectors(scenes)).search(scenes.vectors[row], 3)
        assert hits[0].row == row and hits[0].score == pytest.approx(1.0, abs=1e-5)


def test_other_trailers_never_returns_the_query_trailer(scenes):
    index = build_index(scenes.vectors, IndexConfig(kind="exact"))
    for tid in scenes.trailer_ids[::4]:
        query, hits = search_scene(scenes, index, tid, clip=0, k=20, other_trailers=True)
        assert query.trailer_id == tid and len(hits) == 20
        assert all(h.trailer_id != tid for h in hits)
        _, own = search_scene(scenes, index, tid, clip=0, k=3)
        assert all(h.row != query.row for h in own) and own[0].trailer_id == tid  # its own trailer comes first


@pytest.mark.parametrize("kind", ["exact", "ivf", "hnsw"])
def test_index_and_exact_search_agree_on_small_data(scenes, kind):
    cfg = IndexConfig(kind=kind, nlist=4, nprobe=4, ef_search=256)  # every ivf cell scanned: exact
    index = build_index(scenes.vectors, cfg)
    for row in range(0, len(scenes), 11):
        exact = Neighbours(SceneVectors(scenes)).around(row, 10)
        found = Neighbours(SceneVectors(scenes), index).around(row, 10)
        assert [h.row for h in found] == [h.row for h in exact]
        np.testing.assert_allclose([h.score for h in found], [h.score for h in exact], atol=1e-5)


def test_index_kind_by_size():
    cfg = SceneIndexConfig()
    assert scene_index_config(cfg.exact_max, cfg).kind == "exact"
    big = scene_index_config(cfg.exact_max + 1, cfg)
    assert big.kind == cfg.kind and big.nprobe == cfg.nprobe


def test_scene_precision_matches_a_naive_loop():
    rng = np.random.default_rng(3)
    vectors, labels, groups = rng.normal(size=(40, 6)), rng.integers(0, 3, 40), np.repeat(np.arange(8), 5)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    for other in (True, False):
        expected = []
        for i in range(40):
            allowed = [j for j in range(40) if j != i and (not other or groups[j] != groups[i])]
            best = sorted(allowed, key=lambda j: -unit[i] @ unit[j])[:5]
            expected.append(np.mean([labels[j] == labels[i] for j in best]))
        assert precision_at_k(vectors, labels, groups, 5, other) == pytest.approx(np.mean(expected))
        share = [np.mean([labels[j] == labels[i] for j in range(40) if j != i and (not other or groups[j] != groups[i])])
                 for i in range(40)]
        assert random_precision(labels, groups, other) == pytest.approx(np.mean(share))
