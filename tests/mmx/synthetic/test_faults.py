"""mmx.synthetic.faults: what is planted is what is reported, one seed plants the same again, and what the store's
own check reads (a dead stretch) lies where it was planted. (``plant_dirt``, which re-encodes videos: test_demo.py.)"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
import pytest

from mmx.data.broken import dead_record
from mmx.data.importer import import_folder
from mmx.data.store import FeatureStore
from mmx.errors import ConfigError
from mmx.synthetic.faults import (
    EXPERT_FAULTS,
    LABEL_FAULTS,
    ExpertFault,
    FeatureDirt,
    copy_clips,
    flip_labels,
    is_copy,
    plant_broken_experts,
    plant_copies,
    plant_expert_fault,
    plant_feature_dirt,
)
from mmx.synthetic.features import SyntheticConfig, generate


def trailer(n: int = 20, seed: int = 0) -> dict[str, np.ndarray]:
    """A clip-level image expert and a window-level audio expert (two windows a clip)."""
    rng = np.random.default_rng(seed)
    return {"image": rng.normal(size=(n, 8)).astype(np.float32), "audio": rng.normal(size=(2 * n, 4)).astype(np.float32),
            "audio__clip": np.repeat(np.arange(n), 2).astype(np.int32)}


def read_rows(folder: Path) -> list[dict]:
    with open(folder / "labels.csv", newline="") as f:
        return list(csv.DictReader(f))


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture
def folder(tmp_path) -> Path:
    return generate(tmp_path / "features", SyntheticConfig(n_trailers=30, seed=2))


def test_a_planted_dead_stretch_is_the_one_the_store_records():
    arrays = trailer()
    silent = plant_expert_fault(arrays, ExpertFault("audio", "zero", clips=(4, 9)))
    stuck = plant_expert_fault(arrays, ExpertFault("image", "constant", clips=(12, 17)))
    assert silent.tolist() == list(range(8, 20)) and stuck.tolist() == list(range(12, 18))
    assert dead_record(arrays)["dead"] == {"audio": [{"kind": "zero", "rows": [8, 19], "clips": [4, 9]}],
                                           "image": [{"kind": "constant", "rows": [12, 17], "clips": [12, 17]}]}
    whole = trailer()
    plant_expert_fault(whole, ExpertFault("image", "constant", held_row=5))
    assert (whole["image"] == trailer()["image"][5]).all() and whole["image"].dtype == np.float32


def test_noise_has_the_moments_it_was_given_and_one_seed_draws_it_again():
    clean = {"x": np.zeros((4000, 3))}
    mean, sd = np.array([1.0, -2.0, 0.5]), np.array([0.5, 2.0, 1.0])
    planted = [dict(clean) for _ in range(3)]
    for arrays, seed in zip(planted, (7, 7, 8)):
        plant_expert_fault(arrays, ExpertFault("x", "noise"), np.random.default_rng(seed), (mean, sd))
    x = planted[0]["x"]
    assert np.abs(x.mean(0) - mean).max() < 4 * sd.max() / np.sqrt(len(x))  # 4 standard errors of the mean
    assert np.abs(x.std(0) / sd - 1).max() < 0.05  # the sd of 4000 draws is within ~1 % (sd 0.011) of the truth
    assert np.array_equal(x, planted[1]["x"]) and not np.array_equal(x, planted[2]["x"])
    assert not clean["x"].any()  # the caller's array is not written into
    with pytest.raises(ValueError, match="noise fault of x needs"):
        plant_expert_fault(dict(clean), ExpertFault("x", "noise"))


def test_a_copy_holds_the_clips_asked_with_their_windows():
    src = trailer()
    src["clip_times"] = np.stack([np.arange(20.0), np.arange(20.0) + 1], 1)
    exact = copy_clips(src, np.array([3, 1, 2]), np.random.default_rng(0), noise=0.0)
    assert np.array_equal(exact["image"], src["image"][[3, 1, 2]])
    assert np.array_equal(exact["audio"], src["audio"][[6, 7, 2, 3, 4, 5]])
    assert exact["audio__clip"].tolist() == [0, 0, 1, 1, 2, 2] and exact["clip_times"][:, 0].tolist() == [3, 1, 2]
    big = {"x": np.random.default_rng(1).normal(size=(4000, 2)) * [1.0, 10.0]}
    noisy = copy_clips(big, np.arange(4000), np.random.default_rng(2))  # noise: 0.1 × each dimension's spread
    assert np.allclose((noisy["x"] - big["x"]).std(0) / big["x"].std(0), 0.1, rtol=0.05)


def test_copies_are_written_and_reported_as_pairs_and_the_reshuffled_are_not(folder):
    rows = read_rows(folder)
    originals = {r["trailer_id"] for r in rows}
    planted = plant_copies(folder, rows, 3, np.random.default_rng(0))
    made = [r["trailer_id"] for r in rows if r["trailer_id"] not in originals]
    assert len(made) == 9 and all(is_copy(t) for t in made) and not any(is_copy(t) for t in originals)
    sources = sorted({t for pair in planted for t in pair} - set(made))
    assert len(sources) == 3 and len(planted) == 9
    for s in sources:
        assert {(s, f"{s}-copy"), (s, f"{s}-trim"), (f"{s}-copy", f"{s}-trim")} <= planted
        assert not any(f"{s}-reshuffled" in pair for pair in planted)
        src, trim = np.load(folder / f"{s}.npz"), np.load(folder / f"{s}-trim.npz")
        n = len(src["clip_times"])
        first = int(np.flatnonzero(src["clip_times"][:, 0] == trim["clip_times"][0, 0])[0])
        assert np.array_equal(trim["clip_times"], src["clip_times"][first:first + int(0.6 * n)])
        assert sorted(np.load(folder / f"{s}-reshuffled.npz")["clip_times"][:, 0]) == sorted(src["clip_times"][:, 0])


def test_broken_experts_are_reported_where_they_were_planted(folder, tmp_path):
    rows = read_rows(folder)
    before = digest(folder)
    planted = plant_broken_experts(folder, rows, 0.3, np.random.default_rng(1))
    assert len(planted) == 9 and list(planted.values()) == ["constant", "zero", "noise"] * 3
    changed = {name.removesuffix(".npz") for name, h in digest(folder).items() if before[name] != h}
    assert changed == {t for t, _ in planted}  # every trailer it names, and no other
    store = FeatureStore.create(tmp_path / "store")
    assert import_folder(folder, store).ok
    recorded = {(t, e): stretches[0]["kind"] for t in store.entries() for e, stretches in store.dead(t).items()}
    assert recorded == {k: v for k, v in planted.items() if v != "noise"}  # noise is no dead stretch
    for (t, e), kind in planted.items():
        if kind != "noise":
            n_rows = len(store.load(t, e))
            assert store.dead(t)[e] == [{"kind": kind, "rows": [0, n_rows - 1], "clips": [0, store.meta(t).n_clips - 1]}]


def test_flipped_labels_are_exactly_what_changed_and_one_seed_flips_them_again(folder):
    rows = read_rows(folder)
    n_labels = sum(len(r["genres"].split("|")) for r in rows)
    runs = []
    for seed in (3, 3, 4):
        flipped_rows = [dict(r) for r in rows]
        runs.append((flip_labels(flipped_rows, 0.1, np.random.default_rng(seed)), flipped_rows))
    flipped, after = runs[0]
    changed = {(r["trailer_id"], g) for r, a in zip(rows, after)
               for g in set(r["genres"].split("|")) ^ set(a["genres"].split("|"))}
    assert changed == flipped and len(flipped) == int(0.1 * n_labels)
    assert len({t for t, _ in flipped}) == len(flipped)  # one label a trailer
    added = {(t, g) for t, g in flipped if g in next(a for a in after if a["trailer_id"] == t)["genres"].split("|")}
    assert 0 < len(added) < len(flipped)  # some added, some removed
    assert runs[1][0] == flipped and runs[2][0] != flipped
    assert len(flip_labels([dict(r) for r in rows], 4, np.random.default_rng(0))) == 4  # ≥ 1: a count


def test_a_replaced_genre_is_one_the_trailer_did_not_have_and_unknown_kinds_are_named():
    change = LABEL_FAULTS.create("replace", ["Drama", "Action"], ["Action", "Comedy", "Drama", "Horror"],
                                 np.random.default_rng(0))
    assert change.removed in ("Drama", "Action") and change.added in ("Comedy", "Horror")
    assert change.genres == sorted({"Drama", "Action"} - {change.removed} | {change.added})
    for registry, kinds in ((EXPERT_FAULTS, "constant, noise, zero"), (LABEL_FAULTS, "add, remove, replace")):
        with pytest.raises(ConfigError, match=f"known: {kinds}"):
            registry.get("melted")


def test_a_collections_dirt_from_one_seed_is_planted_again_bit_for_bit(tmp_path):
    cfg = SyntheticConfig(n_trailers=24, seed=5)
    truths, labels, files = [], [], []
    for name in ("a", "b"):
        folder = generate(tmp_path / name, cfg)
        labels.append(read_rows(folder))
        truths.append(plant_feature_dirt(folder, labels[-1], FeatureDirt(copies=2, broken_share=0.25, flips=3),
                                         np.random.default_rng(9)))
        files.append(digest(folder))
    assert truths[0] == truths[1] and labels[0] == labels[1] and files[0] == files[1]
    assert len(truths[0]["duplicates"]) == 6 and len(truths[0]["experts"]) == 6 and len(truths[0]["labels"]) == 3
