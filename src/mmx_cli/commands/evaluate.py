"""``mmx evaluate --run RUN``: the metrics of Tbl. 2 for the model, random scores and a linear probe."""

from __future__ import annotations

import argparse

from mmx.config import METRIC_KEYS
from mmx_cli.common import print_json, reporter, table


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="evaluate a run on a split (Tbl. 2 metrics)")
    p.add_argument("--run", required=True, help="run folder")
    p.add_argument("--split", help="train, val, test or all (default: test; all with --retrieval)")
    p.add_argument("--threshold", type=float, help="sigmoid threshold for P/R/F1 (default: the run's, 0.3)")
    p.add_argument("--no-probe", action="store_true", help="skip the linear-probe row")
    p.add_argument("--protocol", choices=["trailers12k", "movienet"],
                   help="the metrics exactly as an anchor computes them: trailers12k (DIViTA's µAP/mAP/wAP/sAP, "
                   "trapezoid rule, ×100) or movienet (Sulun et al.'s scikit-learn macro/micro AP, ×100)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--retrieval", action="store_true",
        help="retrieval metrics instead: genre precision@k, mean average precision (genre overlap as "
        "relevance) and silhouette; queries from --split, searched among all labelled trailers of the run",
    )
    p.add_argument("-k", type=int, default=10, help="k of precision@k with --retrieval or --scenes (default 10)")
    p.add_argument("--scenes", action="store_true", help="scene retrieval instead: precision@k by shot genre of the "
                   "run's scene vectors, the raw appearance features and random, on a corpus with known shot genres")
    p.add_argument("--truth", metavar="FILE", help="with --scenes: the corpus's truth.json (default: beside the "
                   "videos the store was extracted from)")
    p.set_defaults(func=run)


def metric_rows(result: dict) -> list[tuple[str, dict]]:
    rows = [("Random", result["random"])]
    if "probe" in result:
        rows.append(("Linear probe (tuned)", result["probe"]))
    rows.append(("MMX", result))
    return rows


def print_tables(result: dict) -> None:
    from mmx.metrics import SHORT_NAMES

    rows = metric_rows(result)
    genres = list(result["per_genre"])
    print(f"split {result['split']}: {result['n']} trailers, threshold {result['threshold']}")
    leaks = result.get("leaks")
    if leaks and leaks["pairs"]:
        print(f"warning: {leaks['pairs']} near-duplicate pair(s) cross into this split from another, touching "
              f"{leaks['trailers']} of its trailers; the scores below are inflated (`mmx check RUN --only leaks`)")
    print(table(["model"] + [SHORT_NAMES[k] for k in METRIC_KEYS], [[name] + [m[k] for k in METRIC_KEYS] for name, m in rows]))
    print()
    per = [["Support"] + [result["per_genre"][g]["support"] for g in genres]]
    per += [[name] + [m["per_genre"][g]["auprc"] for g in genres] for name, m in rows]
    print("per-genre AUPRC")
    print(table(["model"] + [g[:6] for g in genres], per))
    if "verdict" in result:
        probe = result["probe"]
        print()
        print(f"verdict: {result['verdict']} [probe: C {probe['C']:g}, {probe['scaling']} features, tuned on val]")


def print_retrieval(result: dict) -> None:
    columns = [(result["kind"], result)]
    if "coarse" in result:
        columns = [("coarse", result["coarse"]), ("fine", result)]
    k = result["k"]
    print(f"retrieval, split {result['split']}: {result['n_queries']} queries among {result['n_gallery']} trailers")
    keys = [(f"precision_at_{k}", f"precision@{k}"), ("map", "mAP"), ("silhouette", "silhouette")]
    rows = [[label] + [r[key] for _, r in columns] for key, label in keys]
    print(table(["metric"] + [name for name, _ in columns], rows))


def print_protocol(result: dict) -> None:
    from mmx.metrics import PROTOCOL_KEYS

    keys = PROTOCOL_KEYS[result["protocol"]]
    print(f"{result['protocol']} protocol, split {result['split']}: {result['n']} trailers (×100)")
    print(table(["model"] + keys, [[name] + [r[k] for k in keys] for name, r in (("Random", result["random"]),
                                                                              ("MMX", result))]))


def run(args: argparse.Namespace) -> int:
    from mmx.embeddings import ensure_embeddings
    from mmx.errors import RunError
    from mmx.inference import evaluate_run
    from mmx.retrieval import evaluate_retrieval
    from mmx.run import ModelRun, Run

    run = Run.open(args.run)
    if args.scenes:
        from mmx_cli.commands.scenes import evaluate_scenes_command

        return evaluate_scenes_command(run, args)
    if args.retrieval:
        ensure_embeddings(run, reporter(args))
        if isinstance(run, ModelRun) and run.parent is not None:
            ensure_embeddings(run.parent, reporter(args))
        result = evaluate_retrieval(run, args.split or "all", args.k)
        if args.json:
            print_json(result)
        else:
            print_retrieval(result)
        return 0
    if not isinstance(run, ModelRun):
        raise RunError(f"{run.root} holds imported embeddings without a network; evaluate it with --retrieval")
    if args.protocol:
        from mmx.inference import evaluate_protocol

        result = evaluate_protocol(run, args.protocol, args.split or "test")
        if args.json:
            print_json(result)
        else:
            print_protocol(result)
        return 0
    result = evaluate_run(run, args.split or "test", args.threshold, probe=not args.no_probe)
    if args.json:
        print_json(result)
    else:
        print_tables(result)
    return 0
