"""Opened runs, config validation, lean run folders, a full disk during a checkpoint, progress lines."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
import safetensors.torch
from safetensors.torch import load_file

from helpers import tiny_cfg
from mmx.config import FinetuneConfig, ModelConfig, TrainConfig, resolve
from mmx.errors import ConfigError, RunError
from mmx.progress import QUIET, Reporter
from mmx.run import ModelRun, Run, RunDir
from mmx.train.coarse import train
from mmx.train.finetune import finetune
from mmx_cli.main import main


def tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` with its size and modification time."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def trained(small_store, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "run"
    train(small_store, out, tiny_cfg(3), reporter=QUIET)
    return out


def test_open_reads_once_and_never_writes(trained, small_store):
    before = tree(trained)
    run = Run.open(trained)
    assert isinstance(run, ModelRun) and run.kind == "coarse" and Run.open(run) is run
    assert run.store is run.store and run.config is run.config  # read once
    assert run.model() is run.model() and run.load_model() is not run.model()
    emb = run.embeddings()
    assert emb is run.embeddings() and emb.ids == sorted(small_store.entries())
    assert tree(trained) == before  # opening, reading the network and the embeddings wrote nothing


def test_stale_embeddings_are_an_error_not_a_silent_recomputation(trained, tmp_path):
    copy = tmp_path / "run"
    copy.mkdir()
    for p in trained.iterdir():
        if p.is_file():
            (copy / p.name).write_bytes(p.read_bytes())
    os.utime(copy / "best.safetensors")  # weights newer than the embeddings
    before = tree(copy)
    with pytest.raises(RunError, match="older than the run's weights.*mmx embed --run"):
        Run.open(copy).embeddings()
    assert tree(copy) == before


def test_every_file_of_a_run_folder_is_declared(trained, tmp_path):
    from fnmatch import fnmatch

    from mmx.artifacts import ARTIFACTS
    from mmx.derived import stale_files
    from mmx.durable import atomic_write
    from mmx.scenes.compute import compute_scenes

    run = Run.open(trained)
    compute_scenes(run)
    patterns = [f.replace("{kind}", "*").replace("NNNN", "*") for f in ARTIFACTS]
    for path in trained.rglob("*"):
        rel = path.relative_to(trained).as_posix()
        assert path.is_dir() or any(fnmatch(rel, p) for p in patterns), f"{rel} is not in mmx.artifacts.ARTIFACTS"
    assert all(a.command.startswith("mmx ") for a in ARTIFACTS.values())
    assert stale_files(run) == []

    target = tmp_path / "file.bin"
    atomic_write(target, b"old")

    def broken(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError):
        atomic_write(target, broken)
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["file.bin"]  # no temp left


def test_configs_check_themselves_when_made():
    with pytest.raises(ConfigError, match="select_metric must be one of"):
        TrainConfig(select_metric="auprc_weigthed")
    with pytest.raises(ConfigError, match="sequence_pool"):
        ModelConfig(sequence_pool="mean")
    with pytest.raises(ConfigError, match="warmup_epochs"):
        FinetuneConfig(warmup_epochs=-1)
    # file, overrides and flags are merged first and checked once: the order of --set does not matter
    cfg = resolve(FinetuneConfig(), None, ["epochs=3", "warmup_epochs=2"], {"lr": 1e-3})
    assert (cfg.epochs, cfg.warmup_epochs, cfg.lr) == (3, 2, 1e-3)


def test_a_misspelt_setting_fails_before_any_work(small_store, tmp_path, capsys):
    rc = main(["train", "--store", str(small_store.root), "--out", str(tmp_path / "r"), "--model", "tiny",
               "--set", "train.select_metric=auprc_weigthed"])
    assert rc == 2 and "select_metric must be one of" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_finished_runs_are_lean_and_still_continue(trained, small_store, tmp_path):
    state = RunDir(trained).read_state()
    assert state.finished and not list(trained.rglob("*.optim.pt"))  # no optimizer state once finished
    last = RunDir(trained).checkpoint_path(state.checkpoint)
    assert last.exists() == (state.best_epoch != state.epoch)  # the last weights only when they are not the best
    assert (trained / "embeddings.npz").exists()

    kept = tmp_path / "kept"
    cfg = tiny_cfg(3, "train.keep_optimizer=true")
    train(small_store, kept, cfg, reporter=QUIET)
    assert list(kept.rglob("*.optim.pt"))
    lines = []
    more = train(small_store, kept, tiny_cfg(4, "train.keep_optimizer=true"), resume=True,
                 reporter=_Lines(lines))
    assert more.epoch == 4 and more.finished and not any("fresh one" in x for x in lines)

    lean = tmp_path / "lean"
    train(small_store, lean, tiny_cfg(3), reporter=QUIET)
    lines.clear()
    assert train(small_store, lean, tiny_cfg(4), resume=True, reporter=_Lines(lines)).epoch == 4
    assert any("optimizer state of the finished run was not kept" in x for x in lines)


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


def test_plain_lines_when_not_a_terminal(small_store, tmp_path, capsys):
    train(small_store, tmp_path / "run", tiny_cfg(2), reporter=Reporter("lines"))
    finetune(tmp_path / "run", tmp_path / "fine", FinetuneConfig(epochs=2, warmup_epochs=1, batch_size=16,
                                                                  proj_hidden=16, proj_dim=8), reporter=Reporter("lines"))
    err = capsys.readouterr().err
    assert "\r" not in err and "%|" not in err  # no bars
    lines = err.splitlines()
    assert [x.split(":")[0] for x in lines if x.startswith("coarse epoch")] == ["coarse epoch 1/2", "coarse epoch 2/2"]
    assert sum(x.startswith("fine-tune epoch") for x in lines) == 2
    assert all("train_loss" in x for x in lines if " epoch " in x and not x.startswith("epoch 0"))


class _Lines(Reporter):
    """A reporter that keeps its lines."""

    def __init__(self, sink: list[str]):
        super().__init__("lines")
        object.__setattr__(self, "sink", sink)

    def line(self, text: str) -> None:
        self.sink.append(text)
