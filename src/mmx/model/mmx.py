"""The MMX-Trailer-20 network (Fig. 2): experts → clip vectors → sequences → trailer embedding.

``embed`` gives the bottleneck (the trailer representation used for search: 512-d by default,
2048-d in the paper), ``classify`` the genre logits of head l on it, ``logits`` the genre logits
of the whole network (head l, plus the scene path where it is on: per-clip genre logits pooled over
the view's clips; not in the paper), ``forward`` the first view's logits for training, ``path_logits``
the first view's sum and each path's logits (``PathLogits`` as a module, for ``train.path_losses``). Presets of
the configuration are registered in ``mmx.presets.MODELS`` (``create_model``).
"""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import nn

from mmx.config import SEQUENCE_POOLS, ModelConfig
from mmx.inputs import Batch, ExpertInfo
from mmx.model.fusion import FUSIONS
from mmx.model.layers import MLP, NetVLAD, ReduceDim, standardise
from mmx.presets import DEFAULT_PRESET, MODELS


class ExpertReduction(nn.Module):
    """ψ_e for one expert: NetVLAD over windows (window-level experts), then Linear + L2 to D."""

    def __init__(self, info: ExpertInfo, cfg: ModelConfig):
        super().__init__()
        self.vlad = NetVLAD(info.dim, cfg.netvlad_clusters) if info.level == "window" else None
        d_in = self.vlad.out_dim if self.vlad is not None else info.dim
        self.reduce = ReduceDim(d_in, cfg.expert_dim)

    def forward(self, x: torch.Tensor, window_clip: torch.Tensor | None, n_clips: int) -> torch.Tensor:
        """x (C, d) clip features, or (W, d) window features with ``window_clip`` (W,) → (C, D)."""
        if self.vlad is not None:
            x = self.vlad(x, window_clip, n_clips)  # (C, K·d); clips without windows are zero
        return self.reduce(x)  # (C, D)


def view_covers(batch: Batch) -> torch.Tensor:
    """(B·V, C) 1 where a view's windows cover a clip of the batch (each clip once), else 0."""
    B, V = batch.windows.shape[:2]
    covers = torch.zeros(B * V, batch.avail.shape[0], device=batch.avail.device)
    return covers.scatter_(1, batch.windows.reshape(B * V, -1), 1.0)


class ScenePath(nn.Module):
    """Scene evidence: genre logits of every clip, pooled over the clips a view covers.

    A genre that a few scenes of a trailer show is strong evidence for it, but averaging over all
    clips (the pooled path, the linear probe) or summing sequence vectors dilutes those scenes
    among the rest (titles, dialogue, the other genres). Here every fused clip vector (scaled to
    unit variance per coordinate) goes through an MLP to one logit per genre, and a view's logit
    for a genre is the log-mean-exp over the clips it covers: between their mean and their
    maximum, so a few confident scenes count without one clip deciding. It is added to the head's
    logits; the scene-level timeline reads it too (there a view is one window). Not in the paper.
    """

    def __init__(self, cfg: ModelConfig, n_genres: int):
        super().__init__()
        self.scale = math.sqrt(cfg.clip_dim)
        self.mlp = MLP([cfg.clip_dim, cfg.head_hidden, n_genres], dropout=cfg.dropout)

    def clip_logits(self, clips: torch.Tensor) -> torch.Tensor:
        """(C, clip_dim) unit clip vectors → (C, G) genre logits of every clip."""
        return self.mlp(clips * self.scale)

    def forward(self, clips: torch.Tensor, covers: torch.Tensor) -> torch.Tensor:
        """clips (C, clip_dim), covers (B·V, C) from ``view_covers`` → (B·V, G) pooled logits."""
        logits = self.clip_logits(clips)  # (C, G): every clip once
        inside = (covers > 0).unsqueeze(-1)  # (BV, C, 1)
        masked = torch.where(inside, logits.unsqueeze(0), torch.finfo(logits.dtype).min)  # (BV, C, G)
        return torch.logsumexp(masked, dim=1) - covers.sum(1, keepdim=True).clamp(min=1).log()  # (BV, G)


