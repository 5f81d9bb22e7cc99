"""Label issues per (trailer, genre), placeholder genres, genres too rare to learn, trailers without genres.

Which genre of a trailer is wrong is judged from out-of-fold probabilities: the collection is cut
into ``folds`` parts, and each part's genre probabilities come from the linear probe of
``mmx.probe`` (mean-pooled expert features, or the trailer vectors of imported embeddings) fitted
on the other parts — so no trailer is scored by a probe that saw its own labels. The probe's
setting (C, scaling) is tuned once, on the first fold held out; features wider than ``max_dims``
are first projected on their principal components (fitted without labels). Those probabilities go to
``cleanlab``'s multi-label functions (confident learning per genre: Northcutt et al., JAIR 2021),
which say per (trailer, genre) whether the given label is likely wrong and how sure they are.

The caller may bring its own out-of-fold probabilities instead (``OutOfFold``): ``mmx check RUN
--network-folds K`` cross-fits the run's network (``mmx.train.crossfit``, writing side) and passes them
in; every finding names the model that gave its probability ("probe, 5-fold out-of-fold").

A re-check after review decisions (the explorer's) brings the previous check's ``ProbeFit``: the same
trailers and features, some labels changed. Its projection, folds and tuned setting are kept, and
only the genres whose labels changed are fitted again and scored again by cleanlab (each genre's
logistic regression and cleanlab's per-genre filter read only that genre's column), so the
probabilities are those a fit from scratch with that setting gives: the 5 s label check of the
7,594 real trailers becomes 0.3–0.4 s after a decision on one genre (docs: notes of issue 22).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from sklearn.decomposition import PCA

from mmx.errors import MmxError
from mmx.genres import PLACEHOLDERS
from mmx.health import Collection, Finding
from mmx.probe import ProbeConfig, ProbeSetting, linear_probe, pooled_features, tune_probe


@dataclass(frozen=True)
class LabelCheckConfig:
    folds: int = 5  # cross-fitting folds of the out-of-fold probabilities
    min_positives: int = 10  # a genre with fewer labelled trailers is too rare to learn (and is not scored)
    seed: int = 0  # fold assignment and probe fits
    max_dims: int = 128  # wider features are first projected on their top principal components (a 1,024-d
    # probe on 7,594 real trailers took 13 min on 2 busy cores; 128 components make it minutes) …
    trailers_per_dim: int = 4  # … and features wider than there are trailers projected on at most one component
    # per this many trailers: on the demo's 120 trailers, 120 components let the probe fit its folds' labels
    # perfectly and predict nothing (AP 0.19, 142 clean labels "to review"); 30 give AP 0.93 and none
    max_quality: float = 0.1  # report a (trailer, genre) cleanlab flags only when its label quality (the out-of-fold
    # probability of the label as given) is below this: cleanlab's own filter flags every doubtful one (124 on the
    # clean demo's 120 trailers, 7,414 on the real ones), far more than a curator can read
    network_max_quality: float = 0.2  # the same for a cross-fitted network's probabilities (``OutOfFold``): trained
    # with weighted BCE (positive weights), it lifts every positive's probability; on tests/test_health.py's planted
    # store (tiny network, 3 folds) the two lowest label qualities are planted flips at 0.15 and 0.16 and the clean
    # positives start at 0.23, so 0.1 reported none; on three planted 600-trailer collections (bench/health.py
    # --network-folds 3) 0.2 gives precision 0.10 / recall 0.47, 0.1 gives 0.17 / 0.34 (the probe at 0.1: 0.11 / 0.53)
    # the probe's grid reaches weaker regularisation than mmx.probe's default: on the hard demo's 30 components C ≤ 1
    # shrank every probability towards the prior (AP 0.81, none of 8 planted wrong labels under max_quality);
    # up to 100: AP 0.87, 3 of 8 found among 7 flagged, still none on the clean demo
    probe: ProbeConfig = field(default_factory=lambda: ProbeConfig(C=[0.1, 1.0, 10.0, 100.0], scalings=["standard"],
                                                                   max_iter=500))


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


def collection_features(coll: Collection, ids: list[str]) -> np.ndarray:
    """(N, D): mean-pooled expert features of a store, or the trailer vectors of imported embeddings."""
    if coll.store is not None:
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
    quality: np.ndarray  # (N, G) cleanlab's label quality of each (trailer, genre): low = likely wrong
    flagged: np.ndarray  # (N, G) bool: cleanlab's filter calls the label an issue (before ``max_quality``)
    fitted: list[str]  # the genres this fit made anew (every one on a first check)

    def column(self, genre: str, y: np.ndarray) -> int | None:
        """The column of ``genre`` when it was fitted on the labels ``y`` ((N,), same trailers), else None."""
        j = self.genres.index(genre) if genre in self.genres else None
        return j if j is not None and np.array_equal(self.y[:, j], y) else None


def project(x: np.ndarray, cfg: LabelCheckConfig) -> np.ndarray:
    """(N, D') the features the probe reads: wider ones projected on their top principal components."""
    if x.shape[1] > min(cfg.max_dims, len(x)):  # unsupervised, so fitting it on every trailer leaks no label
        dims = max(1, min(cfg.max_dims, len(x) // cfg.trailers_per_dim))
        x = (x - x.mean(0)) / (x.std(0) + 1e-6)  # every feature alike (the experts' scales differ)
        x = PCA(dims, random_state=cfg.seed).fit_transform(x)
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


def label_scores(y: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, G) cleanlab's label quality and (N, G) bool its per-genre filter, of labels ``y`` under ``probs``."""
    from cleanlab.multilabel_classification.filter import find_multilabel_issues_per_class
    from cleanlab.multilabel_classification.rank import get_label_quality_scores_per_class

    labels = [list(np.flatnonzero(row)) for row in y]
    # n_jobs=1: cleanlab's default forks a worker pool, which inside `mmx serve` inherited the server's listening
    # socket and signal handlers and never ended (the port outlived the server); one process is as fast here
    return (get_label_quality_scores_per_class(labels, probs),
            find_multilabel_issues_per_class(labels, probs, n_jobs=1))


def fit_probe(ids: list[str], features: Callable[[], np.ndarray], y: np.ndarray, genres: list[str],
              cfg: LabelCheckConfig, previous: ProbeFit | None = None) -> ProbeFit:
    """The probe's out-of-fold probabilities of ``ids`` for ``genres`` (labels ``y``: (N, G)), and their scores.

    ``previous``: the fit of an earlier check of the same trailers' same features, made before review decisions
    changed some labels. Its tuned setting is kept; when the scored trailers are the same (no trailer lost its
    last genre or got its first), so are its projection and folds, and a genre whose labels did not change keeps
    its probabilities and scores: only the others are fitted and scored again.
    """
    same = previous is not None and previous.ids == ids
    x = previous.x if same else project(features(), cfg)
    fold = previous.fold if same else fold_assignment(len(x), cfg.folds, cfg.seed)  # (N,)
    kept = {c: previous.column(g, y[:, c]) for c, g in enumerate(genres)} if same else {}
    kept = {c: j for c, j in kept.items() if j is not None}  # column here → column in ``previous``
    todo = [c for c in range(len(genres)) if c not in kept]
    probs, quality = np.zeros(y.shape), np.zeros(y.shape)
    flagged = np.zeros(y.shape, dtype=bool)
    for c, j in kept.items():
        probs[:, c], quality[:, c], flagged[:, c] = previous.probs[:, j], previous.quality[:, j], previous.flagged[:, j]
    setting = previous.setting if previous is not None else tuned_setting(x, y, fold, genres, cfg)
    if todo:
        probs[:, todo] = fold_probs(x, y[:, todo], fold, setting, cfg)
    if todo:
        quality[:, todo], flagged[:, todo] = label_scores(y[:, todo], probs[:, todo])
    return ProbeFit(list(ids), x, fold, setting, list(genres), y, probs, quality, flagged, [genres[c] for c in todo])


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
    """Collection-wide label findings, then every (trailer, genre) cleanlab flags with a label quality below
    ``max_quality``, most certain first; scored on ``given`` out-of-fold probabilities, or the probe's (refitting
    only what the labels changed since ``previous``, see ``fit_probe``). Also the probe's fit (None with ``given``,
    or when there is too little to score)."""
    out, genres = collection_findings(coll, cfg)
    ids = labelled_ids(coll)
    if len(genres) < 2 or len(ids) < cfg.folds * 2:
        return out, None
    y = np.array([[g in coll.genres[t] for g in genres] for t in ids], dtype=int)  # (N, G)
    fit = None
    if given is None:
        fit = fit_probe(ids, lambda: collection_features(coll, ids), y, genres, cfg, previous)
        probs, quality, flagged = fit.probs, fit.quality, fit.flagged
        model, max_quality = f"probe ({cfg.folds}-fold out-of-fold)", cfg.max_quality
    else:
        probs, model, max_quality = given.columns(ids, genres), given.model, cfg.network_max_quality
        quality, flagged = label_scores(y, probs)
    issues = flagged & (quality < max_quality)  # (N, G) bool
    for r, c in zip(*np.nonzero(issues)):
        tid, g, labelled = ids[r], genres[c], bool(y[r, c])
        what = (f"{'' if labelled else 'not '}labelled '{g}' but the {model} gives it {probs[r, c]:.2f}: "
                "check whether it is one")
        out.append(Finding("labels", "warning", "label to review", [tid],
                           {"given": labelled, "probability": round(float(probs[r, c]), 4),
                            "quality": round(float(quality[r, c]), 4), "model": model},
                           what + " (`mmx labels` to fix)", genre=g, score=round(1 - float(quality[r, c]), 4)))
    return out, fit
