"""MovieNet's features.pkl (a miniature of Sulun et al.'s release): every modality at its level, its splits, every
dirty sample named."""

from __future__ import annotations

import json
import pickle

import numpy as np

from mmx.data.formats import import_source
from mmx.data.store import FeatureStore
from release_miniatures import reasons, write_movienet


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
