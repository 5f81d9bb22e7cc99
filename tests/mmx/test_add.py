"""Trailers joining a trained run: a trailer written into the store joins the embeddings of the run and of the
coarse run it was fine-tuned from (they share the store); additions to a run take its lock one at a time; a run
without a network, or a video that is not there, is refused with what to do."""

from __future__ import annotations

import fcntl

import pytest

from helpers import fine_cfg, make_embeddings_run, tiny_cfg
from mmx import artifacts
from mmx.add import add_videos, exclusive, extracted_apart, model_run, refresh_added
from mmx.data.importer import import_folder
from mmx.data.store import FeatureStore
from mmx.data.vectors import read_npz
from mmx.embeddings import embed_run
from mmx.errors import InputError, RunError
from mmx.progress import QUIET
from mmx.run import Run
from mmx.synthetic.features import SyntheticConfig, generate
from mmx.train.coarse import train
from mmx.train.finetune import finetune

DIMS = {"appearance": 8, "audio": 4}
SNR = {"appearance": 1.5, "audio": 1.0}


@pytest.mark.slow
def test_a_trailer_written_into_the_store_joins_the_fine_run_and_its_coarse_parent(tmp_path):
    store = FeatureStore.create(tmp_path / "store")
    import_folder(generate(tmp_path / "a", SyntheticConfig(n_trailers=40, seed=1, clips=(10, 16), dims=DIMS,
                                                           snr=SNR)), store)
    train(store, tmp_path / "coarse", tiny_cfg(1), reporter=QUIET)
    finetune(tmp_path / "coarse", tmp_path / "fine", fine_cfg(1), reporter=QUIET)
    for root in ("coarse", "fine"):
        embed_run(tmp_path / root)
    new = generate(tmp_path / "b", SyntheticConfig(n_trailers=2, seed=2, clips=(10, 16), dims=DIMS, snr=SNR,
                                                   id_prefix="new", short_fraction=0.0))
    assert import_folder(new, FeatureStore(store.root)).imported == ["new0000", "new0001"]

    report = refresh_added(model_run(tmp_path / "fine"), ["new0000", "new0001"])
    assert report.added == ["new0000", "new0001"] and report.stale == []
    for root in ("coarse", "fine"):
        path = tmp_path / root / artifacts.EMBEDDINGS
        assert str(path) in report.updated
        ids, _ = read_npz(path)
        assert ids == sorted(FeatureStore(store.root).entries())  # every trailer, the two new ones too
    assert refresh_added(model_run(tmp_path / "fine"), []).updated == []  # nothing joined: nothing touched


def test_additions_to_a_run_take_its_lock_one_at_a_time(tmp_path):
    run = Run.open(make_embeddings_run(tmp_path / "run", n=20))
    with exclusive(run):
        with open(run.root / artifacts.INGEST_LOCK, "a") as other:  # what another server's addition would open
            with pytest.raises(BlockingIOError):
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    with open(run.root / artifacts.INGEST_LOCK, "a") as other:  # released when the block ends
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_a_run_without_a_network_or_a_missing_video_is_refused(trained, tmp_path):
    emb = make_embeddings_run(tmp_path / "emb", n=20)
    with pytest.raises(RunError, match="holds imported embeddings without a network or a feature store"):
        add_videos(emb, [tmp_path / "v.mp4"])
    with pytest.raises(InputError, match="video .*missing.mp4 does not exist"):
        with extracted_apart(trained, tmp_path / "missing.mp4"):
            pass
