"""What mmx finds in features does not depend on the CPU that computed them.

One vector computed twice is bit-identical on one CPU and not on another (oneDNN picks other kernels:
musicnn's rows for a silent track differ by 3e-7 on an AMD EPYC). A test cannot choose its CPU; it can
make the numbers differ as another CPU would — every value times (1 + 1e-6 · N(0, 1)) — and check that
the dead-expert record and `mmx check`'s findings stay what they are on the exact numbers.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from mmx.data.broken import DEAD_TOL, dead_record, dead_stretches, snap_dead
from mmx.data.store import EntryMeta, FeatureStore
from mmx.health import open_collection
from mmx.health.duplicates import duplicate_pairs
from mmx.health.report import check
from mmx.inputs import ExpertInfo

RELATIVE = 1e-6  # fp32 kernels that sum in another order differ by a few units of 2⁻²⁴ ≈ 6e-8 per operation
DIMS = {"image": 16, "motion": 12, "audio": 8}  # audio is window-level: two windows a clip
GENRES = ["Action", "Comedy", "Horror"]


def other_cpu(arrays: dict[str, np.ndarray], seed: int) -> dict[str, np.ndarray]:
    """``arrays`` as another CPU computes them: every float value off by ~1e-6 of itself (zeros stay zero)."""
    rng = np.random.default_rng(seed)
    return {k: (x * (1 + RELATIVE * rng.normal(size=x.shape))).astype(x.dtype) if x.dtype.kind == "f" else x
            for k, x in arrays.items()}


def features(rng, look: dict[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    """A trailer: its look plus what each clip shows of its own (float32, as extraction writes)."""
    out = {e: (look[e] + rng.normal(size=(n * (2 if e == "audio" else 1), d))).astype(np.float32) for e, d in DIMS.items()}
    out["audio__clip"] = np.repeat(np.arange(n), 2)
    return out


def collection(rng) -> dict[str, tuple[list[str], str, dict[str, np.ndarray]]]:
    """trailer → (genres, split, arrays): 30 healthy trailers, dead stretches of every kind, a noise-like expert,
    a trimmed copy across splits, and a stuck trailer with its re-encoded copy (repeated rows in a duplicate pair)."""
    protos = {e: 2.0 * rng.normal(size=(len(GENRES), d)) for e, d in DIMS.items()}

    def look(g: int) -> dict[str, np.ndarray]:
        return {e: protos[e][g] + 0.8 * rng.normal(size=d) for e, d in DIMS.items()}

    out = {}
    for i in range(30):
        split = "test" if i % 10 == 0 else "val" if i % 10 == 5 else "train"
        out[f"t{i:02d}"] = ([GENRES[i % 3]], split, features(rng, look(i % 3), int(rng.integers(16, 25))))
    orig = out["t01"][2]
    copy = {e: x[8:40] + 0.1 * rng.normal(size=x[8:40].shape) if e == "audio" else x[4:20] + 0.1 * rng.normal(size=x[4:20].shape)
            for e, x in orig.items() if e != "audio__clip"}
    out["copy"] = (["Comedy"], "test", {k: v.astype(np.float32) for k, v in copy.items()} | {"audio__clip": np.repeat(np.arange(16), 2)})
    dead = features(rng, look(0), 20)
    dead["motion"][:] = 0.0  # a decoder that gave nothing
    dead["image"][6:12] = dead["image"][6]  # a frozen picture
    dead["audio"][10:24] = 0.37 * np.sign(rng.normal(size=DIMS["audio"]))  # silence: one vector that is not zero
    out["dead"] = (["Action"], "train", dead)
    stuck = features(rng, look(2), 20)
    stuck["image"][:] = stuck["image"][3]  # the whole trailer one vector
    out["stuck"] = (["Horror"], "train", stuck)
    again = {e: x + (0.05 * rng.normal(size=x.shape[1:]) if e == "image" else 0.1 * rng.normal(size=x.shape))
             for e, x in stuck.items() if e != "audio__clip"}  # re-encoded: the frozen picture stays one vector
    out["stuck-copy"] = (["Horror"], "val", {k: v.astype(np.float32) for k, v in again.items()} | {"audio__clip": stuck["audio__clip"]})
    rows = np.concatenate([out[f"t{i:02d}"][2]["motion"] for i in range(30)])
    noisy = features(rng, look(1), 20)
    noise = np.random.default_rng(1).normal(size=(20, DIMS["motion"]))  # clip-independent, with the collection's spread
    noisy["motion"] = (rows.mean(0) + rows.std(0) * noise).astype(np.float32)
    out["noisy"] = (["Comedy"], "train", noisy)
    return out


def write_store(root, trailers, seed: int | None) -> FeatureStore:
    """The collection as a store, computed on this CPU (``seed`` None) or on another one."""
    store = FeatureStore.create(root)
    store.register_experts({e: ExpertInfo(d, level="window" if e == "audio" else "clip") for e, d in DIMS.items()})
    for k, (tid, (genres, split, arrays)) in enumerate(sorted(trailers.items())):
        arrays = arrays if seed is None else other_cpu(arrays, seed + k)
        store.write_entry(EntryMeta(tid, genres, len(arrays["image"]), [], split=split), arrays)
    return store


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict[str, FeatureStore]:
    trailers = collection(np.random.default_rng(0))
    root = tmp_path_factory.mktemp("cpus")
    return {name: write_store(root / name, trailers, seed) for name, seed in (("here", None), ("other", 1), ("third", 2))}


def test_the_dead_record_is_the_same_on_another_cpu(stores):
    here = {t: stores["here"].dead(t) for t in stores["here"].entries()}
    assert here["dead"] == {
        "audio": [{"kind": "constant", "rows": [10, 23], "clips": [5, 11]}],
        "image": [{"kind": "constant", "rows": [6, 11], "clips": [6, 11]}],
        "motion": [{"kind": "zero", "rows": [0, 19], "clips": [0, 19]}],
    }
    assert here["stuck"] == here["stuck-copy"] == {"image": [{"kind": "constant", "rows": [0, 19], "clips": [0, 19]}]}
    assert sum(map(bool, here.values())) == 3  # nothing healthy is recorded
    for other in ("other", "third"):
        assert {t: stores[other].dead(t) for t in stores[other].entries()} == here


def _findings(store: FeatureStore) -> list[tuple]:
    """What `mmx check` reports of a store's features, less the scores that carry the last bits."""
    report = check(store.root, ["duplicates", "leaks", "experts"])
    return [(f.check, f.severity, f.kind, tuple(f.trailers), f.expert,
             {k: v for k, v in f.evidence.items() if k in ("clips", "rows", "span_a", "span_b", "offset", "matched_clips")})
            for f in report.findings]


