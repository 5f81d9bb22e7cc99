"""The linear probe: logistic regression on each trailer's mean-pooled expert features, tuned on validation.

The honest yardstick for the deep model: if a per-genre logistic regression on clip features
averaged over the trailer does as well, the sequence model does not earn its keep on that data.
A yardstick is only fair when it is tuned as carefully as the model, so ``tune_probe`` picks the
regularisation C and whether to standardise the features on the validation split — the split
that picks the model's best epoch — from a small grid, one setting shared by all genres (per-genre
choices on a validation split of a few dozen trailers chase noise). The probe is fitted on the
training split only, as the model is.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from mmx.data.store import FeatureStore
from mmx.errors import ConfigError
from mmx.metrics import classification_metrics

SCALINGS = ("none", "standard")
FIT_THREADS = 1  # BLAS threads of the fits: L-BFGS multiplies thin matrices (N × D by D), where a second thread
# only waits — tune_probe on 2 quiet cores, 6 genres: 2,000 × 3,712 5.6 s with 2 threads, 1.9 s with 1; 6,000 × 128
# 1.0 → 0.44 s; 600 × 3,712 4.3 → 0.76 s (and the label check of the 7,594 real trailers 91 s → 11 s on busy ones)


@dataclass(frozen=True)
class ProbeConfig:
    C: list[float] = field(default_factory=lambda: [0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0])  # grid of inverse L2 strengths
    scalings: list[str] = field(default_factory=lambda: list(SCALINGS))  # "none" = the pooled features as they are
    select_metric: str = "auprc_weighted"  # validation metric that picks the setting (the model's rule)
    max_iter: int = 2000  # L-BFGS iterations per fit

    def __post_init__(self) -> None:
        if not self.C or any(c <= 0 for c in self.C):
            raise ConfigError(f"probe C grid must be positive numbers, not {self.C}")
        bad = [s for s in self.scalings if s not in SCALINGS]
        if not self.scalings or bad:
            raise ConfigError(f"probe scalings must be among {', '.join(SCALINGS)}, not {self.scalings}")


@dataclass(frozen=True)
class ProbeSetting:
    C: float = 1.0  # inverse L2 strength of every genre's logistic regression
    scaling: str = "standard"  # "standard": features standardised on the training split first

    def __post_init__(self) -> None:
        if self.C <= 0 or self.scaling not in SCALINGS:
            raise ConfigError(f"probe setting needs C > 0 and a scaling in {', '.join(SCALINGS)}, not {self}")


UNTUNED = ProbeSetting()  # what the probe used before it was tuned: standardised, C = 1


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
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, seed: int = 0,
    setting: ProbeSetting = UNTUNED, max_iter: int = 2000,
) -> np.ndarray:
    """(N_test, G) probabilities from one logistic regression per genre.

    A genre that is always (or never) present in training gets its training frequency.
    """
    return _fit_predict(x_train, y_train, [x_test], seed, setting.scaling, [setting.C], max_iter)[setting.C][0]


def tune_probe(
    x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
    genres: list[str], cfg: ProbeConfig = ProbeConfig(), seed: int = 0, threshold: float = 0.3,
) -> tuple[ProbeSetting, list[dict]]:
    """The grid setting with the best validation ``select_metric``, and every setting's score.

    The untuned setting (standardised, C = 1) is always in the grid, so the tuned probe is never
    worse on validation than the untuned one.
    """
    grid = []
    for scaling in cfg.scalings:
        Cs = sorted(set(cfg.C) | ({UNTUNED.C} if scaling == UNTUNED.scaling else set()))
        scores = _fit_predict(x_train, y_train, [x_val], seed, scaling, Cs, cfg.max_iter)
        for C in Cs:
            metrics = classification_metrics(y_val, scores[C][0], genres, threshold)
            grid.append({"C": C, "scaling": scaling, "score": metrics[cfg.select_metric]})
    best = max(grid, key=lambda g: (_finite(g["score"]), g["scaling"] == UNTUNED.scaling, -abs(np.log(g["C"]))))
    return ProbeSetting(best["C"], best["scaling"]), grid


def _finite(x: float) -> float:
    return x if np.isfinite(x) else -np.inf


def _fit_predict(
    x_train: np.ndarray, y_train: np.ndarray, x_eval: list[np.ndarray], seed: int, scaling: str,
    Cs: list[float], max_iter: int,
) -> dict[float, list[np.ndarray]]:
    """C → probabilities (N, G) on each array of ``x_eval``; one warm-started path over C per genre."""
    with threadpool_limits(FIT_THREADS, user_api="blas"):
        return _fit_predict_path(x_train, y_train, x_eval, seed, scaling, Cs, max_iter)


def _fit_predict_path(
    x_train: np.ndarray, y_train: np.ndarray, x_eval: list[np.ndarray], seed: int, scaling: str,
    Cs: list[float], max_iter: int,
) -> dict[float, list[np.ndarray]]:
    if scaling == "standard":
        scaler = StandardScaler().fit(x_train)
        x_train, x_eval = scaler.transform(x_train), [scaler.transform(x) for x in x_eval]
    out = {C: [np.zeros((len(x), y_train.shape[1])) for x in x_eval] for C in Cs}
    for g in range(y_train.shape[1]):
        y = y_train[:, g]
        if y.min() == y.max():
            for C in Cs:
                for p in out[C]:
                    p[:, g] = y.mean()
            continue
        clf = LogisticRegression(max_iter=max_iter, random_state=seed, warm_start=True)
        for C in sorted(Cs):
            clf.set_params(C=C)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                clf.fit(x_train, y)
            for p, x in zip(out[C], x_eval):
                p[:, g] = clf.predict_proba(x)[:, 1]
    return out
