"""End to end through ``main(argv)``: import → info → train → evaluate → predict, config overrides, demo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import ROOT, trailer, write_folder
from mmx.config import load_config
from mmx.errors import ConfigError
from mmx.run import RunDir
from mmx_cli.main import main

CONFIGS = ROOT / "configs"
TINY = ["--model", "tiny", "--set", "train.batch_size=8", "--set", "train.lr=3e-3", "--set", "train.threads=1"]


def run_json(capsys, argv: list[str]):
    capsys.readouterr()
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_import_info_train_evaluate_predict(small_features, tmp_path, capsys):
    store = str(tmp_path / "store")
    assert main(["import", str(small_features), "--store", store]) == 0
    assert "imported 80" in capsys.readouterr().out
    assert main(["import", str(small_features), "--store", store]) == 0  # again: nothing changes
    assert "unchanged 80" in capsys.readouterr().out

    info = run_json(capsys, ["info", store, "--json"])
    assert info["n_trailers"] == 80
    assert info["experts"]["audio"]["level"] == "window" and info["experts"]["appearance"]["dim"] == 16
    assert sum(info["genres"].values()) >= 80
    assert sum(info["splits"].values()) + info["excluded"]["too_short"] == 80

    run = str(tmp_path / "run")
    assert main(["train", "--store", store, "--out", run, "--epochs", "2", "--quiet", "--fusion", "concat",
                 "--experts", "appearance,audio"] + TINY) == 0
    cfg = RunDir(run).read_config()
    assert (cfg.model.fusion, cfg.data.experts, cfg.train.lr, cfg.model.embed_dim) == ("concat", ["appearance", "audio"], 3e-3, 32)
    assert list(RunDir(run).read_info().experts) == ["appearance", "audio"]

    result = run_json(capsys, ["evaluate", "--run", run, "--split", "val", "--json"])
    keys = {"auprc_micro", "auprc_macro", "auprc_weighted", "precision_weighted", "recall_weighted", "f1_weighted"}
    assert keys <= set(result) and keys <= set(result["random"]) and keys <= set(result["probe"])
    genre, stats = next(iter(result["per_genre"].items()))
    assert set(stats) == {"auprc", "support"}

    capsys.readouterr()
    assert main(["evaluate", "--run", run, "--split", "val"]) == 0
    text = capsys.readouterr().out
    assert "Linear probe" in text and "AUPRC_w" in text and "Support" in text

    tid = RunDir(run).read_info().splits["test"][0]
    (pred,) = run_json(capsys, ["predict", "--run", run, tid, "--json"])
    assert pred["trailer_id"] == tid and set(pred["probabilities"]) == set(RunDir(run).read_info().genres)
    assert set(pred["added"]) <= set(pred["predicted"])

    info = run_json(capsys, ["info", run, "--json"])
    assert info["kind"] == "coarse" and info["epoch"] == 2
    assert info["config"]["precision"] == "auto" and info["precision"] in ("fp32", "bf16")  # the setting, what it ran in

    assert main(["train", "--out", run, "--resume", "--epochs", "3", "--quiet"]) == 0
    assert RunDir(run).read_state().epoch == 3


def test_bad_input_exit_codes(small_features, tmp_path, capsys):
    folder = write_folder(tmp_path / "in", {"a": trailer()}, [{"trailer_id": "a", "genres": "Drama"},
                                                              {"trailer_id": "b", "genres": "Drama"}])
    assert main(["import", str(folder), "--store", str(tmp_path / "s")]) == 1
    err = capsys.readouterr().err
    assert "no b.npz" in err
    assert main(["info", str(tmp_path / "nowhere")]) == 2
    assert "neither a feature store" in capsys.readouterr().err
    assert main(["train", "--store", str(tmp_path / "s"), "--out", str(tmp_path / "r"), "--set", "train.lr=fast"]) == 2
    assert "train.lr: expected a number" in capsys.readouterr().err
    assert main(["train", "--store", str(tmp_path / "s"), "--out", str(tmp_path / "r"), "--quiet"] + TINY) == 2
    assert "validation split is empty" in capsys.readouterr().err
    assert main(["predict", "--run", str(tmp_path / "r"), "x"]) == 2


def test_config_file_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  lr: 1.0e-4\n  epochs: 7\nmodel:\n  fusion: concat\n")
    cfg = load_config(path, ["train.epochs=9", "data.experts=appearance,motion", "train.lr=2e-5"])
    assert (cfg.train.lr, cfg.train.epochs, cfg.model.fusion, cfg.data.experts) == (2e-5, 9, "concat", ["appearance", "motion"])
    with pytest.raises(ConfigError, match="unknown config field 'train.learning_rate'"):
        load_config(overrides=["train.learning_rate=1"])
    with pytest.raises(ConfigError, match="expected an integer"):
        load_config(overrides=["train.epochs=1.5"])
    with pytest.raises(ConfigError, match="not of the form"):
        load_config(overrides=["train.epochs"])
    paper = load_config(CONFIGS / "paper.yaml")
    assert (paper.train.lr, paper.train.epochs, paper.train.batch_size) == (3e-5, 200, 32)


def test_paper_config_is_the_paper_preset():
    """configs/paper.yaml and ``--model paper`` are the paper's network whatever mmx's defaults are."""
    from mmx.model import MODELS

    paper = load_config(CONFIGS / "paper.yaml")
    assert paper.model == MODELS.create("paper")
    assert (paper.model.embed_dim, paper.model.n_seqs, paper.model.sequence_pool) == (2048, 40, "concat")
    off = (paper.train.expert_dropout, paper.train.ema_epochs, paper.train.early_stop, paper.train.weight_decay)
    assert off == (0.0, 0.0, 0, 0.0) and paper.data.train_windows == "even"
    assert not paper.data.mask_broken_experts and not paper.data.mask_noise_like


def test_demo_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    argv = ["demo", "--out", str(out), "--source", "features", "--trailers", "60", "--epochs", "1",
            "--finetune-epochs", "1", "--ablate-epochs", "0", "--quiet"] + TINY
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "SYNTHETIC" in text and "Linear probe" in text and "label suggestions" in text and "precision@10" in text
    assert RunDir(out / "run").read_state().epoch == 1 and RunDir(out / "fine").read_info().kind == "fine"
    assert (out / "report" / "report.html").exists()
    assert main(argv) == 0  # a rerun resumes: nothing is trained again
    assert "unchanged 60" in capsys.readouterr().out
