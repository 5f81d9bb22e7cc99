"""The network as a whole: shapes for every preset and fusion, embeddings that depend only on a trailer's own
windows, missing experts, the pooled and scene paths against their definitions."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from mmx.config import ModelConfig
from mmx.data.dataset import evenly_spaced
from mmx.errors import ConfigError
from mmx.inputs import Batch, ExpertInfo
from mmx.model import FUSIONS, MODELS, create_model

torch.set_num_threads(1)


EXPERTS = {"appearance": ExpertInfo(10), "motion": ExpertInfo(7), "audio": ExpertInfo(5, level="window")}


def _batch(cfg: ModelConfig, B: int = 2, V: int = 1, clips: int = 12, seed: int = 0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    C = B * clips
    windows = torch.randint(0, clips, (B, V, cfg.n_seqs, cfg.seq_len), generator=g)
    windows += (torch.arange(B) * clips).view(B, 1, 1, 1)
    W = 3 * C
    return Batch(
        ids=[f"t{i}" for i in range(B)],
        feats={
            "appearance": torch.randn(C, 10, generator=g),
            "motion": torch.randn(C, 7, generator=g),
            "audio": torch.randn(W, 5, generator=g),
        },
        window_clip={"audio": torch.arange(W) // 3},
        avail=torch.ones(C, 3, dtype=torch.bool),
        windows=windows,
        labels=torch.zeros(B, 4),
    )


def _tiny_model(**options) -> tuple[ModelConfig, torch.nn.Module]:
    """The tiny preset with ``options``, and its network for ``EXPERTS`` and 4 genres, in eval mode."""
    cfg = dataclasses.replace(MODELS.create("tiny"), **options)
    return cfg, create_model(EXPERTS, 4, cfg).eval()


@pytest.mark.parametrize("preset", MODELS.names())
@pytest.mark.parametrize("fusion", FUSIONS.names())
def test_shapes_for_every_preset_and_fusion(preset, fusion):
    cfg = dataclasses.replace(MODELS.create(preset), fusion=fusion)
    model = create_model(EXPERTS, 4, cfg).eval()
    batch = _batch(cfg, B=2, V=2)
    with torch.no_grad():
        clips = model.clip_vectors(batch)
        emb = model.embed(batch)
        logits = model(batch)
    assert clips.shape == (24, cfg.clip_dim)
    torch.testing.assert_close(clips.norm(dim=-1), torch.ones(24))
    assert emb.shape == (2, 2, cfg.embed_dim)
    assert logits.shape == (2, 4)
    assert torch.isfinite(logits).all()


def test_embedding_depends_only_on_own_windows_and_sequence_order():
    cfg, model = _tiny_model()
    batch = _batch(cfg, B=2)
    with torch.no_grad():
        base = model.embed(batch)
        # trailer 1's clips changed: trailer 0's embedding must not move
        changed = dataclasses.replace(batch, feats={k: v.clone() for k, v in batch.feats.items()})
        changed.feats["appearance"][12:] += 5.0
        torch.testing.assert_close(model.embed(changed)[0], base[0])
        assert not torch.allclose(model.embed(changed)[1], base[1])
        # concatenated sequences are ordered: reversing them changes the embedding
        rev = dataclasses.replace(batch, windows=batch.windows.flip(2))
        assert not torch.allclose(model.embed(rev), base)


def test_missing_expert_values_do_not_matter_in_the_full_model():
    cfg, model = _tiny_model()
    batch = _batch(cfg, B=2)
    batch.avail[:12, 1] = False  # trailer 0 has no motion
    other = dataclasses.replace(batch, feats={k: v.clone() for k, v in batch.feats.items()})
    other.feats["motion"][:12] = torch.randn(12, 7) * 50
    with torch.no_grad():
        torch.testing.assert_close(model(other), model(batch))


def test_single_expert_skips_gating():
    cfg = MODELS.create("tiny")
    model = create_model({"appearance": ExpertInfo(10)}, 4, cfg)
    psi = torch.randn(3, 1, cfg.expert_dim)
    assert torch.equal(model.fusion.gating(psi, torch.ones(3, 1, dtype=torch.bool)), psi)


def test_unknown_fusion_and_pool_are_rejected():
    with pytest.raises(ConfigError, match="unknown fusion"):
        create_model(EXPERTS, 4, "tiny", fusion="attention")
    with pytest.raises(ValueError, match="sequence_pool"):
        create_model(EXPERTS, 4, "tiny", sequence_pool="max")


def test_pooled_path_sees_what_the_probe_sees(small_store):
    """With evenly spaced windows over every clip, the pooled path's input is the probe's features."""
    from mmx.data.loader import make_loader
    from mmx.probe import pooled_features
    from mmx.run import RunInfo

    ids = sorted(small_store.entries())[:10]
    experts = dict(sorted(small_store.experts.items()))
    info = RunInfo(kind="coarse", store=str(small_store.root), experts={n: vars(i) for n, i in experts.items()},
                   genres=["Action", "Drama"], splits={"train": ids, "val": [], "test": []})
    cfg = dataclasses.replace(MODELS.create("tiny"), pooled_path=True, n_seqs=40, seq_len=3)
    model = create_model(experts, 2, cfg)
    batch = next(iter(make_loader(small_store, info.reading, ids, 10, evenly_spaced(cfg.n_seqs, cfg.seq_len))))
    pooled = model.pooled.pool(batch)[:, 0].numpy()  # (B, F)
    np.testing.assert_allclose(pooled, pooled_features(small_store, batch.ids, list(experts)), rtol=1e-5, atol=1e-5)


def test_pooled_path_is_per_view_and_batch_independent():
    cfg, model = _tiny_model(pooled_path=True)
    batch = _batch(cfg, B=2, V=2)
    with torch.no_grad():
        both = model.embed(batch)
        one = model.embed(dataclasses.replace(batch, windows=batch.windows[:1], ids=batch.ids[:1], labels=batch.labels[:1]))
    torch.testing.assert_close(one[0], both[0])
    pooled = model.pooled.pool(batch)
    assert not torch.allclose(pooled[:, 0], pooled[:, 1])  # the two views cover different clips
    model.train()
    single = dataclasses.replace(batch, windows=batch.windows[:1, :1], ids=batch.ids[:1], labels=batch.labels[:1])
    assert torch.isfinite(model(single)).all()  # a batch of one trailer trains (running statistics)


def test_scene_path_is_the_log_mean_exp_of_the_clips_each_view_covers():
    cfg, model = _tiny_model(scene_path=True)
    batch = _batch(cfg, B=2, V=2)
    with torch.no_grad():
        clips = model.clip_vectors(batch)
        per_clip = model.scenes.clip_logits(clips).double()  # (C, G)
        parts = model.logit_parts(batch)
        stacked = model.path_logits(batch)
    pooled = parts["scenes"]  # (B, V, G)
    for b in range(2):
        for v in range(2):
            own = per_clip[batch.windows[b, v].flatten().unique()]  # each covered clip once
            reference = torch.log(torch.exp(own).mean(0))
            torch.testing.assert_close(pooled[b, v].double(), reference, rtol=1e-5, atol=1e-5)
            assert (own.mean(0) <= reference + 1e-6).all() and (reference <= own.max(0).values + 1e-6).all()
    torch.testing.assert_close(model.logits(batch), parts["head"] + parts["scenes"])
    torch.testing.assert_close(stacked, torch.stack([(parts["head"] + parts["scenes"])[:, 0], parts["head"][:, 0], pooled[:, 0]]))
    torch.testing.assert_close(stacked[0], model(batch))


def test_scene_path_is_per_trailer_and_ignores_missing_experts():
    cfg, model = _tiny_model(scene_path=True)
    batch = _batch(cfg, B=2)
    batch.avail[:12, 1] = False  # trailer 0 has no motion
    other = dataclasses.replace(batch, feats={k: v.clone() for k, v in batch.feats.items()})
    other.feats["motion"][:12] = torch.randn(12, 7) * 50
    other.feats["appearance"][12:] += 5.0  # trailer 1 changed
    with torch.no_grad():
        base, moved = model(batch), model(other)
    torch.testing.assert_close(moved[0], base[0])
    assert not torch.allclose(moved[1], base[1])
