"""Hash splits: deterministic, stable per trailer, near the asked fractions; too-short trailers left out."""

from __future__ import annotations

from mmx.data.splits import hash_split, split_entries


def test_hash_split_is_deterministic_stable_and_near_80_10_10(small_store):
    ids = [f"t{i}" for i in range(5000)]
    splits = [hash_split(t, 0, [0.8, 0.1, 0.1]) for t in ids]
    assert splits == [hash_split(t, 0, [0.8, 0.1, 0.1]) for t in ids]
    assert abs(splits.count("train") / 5000 - 0.8) < 0.02
    assert abs(splits.count("val") / 5000 - 0.1) < 0.015
    assert splits != [hash_split(t, 1, [0.8, 0.1, 0.1]) for t in ids]
    result = split_entries(small_store.entries(), 0, [0.8, 0.1, 0.1], min_clips=10)
    short = [t for t, m in small_store.entries().items() if m.n_clips < 10]
    assert sorted(result.too_short) == sorted(short)
    assert sum(result.counts().values()) + len(short) == len(small_store)