def test_mmx_check_finds_the_same_on_another_cpu(stores):
    here = _findings(stores["here"])
    kinds = {(f[2], f[3]) for f in here}
    assert ("near-duplicate", ("copy", "t01")) in kinds and ("near-duplicate", ("stuck", "stuck-copy")) in kinds
    assert ("noise-like features", ("noisy",)) in kinds and ("zero features", ("dead",)) in kinds
    assert _findings(stores["other"]) == here
    assert _findings(stores["third"]) == here


def test_a_silent_track_through_musicnn_is_dead_on_another_cpu():
    """The AMD case: musicnn's vectors of a silent track, as this CPU and as others leave them, are recorded dead."""
    from mmx.experts import EXPERTS

    rows = EXPERTS.create("audio").embed_audio(np.zeros(6 * 16000, np.float32), 16000)[0]  # (windows, 200)
    assert dead_stretches(rows, 3) == [("constant", 0, len(rows) - 1)]
    for seed in range(3):
        x = other_cpu({"audio": rows}, seed)["audio"]
        assert np.ptp(x, axis=0).max() > 0  # no longer one vector to the last bit ...
        assert dead_stretches(x, 3) == [("constant", 0, len(x) - 1)]  # ... and still a dead track


def test_the_tolerance_is_the_experts_scale_and_not_more():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(10, 6))
    scale = np.abs(x).max()
    x[3:7] = x[3] + 0.4 * DEAD_TOL * scale * rng.uniform(-1, 1, size=(4, 6))  # within the tolerance: one vector
    x[8:10] = 0.4 * DEAD_TOL * scale  # near zero ...
    assert dead_stretches(x, 3) == [("constant", 3, 6)]  # ... but only two rows
    y = x.copy()
    y[3:7] = x[3] + 3 * DEAD_TOL * scale * np.eye(4, 6)  # one value off by 3 % of the scale: a clip of its own
    assert dead_stretches(y, 3) == []
    assert dead_stretches(np.zeros((4, 3)), 3) == [("zero", 0, 3)]
    snapped = snap_dead(x)
    assert (snapped[3:7] == x[3]).all() and (snapped[8:] == 0).all() and (snapped[:3] == x[:3]).all()
    record = dead_record({"a": x})
    assert record["tolerance"] == DEAD_TOL and record["dead"] == {"a": [{"kind": "constant", "rows": [3, 6], "clips": [3, 6]}]}


def test_a_copy_of_a_trailer_with_a_frozen_stretch_aligns_the_same_on_another_cpu(tmp_path):
    """Clips of a frozen stretch tie for a clip's best match; on another CPU their last bits would break the tie
    at random, so the repeated rows are made exact first (``snap_dead``) and the alignment stays the same."""
    rng = np.random.default_rng(4)
    trailers = {f"t{i}": rng.normal(size=(16, 10)) + rng.normal(size=10) for i in range(12)}
    frozen = trailers["t0"]
    frozen[5:9] = frozen[5]
    copy = frozen[2:] + 0.05 * rng.normal(size=(14, 10))
    copy[3:7] = frozen[5] + 0.05 * rng.normal(size=10)  # the frozen picture re-encoded: still one vector
    trailers["copy"] = copy
    found = {}
    for name, seed in (("here", None), ("other", 5)):
        store = FeatureStore.create(tmp_path / name)
        store.register_experts({"image": ExpertInfo(10)})
        for k, (tid, x) in enumerate(sorted(trailers.items())):
            x = {"image": x.astype(np.float32)}
            store.write_entry(EntryMeta(tid, ["Action"], len(x["image"]), []),
                              x if seed is None else other_cpu(x, seed + k))
        found[name] = [(p.a, p.b, p.evidence) for p in duplicate_pairs(open_collection(store.root))]
    assert [(a, b) for a, b, _ in found["here"]] == [("copy", "t0")]
    assert found["other"] == found["here"]


def test_a_record_made_by_float_equality_is_checked_again(stores, tmp_path):
    """An entry that an older mmx recorded on another CPU (float equality: the silent track missed) is checked anew."""
    store = write_store(tmp_path / "older", {"dead": collection(np.random.default_rng(0))["dead"]}, seed=1)
    path = store.entries_dir / store.meta("dead").key / "meta.json"
    meta = json.loads(path.read_text())
    meta["broken"] = {"min_run": 3, "dead": {"motion": meta["broken"]["dead"]["motion"]}}  # audio and image missed
    path.write_text(json.dumps(meta))
    assert FeatureStore(store.root).dead("dead") == stores["here"].dead("dead")
