"""Network cross-fitting for the label check: each trailer scored by a network that never saw it, through the
library and `mmx check --network-folds`; a clear error on a run without a network."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers import make_embeddings_run
from mmx.health import open_collection
from mmx.health.report import check
from mmx_cli.main import main

pytestmark = pytest.mark.slow  # networks trained per fold

NET_EPOCHS = 8  # each cross-fitted copy's (--network-epochs)


def test_network_cross_fit_scores_each_trailer_by_a_network_that_never_saw_it(planted, planted_run, tmp_path):
    from mmx.health.label_issues import labelled_ids
    from mmx.run import Run
    from mmx.train.crossfit import CrossfitConfig, network_out_of_fold

    coll = open_collection(planted_run)
    ids = labelled_ids(coll)
    cfg = CrossfitConfig(folds=3, epochs=NET_EPOCHS)
    oof = network_out_of_fold(Run.open(planted_run), ids, cfg, work=tmp_path / "work")
    assert oof.probs.shape == (len(ids), len(oof.genres)) and np.isfinite(oof.probs).all()
    assert sorted(set(oof.fold)) == [0, 1, 2] and len(oof.trained_on) == 3
    for i, t in enumerate(ids):  # held out of its own fold's network, trained or validated on by the two others
        if coll.genres[t] != ["none"]:  # a placeholder-only trailer trains no network
            assert [t in oof.trained_on[k] for k in range(3)] == [k != oof.fold[i] for k in range(3)]
    assert list((tmp_path / "work").iterdir()) == []  # the fold stores and runs are gone
    findings = check(coll, ["labels"], label_probs=oof).findings
    issues = [(f.trailers[0], f.genre) for f in findings if f.kind == "label to review"]
    # every planted flip found, and half the list is planted (3 among 200 (trailer, genre) of which a tiny network
    # trained 8 epochs per fold calls a few healthy ones doubtful too)
    assert set(planted[1]) <= set(issues) and len(issues) <= 2 * len(planted[1])
    assert all(f.evidence["model"] == "network (3-fold out-of-fold)" for f in findings if f.kind == "label to review")


def test_check_cli_network_folds_on_a_run_and_a_clear_error_on_an_embeddings_run(planted_run, tmp_path, capsys):
    argv = ["--only", "labels", "--network-folds", "3", "--network-epochs", str(NET_EPOCHS)]
    assert main(["check", str(planted_run), "--json", "--network-dir", str(tmp_path / "w"), *argv]) == 0
    out, err = capsys.readouterr()
    models = {f["evidence"]["model"] for f in json.loads(out)["findings"] if f["kind"] == "label to review"}
    assert models == {"network (3-fold out-of-fold)"} and list((tmp_path / "w").iterdir()) == []
    assert f"network fold 3/3: training {NET_EPOCHS} epoch(s)" in err
    run = make_embeddings_run(tmp_path / "emb", n=30)
    assert main(["check", str(run), *argv, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert str(run) in err and "imported embeddings" in err and "without a network" in err
