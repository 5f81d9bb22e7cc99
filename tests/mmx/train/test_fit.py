"""The training half of the Python API: ``fit`` takes a preset, overrides, nested settings and flags, the flags
last, and resumes a run with its own settings; ``finetune`` starts from a coarse run; reviews from a run without a
feature store need a store."""

from __future__ import annotations

import pytest

from helpers import make_embeddings_run
from mmx.errors import RunError
from mmx.presets import MODELS
from mmx.run import RunDir
from mmx.train.finetune import read_finetune_config
from mmx.train.fit import finetune, fit

pytestmark = pytest.mark.slow  # training runs

QUICK = {"train": {"batch_size": 8, "threads": 1}}


def test_fit_layers_its_settings_and_resumes_with_the_runs_own(small_store, tmp_path):
    run = fit(small_store, tmp_path / "run", model="tiny", overrides=["train.lr=3e-3", "train.epochs=5"],
              settings=QUICK, epochs=2, seed=3)
    train = run.config.train
    assert (train.epochs, train.seed, train.lr, train.batch_size) == (2, 3, 3e-3, 8)  # the flag over the override
    assert run.config.model == MODELS.create("tiny") and run.state.epoch == 2 and run.state.finished
    assert RunDir(tmp_path / "run").read_config() == run.config  # what the folder records is what it ran
    more = fit(None, tmp_path / "run", epochs=3, resume=True)
    assert more.state.epoch == 3 and more.config.train.lr == 3e-3 and more.config.train.seed == 3
    with pytest.raises(RunError, match="imported embeddings, without a feature store; give --store"):
        fit(None, tmp_path / "other", model="tiny", reviews=make_embeddings_run(tmp_path / "emb", n=20))


def test_finetune_starts_from_the_coarse_run(small_store, tmp_path):
    coarse = fit(small_store, tmp_path / "coarse", model="tiny", settings=QUICK, epochs=1)
    fine = finetune(coarse, tmp_path / "fine", settings={"warmup_epochs": 1, "batch_size": 16, "proj_hidden": 16,
                                                         "proj_dim": 8}, epochs=1)
    assert fine.kind == "fine" and fine.parent.root == coarse.root and fine.state.epoch == 1
    settings = read_finetune_config(RunDir(fine.root))
    assert (settings.epochs, settings.warmup_epochs, settings.batch_size, settings.proj_dim) == (1, 1, 16, 8)
