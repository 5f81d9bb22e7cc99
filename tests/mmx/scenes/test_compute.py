"""A run's scenes computed: every clip of every trailer in its store is a scene, with the network's clip vector and
the clip's seconds, written with its index and read back the same; trailers added later join without changing the
others; a run of imported embeddings has no scenes and says so."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from helpers import make_embeddings_run
from mmx.errors import RunError
from mmx.index import has_faiss
from mmx.run import Run
from mmx.scenes.compute import add_scenes, clip_vectors, compute_scenes
from mmx.scenes.scene_set import load_scenes


def test_every_clip_is_a_scene_with_the_networks_vector_and_seconds(trained, tmp_path):
    root = tmp_path / "run"
    shutil.copytree(trained, root)
    run = Run.open(root)
    scenes = compute_scenes(run)
    ids = sorted(run.store.entries())
    assert scenes.trailer_ids == ids and len(scenes) == sum(run.store.meta(t).n_clips for t in ids)
    direct = clip_vectors(run.model(), run.store, run.info, ids[:3], batch_size=2, precision=run.precision)
    for tid in ids[:3]:  # in batches of another size, the same vectors
        rows = scenes.rows_of(tid)
        want = direct[tid] / np.linalg.norm(direct[tid], axis=1, keepdims=True)
        np.testing.assert_allclose(scenes.vectors[rows.start:rows.stop], want, atol=1e-4)
        times = run.store.load_clip_times(tid)
        np.testing.assert_allclose(np.c_[scenes.start[rows.start:rows.stop], scenes.end[rows.start:rows.stop]], times)
    again = load_scenes(root)
    assert again.trailer_ids == ids and np.array_equal(again.vectors, scenes.vectors)
    assert (root / "scenes.faiss").exists() == has_faiss()  # its index, when FAISS is installed

    added = add_scenes(run, [ids[0]])  # brought in again: replaced, nothing else moves
    assert added.trailer_ids == ids and len(added) == len(scenes)
    np.testing.assert_allclose(added.vectors, scenes.vectors, atol=1e-5)


def test_a_run_of_imported_embeddings_has_no_scenes(tmp_path):
    run = Run.open(make_embeddings_run(tmp_path / "emb", n=20))
    with pytest.raises(RunError, match="holds imported trailer embeddings: no network and no feature store"):
        compute_scenes(run)
