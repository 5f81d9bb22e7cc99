"""`mmx report`: every section on the page, tables equal to the metrics, missing inputs named, deterministic."""

from __future__ import annotations

import json
import re

import pytest

from mmx.ablation import AblationConfig, run_ablation
from mmx.config import FinetuneConfig, load_config, merge
from mmx.inference import evaluate_run
from mmx.model.mmx import MODELS
from mmx.progress import QUIET
from mmx.run import Run, RunDir
from mmx.train.finetune import finetune
from mmx_cli.main import main
from mmx_report.published import TBL2_SUMMARY, TBL5, paper_per_genre
from mmx_report.render import build_report
from mmx_report.sections import SECTION_ORDER

SUMMARY = {"F1w": "f1_weighted", "AUPRC_w": "auprc_weighted", "Pw": "precision_weighted", "Rw": "recall_weighted"}


@pytest.fixture(scope="module")
def inputs(small_store, tmp_path_factory):
    """An ablation (every variant, one epoch of the tiny model) and a short fine-tuning of its gating run."""
    root = tmp_path_factory.mktemp("report-inputs")
    cfg = merge(load_config(overrides=["train.batch_size=16", "train.lr=3e-3", "train.threads=1", "train.epochs=1"]),
                {"model": vars(MODELS.create("tiny"))})
    run_ablation(small_store, root / "abl", cfg, AblationConfig(keep_weights=True), reporter=QUIET)
    fcfg = FinetuneConfig(epochs=2, warmup_epochs=1, batch_size=16, proj_hidden=16, proj_dim=8, threads=1)
    finetune(root / "abl" / "gating", root / "fine", fcfg, reporter=QUIET)
    return root


