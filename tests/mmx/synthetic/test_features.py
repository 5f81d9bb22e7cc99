"""The synthetic feature collection: the import format with its declared shapes, labels drawn from MovieNet's real
genre combinations (a true genre sometimes missing from the labels), short and silent trailers, clip times that
tile the trailer; the same collection bit for bit for a seed; bad knobs refused."""

from __future__ import annotations

import csv
import re

import numpy as np
import pytest

from mmx.errors import ConfigError
from mmx.synthetic.features import SyntheticConfig, generate, genre_combinations

CFG = SyntheticConfig(n_trailers=40, seed=3, clips=(10, 20), dims={"appearance": 8, "audio": 4},
                      snr={"appearance": 1.0, "audio": 0.5}, short_fraction=0.2, no_audio_fraction=0.2)


def rows_of(folder) -> list[dict]:
    with open(folder / "labels.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_a_collection_has_its_declared_shapes_and_real_genre_combinations(tmp_path):
    out = generate(tmp_path / "a", CFG)
    rows = rows_of(out)
    assert [r["trailer_id"] for r in rows] == [f"demo{t:04d}" for t in range(40)]
    combos, probs = genre_combinations()
    assert probs.sum() == pytest.approx(1.0) and len(combos) == len(probs)
    known = {tuple(c) for c in combos}
    clips, silent = [], 0
    for r in rows:
        true, labels = r["true_genres"].split("|"), r["genres"].split("|")
        assert tuple(true) in known and set(labels) <= set(true) and len(labels) >= len(true) - 1
        with np.load(out / f"{r['trailer_id']}.npz") as z:
            n = len(z["appearance"])
            assert z["appearance"].shape == (n, 8) and z["appearance"].dtype == np.float32
            times = z["clip_times"]  # (n, 2) seconds, each clip starting where the one before ended
            assert times.shape == (n, 2) and (times[:, 1] > times[:, 0]).all()
            np.testing.assert_allclose(times[1:, 0], times[:-1, 1])
            if "audio" in z.files:  # windows: 1–4 per clip, each clip has some, in order
                owner = z["audio__clip"]
                assert z["audio"].shape == (len(owner), 4) and (np.diff(owner) >= 0).all()
                assert set(owner.tolist()) == set(range(n))
            else:
                silent += 1
        clips.append(n)
    assert min(clips) >= 5 and max(clips) <= 20 and any(n < 10 for n in clips)  # some too short to train on
    assert 0 < silent < 40


def test_a_seed_gives_the_same_collection_bit_for_bit(tmp_path):
    a, b = generate(tmp_path / "a", CFG), generate(tmp_path / "b", CFG)
    assert (a / "labels.csv").read_bytes() == (b / "labels.csv").read_bytes()
    for path in sorted(a.glob("*.npz")):
        with np.load(path) as x, np.load(b / path.name) as y:
            assert x.files == y.files and all(x[k].tobytes() == y[k].tobytes() for k in x.files)
    other = generate(tmp_path / "c", SyntheticConfig(**{**vars(CFG), "seed": 4}))
    assert (other / "labels.csv").read_bytes() != (a / "labels.csv").read_bytes()


@pytest.mark.parametrize("bad, words", [
    ({"short_fraction": 1.5}, "short_fraction must lie in [0, 1]"),
    ({"clips": (5, 20)}, "clips must be (lo, hi) with 10 <= lo <= hi"),
    ({"snr": {"appearance": 1.0}}, "snr names ['appearance'] must match dims"),
    ({"n_trailers": 0}, "n_trailers, latent and modes must be at least 1"),
])
def test_bad_knobs_are_refused(bad, words):
    with pytest.raises(ConfigError, match=re.escape(words)):
        SyntheticConfig(**{**vars(CFG), **bad})
