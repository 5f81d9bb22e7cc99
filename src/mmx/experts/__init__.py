"""Expert networks, registered by name (``EXPERTS``); see ``base.Expert`` for the interface."""

from mmx.experts.base import Expert, WeightsMissing
from mmx.registry import Registry

EXPERTS: Registry[Expert] = Registry("expert")

__all__ = ["EXPERTS", "Expert", "WeightsMissing"]
