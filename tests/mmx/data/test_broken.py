"""Broken experts recorded when features enter a store, and read as missing by runs that mask them."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from extract_fakes import register_fakes
from helpers import tiny_cfg, trailer, write_folder
from mmx.config import merge
from mmx.data.broken import DEAD_TOL, dead_record
from mmx.data.dataset import BrokenMask, evenly_spaced
from mmx.data.importer import import_folder
from mmx.data.loader import make_loader
from mmx.data.store import FeatureStore
from mmx.extract import ExtractConfig, extract_videos
from mmx.run import COARSE, Run, RunInfo
from mmx.synthetic.faults import ExpertFault, plant_expert_fault
from mmx.synthetic.videos import VideoCorpusConfig, generate_videos, write_video
from mmx.train.coarse import masked_line, prepare_run_info
from mmx_cli.main import main

register_fakes()
SPLITS = ["train"] * 8 + ["val", "test"]


def planted(n: int = 12) -> dict[str, dict]:
    """healthy, a zero image expert, a constant motion expert, audio silent over clips 4–7."""
    zero, stuck, silent = trailer(n, 1), trailer(n, 2), trailer(n, 3)
    plant_expert_fault(zero, ExpertFault("image", "zero"))
    plant_expert_fault(stuck, ExpertFault("motion", "constant", held_row=5))
    plant_expert_fault(silent, ExpertFault("audio", "zero", clips=(4, 7)))
    return {"healthy": trailer(n, 0), "zero": zero, "stuck": stuck, "silent": silent}


@pytest.fixture
def store(tmp_path) -> FeatureStore:
    store = FeatureStore.create(tmp_path / "store")
    report = import_folder(write_folder(tmp_path / "in", planted()), store)
    assert report.ok, report.problems
    return store


def test_import_records_dead_experts_with_their_clips(store):
    assert store.dead("healthy") == {}
    assert store.dead("zero") == {"image": [{"kind": "zero", "rows": [0, 11], "clips": [0, 11]}]}
    assert store.dead("stuck") == {"motion": [{"kind": "constant", "rows": [0, 11], "clips": [0, 11]}]}
    # audio is window-level, two windows a clip: rows 8–15 are clips 4–7
    assert store.dead("silent") == {"audio": [{"kind": "zero", "rows": [8, 15], "clips": [4, 7]}]}
    record = json.loads((store.entries_dir / store.meta("zero").key / "meta.json").read_text())["broken"]
    assert record == {"min_run": 3, "tolerance": DEAD_TOL, "dead": store.dead("zero")}  # in the entry's meta.json, with its rule


def test_mmx_import_says_what_it_recorded(tmp_path, capsys):
    folder = write_folder(tmp_path / "in", planted())
    assert main(["import", str(folder), "--store", str(tmp_path / "store")]) == 0
    assert ("dead features (zero or repeated rows) recorded for 3 of 4 trailers (audio 1, image 1, motion 1)"
            in capsys.readouterr().out)


def test_the_record_survives_reopening_reimport_and_linking(store, tmp_path):
    expected = {t: store.dead(t) for t in store.entries()}
    again = FeatureStore(store.root)
    assert {t: again.dead(t) for t in again.entries()} == expected
    report = import_folder(tmp_path / "in", again)  # an unchanged re-import (a resumed import) keeps the entries
    assert sorted(report.unchanged) == sorted(expected) and FeatureStore(store.root).meta("zero").broken
    fold = FeatureStore.create(tmp_path / "fold")
    fold.link_entry(again, "stuck", split="test")
    assert fold.dead("stuck") == expected["stuck"]


def test_an_entry_written_before_records_is_checked_from_its_arrays(store):
    path = store.entries_dir / store.meta("stuck").key / "meta.json"
    record = json.loads(path.read_text())
    del record["broken"]
    path.write_text(json.dumps(record))
    older = FeatureStore(store.root)
    assert older.meta("stuck").broken is None
    assert older.dead("stuck") == {"motion": [{"kind": "constant", "rows": [0, 11], "clips": [0, 11]}]}


def test_dead_record_of_window_rows_maps_them_to_clips():
    x = np.ones((6, 2), np.float32)
    x[1:5] = 0
    record = dead_record({"a": x, "a__clip": np.array([0, 0, 1, 1, 2, 2])})
    assert record["dead"] == {"a": [{"kind": "zero", "rows": [1, 4], "clips": [0, 2]}]}


def test_extraction_records_a_dead_decoder_and_not_a_working_one(tmp_path):
    videos = tmp_path / "videos"
    generate_videos(videos, VideoCorpusConfig(n_videos=1, seed=3, shots=(4, 4), shot_frames=(16, 16),
                                              width=64, height=48))
    store = FeatureStore.create(tmp_path / "store")
    cfg = ExtractConfig(experts=["fake_colour", "fake_dead"], flow_workers=0)
    report = extract_videos(sorted(videos.glob("*.mp4")), store, cfg, progress=False)
    assert report.ok and len(report.extracted) == 1
    (tid,) = store.entries()
    n = store.meta(tid).n_clips
    assert store.dead(tid) == {"fake_dead": [{"kind": "zero", "rows": [0, n - 1], "clips": [0, n - 1]}]}


def test_a_silent_track_through_the_real_audio_expert_is_recorded(tmp_path):
    """musicnn (the offline default audio expert) on a silent track repeats one vector: recorded dead."""
    rng = np.random.default_rng(0)
    frames = [np.clip(rng.integers(0, 255, 3) + rng.normal(0, 20, (48, 64, 3)), 0, 255).astype(np.uint8)
              for _ in range(6) for _ in range(20)]  # 6 shots of 20 frames
    (tmp_path / "v").mkdir()
    write_video(tmp_path / "v" / "silent.mp4", frames, 24, audio=np.zeros(5 * 22050, np.float32))
    store = FeatureStore.create(tmp_path / "store")
    report = extract_videos([tmp_path / "v" / "silent.mp4"], store, ExtractConfig(experts=["audio"]), progress=False)
    assert report.ok
    (stretch,) = store.dead("silent")["audio"]
    assert stretch["rows"] == [0, len(store.load("silent", "audio")) - 1]  # every window


def _info(store: FeatureStore, mask: bool, noise: dict | None = None) -> RunInfo:
    return RunInfo(kind=COARSE, store=str(store.root), experts={n: vars(i) for n, i in sorted(store.experts.items())},
                   genres=["Action", "Drama"], splits={"train": sorted(store.entries())}, mask_broken=mask,
                   noise_like=noise or {})


def _every_clip(store: FeatureStore, info: RunInfo, ids: list[str]):
    return next(iter(make_loader(store, info.reading, ids, len(ids), evenly_spaced(2, 3), every_clip=True)))


@pytest.mark.parametrize("mask", [False, True])
def test_masking_reads_dead_rows_as_missing(store, mask):
    ids = ["healthy", "zero", "stuck", "silent"]
    info = _info(store, mask)
    experts = list(info.experts)
    batch = _every_clip(store, info, ids)
    avail = batch.avail.view(len(ids), 12, len(experts))  # (B, clips, E): every clip of every trailer, in order
    expected = torch.ones_like(avail)
    if mask:
        expected[1, :, experts.index("image")] = False
        expected[2, :, experts.index("motion")] = False
        expected[3, 4:8, experts.index("audio")] = False  # only the silent clips
    assert torch.equal(avail, expected)
    motion = batch.feats["motion"].view(len(ids), 12, -1)
    assert bool(motion[2].any()) != mask  # masked: zero-filled, as for a trailer without the expert
    assert len(batch.window_clip["audio"]) == 4 * 24 - (8 if mask else 0)  # the silent windows dropped


@pytest.fixture
def noisy_store(tmp_path) -> FeatureStore:
    """30 trailers whose features follow the trailer; t07's image expert is noise of the same spread."""
    rng = np.random.default_rng(0)
    trailers, rows = {}, []
    for i in range(30):  # a look per trailer (sd 3) plus clip noise (sd 1)
        trailers[f"t{i:02d}"] = {e: (rng.normal(size=(1, 8)) * 3 + rng.normal(size=(32, 8))).astype(np.float32)
                                 for e in ("image", "motion")}
        rows.append({"trailer_id": f"t{i:02d}", "genres": ["Action", "Drama"][i % 2], "split": SPLITS[i % 10]})
    plant_expert_fault(trailers["t07"], ExpertFault("image", "noise"), rng, (0.0, 10 ** 0.5))  # the expert's spread
    store = FeatureStore.create(tmp_path / "store")
    assert import_folder(write_folder(tmp_path / "in", trailers, rows), store).ok
    return store


