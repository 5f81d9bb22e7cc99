"""Configs check themselves when made; a misspelt setting fails before any work."""

from __future__ import annotations

import pytest

from mmx.config import FinetuneConfig, ModelConfig, TrainConfig, resolve
from mmx.errors import ConfigError
from mmx.train.coarse import train
from mmx_cli.main import main


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
