"""Using a trained network: genre probabilities for trailers, and the evaluation of Tbl. 2.

``predict`` runs a network over a loader (training uses it for validation); ``predict_ids``,
``evaluate_run`` and ``label_suggestions`` do the same for trailers of an opened run.
``evaluate_run`` puts three rows side by side on one split: the model, uniform random scores, and
the linear probe (logistic regression on mean-pooled expert features, its regularisation tuned on
the run's validation split and fitted on its training split), with a one-line verdict.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np
import torch

from mmx.data.loader import whole_trailer_batches
from mmx.data.store import FeatureStore
from mmx.distributed import DistInfo
from mmx.errors import RunError, UnknownTrailerError
from mmx.health.duplicates import run_leaks
from mmx.inputs import Batch
from mmx.metrics import PROTOCOLS, classification_metrics, label_changes, random_baseline
from mmx.model.mmx import MMX
from mmx.precision import autocast
from mmx.probe import ProbeSetting, linear_probe, pooled_features, tune_probe
from mmx.run import ModelRun, Run


@torch.no_grad()
def predict(model: MMX, loader: Iterable[Batch], dist: DistInfo = DistInfo(), precision: str = "fp32",
            ) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Trailer ids, genre probabilities (N, G) and given labels (N, G) for every trailer of ``loader``;
    a trailer with several views (a film's chapters) gets the mean of their probabilities. The network
    computes in ``precision`` (``mmx.precision``), the probabilities are fp32."""
    model.eval()
    ids, probs, labels = [], [], []
    for batch in loader:
        ids.extend(batch.ids)
        with autocast(dist.device, precision):
            logits = model.logits(batch.to(dist.device)).float()  # (B, V, G)
        probs.append(torch.sigmoid(logits).mean(1).cpu().numpy())  # (B, G)
        labels.append(batch.labels.numpy())
    return ids, np.concatenate(probs), np.concatenate(labels)


def evaluate(model: MMX, loader: Iterable[Batch], genres: list[str], threshold: float, dist: DistInfo = DistInfo(),
             precision: str = "fp32") -> dict:
    """Tbl. 2 metrics of ``model`` on the trailers of ``loader``."""
    _, probs, labels = predict(model, loader, dist, precision)
    return classification_metrics(labels, probs, genres, threshold)


def model_run(run: str | Path | Run) -> ModelRun:
    """The opened run, which must have a network (a coarse or fine run)."""
    run = Run.open(run)
    if not isinstance(run, ModelRun):
        raise RunError(f"{run.root} holds imported embeddings without a network; it predicts no genres")
    return run


