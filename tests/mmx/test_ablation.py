"""`mmx ablate`: the paper's variant table, one coarse run per variant, metrics that match, resumption."""

from __future__ import annotations

import json

import numpy as np
import pytest

import mmx.ablation as ablation
from helpers import tiny_cfg
from mmx.ablation import AblationConfig, list_variants, plan, read_scores, run_ablation
from mmx.metrics import classification_metrics, random_baseline
from mmx.progress import QUIET
from mmx.run import RunDir
from mmx_cli.main import main
from mmx_report.published import TBL2_SUMMARY, TBL5

BATCH = "train.batch_size=16"  # the ablation's batches, on the command line and in tiny_cfg
TINY = ["--model", "tiny", "--set", BATCH, "--set", "train.lr=3e-3", "--set", "train.threads=1"]


@pytest.fixture(scope="module")
def ablated(small_store, tmp_path_factory):
    """Every variant of Tbl. 2 and Tbl. 5, one epoch of the tiny model, made through `mmx ablate`."""
    out = tmp_path_factory.mktemp("ablation") / "abl"
    argv = ["ablate", "--store", str(small_store.root), "--out", str(out), "--epochs", "1", "--quiet"] + TINY
    assert main(argv) == 0
    return out


def test_variant_table_is_the_papers():
    assert [v.label for v in list_variants(["tbl2"])] == list(TBL2_SUMMARY)
    assert [v.label for v in list_variants(["tbl5"])] == list(TBL5)
    assert {v.seq_len for v in list_variants(["tbl5"])} == {1, 5, 9, 20}


def test_plan_maps_paper_experts_to_store_names_and_shares_equal_runs(small_store):
    table = plan(small_store, tiny_cfg(1, BATCH, seq_len=9), AblationConfig())
    assert table["image"]["experts"] == ["appearance"]
    assert table["image+audio"]["experts"] == ["appearance", "audio"]
    assert table["gating"]["experts"] is None and table["naive-concat"]["config"]["model"]["fusion"] == "concat"
    assert table["seq-9"]["run"] == "gating"  # same config as the gating row: one run
    assert table["seq-5"]["run"] == "seq-5" and table["seq-5"]["config"]["model"]["seq_len"] == 5
    assert table["random"]["run"] is None

    renamed = plan(small_store, tiny_cfg(1, BATCH), AblationConfig(expert_names={**AblationConfig().expert_names, "image": "rgb"}))
    assert "rgb" in renamed["image"]["skipped"] and str(small_store.root) in renamed["image"]["skipped"]
    assert renamed["image+motion"]["skipped"] and not renamed["motion"]["skipped"]


@pytest.mark.slow
def test_every_variant_is_trained_with_its_experts_and_metrics_match_its_scores(ablated, small_store):
    table = json.loads((ablated / "ablation.json").read_text())["variants"]
    results = json.loads((ablated / "results.json").read_text())
    assert set(results) == {v.name for v in ablation.VARIANTS}
    for name, row in table.items():
        if row["run"] is None:
            continue
        run = RunDir(ablated / row["run"])
        cfg, info = run.read_config(), run.read_info()
        assert sorted(info.experts) == sorted(row["experts"] or small_store.experts)
        variant = next(v for v in ablation.VARIANTS if v.name == name)
        assert cfg.model.fusion == variant.fusion
        assert cfg.model.seq_len == (variant.seq_len or 3)  # the tiny preset's length where the paper's is not set
        s = read_scores(run.root / ablation.SCORES_FILE)
        assert s["ids"] == info.splits["test"]
        expected = classification_metrics(s["labels"], s["probs"], info.genres, 0.3)
        assert results[name]["auprc_weighted"] == pytest.approx(expected["auprc_weighted"])
        assert results[name]["per_genre"] == expected["per_genre"]
    gating = RunDir(ablated / "gating")
    labels = read_scores(gating.root / ablation.SCORES_FILE)["labels"]
    assert results["random"] == json.loads(json.dumps(random_baseline(labels, gating.read_info().genres, 0.3, seed=0)))


@pytest.mark.slow
def test_finished_variants_are_not_trained_again_and_more_epochs_continue(ablated, small_store, monkeypatch):
    before = (ablated / "results.json").read_text()

    def no_training(*a, **k):
        raise AssertionError("a finished variant was trained again")

    monkeypatch.setattr(ablation, "train", no_training)
    run_ablation(small_store, ablated, tiny_cfg(1, BATCH), reporter=QUIET)
    assert (ablated / "results.json").read_text() == before
    monkeypatch.undo()

    run_ablation(small_store, ablated, tiny_cfg(2, BATCH), AblationConfig(tables=["tbl5"]), reporter=QUIET)
    for name in ("seq-1", "seq-5", "seq-9", "seq-20"):
        state = RunDir(ablated / name).read_state()
        assert [h["epoch"] for h in state.history] == [1, 2]  # epoch 1 kept, epoch 2 added
    assert RunDir(ablated / "image").read_state().epoch == 1  # Tbl. 2 variants untouched
    results = json.loads((ablated / "results.json").read_text())
    assert set(results) == {v.name for v in ablation.VARIANTS}  # Tbl. 2 rows kept beside the new Tbl. 5 ones
    assert results["image"] == json.loads(before)["image"]


@pytest.mark.slow
def test_missing_expert_is_skipped_not_fatal(small_store, tmp_path):
    cfg = AblationConfig(expert_names={**AblationConfig().expert_names, "scene": "places"}, tables=["tbl2"])
    table = plan(small_store, tiny_cfg(1, BATCH), cfg)
    skipped = {n for n, r in table.items() if r["skipped"]}
    assert skipped == {"scene", "image+scene"}
    assert np.all([("places" in table[n]["skipped"]) for n in skipped])
