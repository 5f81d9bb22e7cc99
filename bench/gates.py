"""Does collaborative gating single out a broken expert, and what would it gain if it did?

On a cell of ``bench/quality.py`` whose experts are unreliable (one expert of 30 % of the trailers
replaced by noise with that expert's own per-dimension mean and sd; the generator's ``labels.csv``
says which), this trains ``cg`` (the default) and ``--fusion concat``, both with
``train.expert_dropout`` (so that a missing expert is something the network has seen), and
reports on the test split:

* ``gate_auroc`` (cg): per expert, how well a low gate — σ(T_e) of eq. 2 averaged over the
  trailer's clips and the D dimensions — picks the trailers where that expert is broken (0.5 = blind);
* ``as_is`` / ``oracle``: test AUPRC_w, and the same with every broken expert marked missing, as a
  perfect detector of broken experts would do: the most that detecting them could be worth;
* ``coherence_auroc``: the same question for a statistic of the raw features that needs no
  training — n · mean over dimensions of the squared trailer mean of the standardised features
  (about 1 for noise that is independent from clip to clip, more for features that follow a
  trailer) — to show whether the evidence is in the data.

    python bench/gates.py [--cell unreliable-600] [--seed 0] [--expert-dropout 0.2] [--jobs 2]

Data and runs go under ``--work`` (the collections are shared with bench/quality.py). The last
line of the output is JSON.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from _common import print_result  # noqa: E402  (bench/ is the script folder)
from quality import CELLS, build_store  # noqa: E402  (bench/ is the script folder)
from sklearn.metrics import roc_auc_score

from mmx.config import RunConfig, config_to_dict, merge
from mmx.data.store import FeatureStore


def broken_experts(store: FeatureStore) -> dict[str, str]:
    """Trailer → the expert the generator replaced by noise ("" for none)."""
    with open(store.root.parent / "features" / "labels.csv", newline="") as f:
        return {r["trailer_id"]: r["corrupted_expert"] for r in csv.DictReader(f)}


def auroc_low(scores: dict[str, float], broken: set[str]) -> float:
    """AUROC of "a low score means broken" over the trailers that have a score."""
    ids = list(scores)
    y = [t in broken for t in ids]
    return float(roc_auc_score(y, [-scores[t] for t in ids])) if any(y) and not all(y) else float("nan")


def coherence(store: FeatureStore, ids: list[str], expert: str) -> dict[str, float]:
    """Trailer → n · mean_d (mean over its clips of the standardised features)²  (≈ 1 for i.i.d. noise)."""
    feats = {t: np.asarray(x) for t in ids if (x := store.load(t, expert)) is not None}
    if not feats:
        return {}
    rows = np.concatenate(list(feats.values()))
    mean, sd = rows.mean(0), rows.std(0) + 1e-8
    return {t: float(len(x) * (((x - mean) / sd).mean(0) ** 2).mean()) for t, x in feats.items()}


def fit_and_probe(store_root: str, run_root: str, cfg_dict: dict, broken: dict[str, str]) -> dict:
    """Train one run (one thread); its test AUPRC_w as is and with broken experts masked; cg gate AUROCs."""
    import torch

    from mmx.config import config_from_dict
    from mmx.data.dataset import evenly_spaced
    from mmx.data.loader import make_loader
    from mmx.metrics import classification_metrics
    from mmx.run import Run
    from mmx.train.coarse import train

    torch.set_num_threads(1)
    cfg = config_from_dict(cfg_dict)
    shutil.rmtree(run_root, ignore_errors=True)
    t0 = time.time()
    train(FeatureStore(store_root), run_root, cfg, write_embeddings=False)
    run = Run.open(run_root)
    model, ids = run.model().eval(), run.info.splits["test"]
    names = model.expert_names
    gating = getattr(model.fusion, "gating", None)
    gates: dict[str, dict[str, float]] = {n: {} for n in names}
    scores: dict[bool, tuple[list, list]] = {False: ([], []), True: ([], [])}
    loader = make_loader(run.store, run.info.reading, ids, 32, evenly_spaced(cfg.model.n_seqs, cfg.model.seq_len))
    with torch.no_grad():
        for batch in loader:
            owner = batch.clip_trailers()  # (C,)
            if gating is not None:
                gate = torch.sigmoid(gating.attention(model.expert_vectors(batch), batch.avail)).mean(-1)  # (C, E)
                for b, tid in enumerate(batch.ids):
                    for e, name in enumerate(names):
                        mine = (owner == b) & batch.avail[:, e]
                        if mine.any():
                            gates[name][tid] = float(gate[mine, e].mean())
            masked = batch.avail.clone()
            for b, tid in enumerate(batch.ids):
                if broken.get(tid):
                    masked[owner == b, names.index(broken[tid])] = False
            for oracle, avail in ((False, batch.avail), (True, masked)):
                probs = torch.sigmoid(model.logits(dataclasses.replace(batch, avail=avail))[:, 0])
                scores[oracle][0].append(probs.numpy())
                scores[oracle][1].append(batch.labels.numpy())
    out = {"seconds": round(time.time() - t0, 1), "n_test": len(ids)}
    for oracle, (p, y) in scores.items():
        metrics = classification_metrics(np.concatenate(y), np.concatenate(p), run.info.genres)
        out["oracle" if oracle else "as_is"] = metrics["auprc_weighted"]
    if gating is not None:
        out["gate_auroc"] = {n: auroc_low(g, {t for t in g if broken.get(t) == n}) for n, g in gates.items()}
    run.forget()
    shutil.rmtree(run_root, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cell", default="unreliable-600", help=f"an unreliable cell ({', '.join(c for c in CELLS if CELLS[c].unreliable)})")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--expert-dropout", type=float, default=0.2, help="train.expert_dropout of both fits")
    p.add_argument("--test-extra", type=int, default=400, help="generated trailers added to the test split")
    p.add_argument("--jobs", type=int, default=2, help="fits in parallel (one torch thread each)")
    p.add_argument("--work", default="/tmp/mmx-bench-quality", help="collections (shared with bench/quality.py) and runs")
    args = p.parse_args(argv)
    if args.cell not in CELLS or not CELLS[args.cell].unreliable:
        p.error(f"--cell must be an unreliable cell of bench/quality.py, not {args.cell!r}")
    store = build_store(Path(args.work), CELLS[args.cell], args.seed, args.test_extra)
    broken = broken_experts(store)
    base = merge(RunConfig(), {"train": {"seed": args.seed, "threads": 1, "expert_dropout": args.expert_dropout}})
    configs = {"cg": base, "concat": merge(base, {"model": {"fusion": "concat"}})}
    t0 = time.time()
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=get_context("spawn")) as pool:
        futures = {
            name: pool.submit(fit_and_probe, str(store.root), str(Path(args.work) / "runs" / f"gates-{args.cell}-s{args.seed}-{name}"),
                              config_to_dict(cfg), broken)
            for name, cfg in configs.items()
        }
        fits = {name: f.result() for name, f in futures.items()}
    from mmx.train.coarse import prepare_run_info

    test = prepare_run_info(store, RunConfig()).splits["test"]
    experts = sorted(store.experts)
    stats = {e: coherence(store, test, e) for e in experts}
    coherence_auroc = {e: auroc_low(s, {t for t in s if broken.get(t) == e}) for e, s in stats.items()}
    n_broken = {e: sum(broken.get(t) == e for t in test) for e in experts}
    print(f"{args.cell} seed {args.seed}, {len(test)} test trailers, broken experts among them: {n_broken}")
    for name, r in fits.items():
        print(f"{name:<7} test AUPRC_w {r['as_is']:.3f} as is, {r['oracle']:.3f} with the broken experts masked "
              f"({r['oracle'] - r['as_is']:+.3f}), {r['seconds']:.0f} s")
    print(f"{'expert':<11} {'gate AUROC (cg)':>16} {'coherence AUROC':>16}")
    for e in experts:
        print(f"{e:<11} {fits['cg']['gate_auroc'].get(e, float('nan')):>16.3f} {coherence_auroc[e]:>16.3f}")
    print_result({"bench": "gates", "cell": args.cell, "seed": args.seed, "expert_dropout": args.expert_dropout,
                  "seconds": round(time.time() - t0, 1), "n_broken": n_broken, "fits": fits,
                  "coherence_auroc": coherence_auroc})
    return 0


if __name__ == "__main__":
    sys.exit(main())
