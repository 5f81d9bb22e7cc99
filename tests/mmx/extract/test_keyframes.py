"""Extraction against a store that fills up or gets damaged, and keyframes kept or added later."""

from __future__ import annotations

import errno
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from extract_fakes import register_fakes
from mmx.data import store as store_module
from mmx.data.store import FeatureStore
from mmx.errors import StoreError
from mmx.extract import ExtractConfig, extract_videos
from mmx.synthetic.videos import VideoCorpusConfig, generate_videos
from mmx_cli.main import main

register_fakes()
CFG = ExtractConfig(experts=["fake_colour", "fake_loudness"], flow_workers=0)
CORPUS = VideoCorpusConfig(n_videos=4, seed=21, shots=(3, 4), shot_frames=(16, 20), width=112, height=84)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("videos")
    generate_videos(out, CORPUS)
    return out


@pytest.fixture(scope="module")
def full(corpus, tmp_path_factory) -> FeatureStore:
    """The corpus extracted with keyframes."""
    store = FeatureStore.create(tmp_path_factory.mktemp("full") / "store")
    assert extract_videos([corpus], store, CFG, progress=False).ok
    return store


def fill_disk_after(monkeypatch, entries: int) -> None:
    """Every store write after the first ``entries`` whole entries fails with ENOSPC."""
    real = store_module.FeatureStore._commit
    done = {"n": 0}

    def commit(self, tmp, meta):
        if done["n"] >= entries:
            raise OSError(errno.ENOSPC, "No space left on device")
        done["n"] += 1
        return real(self, tmp, meta)

    monkeypatch.setattr(store_module.FeatureStore, "_commit", commit)


def test_a_full_disk_stops_the_batch_with_one_line_and_the_rerun_completes(corpus, tmp_path, monkeypatch, capsys):
    store = tmp_path / "store"
    fill_disk_after(monkeypatch, 2)
    rc = main(["extract", str(corpus), "--store", str(store), "--experts", "fake_colour,fake_loudness", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1
    assert str(store) in err[0] and "no space left" in err[0] and "run the same command again" in err[0]
    kept = FeatureStore(store)
    assert len(kept) == 2 and kept.verify() == []
    assert not [p for p in (store / "entries").iterdir() if p.name.startswith(".")]
    monkeypatch.undo()
    report = extract_videos([corpus], FeatureStore(store), CFG, progress=False)
    assert report.ok and len(report.unchanged) == 2 and len(report.extracted) == 2
    assert len(FeatureStore(store)) == 4


def test_full_disk_raised_from_the_library(corpus, tmp_path, monkeypatch):
    fill_disk_after(monkeypatch, 0)
    with pytest.raises(StoreError, match="no space left"):
        extract_videos([corpus], FeatureStore.create(tmp_path / "s"), CFG, progress=False)


def test_damaged_entries_are_named_and_extracted_again(corpus, full, tmp_path, capsys):
    store = FeatureStore.create(tmp_path / "store")
    assert extract_videos([corpus], store, CFG, progress=False).ok
    a, b = sorted(store.entries())[:2]
    path = store.entries_dir / store.meta(a).key / "fake_colour.npy"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    path = store.entries_dir / store.meta(b).key / "clip_times.npy"
    path.write_bytes(path.read_bytes()[:100])
    assert main(["store", "verify", str(store.root)]) == 1
    out = capsys.readouterr().out
    assert f"{a} (" in out and f"{b} (" in out and "mmx extract" in out
    report = extract_videos([corpus], FeatureStore(store.root), CFG, progress=False)
    assert sorted(report.extracted) == [a, b] and len(report.unchanged) == 2
    assert sum("damaged" in p.reason for p in report.warnings) == 2
    again = FeatureStore(store.root)
    assert again.verify() == []
    np.testing.assert_allclose(again.load(a, "fake_colour"), full.load(a, "fake_colour"), atol=1e-6)


def test_every_clip_gets_a_small_keyframe(full):
    for tid, meta in full.entries().items():
        images = full.keyframes(tid)
        assert meta.has_keyframes and len(images) == meta.n_clips
        pictures = [Image.open(io.BytesIO(k)) for k in images]
        assert {p.format for p in pictures} == {"JPEG"} and {p.size for p in pictures} == {(112, 84)}
        colours = np.array([np.asarray(p.convert("RGB"), np.float32).mean((0, 1)) / 255 for p in pictures])
        np.testing.assert_allclose(colours, full.load(tid, "fake_colour")[:, :3], atol=0.06)  # the clip's look


def test_keyframes_are_added_later_without_running_the_experts(corpus, full, tmp_path, monkeypatch):
    from extract_fakes import MeanColour

    store = FeatureStore.create(tmp_path / "store")
    no_frames = ExtractConfig(experts=CFG.experts, flow_workers=0, keyframes=False)
    assert extract_videos([corpus], store, no_frames, progress=False).ok
    assert not any(m.has_keyframes for m in FeatureStore(store.root).entries().values())

    def refuse(self, frames):
        raise AssertionError("an expert ran although only keyframes were missing")

    monkeypatch.setattr(MeanColour, "embed_frames", refuse)
    report = extract_videos([corpus], FeatureStore(store.root), CFG, progress=False)
    assert report.ok and sorted(report.keyframed) == sorted(full.entries()) and not report.extracted
    added = FeatureStore(store.root)
    for tid in full.entries():
        assert added.keyframes(tid) == full.keyframes(tid)  # the same frames as a fresh extraction picks
    assert added.verify() == []
