"""The training loop: the same seed gives the same weights, a killed run (even by kill -9) resumes to the weights
of an uninterrupted one, a resume refuses another recipe, a full disk mid-checkpoint keeps the last whole epoch."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import safetensors.torch
import torch
from safetensors.torch import load_file

from helpers import TINY, last_weights, tiny_cfg
from interrupts import killed_at_state_write
from mmx.errors import RunError
from mmx.progress import QUIET
from mmx.run import RunDir
from mmx.train.coarse import train

pytestmark = pytest.mark.slow  # training runs, killed and resumed


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


def test_a_full_disk_mid_checkpoint_keeps_the_last_whole_epoch(small_store, tmp_path, monkeypatch):
    cfg = tiny_cfg(4)
    train(small_store, tmp_path / "full", cfg, reporter=QUIET)
    real = safetensors.torch.save_file

    def disk_full_at_epoch_3(tensors, filename, metadata=None):
        if "epoch-0003" in filename:
            Path(filename).write_bytes(b"half a file")  # the disk fills up while the file is written
            raise OSError(errno.ENOSPC, "No space left on device")
        real(tensors, filename, metadata=metadata)

    monkeypatch.setattr(safetensors.torch, "save_file", disk_full_at_epoch_3)
    with pytest.raises(RunError, match="no space left.*epoch 3.*whole up to epoch 2.*--resume"):
        train(small_store, tmp_path / "cut", cfg, reporter=QUIET)
    monkeypatch.undo()
    cut = RunDir(tmp_path / "cut")
    assert cut.read_state().epoch == 2 and not list(cut.root.rglob("*epoch-0003*"))
    train(small_store, cut.root, cfg, resume=True, reporter=QUIET)
    a = load_file(str(RunDir(tmp_path / "full").best_path))
    b = load_file(str(cut.best_path))
    assert all((a[k] == b[k]).all() for k in a)  # the resumed run ends where the uninterrupted one did
