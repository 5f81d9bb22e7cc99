"""Reviewed labels feed training (``mmx train --reviews RUN``): the store is read with the run's decisions and not
rewritten, the new run records which decisions it used, and ``mmx info`` counts the decisions made since."""

from __future__ import annotations

import json

import pytest

from helpers import TINY, snapshot
from mmx.data.store import FeatureStore
from mmx.review import ReviewJournal
from mmx.run import Run
from mmx_cli.main import main

FAST = ["--model", "tiny", "--epochs", "1", "--quiet", *[a for s in TINY for a in ("--set", s)]]


def info(path, capsys) -> dict:
    assert main(["info", str(path), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def first(small_store, tmp_path_factory):
    """A run trained on the store's labels, and the store's files as they were."""
    out = tmp_path_factory.mktemp("reviews") / "first"
    assert main(["train", "--store", str(small_store.root), "--out", str(out), *FAST]) == 0
    return out, snapshot(small_store.root)


@pytest.mark.slow
def test_a_retrain_uses_the_decisions_records_them_and_leaves_the_store_alone(first, small_store, tmp_path, capsys):
    run, files = first
    r1 = Run.open(run)
    entries = small_store.entries()
    train_ids = r1.info.splits["train"]
    solo = next(t for t in train_ids if len(entries[t].genres) == 1)  # its only genre removed: no genre left
    extra = next(g for g in r1.info.genres if g not in entries[train_ids[0]].genres)
    journal = ReviewJournal(run)
    journal.decide(train_ids[0], extra, "add", entries[train_ids[0]].genres, r1.info.genres, user="ana")
    journal.decide(solo, entries[solo].genres[0], "remove", entries[solo].genres, r1.info.genres, user="ben")
    journal.decide(train_ids[1], entries[train_ids[1]].genres[0], "reject", entries[train_ids[1]].genres,
                   r1.info.genres, user="ana")
    capsys.readouterr()
    since = info(run, capsys)["since_training"]
    assert since["decisions"] == 3 and since["own"] == 3 and f"--reviews {run}" in since["retrain"]
    assert main(["info", str(run)]) == 0
    assert "3 label decision(s) since this run trained — retrain with `mmx train --store" in capsys.readouterr().out

    second = tmp_path / "second"
    assert main(["train", "--reviews", str(run), "--out", str(second), *FAST]) == 0  # --store: the run's
    capsys.readouterr()
    assert snapshot(small_store.root) == files  # not one file of the store rewritten
    r2 = Run.open(second)
    record = r2.info.reviews
    assert (record["run"], record["decisions"], record["reviewers"]) == (str(run.resolve()), 3, ["ana", "ben"])
    assert record["offset"] == journal.path.stat().st_size and record["changed"] == 2  # the reject changes nothing
    assert sorted(r2.store.meta(train_ids[0]).genres) == sorted(entries[train_ids[0]].genres + [extra])
    assert solo in r2.info.excluded["no_genre"] and solo not in r2.info.split_ids("all")  # training read the labels
    assert solo in r1.info.split_ids("all") and FeatureStore(small_store.root).meta(solo).genres == entries[solo].genres
    summary = info(second, capsys)
    assert summary["trained_with_reviews"]["decisions"] == 3 and summary["since_training"]["decisions"] == 0
    before_after(r1, r2)

    journal.decide(train_ids[2], extra if extra not in entries[train_ids[2]].genres else entries[train_ids[2]].genres[0],
                   "accept", entries[train_ids[2]].genres, r1.info.genres, user="cy")  # made after the retrain
    ReviewJournal(second).decide(train_ids[3], extra, "accept", r2.store.meta(train_ids[3]).genres, r2.info.genres)
    since = info(second, capsys)["since_training"]
    assert (since["decisions"], since["own"], since["source"]) == (2, 1, 1)
    assert main(["info", str(second)]) == 0
    text = capsys.readouterr().out
    assert "trained with 3 review decision(s) of" in text and "2 label decision(s) since this run trained" in text

    third = tmp_path / "third"
    assert main(["train", "--store", str(small_store.root), "--reviews", str(second), "--out", str(third), *FAST]) == 0
    labels = Run.open(third).info.reviews["labels"]
    assert solo in labels and train_ids[3] in labels  # the first review's labels, and the second run's decision
    assert Run.open(third).info.reviews["inherited"] == len(set(record["labels"]) - {train_ids[3]})


def test_reviews_from_a_run_without_a_store_need_one(tmp_path, capsys):
    from helpers import make_embeddings_run

    run = make_embeddings_run(tmp_path / "emb", n=30)
    assert main(["train", "--reviews", str(run), "--out", str(tmp_path / "r"), *FAST]) == 2
    assert "without a feature store; give --store" in capsys.readouterr().err


def before_after(r1, r2) -> None:
    """The report's health section sets the network before the review beside the one after, both scored on the
    second run's test split against its (reviewed) labels."""
    import numpy as np

    from mmx.inference import predict_ids
    from mmx.metrics import classification_metrics
    from mmx_report.sections import ReportInputs, health

    ids = r2.split_ids("test")
    after, labels = predict_ids(r2, ids)
    probs, _ = predict_ids(r1, ids)
    before = np.stack([probs[:, r1.info.genres.index(g)] if g in r1.info.genres else np.zeros(len(ids))
                       for g in r2.info.genres], axis=1)
    rows = health(ReportInputs(run=r2)).tables["health_reviews"]
    assert [r["AUPRC_w"] for r in rows] == [round(classification_metrics(labels, p, r2.info.genres)["auprc_weighted"], 4)
                                            for p in (before, after)]
    assert rows[1]["labels"] == "3 decision(s), 2 trailer(s) relabelled" and str(r1.root) in rows[0]["network"]
    assert "health_reviews" not in health(ReportInputs(run=r1)).tables  # trained on the store's labels
