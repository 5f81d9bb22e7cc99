"""The MMX network: per-expert reduction, fusion (collaborative gating), sequences, bottleneck, head."""

from mmx.model.fusion import FUSIONS, CollaborativeGating
from mmx.model.mmx import MMX, MODELS, PathLogits, create_model

__all__ = ["FUSIONS", "MODELS", "MMX", "CollaborativeGating", "PathLogits", "create_model"]