@pytest.fixture(scope="module")
def full(inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "full"
    assert main(["report", "--run", str(inputs / "abl" / "gating"), "--ablation", str(inputs / "abl"),
                 "--fine", str(inputs / "fine"), "--out", str(out)]) == 0
    return out


@pytest.mark.slow
def test_every_section_is_filled_and_the_page_is_self_contained(full):
    page = (full / "report.html").read_text()
    for key in SECTION_ORDER:
        assert f'<section id="{key}">' in page
    assert "Not available" not in page
    sources = re.findall(r'src="([^"]*)"', page)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    pngs = {p.name for p in (full / "figures").glob("*.png")}
    assert {"fig1_tsne.png", "fig4_dataset.png", "fig6_silhouette.png", "fig9_pr.png", "fig8_0.png"} <= pngs
    for p in (full / "figures").glob("*.png"):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for name in ("tbl2", "tbl4", "tbl5", "retrieval", "silhouette", "timeline", "dataset", "findings"):
        assert (full / "tables" / f"{name}.csv").exists() and (full / "tables" / f"{name}.json").exists()


@pytest.mark.slow
def test_tables_equal_the_ablation_metrics_and_the_papers_numbers(full, inputs):
    results = json.loads((inputs / "abl" / "results.json").read_text())
    variants = json.loads((inputs / "abl" / "ablation.json").read_text())["variants"]
    tbl2 = json.loads((full / "tables" / "tbl2.json").read_text())
    by = {(r["model"], r["source"]): r for r in tbl2}
    for name, v in variants.items():
        if v["table"] != "tbl2":
            continue
        ours, paper = by[(v["label"], "ours")], by[(v["label"], "paper")]
        for col, key in SUMMARY.items():
            assert ours[col] == results[name][key]
        for genre, cell in results[name]["per_genre"].items():
            assert ours[genre] == cell["auprc"]
            assert paper[genre] == paper_per_genre(v["label"]).get(genre)
        assert [paper[c] for c in SUMMARY] == list(TBL2_SUMMARY[v["label"]])
    support = by[("Support", "ours (test)")]
    assert all(support[g] == c["support"] for g, c in results["gating"]["per_genre"].items())

    tbl5 = json.loads((full / "tables" / "tbl5.json").read_text())
    for length, name in (("1", "seq-1"), ("5", "seq-5"), ("9", "seq-9"), ("20", "seq-20")):
        ours = next(r for r in tbl5 if r["sequence length"] == length and r["source"] == "ours")
        paper = next(r for r in tbl5 if r["sequence length"] == length and r["source"] == "paper")
        assert [ours[c] for c in SUMMARY] == [results[name][k] for k in SUMMARY.values()]
        assert [paper[c] for c in SUMMARY] == list(TBL5[length])

    silhouette = json.loads((full / "tables" / "silhouette.json").read_text())
    history = RunDir(inputs / "fine").read_state().history
    assert [r["val_silhouette"] for r in silhouette] == [h["val_silhouette"] for h in history]


@pytest.mark.slow
def test_findings_hold_only_when_the_paired_interval_clears_zero(full, inputs):
    import numpy as np
    from sklearn.metrics import average_precision_score

    from mmx.ablation import read_scores

    results = json.loads((inputs / "abl" / "results.json").read_text())
    variants = json.loads((inputs / "abl" / "ablation.json").read_text())["variants"]
    [row] = [r for r in json.loads((full / "tables" / "findings.json").read_text()) if "gating" in r["finding"]]
    a, b = (read_scores(inputs / "abl" / variants[v]["run"] / "scores.npz") for v in ("gating", "naive-concat"))
    rng, diffs = np.random.default_rng(0), []  # the same resamples as mmx.metrics.auprc_difference_interval
    for _ in range(1000):
        rows = rng.integers(len(a["labels"]), size=len(a["labels"]))
        keep = a["labels"][rows].sum(0) > 0
        if keep.any():
            y = a["labels"][rows][:, keep]
            diffs.append(average_precision_score(y, a["probs"][rows][:, keep], average="weighted")
                         - average_precision_score(y, b["probs"][rows][:, keep], average="weighted"))
    low, high = np.quantile(diffs, [0.025, 0.975])
    diff = results["gating"]["auprc_weighted"] - results["naive-concat"]["auprc_weighted"]
    assert f"{diff:+.3f} (95 % {low:+.3f} … {high:+.3f})" in row["evidence"]
    assert row["holds"] == ("yes" if low > 0 else "no" if high < 0 else "within noise")


@pytest.mark.slow
def test_retrieval_examples_rank_by_cosine_and_exclude_the_query(full):
    rows = json.loads((full / "tables" / "retrieval.json").read_text())
    queries = {r["query"] for r in rows}
    assert len(queries) == 3
    for q in queries:
        hits = [r for r in rows if r["query"] == q]
        assert hits[0]["rank"] == 0 and hits[0]["trailer_id"] == q
        scores = [h["score"] for h in hits[1:]]
        assert len(scores) == 5 and scores == sorted(scores, reverse=True)
        assert q not in [h["trailer_id"] for h in hits[1:]]


@pytest.mark.slow
def test_missing_inputs_say_what_to_run_and_the_rest_is_still_written(inputs, tmp_path):
    run = inputs / "abl" / "gating"
    page = build_report(run, None, tmp_path / "bare").read_text()
    for key in SECTION_ORDER:
        assert f'<section id="{key}">' in page
    for key, command in (("findings", "mmx ablate"), ("tbl5", "mmx ablate"), ("fig6", "mmx finetune"), ("fig9", "mmx ablate")):
        section = page.split(f'<section id="{key}">')[1].split("</section>")[0]
        assert "Not available" in section and command in section
    assert "mmx finetune" in page.split('<section id="fig1">')[1].split("</section>")[0]
    tbl2 = json.loads((tmp_path / "bare" / "tables" / "tbl2.json").read_text())
    result = evaluate_run(Run.open(run), "test")
    ours = next(r for r in tbl2 if r["model"] == "this run")
    assert ours["AUPRC_w"] == result["auprc_weighted"]
    probe = next(r for r in tbl2 if r["model"] == "Linear probe (tuned)")  # the yardstick, with its verdict
    assert probe["AUPRC_w"] == result["probe"]["auprc_weighted"] and probe["source"] == "ours"
    assert "Verdict: " in page.split('<section id="tbl2">')[1].split("</section>")[0]
    assert next(r for r in tbl2 if r["model"] == "Random" and r["source"] == "ours")["F1w"] == result["random"]["f1_weighted"]


@pytest.mark.slow
def test_same_seed_same_files(full, inputs, tmp_path):
    build_report(inputs / "abl" / "gating", inputs / "abl", tmp_path / "again", fine_run=inputs / "fine")
    assert (tmp_path / "again" / "report.html").read_bytes() == (full / "report.html").read_bytes()
    for p in (full / "tables").iterdir():
        assert (tmp_path / "again" / "tables" / p.name).read_bytes() == p.read_bytes()


def test_not_a_run_is_a_clear_error(tmp_path, capsys):
    assert main(["report", "--run", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    assert "not an mmx run" in capsys.readouterr().err