def predict_ids(run: str | Path | Run, ids: list[str], which: str = "best", store: FeatureStore | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """(N, G) probabilities and (N, G) given labels for ``ids`` (any trailers of the run's store, or of ``store``:
    one extracted with the run's experts), in their order."""
    run = model_run(run)
    store = run.store if store is None else store
    missing = [i for i in ids if i not in store]
    if missing:
        raise UnknownTrailerError(f"trailer(s) {', '.join(missing[:5])} not in store {store.root}")
    cfg = run.config
    batches = whole_trailer_batches(store, run.info.reading, ids, cfg.train.eval_batch_size, cfg.model)
    got, probs, labels = predict(run.model(which), batches, precision=run.precision)
    order = [{t: i for i, t in enumerate(got)}[t] for t in ids]
    return probs[order], labels[order]


def evaluate_run(run: str | Path | Run, split: str = "test", threshold: float | None = None, probe: bool = True) -> dict:
    """Metrics of the model, the random baseline and (optionally) the linear probe on ``split``."""
    run = model_run(run)
    info, cfg = run.info, run.config
    threshold = cfg.train.threshold if threshold is None else threshold
    ids = run.split_ids(split)
    if not ids:
        raise RunError(f"split {split!r} of {run.root} is empty; evaluate another split (--split val)")
    probs, labels = predict_ids(run, ids)
    out = classification_metrics(labels, probs, info.genres, threshold)
    out["split"] = split
    out["random"] = random_baseline(labels, info.genres, threshold, seed=cfg.train.seed)
    if split in info.splits:  # near-duplicates across splits inflate the score (``mmx check RUN --only leaks``)
        out["leaks"] = run_leaks(run, split)
    if probe:
        out["probe"] = probe_metrics(run, ids, labels, threshold)
        out["verdict"] = verdict(out, out["probe"])
    return out


def evaluate_reviews(run: str | Path | Run, split: str = "test") -> dict | None:
    """For a run trained with reviewed labels (``mmx train --reviews SOURCE``): its ``split`` scored by the source
    run's network (before) and by its own (after), both against the reviewed labels (the best known); None for
    a run trained on its store's labels, or when the source run or its network is gone. A genre one network
    does not predict counts as predicted with probability 0."""
    run = model_run(run)
    record = run.info.reviews
    if not record or not Path(record["run"], "run.json").exists():
        return None
    source = Run.open(record["run"])
    ids = run.split_ids(split)
    if not isinstance(source, ModelRun) or not ids:
        return None
    after, labels = predict_ids(run, ids)
    known = [t for t in ids if t in source.store]
    probs, _ = predict_ids(source, known)
    before = np.zeros_like(after)
    rows = [ids.index(t) for t in known]
    for j, g in enumerate(source.info.genres):
        if g in run.info.genres:
            before[rows, run.info.genres.index(g)] = probs[:, j]
    genres = run.info.genres
    return {"source": str(source.root), "decisions": record["decisions"], "changed": record["changed"],
            "split": split, "n": len(ids),
            "before": classification_metrics(labels, before, genres, run.config.train.threshold)["auprc_weighted"],
            "after": classification_metrics(labels, after, genres, run.config.train.threshold)["auprc_weighted"]}


def evaluate_protocol(run: str | Path | Run, protocol: str, split: str = "test") -> dict:
    """The metrics of an anchor protocol (``mmx.metrics.PROTOCOLS``) on ``split``, with the random baseline's."""
    if protocol not in PROTOCOLS:
        raise RunError(f"protocol {protocol!r} is unknown; use one of {', '.join(PROTOCOLS)}")
    run = model_run(run)
    ids = run.split_ids(split)
    if not ids:
        raise RunError(f"split {split!r} of {run.root} is empty; evaluate another split (--split val)")
    probs, labels = predict_ids(run, ids)
    metric = PROTOCOLS[protocol]
    out = metric(labels, probs, run.info.genres)
    rng = np.random.default_rng(run.config.train.seed)
    out.update(protocol=protocol, split=split, random=metric(labels, rng.random(labels.shape), run.info.genres))
    return out


def probe_metrics(run: ModelRun, ids: list[str], labels: np.ndarray, threshold: float) -> dict:
    """The tuned linear probe's metrics on ``ids``: C and scaling picked on the run's validation split,
    fitted on its training split (``mmx.probe.tune_probe``); ``C`` and ``scaling`` say what it chose."""
    scores, setting = probe_scores(run, ids, threshold)
    out = classification_metrics(labels, scores, run.info.genres, threshold)
    out.update(C=setting.C, scaling=setting.scaling, tuned_on="val")
    return out


def probe_scores(run: ModelRun, ids: list[str], threshold: float, store: FeatureStore | None = None,
                 setting: ProbeSetting | None = None) -> tuple[np.ndarray, ProbeSetting]:
    """(N, G) the tuned linear probe's probabilities of ``ids`` (``probe_metrics``) and its setting; ``store``: the
    run's store read with other labels (``FeatureStore.relabelled``: reviewed ones) to fit and tune on;
    ``setting``: this one, not tuned."""
    store, info, seed = store or run.store, run.info, run.config.train.seed
    experts = list(info.experts)
    x = {s: pooled_features(store, info.splits[s], experts) for s in ("train", "val")}
    y = {s: np.array([[g in store.meta(t).genres for g in info.genres] for t in info.splits[s]], dtype=int)
         for s in ("train", "val")}
    if setting is None:
        setting, _ = tune_probe(x["train"], y["train"], x["val"], y["val"], info.genres, seed=seed,
                                threshold=threshold)
    return linear_probe(x["train"], y["train"], pooled_features(store, ids, experts), seed=seed, setting=setting), setting


VERDICT_MARGIN = 0.01  # AUPRC_w differences smaller than this are called a tie


def verdict(model: dict, probe: dict) -> str:
    """One line: does the network earn its keep against the tuned probe on this split?"""
    diff = model["auprc_weighted"] - probe["auprc_weighted"]
    figures = f"AUPRC_w {model['auprc_weighted']:.3f} vs {probe['auprc_weighted']:.3f}, {diff:+.3f}"
    if diff >= VERDICT_MARGIN:
        return f"the network beats the tuned linear probe ({figures})"
    if diff <= -VERDICT_MARGIN:
        return (f"the tuned linear probe beats the network ({figures}): on this collection the deep model "
                "does not earn its keep; more trailers, or the default recipe if this run used another, may change that")
    return f"the network and the tuned linear probe tie ({figures})"


def label_suggestions(run: str | Path | Run, ids: list[str], threshold: float | None = None,
                      store: FeatureStore | None = None) -> list[dict]:
    """Per trailer of the run's store (or of ``store``): probabilities by genre, predicted labels, labels to add and
    to drop (Tbl. 4)."""
    run = model_run(run)
    info = run.info
    store = run.store if store is None else store
    threshold = run.config.train.threshold if threshold is None else threshold
    probs, labels = predict_ids(run, ids, store=store)
    changes = label_changes(probs, labels, info.genres, threshold)
    out = []
    for tid, p, ch in zip(ids, probs, changes):
        meta = store.meta(tid)
        out.append(
            {
                "trailer_id": tid,
                "title": meta.title,
                "genres": meta.genres,
                "probabilities": {g: round(float(x), 4) for g, x in zip(info.genres, p)},
                **ch,
            }
        )
    return out


def ranked_label_changes(suggestions: list[dict]) -> list[dict]:
    """One row per suggested change over all trailers, most confident first (a curator's review list).

    An ``add`` is as confident as its probability p, a ``drop`` as 1 − p; ``suggestions`` come
    from ``label_suggestions``.
    """
    rows = []
    for s in suggestions:
        changes = [("add", g, s["probabilities"][g]) for g in s["added"]]
        changes += [("drop", g, 1.0 - s["probabilities"][g]) for g in s["missing"]]
        for action, genre, confidence in changes:
            rows.append(
                {
                    "trailer_id": s["trailer_id"],
                    "title": s["title"],
                    "action": action,
                    "genre": genre,
                    "probability": s["probabilities"][genre],
                    "confidence": round(confidence, 4),
                    "given": "|".join(s["genres"]),
                    "predicted": "|".join(s["predicted"]),
                }
            )
    return sorted(rows, key=lambda r: (-r["confidence"], r["trailer_id"], r["genre"]))
