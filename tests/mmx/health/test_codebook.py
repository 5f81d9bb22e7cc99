"""The codebook features: every clip counted once, a window expert pooled per clip, trailers of one look sharing
their kind of clip."""

from __future__ import annotations

import numpy as np

from mmx.data.store import EntryMeta, FeatureStore
from mmx.inputs import ExpertInfo


def test_codebook_counts_every_clip_once_and_pools_a_window_expert_per_clip(tmp_path):
    """A trailer is log(1 + its clips' soft counts per kind of clip): the counts add up to its clips, windows are
    averaged into the clip that holds them, and trailers of the same look share their kind of clip."""
    from mmx.health.codebook import CodebookConfig, clip_rows, codebook_features

    rng = np.random.default_rng(6)
    looks = 4.0 * rng.normal(size=(3, 8))
    store = FeatureStore.create(tmp_path / "store")
    store.register_experts({"image": ExpertInfo(8), "audio": ExpertInfo(4, level="window")})
    for i in range(12):
        n = int(rng.integers(10, 21))
        owner = np.repeat(np.arange(n), rng.integers(1, 4, size=n)).astype(np.int32)
        arrays = {"image": looks[i % 3] + 0.3 * rng.normal(size=(n, 8)),
                  "audio": rng.normal(size=(len(owner), 4)), "audio__clip": owner}
        store.write_entry(EntryMeta(f"t{i:02d}", ["Drama"], n, []), arrays)
    ids = sorted(store.entries())
    rows = clip_rows(store, "t00", ["audio", "image"])  # (n, 4 + 1 + 8 + 1)
    audio, owner = store.load("t00", "audio"), store.load_window_clips("t00", "audio")
    naive = np.stack([np.asarray(audio)[owner == c].mean(0) for c in range(len(rows))])
    np.testing.assert_allclose(rows[:, :4], naive, rtol=1e-5, atol=1e-6)
    assert (rows[:, 4] == 1).all() and (rows[:, 13] == 1).all()
    f = codebook_features(store, ids, CodebookConfig(clusters=3, dims=4))  # as many kinds as looks
    n_clips = np.array([store.meta(t).n_clips for t in ids])
    np.testing.assert_allclose(np.expm1(f).sum(1), n_clips, rtol=1e-6)  # every clip counted once
    kind = np.argmax(f, axis=1)
    assert all((kind[i] == kind[j]) == (i % 3 == j % 3) for i in range(12) for j in range(12))
