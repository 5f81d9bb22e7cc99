"""Label issues per (trailer, genre), placeholder genres, genres too rare to learn, trailers without genres.

Which genre of a trailer is wrong is judged from out-of-fold probabilities: the collection is cut
into ``folds`` parts, and each part's genre probabilities come from the linear probe of
``mmx.probe`` fitted on the other parts — so no trailer is scored by a probe that saw its own labels.
What the probe reads: for a store, each trailer as the kinds of clip it shows (``mmx.health.codebook``:
a codebook of the collection's clips, counted per trailer — a genre lives in some scenes, which the
mean over all clips dilutes); for imported embeddings, the trailer vectors (wider ones first projected
on their principal components, fitted without labels). The probe's setting (C, scaling) is tuned once,
on the first fold held out.

Those probabilities become the probability that each label *as given* is wrong (``wrong_labels``):
per genre they are calibrated on the given labels (Platt scaling: a genre the probe finds hard gets
probabilities near its share, an easy one near 0 and 1), which says how much more likely the
trailer's look is under "has the genre" than under "has it not"; that likelihood ratio meets a prior
for the two kinds of error — a genre wrongly *added* (as likely for any genre) and a genre *missing*
(as likely as the genre is common), one label in twenty wrong. So the positives of a rare, hard genre no longer crowd the top merely because the model
gives them all low probabilities, and the findings read most certain first (what this buys on
planted collections, against cleanlab's label quality of the pooled probe: ``bench/labels.py``,
docs/quality.md).

The caller may bring its own out-of-fold probabilities instead (``OutOfFold``): ``mmx check RUN
--network-folds K`` cross-fits the run's network (``mmx.train.crossfit``, writing side) and passes them
in; every finding names the model that gave its probability ("probe, 5-fold out-of-fold").

A re-check after review decisions (the explorer's) brings the previous check's ``ProbeFit``: the same
trailers and features, some labels changed. Its features, folds and tuned setting are kept, and only
the genres whose labels changed are fitted again (each genre's logistic regression reads only that
genre's column), so the probabilities are those a fit from scratch with that setting gives; the
calibration and the posteriors are recomputed from them (milliseconds).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression

from mmx.errors import MmxError
from mmx.genres import PLACEHOLDERS
from mmx.health import Collection, Finding
from mmx.health.codebook import CodebookConfig, codebook_features
from mmx.probe import ProbeConfig, ProbeSetting, linear_probe, pooled_features, tune_probe


@dataclass(frozen=True)
class LabelCheckConfig:
    folds: int = 5  # cross-fitting folds of the out-of-fold probabilities
    min_positives: int = 5  # a genre with fewer labelled trailers is too rare to learn (and is not scored): about one
    # per fold (at 300 planted trailers, 10 left up to 4 of 10 flipped labels in genres not scored)
    seed: int = 0  # fold assignment, codebook and probe fits
    codebook: CodebookConfig = field(default_factory=CodebookConfig)  # a store's trailers as the kinds of clip they
    # show (``clusters=0``: their mean-pooled expert features instead)
    max_dims: int = 128  # wider features are first projected on their top principal components (a 1,024-d
    # probe on 7,594 real trailers took 13 min on 2 busy cores; 128 components make it minutes) …
    trailers_per_dim: int = 4  # … and features wider than there are trailers projected on at most one component
    # per this many trailers: on the demo's 120 trailers, 120 components let the probe fit its folds' labels
    # perfectly and predict nothing (AP 0.19, 142 clean labels "to review"); 30 give AP 0.93 and none
    min_wrong: float = 0.1  # report a (trailer, genre) whose label is wrong with at least this probability
    # (``wrong_labels``): one in ten or better is worth a curator's 10 s
    prior_share: float = 0.05  # the share of wrong labels assumed (one in twenty): the scale of those probabilities
    # the probe reads features already standardised (``project``); its grid reaches weaker and stronger
    # regularisation than mmx.probe's default (on the hard demo's 30 components C ≤ 1 shrank every probability)
    probe: ProbeConfig = field(default_factory=lambda: ProbeConfig(C=[0.01, 0.03, 0.1, 1.0, 10.0, 100.0],
                                                                   scalings=["none"], max_iter=500))


@dataclass
class OutOfFold:
    """Out-of-fold genre probabilities brought by the caller (a cross-fitted network)."""

    ids: list[str]  # the trailers, in the rows' order
    genres: list[str]  # the genres, in the columns' order
    probs: np.ndarray  # (N, G) each row from a model that did not train on that trailer
    model: str  # what gave them, in findings: "network (3-fold out-of-fold)"
    fold: np.ndarray | None = None  # (N,) the fold each trailer was held out in
    trained_on: list[list[str]] = field(default_factory=list)  # per fold: trailers its model trained or validated on

    def columns(self, ids: list[str], genres: list[str]) -> np.ndarray:
        """(len(ids), len(genres)) probabilities; a genre the models never predicted has probability 0."""
        row = {t: i for i, t in enumerate(self.ids)}
        missing = [t for t in ids if t not in row]
        if missing:
            raise MmxError(f"the {self.model} probabilities lack trailer(s) {', '.join(missing[:5])}; "
                           "cross-fit the labelled trailers of the same collection")
        col = {g: j for j, g in enumerate(self.genres)}
        out = np.zeros((len(ids), len(genres)), dtype=np.float64)
        for c, g in enumerate(genres):
            if g in col:
                out[:, c] = self.probs[[row[t] for t in ids], col[g]]
        return out


def fold_assignment(n: int, folds: int, seed: int) -> np.ndarray:
    """(n,) the fold of each of n trailers: balanced, shuffled by ``seed`` (the probe's and the network's)."""
    return np.random.default_rng(seed).permutation(np.arange(n) % folds)


def labelled_ids(coll: Collection) -> list[str]:
    """The trailers the label check scores: those with genres."""
    return [t for t in coll.ids if coll.genres.get(t)]


def collection_features(coll: Collection, ids: list[str], cfg: LabelCheckConfig = LabelCheckConfig()) -> np.ndarray:
    """(N, D) what the probe reads: a store's trailers as the kinds of clip they show (``mmx.health.codebook``; their
    mean-pooled expert features with ``codebook.clusters=0``), or the trailer vectors of imported embeddings."""
    if coll.store is not None:
        if cfg.codebook.clusters:
            return codebook_features(coll.store, ids, replace(cfg.codebook, seed=cfg.seed))
        return pooled_features(coll.store, ids, sorted(coll.store.experts))
    return coll.embeddings.subset(ids).vectors.astype(np.float32)


@dataclass
class ProbeFit:
    """What the label check's probe fitted on a collection, for a re-check after review decisions."""

    ids: list[str]  # the trailers scored, in the rows' order
    x: np.ndarray  # (N, D) what the probe reads: the features, projected on principal components when wide
    fold: np.ndarray  # (N,) the fold each trailer was held out in
    setting: ProbeSetting  # the C and scaling tuned on the first fold held out
    genres: list[str]  # the genres scored, in the columns' order
    y: np.ndarray  # (N, G) the labels the probabilities were fitted on
    probs: np.ndarray  # (N, G) out-of-fold probabilities
    fitted: list[str]  # the genres this fit made anew (every one on a first check)

    def column(self, genre: str, y: np.ndarray) -> int | None:
        """The column of ``genre`` when it was fitted on the labels ``y`` ((N,), same trailers), else None."""
        j = self.genres.index(genre) if genre in self.genres else None
        return j if j is not None and np.array_equal(self.y[:, j], y) else None


