"""Coarse training: it learns, it is deterministic, a killed run resumes to the same weights."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from helpers import TINY, last_weights, tiny_cfg, trailer, write_folder
from interrupts import killed_at_state_write
from mmx.data.importer import import_folder
from mmx.data.store import FeatureStore
from mmx.errors import RunError, TrainError
from mmx.inference import evaluate_run
from mmx.progress import QUIET
from mmx.run import Run, RunDir
from mmx.synthetic.features import SyntheticConfig, generate
from mmx.train.coarse import train


@pytest.fixture(scope="module")
def easy_store(tmp_path_factory) -> FeatureStore:
    """120 trailers whose clips show their genres clearly (strong signal in every expert)."""
    root = tmp_path_factory.mktemp("easy")
    cfg = SyntheticConfig(
        n_trailers=120, seed=2, clips=(10, 24), dims={"appearance": 16, "motion": 12, "scene": 8, "audio": 6},
        snr={"appearance": 8.0, "motion": 8.0, "scene": 8.0, "audio": 8.0},
    )
    store = FeatureStore.create(root / "store")
    import_folder(generate(root / "features", cfg), store)
    return store


def test_training_lifts_validation_auprc_well_above_random(easy_store, tmp_path):
    cfg = tiny_cfg(15, "data.split_fractions=[0.6,0.4,0.0]")
    state = train(easy_store, tmp_path / "run", cfg, reporter=QUIET)
    assert len(state.history) == 15
    result = evaluate_run(Run.open(tmp_path / "run"), "val", probe=False)
    assert result["n"] >= 40
    assert result["auprc_weighted"] > result["random"]["auprc_weighted"] + 0.25
    assert state.history[-1]["train_loss"] < 0.8 * state.history[0]["train_loss"]
    saved = RunDir(tmp_path / "run").read_config()
    assert saved.train.epochs == 15 and saved.model.embed_dim == 32  # resolved config beside the run
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == list(range(1, 16))


def test_same_seed_same_weights_and_resume_after_interruption(small_store, tmp_path):
    cfg = tiny_cfg(4)
    train(small_store, tmp_path / "full", cfg, reporter=QUIET)
    # the process dies right after epoch 3's checkpoint files are written, before its state pointer
    with killed_at_state_write(3):  # dies after epoch 3's checkpoint files, before its state pointer
        train(small_store, tmp_path / "cut", cfg, reporter=QUIET)
    assert RunDir(tmp_path / "cut").read_state().epoch == 2
    train(small_store, tmp_path / "cut", cfg, resume=True, reporter=QUIET)
    a, b = last_weights(tmp_path / "full"), last_weights(tmp_path / "cut")
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
    strip = lambda hs: [{k: v for k, v in h.items() if k != "seconds"} for h in hs]  # noqa: E731
    assert strip(RunDir(tmp_path / "cut").read_state().history) == strip(RunDir(tmp_path / "full").read_state().history)


def test_kill_minus_nine_then_resume_matches_uninterrupted(small_store, tmp_path):
    args = [sys.executable, "-m", "mmx_cli.main", "train", "--store", str(small_store.root), "--quiet",
            "--model", "tiny", "--epochs", "6"] + [x for s in TINY for x in ("--set", s)]
    subprocess.run(args + ["--out", str(tmp_path / "full")], check=True, capture_output=True)
    proc = subprocess.Popen(args + ["--out", str(tmp_path / "cut")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state_path = tmp_path / "cut" / "state.json"
    deadline = time.time() + 120
    while time.time() < deadline:
        if state_path.exists() and json.loads(state_path.read_text())["epoch"] >= 2:
            break
        time.sleep(0.02)
    time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = json.loads(state_path.read_text())["epoch"]
    assert 2 <= done <= 6
    subprocess.run(args[:4] + ["--out", str(tmp_path / "cut"), "--resume", "--quiet"], check=True, capture_output=True)
    a, b = last_weights(tmp_path / "full"), last_weights(tmp_path / "cut")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
    best_a = load_file(str(tmp_path / "full" / "best.safetensors"))
    best_b = load_file(str(tmp_path / "cut" / "best.safetensors"))
    for k in best_a:
        torch.testing.assert_close(best_a[k], best_b[k], rtol=0, atol=0)


def test_resume_refuses_another_recipe_and_new_run_refuses_existing(small_store, tmp_path):
    train(small_store, tmp_path / "run", tiny_cfg(1), reporter=QUIET)
    with pytest.raises(RunError, match="already holds a run"):
        train(small_store, tmp_path / "run", tiny_cfg(1), reporter=QUIET)
    with pytest.raises(RunError, match="another config"):
        train(small_store, tmp_path / "run", tiny_cfg(2, "train.lr=0.1"), resume=True, reporter=QUIET)
    state = train(small_store, tmp_path / "run", tiny_cfg(2), resume=True, reporter=QUIET)
    assert state.epoch == 2  # growing the epoch count is allowed


def _store(tmp_path, rows, n=12):
    trailers = {r["trailer_id"]: trailer(n=n, seed=i) for i, r in enumerate(rows)}
    folder = write_folder(tmp_path / "in", trailers, rows)
    store = FeatureStore.create(tmp_path / "store")
    import_folder(folder, store)
    return store


def test_untrainable_stores_say_why(tmp_path):
    empty = FeatureStore.create(tmp_path / "empty")
    with pytest.raises(TrainError, match="no experts"):
        train(empty, tmp_path / "r0", tiny_cfg(1), reporter=QUIET)
    one_genre = _store(tmp_path / "a", [{"trailer_id": f"t{i}", "genres": "Drama", "split": s}
                                        for i, s in enumerate(["train", "train", "val"])])
    with pytest.raises(TrainError, match="single genre"):
        train(one_genre, tmp_path / "r1", tiny_cfg(1), reporter=QUIET)
    no_val = _store(tmp_path / "b", [{"trailer_id": f"t{i}", "genres": g, "split": "train"}
                                     for i, g in enumerate(["Drama", "Action"])])
    with pytest.raises(TrainError, match="validation split is empty"):
        train(no_val, tmp_path / "r2", tiny_cfg(1), reporter=QUIET)
    short = _store(tmp_path / "c", [{"trailer_id": "t0", "genres": "Drama"}], n=5)
    with pytest.raises(TrainError, match="training split is empty.*fewer than data.min_clips=10"):
        train(short, tmp_path / "r3", tiny_cfg(1), reporter=QUIET)


def test_probe_row_is_fitted_on_train_and_beats_random(small_store, tmp_path):
    train(small_store, tmp_path / "run", tiny_cfg(1), reporter=QUIET)
    result = evaluate_run(Run.open(tmp_path / "run"), "test")
    assert set(result) >= {"auprc_micro", "auprc_macro", "auprc_weighted", "precision_weighted",
                           "recall_weighted", "f1_weighted", "per_genre", "random", "probe"}
    assert result["probe"]["auprc_weighted"] > result["random"]["auprc_weighted"]
    assert np.isfinite(result["auprc_weighted"])
