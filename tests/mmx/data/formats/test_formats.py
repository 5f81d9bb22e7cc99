"""Import formats: real releases' layouts (miniatures written as their own writers did), their dirt,
auto-detection, and a few epochs of training evaluated with each anchor's own metric."""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest

from mmx.data.formats import ImportOptions, detect, import_source
from mmx.data.formats.safe_pickle import load as safe_load
from mmx.data.store import FeatureStore
from mmx.errors import InputError
from mmx_cli.main import main
from release_miniatures import T12K_GENRES, write_movienet, write_trailers12k, write_video_features

TINY = ["--model", "tiny", "--set", "train.batch_size=8", "--set", "train.lr=3e-3", "--set", "train.threads=1"]


def reasons(report) -> dict[str, str]:
    return {p.where: p.reason for p in report.problems}


def test_trailers12k_rows_are_clips_and_every_dirty_entry_is_named(tmp_path):
    import zarr

    root = tmp_path / "trailers12k"
    dirty = write_trailers12k(root)
    store = FeatureStore.create(tmp_path / "store")
    fmt, report = import_source(root, store)
    assert fmt == "trailers12k" and len(report.imported) == 40
    assert set(store.experts) == {"i_resnet", "k_r2plus1d"}
    text = "\n".join(f"{w}: {r}" for w, r in reasons(report).items())
    assert f"{dirty['missing']} has no array in k_r2plus1d_fps24_fpc24.zarr" in text
    assert "NaN or inf" in text and "is 7-d; the rest of the collection has 8-d" in text
    assert f"(trailer {dirty['nan']}): expert 'i_resnet' has NaN or inf values in 1 row(s)" in text  # named by its mid
    assert f"(trailer {dirty['wrong_dim']}): expert 'i_resnet' is 7-d" in text
    assert "different clip counts" in text and "blosc" in text.lower()
    assert f"i_resnet_fpc24.zarr/{dirty['unknown']}: has no row" in text
    assert "must be 0 or 1" in text and len(report.problems) == 7  # each dirty entry once

    mid = "tt1000003"
    z = zarr.open_group(str(root / "i_resnet_fpc24.zarr"), mode="r")
    assert np.array_equal(store.load(mid, "i_resnet"), z[mid][...])  # row k is clip k, bit-exact
    times = store.load_clip_times(mid)
    assert times.shape == (z[mid].shape[0], 2) and times[1].tolist() == [1.0, 2.0]  # 24 frames at 24 fps
    meta = store.meta(mid)
    assert set(meta.genres) <= {g.title() if g != "sci-fi" else "Sci-Fi" for g in T12K_GENRES}
    assert meta.split == meta.source["folds"][0]

    _, again = import_source(root, store)
    assert (again.imported, again.updated, len(again.unchanged)) == ([], [], 40)
    _, fold2 = import_source(root, store, options=ImportOptions(fold=2))
    changed = {t for t, m in store.entries().items() if m.source["folds"][0] != m.source["folds"][2]}
    assert set(fold2.updated) == changed and store.meta(mid).split == store.meta(mid).source["folds"][2]


