"""Opened runs: read once, never written; stale embeddings an error, not a silent recomputation; finished runs
lean and still able to continue."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers import tiny_cfg
from mmx.errors import RunError
from mmx.progress import QUIET, Reporter
from mmx.run import ModelRun, Run, RunDir
from mmx.train.coarse import train


def tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` with its size and modification time."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


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


@pytest.mark.slow
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


class _Lines(Reporter):
    """A reporter that keeps its lines."""

    def __init__(self, sink: list[str]):
        super().__init__("lines")
        object.__setattr__(self, "sink", sink)

    def line(self, text: str) -> None:
        self.sink.append(text)