def standardised(x: np.ndarray) -> np.ndarray:
    """``x`` with every column at mean 0 and sd 1 over the whole collection (no label read)."""
    return (x - x.mean(0)) / (x.std(0) + 1e-6)


def project(x: np.ndarray, cfg: LabelCheckConfig) -> np.ndarray:
    """(N, D') the features the probe reads, standardised over the whole collection — once, so that every fold's
    probe reads them alike and their probabilities compare across folds (a scaler per fold put 8 planted flips
    in the top 30 of a 600-trailer collection where one for all put 15) — and wider ones first projected on
    their top principal components. Both are unsupervised, so fitting them on every trailer leaks no label."""
    x = standardised(x)  # every feature alike (the experts' scales differ)
    if x.shape[1] > min(cfg.max_dims, len(x)):
        dims = max(1, min(cfg.max_dims, len(x) // cfg.trailers_per_dim))
        x = standardised(PCA(dims, random_state=cfg.seed).fit_transform(x))
    return x


def tuned_setting(x: np.ndarray, y: np.ndarray, fold: np.ndarray, genres: list[str], cfg: LabelCheckConfig
                  ) -> ProbeSetting:
    """The probe's setting tuned on the first fold held out (fitted on the others)."""
    held = fold == 0
    return tune_probe(x[~held], y[~held], x[held], y[held], genres, cfg.probe, seed=cfg.seed)[0]


def fold_probs(x: np.ndarray, y: np.ndarray, fold: np.ndarray, setting: ProbeSetting,
               cfg: LabelCheckConfig) -> np.ndarray:
    """(N, G) probabilities of each trailer from the probe fitted with ``setting`` on the folds it is not in."""
    probs = np.zeros(y.shape, dtype=np.float64)
    for f in range(cfg.folds):
        part = fold == f
        probs[part] = linear_probe(x[~part], y[~part], x[part], seed=cfg.seed, setting=setting,
                                   max_iter=cfg.probe.max_iter)
    return probs


def calibrated(y: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """(N, G) per genre, the probability of the label given the model's logit: a logistic regression of the given
    labels ``y`` on the logit of ``probs`` (Platt scaling), so that every genre's probabilities mean the same."""
    logit = np.log(np.clip(probs, 1e-6, 1 - 1e-6)) - np.log(np.clip(1 - probs, 1e-6, 1 - 1e-6))  # (N, G)
    out = np.empty(probs.shape, dtype=np.float64)
    for c in range(y.shape[1]):
        if y[:, c].min() == y[:, c].max():
            out[:, c] = y[:, c].mean()
            continue
        fit = LogisticRegression(C=100.0).fit(logit[:, c:c + 1], y[:, c])
        out[:, c] = fit.predict_proba(logit[:, c:c + 1])[:, 1]
    return np.clip(out, 1e-6, 1 - 1e-6)


def wrong_labels(y: np.ndarray, probs: np.ndarray, share: float = 0.05) -> np.ndarray:
    """(N, G) the probability that each label of ``y`` (N, G, as given) is wrong, from out-of-fold ``probs``.

    Per genre, ``calibrated`` probabilities q give the likelihood ratio of a trailer's look under "without the
    genre" and "with it": f0/f1 = (1 − q)/q · n1/n0 (n1, n0: trailers labelled with and without it). The prior:
    ``share`` of the labels are wrong, W of them, half a genre added (spread evenly over the G genres), half a
    genre missing (spread as the genres are common). So a labelled (trailer, genre) is wrong with odds
    (W/2G)/n1 · f0/f1, and an unlabelled one with odds (W/2 · n1/Σn1)/n0 · f1/f0. The prior sets the scale of
    these probabilities, not their order (estimating the share from the collection itself, by EM, gave 0.3–5 %
    on planted collections with 4.7 %).
    """
    q = calibrated(y, probs)
    n1 = np.maximum(y.sum(0), 1).astype(np.float64)  # (G,)
    n0 = np.maximum(len(y) - y.sum(0), 1).astype(np.float64)
    wrong = share * float(y.sum())  # W
    odds = np.where(y == 1, wrong / (2 * y.shape[1] * n1) * (1 - q) / q * n1 / n0,
                    wrong * n1 / (2 * n1.sum() * n0) * q / (1 - q) * n0 / n1)  # (N, G)
    return odds / (1 + odds)


def fit_probe(ids: list[str], features: Callable[[], np.ndarray], y: np.ndarray, genres: list[str],
              cfg: LabelCheckConfig, previous: ProbeFit | None = None) -> ProbeFit:
    """The probe's out-of-fold probabilities of ``ids`` for ``genres`` (labels ``y``: (N, G)).

    ``previous``: the fit of an earlier check of the same trailers' same features, made before review decisions
    changed some labels. Its tuned setting is kept; when the scored trailers are the same (no trailer lost its
    last genre or got its first), so are its features and folds, and a genre whose labels did not change keeps
    its probabilities: only the others are fitted again.
    """
    same = previous is not None and previous.ids == ids
    x = previous.x if same else project(features(), cfg)
    fold = previous.fold if same else fold_assignment(len(x), cfg.folds, cfg.seed)  # (N,)
    kept = {c: previous.column(g, y[:, c]) for c, g in enumerate(genres)} if same else {}
    kept = {c: j for c, j in kept.items() if j is not None}  # column here → column in ``previous``
    todo = [c for c in range(len(genres)) if c not in kept]
    probs = np.zeros(y.shape)
    for c, j in kept.items():
        probs[:, c] = previous.probs[:, j]
    setting = previous.setting if previous is not None else tuned_setting(x, y, fold, genres, cfg)
    if todo:
        probs[:, todo] = fold_probs(x, y[:, todo], fold, setting, cfg)
    return ProbeFit(list(ids), x, fold, setting, list(genres), y, probs, [genres[c] for c in todo])


def out_of_fold(x: np.ndarray, y: np.ndarray, genres: list[str], cfg: LabelCheckConfig) -> np.ndarray:
    """(N, G) probabilities of each trailer from a probe fitted on the folds it is not in."""
    return fit_probe([str(i) for i in range(len(x))], lambda: x, y, genres, cfg).probs


def collection_findings(coll: Collection, cfg: LabelCheckConfig) -> tuple[list[Finding], list[str]]:
    """Findings about the label vocabulary, and the genres worth scoring."""
    out = []
    count: dict[str, int] = {}
    for tid in coll.ids:
        for g in coll.genres.get(tid, []):
            count[g] = count.get(g, 0) + 1
        if not coll.genres.get(tid):
            out.append(Finding("labels", "warning", "no genres", [tid], {}, "add its genres (`mmx labels`), or training "
                               "leaves it out", score=1.0))
    scored = []
    for g in sorted(count):
        if g.strip().lower() in PLACEHOLDERS:
            out.append(Finding("labels", "warning", "placeholder genre", [], {"trailers": count[g]},
                               f"'{g}' is not a genre: drop it from the labels, or give those trailers their genres",
                               genre=g, score=1.0))
        elif count[g] < cfg.min_positives:
            out.append(Finding("labels", "info", "too few positives", [], {"trailers": count[g], "min": cfg.min_positives},
                               f"'{g}' is too rare to learn or to check: merge it into a broader genre or collect more",
                               genre=g, score=0.5))
        else:
            scored.append(g)
    return out, scored


def label_findings(coll: Collection, cfg: LabelCheckConfig = LabelCheckConfig(), given: OutOfFold | None = None,
                   previous: ProbeFit | None = None) -> tuple[list[Finding], ProbeFit | None]:
    """Collection-wide label findings, then every (trailer, genre) whose label is wrong with probability at least
    ``min_wrong`` (``wrong_labels``), most certain first; scored on ``given`` out-of-fold probabilities, or the
    probe's (refitting only what the labels changed since ``previous``, see ``fit_probe``). Also the probe's fit
    (None with ``given``, or when there is too little to score)."""
    out, genres = collection_findings(coll, cfg)
    ids = labelled_ids(coll)
    if len(genres) < 2 or len(ids) < cfg.folds * 2:
        return out, None
    y = np.array([[g in coll.genres[t] for g in genres] for t in ids], dtype=int)  # (N, G)
    fit = None
    if given is None:
        fit = fit_probe(ids, lambda: collection_features(coll, ids, cfg), y, genres, cfg, previous)
        probs, model = fit.probs, f"probe ({cfg.folds}-fold out-of-fold)"
    else:
        probs, model = given.columns(ids, genres), given.model
    wrong = wrong_labels(y, probs, cfg.prior_share)
    rows, cols = np.nonzero(wrong >= cfg.min_wrong)
    for r, c in sorted(zip(rows, cols), key=lambda rc: -wrong[rc]):
        tid, g, labelled = ids[r], genres[c], bool(y[r, c])
        what = (f"{'' if labelled else 'not '}labelled '{g}' but the {model} gives it {probs[r, c]:.2f}: "
                f"wrong with probability {wrong[r, c]:.2f}; check whether it is one")
        out.append(Finding("labels", "warning", "label to review", [tid],
                           {"given": labelled, "probability": round(float(probs[r, c]), 4),
                            "wrong": round(float(wrong[r, c]), 4), "model": model},
                           what + " (`mmx labels` to fix)", genre=g, score=round(float(wrong[r, c]), 4)))
    return out, fit
