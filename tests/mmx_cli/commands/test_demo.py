"""``mmx demo``: the whole pipeline on a few generated trailers (videos, or features), and the sizing choices
that make the default's figures rest on enough test trailers."""

from __future__ import annotations

import csv
import json
from collections import Counter

import pytest

from mmx.config import ModelConfig, RunConfig
from mmx.extract import ExtractConfig
from mmx.run import RunDir
from mmx_cli.commands.demo import (
    ABLATION_MODEL,
    DEMO_CORPUS,
    FEW_TEST_TRAILERS,
    _add_splits,
    ablation_widths,
    fusion_lines,
    headline,
)
from mmx_cli.main import main

TINY = ["--model", "tiny", "--set", "train.batch_size=8", "--set", "train.lr=3e-3", "--set", "train.threads=1"]


@pytest.mark.slow
def test_demo_on_video_end_to_end(tmp_path, capsys):
    """Generated videos + the real samples → extract with the real experts → train → … → report."""
    out = tmp_path / "demo"
    argv = ["demo", "--out", str(out), "--videos", "5", "--epochs", "1", "--finetune-epochs", "1",
            "--ablate-epochs", "0", "--quiet"] + TINY
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "SYNTHETIC" in text and "extracted" in text and "Linear probe" in text
    # the test split: one generated trailer and the re-encoded copy of a training trailer (the planted leak)
    assert "[4/9] test split (2 trailers)" in text and "AUPRC_w on 2 test trailers: model" in text
    assert "only 2 test trailers" in text  # fewer than FEW_TEST_TRAILERS: said to be noisy
    assert "warning: 1 near-duplicate pair(s) cross into this split" in text  # `mmx evaluate` sees the leak
    assert "[7/9] mmx check on the run" in text and "planted → found: duplicates 1 of 1 (and 0 not planted)" in text
    assert "review loop: " in text and "→ linear probe AUPRC_w" in text and f"--reviews {out / 'run'}" in text
    assert "retrieval (" in text and "queries among" in text and "label suggestions" in text
    assert "precision@" in text and "by shot genre" in text and "scenes of other trailers most like" in text
    assert (out / "fine" / "scenes.npz").exists()  # the explorer's scene search is ready
    info = RunDir(out / "run").read_info()
    assert len(info.splits["train"]) == 3 and len(info.splits["test"]) == 2
    assert (out / "report" / "report.html").exists()
    assert "Test split: 2 trailers" in (out / "report" / "report.html").read_text()


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


@pytest.mark.slow
def test_fusion_line_sets_gating_against_concat_on_the_same_trailers(tmp_path):
    import numpy as np

    from mmx.ablation import SCORES_FILE, write_scores

    rng = np.random.default_rng(0)
    labels = (rng.random((25, 3)) < 0.4).astype(int)
    labels[0] = 1
    ids, genres = [f"t{i}" for i in range(25)], ["a", "b", "c"]
    for run, probs in {"gating": labels * 0.6 + 0.4 * rng.random((25, 3)), "naive-concat": rng.random((25, 3))}.items():
        (tmp_path / run).mkdir()
        write_scores(tmp_path / run / SCORES_FILE, "test", ids, genres, probs, labels)
    done = {"variants": {"gating": {"run": "gating"}, "naive-concat": {"run": "naive-concat"}},
            "results": {"gating": {"auprc_weighted": 0.95}, "naive-concat": {"auprc_weighted": 0.55}}}
    line, = fusion_lines(tmp_path, done)
    assert line.startswith("gating − naive concat +0.400 AUPRC_w on the same 25 trailers, one training seed; ")
    assert line.endswith("(95 %): gating ahead beyond this split's noise")
    assert fusion_lines(tmp_path, {**done, "results": {"gating": {"auprc_weighted": 0.9}}}) == []  # concat not run


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


def test_the_harder_dirtier_corpus_says_what_it_planted(tmp_path):
    """Neutral shots, silent and missing audio tracks, a re-encoded copy in the test split, wrong labels."""

    import av

    from mmx.synthetic.faults import VideoDirt, plant_dirt
    from mmx.synthetic.videos import VideoCorpusConfig, generate_videos

    cfg = VideoCorpusConfig(n_videos=6, seed=1, shots=(4, 4), shot_frames=(16, 16), width=64, height=48,
                            neutral_fraction=0.5, look_overlap=0.5, silent_fraction=0.3, no_audio_fraction=0.3)
    truths = generate_videos(tmp_path, cfg)
    assert any(None in t.shot_genres for t in truths)  # neutral shots: no genre in truth.json
    tracks = {t.trailer_id: t.audio for t in truths}
    for t in truths:
        with av.open(str(tmp_path / t.file)) as f:
            assert bool(f.streams.audio) == (t.audio != "none")
    _add_splits(tmp_path / "labels.csv")
    planted = plant_dirt(tmp_path, VideoDirt(duplicates=1, wrong_labels=2))
    assert json.loads((tmp_path / "planted.json").read_text()) == planted
    (source, copy), = planted["duplicates"]
    with open(tmp_path / "labels.csv", newline="") as f:
        rows = {r["trailer_id"]: r for r in csv.DictReader(f)}
    assert rows[source]["split"] == "train" and rows[copy]["split"] == "test"
    with av.open(str(tmp_path / f"{copy}.mp4")) as f:
        frames = sum(1 for _ in f.decode(video=0))
        assert f.streams.video[0].width == 48  # 75 % of 64
    assert frames == 64 - 12  # half a second cut at the end (24 fps)
    for w in planted["wrong_labels"]:
        given = rows[w["trailer_id"]]["genres"].split("|")
        assert w["given"] in given and w["missing"] not in given and rows[w["trailer_id"]]["split"] == "train"
    assert sorted(planted["audio"]["silent"] + planted["audio"]["none"]) == sorted(
        t for t, a in tracks.items() if a != "tone")


@pytest.mark.slow
def test_demo_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    argv = ["demo", "--out", str(out), "--source", "features", "--trailers", "60", "--epochs", "1",
            "--finetune-epochs", "1", "--ablate-epochs", "0", "--quiet"] + TINY
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "SYNTHETIC" in text and "Linear probe" in text and "label suggestions" in text and "precision@10" in text
    assert RunDir(out / "run").read_state().epoch == 1 and RunDir(out / "fine").read_info().kind == "fine"
    assert (out / "report" / "report.html").exists()
    assert main(argv) == 0  # a rerun resumes: nothing is trained again
    assert "unchanged 60" in capsys.readouterr().out
