"""The MMX network: per-expert reduction, fusion (collaborative gating), sequences, bottleneck, head."""

from mmx.model.fusion import FUSIONS, CollaborativeGating
from mmx.model.mmx import MMX, MODELS, create_model, list_models

__all__ = ["FUSIONS", "MODELS", "MMX", "CollaborativeGating", "create_model", "list_models"]