def test_movienet_pickle_modalities_and_refused_code(tmp_path):
    root = tmp_path / "movienet"
    dirty = write_movienet(root)
    store = FeatureStore.create(tmp_path / "store")
    fmt, report = import_source(root, store)
    assert fmt == "movienet" and len(report.imported) == 40
    why = reasons(report)
    assert "no CLIP scene rows" in why[f"features.pkl sample {dirty['no_clip']}"]
    assert "NaN" in why[f"features.pkl sample {dirty['nan']}"]
    assert "label has 5 entries" in why[f"features.pkl sample {dirty['bad_label']}"]
    assert "no genres" in why[f"features.pkl sample {dirty['no_genre']}"]
    assert "never_downloaded" in why["splits.json"]
    assert {n: e.level for n, e in store.experts.items()} == {
        "clip": "clip", "beats": "window", "face_emotion": "window", "asr_sentiment": "clip", "ocr_sentiment": "clip"}

    with open(root / "features.pkl", "rb") as f:
        sample = pickle.load(f)["samples"]["yt004_-x4"]  # trusted here: we wrote it
    feats, n = sample["features"], sample["features"]["clip"].shape[0]
    assert np.array_equal(store.load("yt004_-x4", "clip"), feats["clip"])
    w = feats["beats"].shape[0]
    assert store.load_window_clips("yt004_-x4", "beats").tolist() == [i * n // w for i in range(w)]
    assert np.array_equal(store.load("yt004_-x4", "ocr_sentiment"), np.repeat(feats["ocr_sentiment"], n, axis=0))
    assert "asr_sentiment" not in store.meta("yt003_-x3").experts  # [] = no speech: the expert is absent
    splits = json.loads((root / "splits.json").read_text())
    assert {store.meta(t).split for t in splits["tst"] if t in store} == {"test"}

    class Exploit:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    bad = tmp_path / "evil.pkl"
    bad.write_bytes(pickle.dumps({"samples": Exploit()}))
    with pytest.raises(InputError, match=r"evil.pkl asks to run posix.system.*a pickle is code"):
        safe_load(bad)
    np_only = tmp_path / "ok.pkl"
    np_only.write_bytes(pickle.dumps({"a": [np.arange(3.0), np.float32(2)]}, protocol=2))
    assert safe_load(np_only)["a"][1] == 2


def test_video_features_outputs_align_on_the_clip_grid(tmp_path):
    root = tmp_path / "out"
    dirty = write_video_features(root)
    store = FeatureStore.create(tmp_path / "store")
    with pytest.raises(InputError, match="--labels"):
        import_source(root, store)
    fmt, report = import_source(root, store, options=ImportOptions(labels=root / "labels.csv", clip_seconds=2.0))
    assert fmt == "video-features" and len(report.imported) == 30
    text = "\n".join(f"{w}: {r}" for w, r in reasons(report).items())
    assert "3 times for" in text and f"{dirty['no_label']}_*.npy: has no row" in text and dirty["no_features"] in text
    assert store.experts["vggish"].level == "window" and store.experts["i3d_rgb"].dim == 16

    tid = "trailer_002"
    rgb = np.load(root / "i3d" / f"{tid}_rgb.npy")
    ends = np.load(root / "i3d" / f"{tid}_timestamps_ms.npy") / 1000
    mids = ends - np.diff(ends).mean() / 2  # a stack spans the 64 frames before its timestamp
    times = store.load_clip_times(tid)
    assert times[:, 1].max() >= ends.max() and np.allclose(np.diff(times, axis=1), 2.0)
    for c, (start, end) in enumerate(times):
        inside = (mids >= start) & (mids < end)
        want = rgb[inside].mean(0) if inside.any() else rgb[np.abs(mids - (start + end) / 2).argmin()]
        assert np.allclose(store.load(tid, "i3d_rgb")[c], want, atol=1e-6)
    win = store.load_window_clips(tid, "vggish")
    assert win.tolist() == np.minimum(((np.arange(len(win)) + 0.5) * 0.96 // 2).astype(int), len(times) - 1).tolist()


def test_auto_detection_names_one_format_or_asks(tmp_path, small_features):
    assert detect(small_features) == "mmx"
    write_movienet(tmp_path / "m", n=2)
    assert detect(tmp_path / "m") == detect(tmp_path / "m" / "features.pkl") == "movienet"
    with pytest.raises(InputError, match="none of the layouts"):
        detect(tmp_path)
    with pytest.raises(InputError, match="does not exist"):
        detect(tmp_path / "nothing")


@pytest.mark.parametrize("release", ["trailers12k", "movienet", "video-features"])
def test_release_imports_trains_and_evaluates_with_its_anchor_metric(release, tmp_path, capsys):
    root, store, run = tmp_path / "release", str(tmp_path / "store"), str(tmp_path / "run")
    {"trailers12k": write_trailers12k, "movienet": write_movienet, "video-features": write_video_features}[release](root)
    extra = ["--labels", str(root / "labels.csv")] if release == "video-features" else []
    assert main(["import", str(root), "--store", store] + extra) == 1  # dirty entries were skipped
    assert f"{release}: imported" in capsys.readouterr().out
    assert main(["train", "--store", store, "--out", run, "--epochs", "3", "--quiet"] + TINY) == 0
    protocol = "movienet" if release == "movienet" else "trailers12k"
    capsys.readouterr()
    assert main(["evaluate", "--run", run, "--protocol", protocol, "--split", "all", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    keys = ["uap", "map", "wap", "sap"] if protocol == "trailers12k" else ["map_macro", "map_micro", "f1_macro"]
    assert all(0 <= result[k] <= 100 for k in keys) and result["protocol"] == protocol
    assert result[keys[0]] > result["random"][keys[0]]  # three epochs on a weak signal beat random scores
    assert main(["evaluate", "--run", run, "--protocol", protocol]) == 0
    assert "MMX" in capsys.readouterr().out


def direct_pr_auc(y: np.ndarray, s: np.ndarray) -> float:
    """Trapezoid area under precision(recall), walking the thresholds by hand (distinct scores,
    high to low, plus the point recall 0 / precision 1)."""
    points = [(0.0, 1.0)]
    for t in sorted(set(s.tolist()), reverse=True):
        pred = s >= t
        tp = float((pred & (y == 1)).sum())
        points.append((tp / y.sum(), tp / pred.sum()))
    return sum((r1 - r0) * (p0 + p1) / 2 for (r0, p0), (r1, p1) in zip(points, points[1:]))


def test_trailers12k_metrics_match_a_direct_trapezoid_computation():
    from mmx.metrics import trailers12k_metrics

    rng = np.random.default_rng(3)
    y = (rng.random((60, 5)) < 0.3).astype(int)
    y[:, 4] = 0  # a genre with no positive: 0 in mAP, as DIViTA's NaN → 0
    y[y.sum(1) == 0, 0] = 1
    s = np.round(rng.random((60, 5)), 2)  # ties, as real scores have
    got = trailers12k_metrics(y, s, list("abcde"))
    per = [direct_pr_auc(y[:, g], s[:, g]) if y[:, g].any() else 0.0 for g in range(5)]
    assert got["uap"] == pytest.approx(100 * direct_pr_auc(y.ravel(), s.ravel()))
    assert got["map"] == pytest.approx(100 * np.mean(per))
    assert got["wap"] == pytest.approx(100 * np.average(per, weights=y.sum(0)))
    assert got["sap"] == pytest.approx(100 * np.mean([direct_pr_auc(a, b) for a, b in zip(y, s)]))
    assert got["per_genre"]["e"] == {"ap": 0.0, "support": 0}


def test_kfold_protocol_trains_every_fold_on_hard_linked_stores(tmp_path, capsys):
    root, store, out = tmp_path / "t12k", str(tmp_path / "store"), tmp_path / "kfold"
    write_trailers12k(root)
    assert main(["import", str(root), "--store", store]) == 1
    capsys.readouterr()
    assert main(["kfold", "--store", store, "--out", str(out), "--epochs", "2", "--json", "--quiet"] + TINY) == 0
    summary = json.loads(capsys.readouterr().out)
    assert [f["fold"] for f in summary["folds"]] == [0, 1, 2]
    for key in ("uap", "map", "wap", "sap"):
        values = [f[key] for f in summary["folds"]]
        assert summary["mean"][key] == pytest.approx(np.mean(values))
        assert summary["sd"][key] == pytest.approx(np.std(values, ddof=1))
    src, linked = FeatureStore(store), FeatureStore(out / "fold1" / "store")
    tid = sorted(src.entries())[0]
    assert linked.meta(tid).split == src.meta(tid).source["folds"][1] and not linked.verify()
    a, b = (s.entries_dir / s.meta(tid).key / "i_resnet.npy" for s in (src, linked))
    assert os.stat(a).st_ino == os.stat(b).st_ino  # a link, not a copy
    assert main(["kfold", "--store", store, "--out", str(out), "--folds", "1", "--quiet"] + TINY) == 0  # finished: kept
    assert "mean ± sd" in capsys.readouterr().out
