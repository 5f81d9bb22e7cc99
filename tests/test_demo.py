"""``mmx demo`` on video: the whole pipeline on a few generated trailers, and the sizing choices
that make the default's figures rest on enough test trailers."""

from __future__ import annotations

import csv
from collections import Counter

from mmx.config import ModelConfig, RunConfig
from mmx.extract import ExtractConfig
from mmx.run import RunDir
from mmx_cli.commands.demo import (
    ABLATION_MODEL,
    DEMO_CORPUS,
    FEW_TEST_TRAILERS,
    _add_splits,
    ablation_widths,
    headline,
)
from mmx_cli.main import main

TINY = ["--model", "tiny", "--set", "train.batch_size=8", "--set", "train.lr=3e-3", "--set", "train.threads=1"]


def test_demo_on_video_end_to_end(tmp_path, capsys):
    """Generated videos + the real samples → extract with the real experts → train → … → report."""
    out = tmp_path / "demo"
    argv = ["demo", "--out", str(out), "--videos", "5", "--epochs", "1", "--finetune-epochs", "1",
            "--ablate-epochs", "0", "--quiet"] + TINY
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "SYNTHETIC" in text and "extracted" in text and "Linear probe" in text
    assert "[4/9] test split (1 trailers)" in text and "AUPRC_w on 1 test trailers: model" in text
    assert "only 1 test trailers" in text  # fewer than FEW_TEST_TRAILERS: said to be noisy
    assert "retrieval (" in text and "queries among" in text and "label suggestions" in text
    assert "precision@" in text and "by shot genre" in text and "scenes of other trailers most like" in text
    assert (out / "fine" / "scenes.npz").exists()  # the explorer's scene search is ready
    info = RunDir(out / "run").read_info()
    assert len(info.splits["train"]) == 3 and len(info.splits["test"]) == 1
    assert (out / "report" / "report.html").exists()
    assert "Test split: 1 trailers" in (out / "report" / "report.html").read_text()


def test_default_corpus_gives_24_test_trailers(tmp_path):
    labels = tmp_path / "labels.csv"
    with open(labels, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["trailer_id", "genres"])
        writer.writeheader()
        writer.writerows({"trailer_id": f"t{i}", "genres": "Drama"} for i in range(120))
    _add_splits(labels)
    with open(labels, newline="") as f:
        counts = Counter(row["split"] for row in csv.DictReader(f))
    assert counts == {"train": 72, "val": 24, "test": 24} and counts["test"] >= FEW_TEST_TRAILERS


def test_corpus_shots_pass_the_clip_rule_and_the_cut_detector():
    assert DEMO_CORPUS["shots"][0] >= RunConfig().data.min_clips  # every trailer is trained on
    assert DEMO_CORPUS["shot_frames"][0] > ExtractConfig().min_scene_len  # every cut can be found


def test_ablation_model_is_never_wider_than_the_main_one():
    assert ablation_widths(ModelConfig()) == ABLATION_MODEL  # the default is narrowed
    tiny = ModelConfig(expert_dim=32, bottleneck_hidden=32, embed_dim=32, head_hidden=16)
    assert ablation_widths(tiny) == {"expert_dim": 32, "bottleneck_hidden": 32, "embed_dim": 32, "head_hidden": 16}


def test_headline_gives_the_trailer_count_beside_probe_and_random():
    result = {"n": 24, "split": "test", "auprc_weighted": 0.9, "probe": {"auprc_weighted": 0.95},
              "random": {"auprc_weighted": 0.4}}
    assert headline(result) == ("AUPRC_w on 24 test trailers: model 0.900, linear probe 0.950, random scores 0.400 "
                                "(model − random +0.500)")


def test_demo_names_every_missing_extra_at_once(tmp_path, monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, package=None: None if name in ("av", "matplotlib") else real(name, package))
    assert main(["demo", "--out", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("mmx demo: error: `mmx demo` needs the 'extract,report' extra (av, matplotlib is not installed): "
                   "pip install 'mmx[extract,report]'")
    assert not (tmp_path / "d").exists()  # nothing was started
