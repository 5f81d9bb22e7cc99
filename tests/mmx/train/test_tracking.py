"""Experiment tracking (``mmx train|finetune --log``): what TensorBoard's and MLflow's own readers read back is
what the run recorded in metrics.jsonl, its resolved config and its folder's name."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import mlflow
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from mmx.config import METRIC_KEYS
from mmx.run import Run, RunDir
from mmx.train.finetune import lr_at, read_finetune_config
from mmx.train.tracking import hyperparameters
from mmx_cli.main import main

pytestmark = pytest.mark.slow  # training runs logged to TensorBoard and MLflow

TINY = ["--model", "tiny", "--set", "train.batch_size=8", "--set", "train.lr=3e-3", "--set", "train.threads=1",
        "--quiet"]


def history(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def scalars(run: Path) -> tuple[EventAccumulator, dict[str, dict[int, float]]]:
    events = EventAccumulator(str(run))
    events.Reload()
    return events, {tag: {s.step: s.value for s in events.Scalars(tag)} for tag in events.Tags()["scalars"]}


def hparams_session(events: EventAccumulator) -> dict:
    """The hyper-parameters of the HParams plugin's session start, as TensorBoard's plugin reads them."""
    raw = events.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    start = plugin_data_pb2.HParamsPluginData.FromString(raw).session_start_info
    return {k: v.WhichOneof("kind") and getattr(v, v.WhichOneof("kind")) for k, v in start.hparams.items()}


def close(value: float, reference: float) -> bool:
    return value == pytest.approx(reference, rel=1e-6, abs=1e-7)  # event files keep float32


def test_tensorboard_reads_back_every_epoch_the_config_and_the_run(small_store, tmp_path):
    run = tmp_path / "tb-run"
    assert main(["train", "--store", str(small_store.root), "--out", str(run), "--epochs", "2", "--log",
                 "tensorboard", *TINY]) == 0
    assert list(run.glob("events.out.tfevents.*")), "the event files are in the run folder"
    events, tags = scalars(run)
    records = history(run)
    assert [r["epoch"] for r in records] == [1, 2]
    for r in records:
        assert close(tags["train/loss"][r["epoch"]], r["train_loss"])
        for key in METRIC_KEYS:
            assert close(tags[f"val/{key}"][r["epoch"]], r[f"val_{key}"])
        assert close(tags["lr"][r["epoch"]], 3e-3)
    assert set(tags["test/auprc_weighted"]) == {2}  # the kept network on the test split, when the run is done
    assert 0 <= tags["test/auprc_weighted"][2] <= 1
    session = hparams_session(events)
    assert session["train.lr"] == pytest.approx(3e-3) and session["model.fusion"] == "cg"
    assert session["model.n_seqs"] == Run.open(run).config.model.n_seqs == 4  # the resolved (tiny) config
    assert set(session) == set(hyperparameters(Run.open(run).config))
    assert "session_end_info" in str(events.PluginTagToContent("hparams"))  # the session ended: a finished run
    text = events.Tensors("run/text_summary")[0].tensor_proto.string_val[0].decode()
    assert text.strip() == str(run.resolve())


def test_mlflow_reads_back_the_run_by_its_folder_name_and_a_resume_continues_it(small_store, tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # for the reader below; the writer sets it itself
    run = tmp_path / "runs" / "ml-run"
    assert main(["train", "--store", str(small_store.root), "--out", str(run), "--epochs", "1", "--log", "mlflow",
                 *TINY]) == 0
    assert main(["train", "--out", str(run), "--resume", "--epochs", "2", "--quiet"]) == 0  # tracking kept on
    store = (tmp_path / "runs" / "mlruns").as_uri()  # beside the run folder by default
    mlflow.set_tracking_uri(store)
    try:
        found = mlflow.search_runs(experiment_names=["mmx"])
        assert len(found) == 1, "the resumed run went on in the same MLflow run"
        row = found.iloc[0]
        assert row["tags.mlflow.runName"] == "ml-run" and row["tags.mmx.run_dir"] == str(run.resolve())
        assert row["status"] == "FINISHED"
        assert row["params.train.lr"] == "0.003" and row["params.model.fusion"] == "cg"
        assert row["params.train.log"] == "mlflow"
        client = mlflow.MlflowClient(store)
        for r in history(run):
            for key in ("train_loss", "val_auprc_weighted", "val_f1_weighted"):
                steps = {m.step: m.value for m in client.get_metric_history(row["run_id"], key)}
                assert close(steps[r["epoch"]], r[key]), key
        # the test split's figures each time the run finished: after epoch 1, and after the resumed epoch 2
        assert [m.step for m in client.get_metric_history(row["run_id"], "test_auprc_weighted")] == [1, 2]
    finally:
        mlflow.set_tracking_uri(None)


def test_finetune_tracks_its_coarse_start_its_schedule_and_any_tracking_uri(small_store, tmp_path, monkeypatch):
    coarse, fine = tmp_path / "coarse", tmp_path / "fine"
    assert main(["train", "--store", str(small_store.root), "--out", str(coarse), "--epochs", "1", *TINY]) == 0
    assert not list(coarse.glob("events.out.tfevents.*")) and not (coarse / "mlflow.json").exists()  # log: none
    uri = (tmp_path / "elsewhere").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "fine-tuning")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    assert main(["finetune", "--run", str(coarse), "--out", str(fine), "--epochs", "3", "--set", "warmup_epochs=2",
                 "--set", "lr=1e-3", "--set", "batch_size=16", "--set", "threads=1", "--log", "mlflow",
                 "--quiet"]) == 0
    assert not (tmp_path / "mlruns").exists()
    client = mlflow.MlflowClient(uri)
    (row,) = client.search_runs([client.get_experiment_by_name("fine-tuning").experiment_id])
    assert row.info.run_name == "fine" and row.data.params["temperature"] == "0.5"
    lr = {m.step: m.value for m in client.get_metric_history(row.info.run_id, "lr")}
    settings = read_finetune_config(RunDir(fine))  # warm-up, then cosine annealing
    assert lr == {e: pytest.approx(lr_at(e, settings)) for e in (1, 2, 3)} and lr[1] < lr[2]
    silhouettes = {m.step: m.value for m in client.get_metric_history(row.info.run_id, "val_silhouette")}
    assert sorted(silhouettes) == [0, 1, 2, 3]  # epoch 0: the coarse starting point
    assert close(silhouettes[0], history(fine)[0]["val_silhouette"])


def test_without_the_track_extra_one_line_names_it_and_nothing_is_written(small_store, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # as if it were not installed
    out = tmp_path / "never"
    assert main(["train", "--store", str(small_store.root), "--out", str(out), "--log", "tensorboard", *TINY]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'track' extra" in err and "pip install 'mmx[track]'" in err
    assert not out.exists()  # stopped before the run folder was made
    assert main(["train", "--store", str(small_store.root), "--out", str(out), "--set", "train.log=wandb"]) == 2
    assert "train.log must be one of none, tensorboard, mlflow" in capsys.readouterr().err
