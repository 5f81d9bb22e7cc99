"""A collection to check: a store's trailers with their genres and the training rule's splits; a run's holds every
trailer of its store, those training left out too; a folder that is neither is named."""

from __future__ import annotations

import pytest

from mmx.data.store import FeatureStore
from mmx.errors import MmxError
from mmx.health import open_collection
from mmx.health.report import check


@pytest.mark.slow
def test_a_run_checks_the_trailers_training_left_out(planted, planted_run):
    coll = open_collection(planted_run)
    assert coll.ids == sorted(FeatureStore(planted[0]).entries())  # every trailer the run holds
    assert "short" not in coll.splits and "silent" not in coll.splits  # 6 clips, no genres: no split
    found = {(f.trailers[0], f.expert, f.kind) for f in check(coll, ["experts"]).findings}
    assert ("short", None, "too few clips") in found and ("silent", "motion", "missing expert") in found


def test_a_stores_collection_has_its_trailers_genres_and_the_training_splits(planted, tmp_path):
    root, _ = planted
    store = FeatureStore(root)
    coll = open_collection(root)
    assert open_collection(store).ids == coll.ids == sorted(store.entries()) and coll.store is not None
    assert coll.genres["short"] == ["none"] and coll.genres["silent"] == []  # the placeholder kept for the check
    assert "short" not in coll.splits  # 6 clips: fewer than the training rule's, no split
    assert set(coll.splits.values()) <= {"train", "val", "test"} and len(coll.splits) >= 60
    assert coll.genre_list == store.genres() and coll.embeddings is None
    finding = check(coll, ["experts"]).findings[0]
    assert set(finding.to_dict()) >= {"check", "severity", "kind", "trailers", "evidence", "action"}
    with pytest.raises(MmxError, match="nothing.* is neither a feature store nor a run folder"):
        open_collection(tmp_path / "nothing")
