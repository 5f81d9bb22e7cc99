"""Dataset builder: label lists (MovieNet, IMDb, TMDb, mmx's labels.csv) → a clean, split,
fetched trailer collection ready for ``mmx extract`` (§4.1 of the paper built MMX-Trailer-20 from
Apple Trailers and YouTube with IMDb labels).

``read_list`` parses a list in one of the registered ``LIST_FORMATS``; ``build_catalog`` maps its genres
through a ``GenreMap`` and sorts out malformed, genre-less and duplicate rows; ``statistics`` gives
the numbers of the paper's Fig. 4; ``assign_splits`` uses a given split or a seeded multi-label
stratified one; ``Entry.label_row`` is its row of the import format's ``labels.csv`` (``mmx.data.labels_csv``); ``mmx.catalog.fetch``
(imported on its own: it needs the ``dataset`` extra, yt-dlp) downloads the trailers.
"""

from mmx.catalog.build import (
    Catalog,
    Entry,
    Issue,
    build_catalog,
    load_catalog,
    statistics,
)
from mmx.catalog.genre_map import DEFAULT_MAP_FILE, GenreMap
from mmx.catalog.list_formats import LIST_FORMATS, ListRow, detect_format, read_list
from mmx.catalog.stratify import (
    SplitConfig,
    assign_splits,
    companion_split_file,
    iterative_stratification,
    read_split_file,
)
from mmx.errors import InputError

__all__ = [
    "DEFAULT_MAP_FILE",
    "LIST_FORMATS",
    "Catalog",
    "InputError",
    "Entry",
    "GenreMap",
    "Issue",
    "ListRow",
    "SplitConfig",
    "assign_splits",
    "build_catalog",
    "companion_split_file",
    "detect_format",
    "iterative_stratification",
    "load_catalog",
    "read_list",
    "read_split_file",
    "statistics",
]
