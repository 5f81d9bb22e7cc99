"""Progress as plain lines when stderr is not a terminal: one line per epoch, no bars."""

from __future__ import annotations

import pytest

from helpers import tiny_cfg
from mmx.config import FinetuneConfig
from mmx.progress import Reporter
from mmx.train.coarse import train
from mmx.train.finetune import finetune

pytestmark = pytest.mark.slow  # a coarse and a fine-tuning run


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