class PooledPath(nn.Module):
    """The linear probe's view inside the network, added to the trailer embedding.

    Per view, every expert's raw features averaged over the clips (windows) the view covers, and a
    0/1 flag for whether the view has that expert at all — ``mmx.probe.pooled_features`` for the
    whole trailer — standardised (batch statistics in training, running ones in evaluation), then
    Linear + ReLU to ``embed_dim``. Averaging first keeps what per-clip noise hides from a
    network that transforms every clip before pooling; the head on top makes it a non-linear probe.
    """

    def __init__(self, experts: dict[str, ExpertInfo], embed_dim: int):
        super().__init__()
        self.experts = experts
        n_in = sum(info.dim + 1 for info in experts.values())
        self.norm = nn.BatchNorm1d(n_in, affine=False)
        self.fc = MLP([n_in, embed_dim], final_relu=True)

    def pool(self, batch: Batch) -> torch.Tensor:
        """(B, V, Σ dims + E): mean raw features and presence of every expert, per view (``forward`` takes them
        in fp32 under any autocast: means of raw features, by products whose shapes change with every batch)."""
        B, V = batch.windows.shape[:2]
        covers = view_covers(batch)  # (BV, C)
        parts = []
        for e, (name, info) in enumerate(self.experts.items()):
            x = batch.feats[name].to(covers.dtype)  # (C, d) or (W, d)
            if info.level == "window":  # (BV, W), W = 0 when no trailer of the batch has the expert
                clip = batch.window_clip[name]
                weight = covers[:, clip] * batch.avail[clip, e].to(covers.dtype)
            else:
                weight = covers * batch.avail[:, e].to(covers.dtype)  # (BV, C): available clips only
            count = weight.sum(1, keepdim=True)  # (BV, 1)
            parts += [weight @ x / count.clamp(min=1.0), (count > 0).to(x.dtype)]
        return torch.cat(parts, dim=1).view(B, V, -1)

    def forward(self, batch: Batch) -> torch.Tensor:
        with torch.autocast(batch.avail.device.type, enabled=False):
            pooled = self.pool(batch)  # (B, V, F), fp32
        return self.fc(standardise(self.norm, pooled.flatten(0, 1))).view(*pooled.shape[:2], -1)  # (B, V, embed)


