"""The extraction front end (§4.1): trailer video files → scene clips → expert vectors → feature store.

``extract_videos(paths, store, ExtractConfig())`` is the batch entry point (``mmx extract``);
``Extractor.extract`` does one file; ``decode``, ``scenes``, ``audio`` and ``flow`` are its stages.
"""

from mmx.errors import ExtractError, VideoError
from mmx.extract.batch import ExtractReport, extract_videos, find_videos
from mmx.extract.config import ExtractConfig
from mmx.extract.pipeline import Extraction, Extractor, load_experts

__all__ = [
    "ExtractConfig", "ExtractError", "ExtractReport", "Extraction", "Extractor", "VideoError",
    "extract_videos", "find_videos", "load_experts",
]
