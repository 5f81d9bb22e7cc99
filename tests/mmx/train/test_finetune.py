"""NT-Xent fine-tuning: the schedule, the pair rules, it learns, it resumes, it drops its head."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from helpers import fine_cfg, make_coarse_run
from interrupts import killed_at_state_write
from mmx.config import POSITIVE_PAIRS, FinetuneConfig, resolve
from mmx.data.vectors import read_npz
from mmx.embeddings import embed_ids
from mmx.errors import ConfigError, RunError, TrainError
from mmx.metrics import silhouette
from mmx.progress import QUIET
from mmx.run import Run, RunDir
from mmx.train.finetune import PAIR_RULES, finetune, lr_at
from mmx_cli.main import main

QUIET_ARGS = {"reporter": QUIET}


@pytest.fixture(scope="module")
def coarse(small_store, tmp_path_factory) -> RunDir:
    return make_coarse_run(small_store, tmp_path_factory.mktemp("coarse") / "run")


def test_learning_rate_warms_up_then_anneals():
    cfg = FinetuneConfig()  # the paper's: 1e-4, 10 warm-up epochs, 50 epochs
    lrs = [lr_at(e, cfg) for e in range(1, 51)]
    assert lrs[0] == pytest.approx(1e-5) and lrs[9] == pytest.approx(1e-4) and lrs[10] == pytest.approx(1e-4)
    assert all(a < b for a, b in zip(lrs[:10], lrs[1:10]))
    assert all(a > b for a, b in zip(lrs[10:], lrs[11:]))
    assert lrs[29] == pytest.approx(1e-4 * 0.5 * (1 + math.cos(math.pi * 19 / 40)))
    assert 0 < lrs[-1] < 2e-6


def test_pair_rules():
    a, b = PAIR_RULES.create("halves", 40, 9)
    wa, wb = a(100, None), b(100, None)
    assert wa.shape == wb.shape == (40, 9)
    assert wa.min() == 0 and wa.max() == 49 and wb.min() == 50 and wb.max() == 99  # first and second half
    r1, r2 = PAIR_RULES.create("random-windows", 5, 3)
    rng = np.random.default_rng(0)
    assert not np.array_equal(r1(60, rng), r2(60, rng))  # two different window sets of one trailer
    assert PAIR_RULES.names() == sorted(POSITIVE_PAIRS)  # the config's vocabulary is the registry's
    with pytest.raises(ConfigError, match="halves, random-windows"):
        resolve(FinetuneConfig(), flags={"positive_pair": "thirds"})
    with pytest.raises(ConfigError, match="temperature > 0"):
        resolve(FinetuneConfig(), flags={"temperature": 0})


@pytest.mark.slow
def test_finetune_lowers_the_loss_logs_silhouette_and_drops_the_head(coarse, small_store, tmp_path):
    state = finetune(coarse.root, tmp_path / "fine", fine_cfg(6), **QUIET_ARGS)
    hist = state.history
    assert [h["epoch"] for h in hist] == list(range(7))
    losses = [h["train_loss"] for h in hist[1:]]
    assert losses[-1] < losses[0] - 0.1
    # epoch 0 is the coarse starting point: sklearn's silhouette of the parent's val embeddings, in the precision
    # fine-tuning computed in (recorded with the run and each epoch)
    info, precision = coarse.read_info(), RunDir(tmp_path / "fine").read_info().precision
    assert precision in ("fp32", "bf16") and {h["precision"] for h in hist} == {precision}
    ids = info.splits["val"]
    vectors = embed_ids(Run.open(coarse.root).model(), small_store, info, ids, 32, precision)
    assert hist[0]["val_silhouette"] == pytest.approx(silhouette(vectors, [small_store.meta(t).genres for t in ids]))
    fine = RunDir(tmp_path / "fine")
    assert fine.read_info().kind == "fine" and fine.read_info().parent == str(coarse.root.resolve())
    assert load_file(str(fine.best_path)).keys() == load_file(str(coarse.best_path)).keys()  # no projection head
    ids, vectors = read_npz(fine.root / "embeddings.npz")
    assert ids == sorted(small_store.entries()) and vectors.shape == (len(ids), 32)
    with pytest.raises(RunError, match="already holds a run"):
        finetune(coarse.root, tmp_path / "fine", fine_cfg(6), **QUIET_ARGS)


@pytest.mark.slow
def test_killed_finetune_resumes_to_the_same_weights(coarse, tmp_path):
    cfg = fine_cfg(3, positive_pair="random-windows")
    finetune(coarse.root, tmp_path / "full", cfg, **QUIET_ARGS)
    with killed_at_state_write(3):  # epoch 0 (the coarse start) is the first write: dies in epoch 2
        finetune(coarse.root, tmp_path / "cut", cfg, **QUIET_ARGS)
    assert RunDir(tmp_path / "cut").read_state().epoch == 1
    finetune(None, tmp_path / "cut", cfg, resume=True, **QUIET_ARGS)
    a, b = load_file(str(tmp_path / "full" / "best.safetensors")), load_file(str(tmp_path / "cut" / "best.safetensors"))
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
    with pytest.raises(RunError, match="another fine-tuning config"):
        finetune(None, tmp_path / "cut", fine_cfg(3), resume=True, **QUIET_ARGS)


@pytest.mark.slow
def test_too_few_trailers_for_a_batch_says_why(coarse, tmp_path):
    with pytest.raises(TrainError, match="at least 2 trailers per batch"):
        finetune(coarse.root, tmp_path / "f1", FinetuneConfig(epochs=1, batch_size=1), **QUIET_ARGS)
    info = coarse.read_info()
    info.splits["train"] = info.splits["train"][:1]
    lonely = RunDir(tmp_path / "lonely")
    lonely.write_info(info, coarse.read_config())
    (lonely.root / "best.safetensors").write_bytes(coarse.best_path.read_bytes())
    with pytest.raises(TrainError, match="has 1 training trailer"):
        finetune(lonely.root, tmp_path / "f2", fine_cfg(1), **QUIET_ARGS)


@pytest.mark.slow
def test_cli_finetune_and_retrieval_side_by_side(coarse, tmp_path, capsys):
    out = str(tmp_path / "fine")
    argv = ["finetune", "--run", str(coarse.root), "--out", out, "--epochs", "2", "--quiet",
            "--set", "warmup_epochs=1", "--set", "batch_size=16", "--pairs", "halves"]
    assert main(argv) == 0
    assert "projection head dropped" in capsys.readouterr().out
    assert json.loads((tmp_path / "fine" / "finetune.json").read_text())["warmup_epochs"] == 1
    assert main(["evaluate", "--run", out, "--retrieval", "--split", "test", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["kind"] == "fine" and result["coarse"]["kind"] == "coarse"
    assert {"precision_at_10", "map", "silhouette"} <= set(result) & set(result["coarse"])
    assert main(["evaluate", "--run", out, "--retrieval"]) == 0
    table = capsys.readouterr().out
    assert "coarse" in table and "fine" in table and "precision@10" in table
    assert main(["finetune", "--out", out, "--resume", "--epochs", "3", "--quiet"]) == 0
    assert RunDir(out).read_state().epoch == 3
