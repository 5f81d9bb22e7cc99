"""``mmx embed --run RUN [--out FILE]``: the bottleneck (512-d by default, 2048-d with the paper's sizes) of every trailer, with ids."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "embed",
        help="write the trailer embeddings of a run (npz: trailer_id, embedding)",
        description="Embed every trailer of the run's store (all splits and unlabeled ones) with the run's "
        "network; for a fine run the projection head is not used. The npz holds trailer_id (N,) and "
        "embedding (N, D) float32.",
    )
    p.add_argument("--run", required=True, help="run folder (coarse, fine or imported embeddings)")
    p.add_argument("--out", help="npz file to write (default: RUN/embeddings.npz, the run's own)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mmx.data.vectors import read_npz
    from mmx.embeddings import embed_run

    path = embed_run(args.run, args.out)
    ids, vectors = read_npz(path)
    print(f"wrote {len(ids)} trailer embeddings of {vectors.shape[1]} dims → {path}")
    return 0
