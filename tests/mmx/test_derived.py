"""The table of a run's derived files: what is stale, and each file brought up to date after trailers join."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from helpers import make_coarse_run, make_embeddings_run
from mmx import artifacts
from mmx.data.vectors import read_npz, write_npz
from mmx.derived import DERIVED, bring_up_to_date, stale_files
from mmx.embeddings import embed_ids, embed_run
from mmx.index import IndexConfig, build_index, build_run_index, has_faiss, index_paths, read_record, save_index
from mmx.run import Run
from mmx.scenes.compute import compute_scenes
from mmx.scenes.scene_set import SceneSet, load_scenes, write_scenes


@pytest.fixture(scope="module")
def made(small_store, tmp_path_factory):
    """A tiny coarse run with every derived file: embeddings, an exact index (with FAISS), scenes."""
    root = tmp_path_factory.mktemp("derived") / "run"
    make_coarse_run(small_store, root)
    embed_run(root)
    if has_faiss():
        build_run_index(root, IndexConfig(kind="exact"))
    compute_scenes(Run.open(root))
    return root


@pytest.fixture
def run_copy(made, tmp_path):
    root = tmp_path / "run"
    shutil.copytree(made, root)
    return Run.open(root)


def without(run, tid: str) -> None:
    """Drop one trailer from the run's embeddings, index and scenes, as if it had joined the store since."""
    ids, vectors = read_npz(run.dir.embeddings_path)
    keep = [i for i, t in enumerate(ids) if t != tid]
    write_npz(run.dir.embeddings_path, [ids[i] for i in keep], vectors[keep])
    if has_faiss():  # the index of those embeddings, as `mmx index` builds it
        cfg = IndexConfig(kind="exact")
        save_index(build_index(vectors[keep], cfg), cfg, *index_paths(run, "exact"), {"ids": [ids[i] for i in keep]})
    scenes = load_scenes(run.root)
    write_scenes(run.root, SceneSet.from_parts({t: scenes._part(t) for t in scenes.trailer_ids if t != tid}))
    run.forget(models=False)


def test_every_derived_entry_is_a_derived_artifact():
    names = [d.name for d in DERIVED]
    assert len(set(names)) == len(names)
    assert all(artifacts.ARTIFACTS[n].derived for n in names)
    # embeddings come first: the trailer indexes and the map are extended with the vectors they made
    assert names.index(artifacts.EMBEDDINGS) < min(names.index(artifacts.INDEX), names.index(artifacts.LAYOUT))


def test_a_fresh_run_has_nothing_stale(made, tmp_path):
    assert stale_files(Run.open(made)) == []
    assert stale_files(Run.open(make_embeddings_run(tmp_path / "imported"))) == []  # imported: nothing is derived


def test_a_trailer_that_joined_is_added_to_every_derived_file(run_copy):
    tid = sorted(run_copy.store.entries())[3]
    without(run_copy, tid)
    assert any("holds" in why for why in stale_files(run_copy))  # one trailer short of the store

    done = bring_up_to_date(run_copy, [tid])
    assert done.stale == []
    assert str(run_copy.dir.embeddings_path) in done.updated and str(run_copy.root / artifacts.SCENES) in done.updated
    assert stale_files(run_copy) == []
    ids, vectors = read_npz(run_copy.dir.embeddings_path)
    assert ids == sorted(run_copy.store.entries())
    again = embed_ids(run_copy.model(), run_copy.store, run_copy.info, [tid], 8, run_copy.precision)[0]
    np.testing.assert_allclose(vectors[ids.index(tid)], again, atol=1e-5 * np.abs(again).max())
    assert tid in load_scenes(run_copy.root).trailer_ids
    if has_faiss():
        record = read_record(run_copy.root / artifacts.INDEX_RECORD.format(kind="exact"), "")
        assert sorted(record["ids"]) == ids


def test_files_older_than_the_weights_are_left_and_named_with_their_command(run_copy):
    tid = sorted(run_copy.store.entries())[5]
    without(run_copy, tid)
    best = run_copy.root / artifacts.BEST
    later = run_copy.dir.embeddings_path.stat().st_mtime_ns + 10**9
    os.utime(best, ns=(later, later))  # the weights changed after the embeddings and scenes were made
    stale = stale_files(run_copy)
    assert any("mmx embed" in why for why in stale) and any("mmx scenes" in why for why in stale)

    before = read_npz(run_copy.dir.embeddings_path)[0]
    done = bring_up_to_date(run_copy, [tid])
    assert done.updated == [] and len(done.stale) >= 2
    assert read_npz(run_copy.dir.embeddings_path)[0] == before  # left as it was