class MMX(nn.Module):
    def __init__(self, experts: dict[str, ExpertInfo], n_genres: int, cfg: ModelConfig):
        super().__init__()
        if not experts:
            raise ValueError("the model needs at least one expert")
        if cfg.sequence_pool not in SEQUENCE_POOLS:
            raise ValueError(f"model.sequence_pool must be one of {', '.join(SEQUENCE_POOLS)}, not {cfg.sequence_pool!r}")
        self.cfg = cfg
        self.expert_names = list(experts)
        self.reduce = nn.ModuleDict({n: ExpertReduction(info, cfg) for n, info in experts.items()})
        self.fusion = FUSIONS.create(cfg.fusion, len(experts), cfg)
        self.j = MLP([cfg.seq_len * cfg.clip_dim, cfg.seq_hidden, cfg.seq_dim], final_relu=True)
        k_in = cfg.n_seqs * cfg.seq_dim if cfg.sequence_pool == "concat" else cfg.seq_dim
        self.k = MLP([k_in, cfg.bottleneck_hidden, cfg.embed_dim], final_relu=True)
        self.pooled = PooledPath(experts, cfg.embed_dim) if cfg.pooled_path else None
        self.head = MLP([cfg.embed_dim, cfg.head_hidden, n_genres], dropout=cfg.dropout)
        self.scenes = ScenePath(cfg, n_genres) if cfg.scene_path else None

    def expert_vectors(self, batch: Batch) -> torch.Tensor:
        """ψ (C, E, D): every expert of every clip in the shared space (what the fusion reads)."""
        n_clips = batch.avail.shape[0]
        psi = torch.stack(
            [
                self.reduce[n](batch.feats[n], batch.window_clip.get(n), n_clips)
                for n in self.expert_names
            ],
            dim=1,
        )  # (C, E, D)
        return psi * batch.avail.unsqueeze(-1).to(psi.dtype)  # a missing expert is exactly zero

    def clip_vectors(self, batch: Batch) -> torch.Tensor:
        """(C, clip_dim) unit vector of every clip in the batch, each computed once."""
        return self.fusion(self.expert_vectors(batch), batch.avail)  # (C, clip_dim)

    def embed_windows(self, clips: torch.Tensor, windows: torch.Tensor) -> torch.Tensor:
        """clips (C, clip_dim), windows (..., S, L) indices → (..., embed_dim) trailer embeddings.

        MLP j runs once per distinct window (a timeline's views repeat one window S times)."""
        distinct, where = torch.unique(windows.reshape(-1, windows.shape[-1]), dim=0, return_inverse=True)  # (U, L)
        seqs = self.j(clips[distinct].flatten(-2))  # (U, seq_dim): sequence vectors
        x = seqs[where].view(*windows.shape[:-1], -1)  # (..., S, seq_dim)
        x = x.flatten(-2) if self.cfg.sequence_pool == "concat" else x.sum(-2)  # (..., S·seq_dim)
        return self.k(x)  # (..., embed_dim)

    def embed(self, batch: Batch, clips: torch.Tensor | None = None) -> torch.Tensor:
        """(B, V, embed_dim): the bottleneck embedding of every view of every trailer."""
        clips = self.clip_vectors(batch) if clips is None else clips  # (C, clip_dim)
        emb = self.embed_windows(clips, batch.windows)  # (B, V, embed_dim)
        return emb if self.pooled is None else emb + self.pooled(batch)

    def classify(self, embedding: torch.Tensor) -> torch.Tensor:
        """(..., embed_dim) → (..., n_genres) logits of the genre head l alone."""
        return self.head(embedding)

    def logit_parts(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Path → (B, V, n_genres) logits of every view: head l on the embedding, and the scene path."""
        clips = self.clip_vectors(batch)  # (C, clip_dim)
        parts = {"head": self.classify(self.embed(batch, clips))}  # (B, V, G)
        if self.scenes is not None:
            parts["scenes"] = self.scenes(clips, view_covers(batch)).view(parts["head"].shape)
        return parts

    def logits(self, batch: Batch) -> torch.Tensor:
        """(B, V, n_genres) genre logits of every view: the sum of the paths."""
        return sum(self.logit_parts(batch).values())

    def path_logits(self, batch: Batch) -> torch.Tensor:
        """(1 + P, B, n_genres) logits from the first view: the sum of the paths, then each path."""
        paths = [x[:, 0] for x in self.logit_parts(batch).values()]
        return torch.stack([sum(paths), *paths])

    def forward(self, batch: Batch) -> torch.Tensor:
        """(B, n_genres) logits from the first view."""
        return self.logits(batch)[:, 0]


class PathLogits(nn.Module):
    """``MMX.path_logits`` as a module's forward: what training with ``train.path_losses`` wraps (in DDP)."""

    def __init__(self, model: MMX):
        super().__init__()
        self.model = model

    def forward(self, batch: Batch) -> torch.Tensor:
        return self.model.path_logits(batch)  # (1 + P, B, n_genres)


def create_model(
    experts: dict[str, ExpertInfo], n_genres: int, cfg: ModelConfig | str = DEFAULT_PRESET, **overrides
) -> MMX:
    """Build the network for these experts and genres from a preset name or a ModelConfig."""
    if isinstance(cfg, str):
        cfg = MODELS.create(cfg)
    return MMX(experts, n_genres, dataclasses.replace(cfg, **overrides))
