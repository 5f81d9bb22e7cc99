"""Expert networks, registered by name (``EXPERTS``); see ``base.Expert`` for the interface.

Offline defaults (weights inside installed packages): ``appearance`` (EfficientNet-Lite0),
``motion`` (I3D RGB), ``scene`` (GIST stand-in, no weights), ``audio`` (musicnn). The paper's own
experts load weight files the user provides: ``senet154``, ``resnet18_places365``, ``r2plus1d``,
``i3d_flow``, ``vggish``.
"""

from mmx.errors import WeightsMissing
from mmx.experts import efficientnet, gist, i3d, musicnn, paper, vggish  # noqa: F401  (they register on import)
from mmx.experts.base import EXPERTS, Expert

__all__ = ["EXPERTS", "Expert", "WeightsMissing"]
