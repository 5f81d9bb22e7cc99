"""Configs: a file and overrides merged and checked once, each bad setting named; configs check themselves when
made; a misspelt setting fails before any work."""

from __future__ import annotations

import pytest

from helpers import ROOT
from mmx.config import FinetuneConfig, ModelConfig, TrainConfig, load_config, resolve
from mmx.errors import ConfigError
from mmx_cli.main import main

CONFIGS = ROOT / "configs"


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
