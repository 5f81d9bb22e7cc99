"""Near-duplicates: a trimmed re-encoded copy is one and another trailer of the same film is not; clip alignment
against a naive loop; most experts must match in order; window features pooled into their clips; trailer vectors
compared by cosine."""

from __future__ import annotations

import numpy as np

from mmx.health import open_collection
from mmx.health.duplicates import DuplicateConfig, align, duplicate_pairs


def test_a_trimmed_copy_is_a_duplicate_and_another_trailer_of_the_film_is_not(planted):
    root, _ = planted
    pairs = {(p.a, p.b): p for p in duplicate_pairs(open_collection(root))}
    assert set(pairs) == {("copy", "t01")}
    ev = pairs[("copy", "t01")].evidence
    assert ev["span_a"] == [0, 19] and ev["span_b"] == [4, 23] and ev["coverage"] == 1.0  # copy clip i = t01 clip i + 4


def test_alignment_against_a_naive_loop():
    rng = np.random.default_rng(1)
    a = {"x": rng.normal(size=(9, 5))}
    b = {"x": a["x"][3:8] + 0.01 * rng.normal(size=(5, 5))}
    al = align(b, a)

    def best(u, v, i):  # the clip of v most like clip i of u, each trailer less its own mean clip
        cu, cv = u - u.mean(0), v - v.mean(0)
        return int(np.argmax([cu[i] @ w / np.linalg.norm(cu[i]) / np.linalg.norm(w) for w in cv]))

    assert [best(b["x"], a["x"], i) for i in range(5)] == [3, 4, 5, 6, 7]
    assert al["span_a"] == [0, 4] and al["span_b"] == [3, 7] and al["offset"] == 3 and al["matched_clips"] == 5
    assert al["share"] == 1.0  # every clip's best match, both ways, on the one offset


def test_trailer_vectors_fall_back_to_cosine(tmp_path):
    from mmx.embeddings import import_embeddings

    rng = np.random.default_rng(3)
    x = rng.normal(size=(40, 32)).astype(np.float32)  # independent trailers: cosines near 0
    x[1] = x[0] + 0.05 * rng.normal(size=32)  # cosine ≈ 0.999: the same video under two ids
    x[2] = x[0] + 0.3 * rng.normal(size=32)  # cosine ≈ 0.96: close, but under embedding_cosine
    ids = [f"t{i:02d}" for i in range(40)]
    np.savez(tmp_path / "emb.npz", trailer_id=np.array(ids), embedding=x)
    (tmp_path / "meta.csv").write_text("trailer_id,genres\n" + "".join(f"{t},Drama\n" for t in ids))
    import_embeddings(tmp_path / "emb.npz", tmp_path / "meta.csv", tmp_path / "run")
    assert [(p.a, p.b) for p in duplicate_pairs(open_collection(tmp_path / "run"))] == [("t00", "t01")]


def test_a_pair_that_shares_the_picture_only_is_no_duplicate_and_another_audio_mix_is_one():
    """Most experts must match in order: the same image clips over other motion and sound is another video
    cut from the same footage, not a copy; the same video with another audio mix is."""
    rng = np.random.default_rng(5)
    a = {e: rng.normal(size=(20, 8)) for e in ("image", "motion", "audio")}
    same_picture = {"image": a["image"] + 0.05 * rng.normal(size=(20, 8)),
                    "motion": rng.normal(size=(20, 8)), "audio": rng.normal(size=(20, 8))}
    other_mix = {e: x + 0.05 * rng.normal(size=x.shape) for e, x in a.items()}
    other_mix["audio"] = rng.normal(size=(20, 8))
    cfg = DuplicateConfig()
    assert align(same_picture, a)["share"] < cfg.min_share
    assert align(other_mix, a)["share"] >= cfg.min_share and align(other_mix, a)["matched_clips"] == 20


def test_window_features_pool_into_the_clips_that_hold_them():
    from mmx.health.duplicates import pool_windows

    z = np.arange(8.0).reshape(4, 2)  # four windows
    pooled = pool_windows(z, np.array([0, 0, 2, 4]), 6)  # clips 1, 3 and 5 hold no window's centre
    assert pooled.tolist() == [[1, 2], [1, 2], [4, 5], [4, 5], [6, 7], [6, 7]]  # ties go to the earlier clip