def test_noise_like_experts_are_found_over_the_store_and_masked(noisy_store):
    store = noisy_store
    assert store.dead("t07") == {}  # nothing a single entry could tell
    info = prepare_run_info(store, merge(tiny_cfg(), {"data": {"mask_noise_like": True, "mask_broken_experts": False}}))
    assert info.noise_like == {"t07": ["image"]} and not info.mask_broken  # the two masks are independent
    default = prepare_run_info(store, tiny_cfg())
    assert default.mask_broken and default.noise_like == {}  # by default dead stretches only: nothing searched
    assert masked_line(store, default) is None  # nothing to say: `mmx train` stays quiet
    batch = _every_clip(store, info, ["t07", "t08"])
    avail = batch.avail.view(2, 32, -1)
    e = list(info.experts).index("image")
    assert not avail[0, :, e].any() and avail[1, :, e].all()
    assert BrokenMask(store, info.noise_like).rows("t08", "image", 32) is None


@pytest.mark.slow
def test_mmx_train_keeps_the_mask_in_the_run_and_says_what_it_masks(noisy_store, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--store", str(noisy_store.root), "--out", str(run), "--epochs", "1", "--model", "tiny",
                 "--set", "train.batch_size=8", "--set", "data.mask_noise_like=true"]) == 0
    assert ("broken experts read as missing: 0 (trailer, expert) with dead stretches (zero or repeated rows, "
            "data.mask_broken_experts), 1 noise-like" in "".join(capsys.readouterr()))  # progress lines: stderr
    info = Run.open(run).info
    assert info.mask_broken and info.noise_like == {"t07": ["image"]}
    assert main(["predict", "--run", str(run), "t07", "--json"]) == 0
