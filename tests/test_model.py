"""The network's maths: gating by hand and against a loop, masks, NetVLAD, shapes per preset."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from mmx.config import ModelConfig
from mmx.data.dataset import evenly_spaced
from mmx.errors import ConfigError
from mmx.inputs import Batch, ExpertInfo
from mmx.model import FUSIONS, MODELS, CollaborativeGating, create_model
from mmx.model.layers import Linear, NetVLAD, bucket_rows

torch.set_num_threads(1)


def test_gating_tiny_case_by_hand():
    # E=2 experts, D=1, one-layer g and h: g([a; b]) = 1·a + 2·b + 0.5, h(x) = x.
    cg = CollaborativeGating(n_experts=2, dim=1, g_layers=1, h_layers=1)
    with torch.no_grad():
        cg.g_left.weight.fill_(1.0)
        cg.g_left.bias.fill_(0.5)
        cg.g_right.weight.fill_(2.0)
        cg.h[0].weight.fill_(1.0)
        cg.h[0].bias.fill_(0.0)
    psi = torch.tensor([[[1.0], [3.0]]])  # (C=1, E=2, D=1)
    avail = torch.ones(1, 2, dtype=torch.bool)
    out = cg(psi, avail)
    # T_0 = g([1; 3]) = 1 + 6 + 0.5 = 7.5; T_1 = g([3; 1]) = 3 + 2 + 0.5 = 5.5
    expected = torch.tensor([[[1.0 * torch.sigmoid(torch.tensor(7.5))], [3.0 * torch.sigmoid(torch.tensor(5.5))]]])
    torch.testing.assert_close(out, expected)


def _reference_gating(cg: CollaborativeGating, psi: torch.Tensor, avail: torch.Tensor) -> torch.Tensor:
    """Eq. 1–2 as a plain loop, with g applied to the concatenation [ψ_e; ψ_f]."""
    W = torch.cat([cg.g_left.weight, cg.g_right.weight], dim=1)  # (D, 2D): g's first layer on [ψ_e; ψ_f]
    b = cg.g_left.bias
    C, E, D = psi.shape
    out = torch.empty_like(psi)
    for c in range(C):
        for e in range(E):
            total = torch.zeros(D)
            for f in range(E):
                if f == e or not avail[c, f]:
                    continue
                x = W @ torch.cat([psi[c, e], psi[c, f]]) + b
                if len(cg.g_rest):
                    x = cg.g_rest(torch.relu(x))
                total = total + x
            out[c, e] = psi[c, e] * torch.sigmoid(cg.h(total))
    return out


@pytest.mark.parametrize("E,g_layers,h_layers", [(2, 1, 1), (3, 2, 2), (4, 3, 1)])
def test_gating_matches_loop_over_pairs(E, g_layers, h_layers):
    torch.manual_seed(E)
    cg = CollaborativeGating(E, dim=5, g_layers=g_layers, h_layers=h_layers)
    psi = torch.randn(6, E, 5)
    avail = torch.rand(6, E) > 0.3
    with torch.no_grad():
        torch.testing.assert_close(cg(psi, avail), _reference_gating(cg, psi, avail), rtol=1e-5, atol=1e-6)


def test_missing_partner_changes_nothing_it_must_not():
    torch.manual_seed(0)
    cg = CollaborativeGating(3, dim=4)
    psi = torch.randn(5, 3, 4)
    avail = torch.ones(5, 3, dtype=torch.bool)
    avail[:, 2] = False
    other = psi.clone()
    other[:, 2] = torch.randn(5, 4) * 100  # whatever the missing expert holds
    with torch.no_grad():
        a, b = cg(psi, avail), cg(other, avail)
    torch.testing.assert_close(a[:, :2], b[:, :2])
    # …and equals gating over the two available experts alone
    two = CollaborativeGating(2, dim=4)
    two.load_state_dict(cg.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(a[:, :2], two(psi[:, :2], avail[:, :2]))


@pytest.mark.parametrize("unused", [0, 2])
def test_netvlad_matches_per_clip_loop(unused):
    torch.manual_seed(0)
    vlad = NetVLAD(dim=3, clusters=4)
    with torch.no_grad():  # `unused` clusters no window is assigned to (softmax underflows): their blocks are zero
        vlad.assign.bias[4 - unused:] = -300.0
    x = torch.randn(7, 3, requires_grad=True)
    seg = torch.tensor([0, 0, 0, 2, 2, 2, 2])  # clip 1 has no window
    out = vlad(x, seg, 3)
    assert out.shape == (3, 12)

    def reference(c: int) -> torch.Tensor:  # the paper's sums and normalisations, clip by clip
        rows = x[seg == c]
        if len(rows) == 0:
            return torch.zeros(12)
        a = torch.softmax(vlad.assign(rows), dim=-1)  # (w, K)
        v = torch.stack([(a[:, k : k + 1] * (rows - vlad.centroids[k])).sum(0) for k in range(4)])
        assert (v.norm(dim=1) > 0).sum() == 4 - unused
        return torch.nn.functional.normalize(torch.nn.functional.normalize(v, dim=-1).flatten(), dim=0)

    expected = torch.stack([reference(c) for c in range(3)])
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)
    assert torch.all(out[1] == 0)
    weights = torch.randn(3, 12)  # and the same gradients (finite, too, where a clip has no window)
    inputs = (x, vlad.centroids, vlad.assign.weight)
    got = torch.autograd.grad((out * weights).sum(), inputs)
    for g, want in zip(got, torch.autograd.grad((expected * weights).sum(), inputs)):
        assert torch.isfinite(g).all()
        torch.testing.assert_close(g, want, rtol=1e-4, atol=1e-6)


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


def test_every_clip_of_a_batch_knows_its_trailer(small_store):
    """``Batch.clip_trailers``: the clips of trailer b are the b-th run of ``n_clips`` rows."""
    from mmx.data.loader import make_loader
    from mmx.run import RunInfo

    ids = sorted(small_store.entries())[:6]
    experts = {n: vars(i) for n, i in sorted(small_store.experts.items())}
    info = RunInfo(kind="coarse", store=str(small_store.root), experts=experts, genres=["Action", "Drama"],
                   splits={"train": ids, "val": [], "test": []})
    batch = next(iter(make_loader(small_store, info.reading, ids, 6, evenly_spaced(40, 9))))
    n_clips = torch.tensor([small_store.meta(t).n_clips for t in batch.ids])
    assert torch.equal(batch.clip_trailers(), torch.repeat_interleave(torch.arange(len(ids)), n_clips))


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


def test_linear_pads_rows_to_a_few_shapes_under_cpu_bf16_and_keeps_the_product():
    sizes = [bucket_rows(m) for m in range(17, 4097)]
    assert all(m <= b <= m * 9 / 8 for m, b in zip(range(17, 4097), sizes))
    assert len(set(sizes)) <= 8 * 8 + 1  # eight sizes per doubling: oneDNN builds each once
    torch.manual_seed(0)
    layer = Linear(8, 5)
    x = torch.randn(3, 241, 8, requires_grad=True)  # 723 rows → 768
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = layer(x)
        want = torch.nn.functional.linear(x, layer.weight, layer.bias)
    assert got.shape == want.shape == (3, 241, 5) and got.dtype == want.dtype == torch.bfloat16
    # rows are independent: the same bf16 products, up to how another row count blocks the sums (2 bf16 units)
    torch.testing.assert_close(got.float(), want.float(), rtol=2 ** -7, atol=1e-3)
    g = torch.randn(3, 241, 5)
    grads = [torch.autograd.grad((y.float() * g).sum(), (x, layer.weight)) for y in (got, want)]
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-2, atol=1e-3)  # bf16 sums over other row counts
