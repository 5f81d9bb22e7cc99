"""Using a trained run: genre probabilities for trailers, and the evaluation of Tbl. 2.

``evaluate_run`` puts three rows side by side on one split: the model, uniform random scores, and
the linear probe (logistic regression on mean-pooled expert features, fitted on the run's
training split).
"""

from __future__ import annotations

import numpy as np

from mmx.data.dataset import evenly_spaced
from mmx.data.store import FeatureStore
from mmx.errors import RunError, UnknownTrailerError
from mmx.metrics import classification_metrics, label_changes, random_baseline
from mmx.probe import linear_probe, pooled_features
from mmx.train.coarse import make_loader, predict
from mmx.train.run import RunDir


def split_ids(run: RunDir, split: str) -> list[str]:
    info = run.info()
    if split == "all":
        return sorted(i for ids in info.splits.values() for i in ids)
    if split not in info.splits:
        raise RunError(f"unknown split {split!r}; use one of {', '.join(info.splits)} or all")
    return info.splits[split]


def predict_ids(
    run: RunDir, ids: list[str], which: str = "best", store: FeatureStore | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(N, G) probabilities and (N, G) given labels for ``ids`` (any trailer of the run's store).

    ``store``: the run's store when the caller has it open already (opening reads every entry).
    """
    store = run.store() if store is None else store
    info, cfg = run.info(), run.config()
    missing = [i for i in ids if i not in store]
    if missing:
        raise UnknownTrailerError(f"trailer(s) {', '.join(missing[:5])} not in store {store.root}")
    model = run.load_model(which)
    loader = make_loader(
        store, info, ids, cfg.train.eval_batch_size, evenly_spaced(cfg.model.n_seqs, cfg.model.seq_len)
    )
    _, probs, labels = predict(model, loader)
    return probs, labels


def evaluate_run(run: RunDir, split: str = "test", threshold: float | None = None, probe: bool = True) -> dict:
    """Metrics of the model, the random baseline and (optionally) the linear probe on ``split``."""
    info, cfg = run.info(), run.config()
    threshold = cfg.train.threshold if threshold is None else threshold
    ids = split_ids(run, split)
    if not ids:
        raise RunError(f"split {split!r} of {run.root} is empty; evaluate another split (--split val)")
    store = run.store()
    probs, labels = predict_ids(run, ids, store=store)
    out = classification_metrics(labels, probs, info.genres, threshold)
    out["split"] = split
    out["random"] = random_baseline(labels, info.genres, threshold, seed=cfg.train.seed)
    if probe:
        experts = list(info.experts)
        train_ids = info.splits["train"]
        y_train = np.array([[g in store.meta(t).genres for g in info.genres] for t in train_ids], dtype=int)
        scores = linear_probe(
            pooled_features(store, train_ids, experts), y_train, pooled_features(store, ids, experts),
            seed=cfg.train.seed,
        )
        out["probe"] = classification_metrics(labels, scores, info.genres, threshold)
    return out


def label_suggestions(run: RunDir, ids: list[str], threshold: float | None = None) -> list[dict]:
    """Per trailer: probabilities by genre, predicted labels, labels to add and to drop (Tbl. 4)."""
    info, cfg = run.info(), run.config()
    threshold = cfg.train.threshold if threshold is None else threshold
    store = run.store()
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
