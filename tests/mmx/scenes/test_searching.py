"""Scene search: a clip is its own top hit, other trailers leave the query's trailer out, an index answers like
exact search, the index kind chosen by size."""

from __future__ import annotations

import numpy as np
import pytest

from mmx.index import IndexConfig, build_index
from mmx.index import sized_config as scene_index_config
from mmx.retrieval import Neighbours
from mmx.scenes.searching import SceneIndexConfig, SceneVectors, search_scene


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
