"""The model presets (``MODELS``): named ``ModelConfig``s, the vocabulary of ``--model`` and ``create_model``.

Kept apart from the network (``mmx.model``) so that reading the names imports no torch: the
command line lists them in its help from this registry.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mmx.config import ModelConfig, RunConfig, merge, resolve
from mmx.registry import Registry

DEFAULT_PRESET = "default"  # what a run without --model trains: ModelConfig()

MODELS: Registry[ModelConfig] = Registry("model preset")


PAPER_SIZES = dict(  # §4.2, §7: 768-d experts, 40 concatenated 9-clip sequences of 256, a 2048-d bottleneck
    expert_dim=768, gem_dim=128, clip_dim=128, seq_len=9, n_seqs=40, seq_hidden=512, seq_dim=256,
    sequence_pool="concat", bottleneck_hidden=2048, embed_dim=2048, head_hidden=1024, dropout=0.0, pooled_path=False,
    scene_path=False,
)


@MODELS.register("paper")
def _paper() -> ModelConfig:
    """The paper's network with collaborative gating (§3, §7), every size as the paper gives it."""
    return ModelConfig(fusion="cg", **PAPER_SIZES)


@MODELS.register(DEFAULT_PRESET)
def _default() -> ModelConfig:
    """The shipped defaults (``ModelConfig()``): sized for a few hundred to a few thousand trailers."""
    return ModelConfig()


@MODELS.register("naive-concat")
def _naive_concat() -> ModelConfig:
    """The paper's Naive Concat baseline (Tbl. 2): the paper's network with concatenation for gating."""
    return dataclasses.replace(_paper(), fusion="concat")


@MODELS.register("sum-pool")
def _sum_pool() -> ModelConfig:
    """The paper's network with sequence vectors summed before k, as §3.2 describes (not §7's concatenation)."""
    return dataclasses.replace(_paper(), sequence_pool="sum")


@MODELS.register("tiny")
def _tiny() -> ModelConfig:
    """Small sizes for tests and quick experiments; the paper's structure."""
    return dataclasses.replace(
        _paper(), expert_dim=32, netvlad_clusters=4, gem_dim=16, clip_dim=16, seq_len=3, n_seqs=4,
        seq_hidden=32, seq_dim=16, bottleneck_hidden=32, embed_dim=32, head_hidden=16,
    )


def run_config(preset: str | None = None, file: str | Path | None = None, overrides: Sequence[str] = (),
               flags: dict[str, Any] | None = None, base: RunConfig | None = None) -> RunConfig:
    """A RunConfig as every training command and ``mmx.fit`` build it: the defaults (or ``base``) with the model
    ``preset`` (``MODELS``), then the YAML/JSON ``file``, then the ``section.key=value`` ``overrides``, then
    ``flags`` (a nested mapping), checked once on the result (``mmx.config.resolve``)."""
    cfg = base or RunConfig()
    if preset:
        cfg = merge(cfg, {"model": vars(MODELS.create(preset))})
    return resolve(cfg, file, list(overrides), flags)
