"""A collection to check: a run's collection holds every trailer of its store, those training left out too."""

from __future__ import annotations

from mmx.data.store import FeatureStore
from mmx.health import open_collection
from mmx.health.report import check


def test_a_run_checks_the_trailers_training_left_out(planted, planted_run):
    coll = open_collection(planted_run)
    assert coll.ids == sorted(FeatureStore(planted[0]).entries())  # every trailer the run holds
    assert "short" not in coll.splits and "silent" not in coll.splits  # 6 clips, no genres: no split
    found = {(f.trailers[0], f.expert, f.kind) for f in check(coll, ["experts"]).findings}
    assert ("short", None, "too few clips") in found and ("silent", "motion", "missing expert") in found
