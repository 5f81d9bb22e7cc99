"""The linear probe: logistic regression on each trailer's mean-pooled expert features.

The honest yardstick for the deep model: if a per-genre logistic regression on clip features
averaged over the trailer does as well, the sequence model does not earn its keep on that data.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mmx.data.store import FeatureStore


def pooled_features(store: FeatureStore, ids: list[str], experts: list[str]) -> np.ndarray:
    """(N, Σ dims + E): per expert the mean over clips (windows), then a 0/1 presence flag."""
    blocks = []
    for name in experts:
        dim = store.experts[name].dim
        x = np.zeros((len(ids), dim + 1), dtype=np.float32)
        for r, tid in enumerate(ids):
            arr = store.load(tid, name)
            if arr is not None and len(arr):
                x[r, :dim] = np.asarray(arr, dtype=np.float32).mean(0)
                x[r, dim] = 1.0
        blocks.append(x)
    return np.concatenate(blocks, axis=1)


def linear_probe(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, seed: int = 0, C: float = 1.0
) -> np.ndarray:
    """(N_test, G) probabilities from one standardised logistic regression per genre.

    A genre that is always (or never) present in training gets its training frequency.
    """
    probs = np.zeros((x_test.shape[0], y_train.shape[1]))
    for g in range(y_train.shape[1]):
        y = y_train[:, g]
        if y.min() == y.max():
            probs[:, g] = y.mean()
            continue
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000, random_state=seed))
        clf.fit(x_train, y)
        probs[:, g] = clf.predict_proba(x_test)[:, 1]
    return probs
