"""`mmx check` as a whole: a pair across splits is a leak error that `mmx evaluate` reports too, the command
line on a store and on an embeddings run, a re-check that refits only the genres whose labels changed."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers import make_embeddings_run
from mmx.data.store import FeatureStore
from mmx.health import open_collection
from mmx.health.report import check
from mmx_cli.main import main


def test_the_pair_across_splits_is_a_leak_error_and_evaluate_counts_the_test_trailers(planted):
    report = check(planted[0], ["leaks"])
    assert [(f.severity, f.trailers) for f in report.findings] == [("error", ["copy", "t01"])]
    assert report.test_leaks == {"pairs": 1, "trailers": 1, "split": "test"}


def test_check_cli_on_a_store_and_on_an_embeddings_run(planted, tmp_path, capsys):
    assert main(["check", str(planted[0]), "--only", "duplicates,leaks,experts"]) == 1  # a leak is an error
    out = capsys.readouterr().out
    assert "split leak" in out and "copy ~ t01" in out and "noise-like" in out
    run = make_embeddings_run(tmp_path / "emb", n=30)
    assert main(["check", str(run), "--json", "--only", "duplicates,labels"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n_trailers"] == 30 and set(report["counts"]) == {"duplicates", "labels"}


@pytest.mark.slow
def test_evaluate_says_its_test_split_has_a_leak(planted, tmp_path, capsys):
    from helpers import make_coarse_run

    run = make_coarse_run(FeatureStore(planted[0]), tmp_path / "run")
    assert main(["evaluate", "--run", str(run.root), "--no-probe"]) == 0
    out = capsys.readouterr().out
    assert "warning: 1 near-duplicate pair(s) cross into this split from another, touching 1 of its trailers" in out


def test_a_recheck_refits_only_the_genres_whose_labels_changed(planted):
    """After review decisions on the same trailers, the checks that read no labels keep their findings and the
    probe refits only the changed genres — giving what refitting every genre with the tuned setting gives."""
    from mmx.health.label_issues import LabelCheckConfig, fold_probs, wrong_labels

    coll = open_collection(planted[0])
    first = check(coll)
    again = check(coll, previous=first)
    assert again.kept == ["duplicates", "leaks", "experts"] and again.probe.fitted == []
    assert [f.to_dict() for f in again.findings] == [f.to_dict() for f in first.findings]
    assert "t07" in again.probe.ids and "Horror" in again.probe.genres
    coll.genres["t07"] = sorted({*coll.genres["t07"]} ^ {"Horror"})  # a decision on one (trailer, genre)
    after = check(coll, previous=first)
    fit = after.probe
    assert fit.fitted == ["Horror"] and fit.setting == first.probe.setting
    full = fold_probs(fit.x, fit.y, fit.fold, fit.setting, LabelCheckConfig())  # every genre refitted
    np.testing.assert_array_equal(fit.probs, full)
    wrong = wrong_labels(fit.y, full)  # the posteriors, from every genre's probabilities
    expected = {(fit.ids[r], fit.genres[c]): round(float(wrong[r, c]), 4)
                for r, c in zip(*np.nonzero(wrong >= LabelCheckConfig().min_wrong))}
    assert {(f.trailers[0], f.genre): f.score for f in after.findings if f.kind == "label to review"} == expected
    assert [f for f in after.findings if f.check != "labels"] == [f for f in first.findings if f.check != "labels"]
    coll.genres["t07"] = []  # no genre left: other trailers scored, so every genre is refitted (the setting kept)
    emptied = check(coll, ["labels"], previous=after).probe
    assert "t07" not in emptied.ids and emptied.fitted == emptied.genres and emptied.setting == first.probe.setting
