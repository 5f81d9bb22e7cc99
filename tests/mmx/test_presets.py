"""Model presets: configs/paper.yaml and --model paper are the paper's network whatever mmx's defaults are."""

from __future__ import annotations

from helpers import ROOT
from mmx.config import load_config

CONFIGS = ROOT / "configs"


def test_paper_config_is_the_paper_preset():
    """configs/paper.yaml and ``--model paper`` are the paper's network whatever mmx's defaults are."""
    from mmx.model import MODELS

    paper = load_config(CONFIGS / "paper.yaml")
    assert paper.model == MODELS.create("paper")
    assert (paper.model.embed_dim, paper.model.n_seqs, paper.model.sequence_pool) == (2048, 40, "concat")
    off = (paper.train.expert_dropout, paper.train.ema_epochs, paper.train.early_stop, paper.train.weight_decay)
    assert off == (0.0, 0.0, 0, 0.0) and paper.data.train_windows == "even"
    assert not paper.data.mask_broken_experts and not paper.data.mask_noise_like
