"""Import formats: every layout ``mmx import SOURCE`` reads, registered by name.

=================  ==========================================================================
``mmx``            labels.csv + one ``<trailer_id>.npz`` per trailer (``mmx.data.importer``)
``trailers12k``    Trailers12k (Montalvo-Lezama et al. 2022): one zarr group per backbone + the
                   MGTC csv (``mid``, ten genre columns, ``split0..2``)
``movienet``       MovieNet trailer features of Sulun et al. (ESWA 2024): ``features.pkl`` +
                   ``splits.json``
``video-features`` the output folders of ``v-iashin/video_features``
                   (``<out>/<feature_type>[/<model>]/<stem>_<key>.npy``) + ``--labels labels.csv``
``parquet``        a folder written by ``mmx export`` (its Parquet shards and dataset card)
=================  ==========================================================================

``detect(source)`` names the one format whose layout ``source`` has (``--format auto``);
``import_source`` runs it. Heavy readers (zarr, pyarrow) are imported only by the format that
needs them (extra ``mmx[data]``).
"""

from __future__ import annotations

from pathlib import Path

from mmx.data.formats.format import FORMATS, ImportFormat, ImportOptions, register_format
from mmx.data.importer import ImportReport, import_folder
from mmx.data.store import FeatureStore
from mmx.errors import InputError

__all__ = ["FORMATS", "ImportFormat", "ImportOptions", "detect", "import_source", "register_format"]


def detect(source: str | Path) -> str:
    """The name of the one format whose layout ``source`` has."""
    source = Path(source)
    if not source.exists():
        raise InputError(f"{source} does not exist")
    found = [n for n in FORMATS.names() if FORMATS.create(n).detect(source)]
    if len(found) == 1:
        return found[0]
    if not found:
        raise InputError(f"{source} has none of the layouts mmx imports ({', '.join(FORMATS.names())}); "
                         "see `mmx import --help` for each layout, or name one with --format")
    raise InputError(f"{source} looks like several formats ({', '.join(found)}); name one with --format")


def import_source(
    source: str | Path, store: FeatureStore, fmt: str = "auto", options: ImportOptions | None = None
) -> tuple[str, ImportReport]:
    """Import ``source`` in format ``fmt`` (``auto``: detected) into ``store``; (format, report)."""
    name = detect(source) if fmt == "auto" else fmt
    return name, FORMATS.create(name).run(Path(source), store, options or ImportOptions())


def _is_mmx_folder(path: Path) -> bool:
    return path.is_dir() and (path / "labels.csv").is_file() and any(path.glob("*.npz"))


register_format(ImportFormat(
    "mmx", "labels.csv + <trailer_id>.npz per-clip features (docs/data.md: 'Import format')",
    _is_mmx_folder, lambda path, store, options: import_folder(path, store),
))

# the other formats register themselves on import
from mmx.data.formats import movienet, parquet, trailers12k, video_features  # noqa: E402,F401
