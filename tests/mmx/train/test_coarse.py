"""Coarse genre training: it learns well above random; stores it cannot train on say why; the training options
— expert dropout, early stopping, the pooled path, the scene path with and without its own loss, dropout, the
weight average — each on and off, deterministic for a seed, and resume-safe (a killed run continues to the same
weights)."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from helpers import last_weights, tiny_cfg, trailer, write_folder
from interrupts import killed_at_state_write
from mmx.config import ModelConfig, TrainConfig
from mmx.data.importer import import_folder
from mmx.data.store import FeatureStore
from mmx.errors import ConfigError, TrainError
from mmx.inference import evaluate_run
from mmx.inputs import Batch
from mmx.progress import QUIET
from mmx.run import Run, RunDir
from mmx.synthetic.features import SyntheticConfig, generate
from mmx.train.coarse import drop_experts, train

OPTIONS = {
    "expert-dropout": ["train.expert_dropout=0.3"],
    "early-stop": ["train.early_stop=1"],
    "pooled-path": ["model.pooled_path=true"],
    "scene-path": ["model.scene_path=true"],  # with train.path_losses (the default)
    "scene-path-one-loss": ["model.scene_path=true", "train.path_losses=false"],
    "dropout": ["model.dropout=0.2", "model.scene_path=true"],  # the default's dropout, in both MLPs
    "weight-average": ["train.ema_epochs=1.5"],
}


def _same_weights(a, b) -> None:
    wa, wb = last_weights(a), last_weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], rtol=0, atol=0)


def _history(run) -> list[dict]:
    return [{k: v for k, v in h.items() if k != "seconds"} for h in RunDir(run).read_state().history]


@pytest.mark.slow
@pytest.mark.parametrize("option", OPTIONS)
def test_option_is_deterministic_and_resume_safe(option, small_store, tmp_path):
    cfg = tiny_cfg(3, *OPTIONS[option])
    train(small_store, tmp_path / "a", cfg, reporter=QUIET)
    train(small_store, tmp_path / "b", cfg, reporter=QUIET)
    _same_weights(tmp_path / "a", tmp_path / "b")
    with killed_at_state_write(2):  # dies after epoch 2's checkpoint files, before its state pointer
        train(small_store, tmp_path / "cut", cfg, reporter=QUIET)
    train(small_store, tmp_path / "cut", cfg, resume=True, reporter=QUIET)
    _same_weights(tmp_path / "a", tmp_path / "cut")
    assert _history(tmp_path / "cut") == _history(tmp_path / "a")


@pytest.mark.slow
def test_options_change_training_and_off_is_the_plain_recipe(small_store, tmp_path):
    train(small_store, tmp_path / "off", tiny_cfg(2), reporter=QUIET)
    train(small_store, tmp_path / "zero", tiny_cfg(2, "train.expert_dropout=0.0", "train.early_stop=0"), reporter=QUIET)
    _same_weights(tmp_path / "off", tmp_path / "zero")
    train(small_store, tmp_path / "on", tiny_cfg(2, "train.expert_dropout=0.5"), reporter=QUIET)
    assert _history(tmp_path / "on") != _history(tmp_path / "off")


@pytest.mark.slow
def test_path_losses_change_training_only_with_the_scene_path(small_store, tmp_path):
    train(small_store, tmp_path / "plain", tiny_cfg(2, "train.path_losses=true"), reporter=QUIET)
    train(small_store, tmp_path / "plain-off", tiny_cfg(2, "train.path_losses=false"), reporter=QUIET)
    _same_weights(tmp_path / "plain", tmp_path / "plain-off")  # one path: nothing to supervise apart
    train(small_store, tmp_path / "on", tiny_cfg(2, "model.scene_path=true"), reporter=QUIET)
    train(small_store, tmp_path / "off", tiny_cfg(2, "model.scene_path=true", "train.path_losses=false"), reporter=QUIET)
    on, off = _history(tmp_path / "on"), _history(tmp_path / "off")
    assert on != off
    # the loss of the sum plus one per path is larger than the loss of the sum alone
    assert on[0]["train_loss"] > off[0]["train_loss"]


@pytest.mark.slow
def test_early_stop_ends_the_run_and_a_resume_with_more_epochs_stays_stopped(small_store, tmp_path):
    cfg = tiny_cfg(12, "train.early_stop=1", "train.lr=0.3")  # a rate that cannot keep improving
    state = train(small_store, tmp_path / "run", cfg, reporter=QUIET)
    assert state.finished and state.epoch < 12 and state.epoch - state.best_epoch == 1
    again = train(small_store, tmp_path / "run", tiny_cfg(20, "train.early_stop=1", "train.lr=0.3"),
                  resume=True, reporter=QUIET)
    assert again.epoch == state.epoch


def _batch(B: int = 3, clips: int = 4, E: int = 3) -> Batch:
    windows = (torch.arange(B) * clips).view(B, 1, 1, 1) + torch.arange(clips).view(1, 1, 1, clips)
    avail = torch.ones(B * clips, E, dtype=torch.bool)
    avail[:clips, 2] = False  # trailer 0 has no third expert
    return Batch(ids=[str(i) for i in range(B)], feats={}, window_clip={}, avail=avail, windows=windows,
                 labels=torch.zeros(B, 2))


def test_expert_dropout_hides_whole_experts_per_trailer_and_keeps_one():
    torch.manual_seed(0)
    batch = _batch()
    for _ in range(50):
        out = drop_experts(batch, 0.7).avail.view(3, 4, 3)  # (trailer, clip, expert)
        assert (out == out[:, :1]).all()  # an expert is hidden for all clips of a trailer or for none
        assert out[:, 0].any(1).all()  # every trailer keeps an expert
        assert not (out & ~batch.avail.view(3, 4, 3)).any()  # nothing missing becomes available
    torch.manual_seed(1)
    a = drop_experts(batch, 0.5).avail
    torch.manual_seed(1)
    assert torch.equal(a, drop_experts(batch, 0.5).avail)


@pytest.mark.slow
def test_weight_average_is_what_is_validated_and_kept(small_store, tmp_path):
    from mmx.run import Run
    from mmx.train.coarse import WeightAverage

    train(small_store, tmp_path / "run", tiny_cfg(2, "train.ema_epochs=1.0"), reporter=QUIET)
    run = Run.open(tmp_path / "run")
    kept = run.model().state_dict()
    online = last_weights(tmp_path / "run")  # the last checkpoint's "model" part is the average too
    assert all(torch.equal(kept[k], online[k]) for k in kept) or run.state.best_epoch != 2
    lin = torch.nn.Linear(2, 2)
    avg = WeightAverage(lin, horizon=4.0)
    with torch.no_grad():
        lin.weight.add_(1.0)
    avg.update(lin, step=100)  # decay 0.75 after the warm-up
    torch.testing.assert_close(avg.average.weight, lin.weight - 0.75)


def test_bad_option_values_are_rejected():
    with pytest.raises(ConfigError, match="expert_dropout"):
        TrainConfig(expert_dropout=1.0)
    with pytest.raises(ConfigError, match="early_stop"):
        TrainConfig(early_stop=-1)
    with pytest.raises(ConfigError, match="ema_epochs"):
        TrainConfig(ema_epochs=-0.5)
    assert dataclasses.replace(ModelConfig(), pooled_path=True).pooled_path


@pytest.fixture(scope="module")
def easy_store(tmp_path_factory) -> FeatureStore:
    """120 trailers whose clips show their genres clearly (strong signal in every expert)."""
    root = tmp_path_factory.mktemp("easy")
    cfg = SyntheticConfig(
        n_trailers=120, seed=2, clips=(10, 24), dims={"appearance": 16, "motion": 12, "scene": 8, "audio": 6},
        snr={"appearance": 8.0, "motion": 8.0, "scene": 8.0, "audio": 8.0},
    )
    store = FeatureStore.create(root / "store")
    import_folder(generate(root / "features", cfg), store)
    return store


@pytest.mark.slow
def test_training_lifts_validation_auprc_well_above_random(easy_store, tmp_path):
    cfg = tiny_cfg(15, "data.split_fractions=[0.6,0.4,0.0]")
    state = train(easy_store, tmp_path / "run", cfg, reporter=QUIET)
    assert len(state.history) == 15
    result = evaluate_run(Run.open(tmp_path / "run"), "val", probe=False)
    assert result["n"] >= 40
    assert result["auprc_weighted"] > result["random"]["auprc_weighted"] + 0.25
    assert state.history[-1]["train_loss"] < 0.8 * state.history[0]["train_loss"]
    saved = RunDir(tmp_path / "run").read_config()
    assert saved.train.epochs == 15 and saved.model.embed_dim == 32  # resolved config beside the run
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == list(range(1, 16))


def _store(tmp_path, rows, n=12):
    trailers = {r["trailer_id"]: trailer(n=n, seed=i) for i, r in enumerate(rows)}
    folder = write_folder(tmp_path / "in", trailers, rows)
    store = FeatureStore.create(tmp_path / "store")
    import_folder(folder, store)
    return store


def test_untrainable_stores_say_why(tmp_path):
    empty = FeatureStore.create(tmp_path / "empty")
    with pytest.raises(TrainError, match="no experts"):
        train(empty, tmp_path / "r0", tiny_cfg(1), reporter=QUIET)
    one_genre = _store(tmp_path / "a", [{"trailer_id": f"t{i}", "genres": "Drama", "split": s}
                                        for i, s in enumerate(["train", "train", "val"])])
    with pytest.raises(TrainError, match="single genre"):
        train(one_genre, tmp_path / "r1", tiny_cfg(1), reporter=QUIET)
    no_val = _store(tmp_path / "b", [{"trailer_id": f"t{i}", "genres": g, "split": "train"}
                                     for i, g in enumerate(["Drama", "Action"])])
    with pytest.raises(TrainError, match="validation split is empty"):
        train(no_val, tmp_path / "r2", tiny_cfg(1), reporter=QUIET)
    short = _store(tmp_path / "c", [{"trailer_id": "t0", "genres": "Drama"}], n=5)
    with pytest.raises(TrainError, match="training split is empty.*fewer than data.min_clips=10"):
        train(short, tmp_path / "r3", tiny_cfg(1), reporter=QUIET)
