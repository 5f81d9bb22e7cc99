"""End to end through ``main(argv)``: import → info → train → evaluate → predict, and the exit codes of bad input."""

from __future__ import annotations

import json

import pytest

from helpers import trailer, write_folder
from mmx.run import RunDir
from mmx_cli.main import main

TINY = ["--model", "tiny", "--set", "train.batch_size=8", "--set", "train.lr=3e-3", "--set", "train.threads=1"]


def run_json(capsys, argv: list[str]):
    capsys.readouterr()
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.slow
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
