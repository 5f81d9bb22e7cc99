"""train.precision: what auto resolves to, what a run records, and bf16 training that keeps fp32 where it must."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from helpers import ROOT, fine_cfg, tiny_cfg
from mmx.config import load_config
from mmx.data.vectors import read_npz
from mmx.errors import ConfigError, TrainError
from mmx.precision import native_bf16_cpu, resolve_precision
from mmx.progress import QUIET
from mmx.run import Run, RunDir
from mmx.train.coarse import train
from mmx.train.finetune import finetune


def test_auto_is_bf16_where_the_cpu_has_bf16_units_and_the_settings_are_checked():
    assert resolve_precision("auto", "cpu") == ("bf16" if native_bf16_cpu() else "fp32")
    assert resolve_precision("fp32", "cpu") == "fp32" and resolve_precision("bf16", "cpu") == "bf16"
    with pytest.raises(ValueError, match="fp16"):
        resolve_precision("fp16", "cpu")
    with pytest.raises(ConfigError, match="train.precision must be one of auto, fp32, bf16"):
        load_config(overrides=["train.precision=fp16"])


@pytest.fixture(scope="module")
def runs(small_store, tmp_path_factory) -> dict[str, RunDir]:
    """The same tiny recipe trained for 2 epochs in fp32 and in bf16."""
    root = tmp_path_factory.mktemp("precision")
    for p in ("fp32", "bf16"):
        train(small_store, root / p, tiny_cfg(2, f"train.precision={p}", "train.keep_optimizer=true"), reporter=QUIET)
    return {p: RunDir(root / p) for p in ("fp32", "bf16")}


@pytest.mark.slow
def test_a_run_records_its_precision_and_reads_in_it(runs):
    for p, run in runs.items():
        assert run.read_info().precision == p
        assert [h["precision"] for h in run.read_state().history] == [p, p]
        assert Run.open(run.root).precision == p  # prediction, embedding and scenes compute in it too


@pytest.mark.slow
def test_bf16_training_keeps_fp32_weights_optimizer_state_losses_and_vectors(runs):
    bf16, fp32 = (runs[p] for p in ("bf16", "fp32"))
    model = Run.open(bf16.root).model()
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    state = bf16.read_state()
    optim = torch.load(bf16.checkpoint_path(state.checkpoint, "optim", "pt"), weights_only=True)
    assert {v.dtype for s in optim["state"].values() for k, v in s.items() if k != "step"} == {torch.float32}
    assert read_npz(bf16.embeddings_path)[1].dtype == "float32"
    # the same recipe: bf16 rounds the products' inputs to 8 bits of mantissa (2⁻⁹ ≈ 0.2 %), so the first epoch's
    # loss — the mean of the BCE over a few hundred (trailer, genre) pairs — moves by far less than its own size
    first = [r.read_state().history[0]["train_loss"] for r in (bf16, fp32)]
    assert first[0] == pytest.approx(first[1], rel=0.02)


@pytest.mark.slow
def test_the_precision_may_change_on_resume_and_fine_tuning_has_its_own(runs, tmp_path):
    state = finetune(runs["bf16"].root, tmp_path / "fine", fine_cfg(1, precision="fp32"), reporter=QUIET)
    assert RunDir(tmp_path / "fine").read_info().precision == "fp32" and state.history[-1]["precision"] == "fp32"
    again = finetune(None, tmp_path / "fine", fine_cfg(2, precision="bf16"), resume=True, reporter=QUIET)
    assert [h["precision"] for h in again.history] == ["fp32", "fp32", "bf16"]  # epoch 0, 1, then the resumed one
    assert RunDir(tmp_path / "fine").read_info().precision == "bf16"


def test_compile_without_a_compiler_says_so(small_store, tmp_path, monkeypatch):
    monkeypatch.setenv("CXX", "no-such-c++")
    with pytest.raises(TrainError, match="train.compile on a CPU needs a C\\+\\+ compiler"):
        train(small_store, tmp_path / "run", tiny_cfg(1, "train.compile=true"), reporter=QUIET)


@pytest.mark.slow
def test_the_gpu_readiness_script_says_clearly_that_it_needs_a_gpu():
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHON": sys.executable}
    done = subprocess.run(["bash", str(ROOT / "bench" / "gpu.sh")], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "no CUDA device is visible" in done.stderr and "Traceback" not in done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {"bench": "gpu", "ok": False, "error": done.stderr.split(": ", 1)[1].strip()}
