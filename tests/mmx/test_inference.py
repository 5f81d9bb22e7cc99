"""Predictions of a trained run: a feature film read in chapters, its vector and genres the means over its chapters."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmx.config import load_config, merge
from mmx.data.dataset import chapters, evenly_spaced
from mmx.data.importer import import_folder
from mmx.data.loader import make_loader
from mmx.data.store import FeatureStore
from mmx.data.windows import chapter_count, chapter_span
from mmx.embeddings import embed_ids
from mmx.inference import predict_ids
from mmx.precision import autocast
from mmx.presets import MODELS
from mmx.progress import QUIET
from mmx.run import Run
from mmx.synthetic.features import SyntheticConfig, generate
from mmx.train.coarse import train


@pytest.fixture(scope="module")
def film_run(tmp_path_factory):
    """A tiny run (chapters of 30 clips) on trailers of 10–24 clips and one 'film' of 100 clips."""
    root = tmp_path_factory.mktemp("chapters")
    cfg = SyntheticConfig(n_trailers=30, seed=4, clips=(10, 24), dims={"appearance": 8, "audio": 4},
                          snr={"appearance": 1.5, "audio": 1.0})
    folder = generate(root / "features", cfg)
    film = SyntheticConfig(n_trailers=1, seed=5, clips=(100, 100), dims=cfg.dims, snr=cfg.snr, id_prefix="film",
                           short_fraction=0.0, no_audio_fraction=0.0)
    store = FeatureStore.create(root / "store")
    assert import_folder(folder, store).ok and import_folder(generate(root / "film", film), store).ok
    model = {**vars(MODELS.create("default")), **{k: v for k, v in vars(MODELS.create("tiny")).items()
                                                   if k in ("expert_dim", "gem_dim", "clip_dim", "seq_hidden",
                                                            "seq_dim", "bottleneck_hidden", "embed_dim",
                                                            "head_hidden", "netvlad_clusters")},
             "n_seqs": 4, "seq_len": 3, "chapter_clips": 30}
    base = load_config(overrides=["train.batch_size=8", "train.lr=3e-3", "train.threads=1"])
    train(store, root / "run", merge(base, {"model": model, "train": {"epochs": 2}}), reporter=QUIET)
    return Run.open(root / "run")


def test_film_vector_and_genres_are_the_means_over_its_chapters(film_run):
    run, store = film_run, film_run.store
    (film,) = [t for t in store.entries() if t.startswith("film")]
    short = next(t for t in store.entries() if not t.startswith("film"))
    model, cfg = run.model(), run.config.model
    assert chapter_count(100, cfg.chapter_clips) == 4
    views = chapters(4, cfg.n_seqs, cfg.seq_len)
    with torch.no_grad(), autocast("cpu", run.precision):  # the reference: each chapter alone, as a trailer of its own
        parts = [next(iter(make_loader(store, run.info.reading, [film], 1, [v]))) for v in views]  # windows, as the run reads
        emb = torch.stack([model.embed(b)[0, 0].float() for b in parts]).mean(0).numpy()
        probs = torch.stack([torch.sigmoid(model.logits(b)[0, 0].float()) for b in parts]).mean(0).numpy()
    got = embed_ids(model, store, run.info, [short, film], 4, run.precision)  # one chapter count, then the film
    np.testing.assert_allclose(got[1], emb, rtol=1e-5, atol=1e-6)
    got_probs, _ = predict_ids(run, [film, short])
    np.testing.assert_allclose(got_probs[0], probs, rtol=1e-5, atol=1e-6)
    lo, hi = chapter_span(100, 4, 3)  # the last chapter's windows lie inside it
    assert lo <= views[3](100, None).min() and views[3](100, None).max() < hi
    with torch.no_grad(), autocast("cpu", run.precision):  # shorter than a chapter: read as before, one evenly spaced view
        one = next(iter(make_loader(store, run.info.reading, [short], 1, evenly_spaced(cfg.n_seqs, cfg.seq_len))))
        np.testing.assert_allclose(got[0], model.embed(one)[0, 0].float().numpy(), rtol=1e-5, atol=1e-6)
