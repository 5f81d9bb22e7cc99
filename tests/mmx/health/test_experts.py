"""Broken experts: zero, constant and noise-like features found with their clips, noise judged against the
expert's own spread, coherence and dead stretches against hand cases, stretches read from the store's record."""

from __future__ import annotations

import numpy as np

from mmx.data.store import EntryMeta, FeatureStore
from mmx.health.experts import coherence, dead_stretches
from mmx.health.report import check
from mmx.inputs import ExpertInfo
from mmx.synthetic.faults import ExpertFault, plant_expert_fault


def test_broken_experts_are_found_with_their_clips(planted):
    found = {(f.trailers[0], f.expert, f.kind): f for f in check(planted[0], ["experts"]).findings}
    assert found[("zeros", "motion", "zero features")].evidence["clips"][0] == 0
    assert found[("stuck", "image", "constant features")].evidence["clips"] == [5, 12]
    assert ("noisy", "motion", "noise-like features") in found
    assert ("short", None, "too few clips") in found and ("silent", "motion", "missing expert") in found
    noise_like = {t for t, e, k in found if k == "noise-like features"}
    assert noise_like == {"noisy"}  # no healthy trailer is called noise


def test_coherence_is_about_one_for_noise_and_dead_stretches_against_hand_cases():
    rng = np.random.default_rng(2)
    values = [coherence(rng.normal(size=(40, 64)), np.zeros(64), np.ones(64)) for _ in range(50)]
    assert 0.9 < np.mean(values) < 1.1
    x = np.arange(30.0).reshape(10, 3)
    x[2:5] = 0
    x[6:10] = 7
    assert dead_stretches(x, 3) == [("zero", 2, 4), ("constant", 6, 9)]


def test_noise_like_is_judged_against_the_experts_own_spread(tmp_path):
    """A weak but healthy expert (coherence near noise's for every trailer) flags nothing; a strong one flags
    the one trailer whose features were replaced by noise of the expert's own mean and spread."""
    rng = np.random.default_rng(4)
    store = FeatureStore.create(tmp_path / "store")
    store.register_experts({"weak": ExpertInfo(16), "strong": ExpertInfo(16)})
    for i in range(40):
        n = int(rng.integers(20, 31))
        arrays = {"weak": 0.15 * rng.normal(size=16) + rng.normal(size=(n, 16)),  # trailer look ≪ clip noise
                  "strong": 1.5 * rng.normal(size=16) + rng.normal(size=(n, 16))}
        if i == 7:
            plant_expert_fault(arrays, ExpertFault("strong", "noise"), rng, (0.0, 1.8))  # about the expert's spread
        store.write_entry(EntryMeta(f"t{i:02d}", ["Drama"], n, []), arrays)
    found = [(f.trailers[0], f.expert) for f in check(tmp_path / "store", ["experts"]).findings
             if f.kind == "noise-like features"]
    assert found == [("t07", "strong")]


def test_dead_stretches_are_read_from_the_stores_record(planted, monkeypatch):
    from mmx.health import experts as experts_module
    from mmx.health.experts import ExpertCheckConfig
    from mmx.health.report import HealthConfig

    with monkeypatch.context() as m:  # every stretch found from the arrays
        m.setattr(experts_module, "dead_rows", lambda store, tid, e, x, n: dead_stretches(x, n))
        from_arrays = [f.to_dict() for f in check(planted[0], ["experts"]).findings]
    calls = []
    monkeypatch.setattr(experts_module, "dead_stretches", lambda x, n: calls.append(n) or dead_stretches(x, n))
    assert [f.to_dict() for f in check(planted[0], ["experts"]).findings] == from_arrays and calls == []  # recorded
    assert any(f["kind"] == "zero features" for f in from_arrays)
    check(planted[0], ["experts"], HealthConfig(experts=ExpertCheckConfig(min_run=5)))
    assert calls and set(calls) == {5}  # another stretch length than the record's: found from the arrays
