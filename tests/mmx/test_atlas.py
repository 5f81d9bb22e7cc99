"""The map's pictures (``mmx.atlas``): tiles that are the pictures cropped and shrunk, sheets made again only
where a picture changed, slots along a Hilbert curve."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image

from helpers import embeddings_data, import_data
from mmx.atlas import AtlasConfig, PackedPictures, hilbert_order, run_pictures, update_atlas, write_pictures
from mmx.errors import ConfigError, InputError
from mmx.run import Run

SMALL = AtlasConfig(tiles=(8, 24), sheet=48, aspect=4 / 3)  # level 0: 6 × 8 tiles a sheet; level 1: 2 × 2


def picture(colour, size=(160, 120), bars=None) -> bytes:
    """A JPEG of one colour; ``bars``: (colour, width) painted on its left and right edges."""
    img = Image.new("RGB", size, colour)
    if bars:
        bar = Image.new("RGB", (bars[1], size[1]), bars[0])
        img.paste(bar, (0, 0))
        img.paste(bar, (size[0] - bars[1], 0))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=95)
    return buf.getvalue()


def colour_of(i: int) -> tuple[int, int, int]:
    return (37 * i % 200 + 30, 91 * i % 200 + 30, 53 * i % 200 + 30)


class Dict:
    """Pictures from a dict (trailer id → bytes); a version is the bytes' hash."""

    def __init__(self, pictures: dict[str, bytes]):
        self.pictures = pictures

    def versions(self) -> dict[str, str]:
        return {t: str(hash(b)) for t, b in self.pictures.items()}

    def read(self, trailer_id: str) -> bytes:
        return self.pictures[trailer_id]


def tile_pixels(atlas, level: int, slot: int) -> np.ndarray:
    """(h, w, 3) the tile of ``slot`` in its sheet, decoded."""
    (w, h), (cols, _) = atlas.cfg.tile(level), atlas.cfg.grid(level)
    sheet, p = divmod(slot, atlas.per_sheet(level))
    img = np.asarray(Image.open(io.BytesIO(atlas.sheet(level, sheet))).convert("RGB"), np.float32)
    return img[(p // cols) * h:(p // cols + 1) * h, (p % cols) * w:(p % cols + 1) * w]


# ---------------------------------------------------------------------------- tiles
def test_every_tile_is_its_trailers_picture_cropped_to_the_tile_and_shrunk(tmp_path):
    ids = [f"t{i:02d}" for i in range(60)]  # 60 > 48 tiles a sheet: two sheets at level 0
    pics = {t: picture(colour_of(i)) for i, t in enumerate(ids)}
    pics["t05"] = picture((200, 40, 40), size=(160, 90), bars=((0, 255, 0), 12))  # 16:9 with green side bars
    atlas = update_atlas(tmp_path, Dict(pics), ids, SMALL)
    assert atlas.ids == ids and atlas.n_sheets(0) == 2 and atlas.n_sheets(1) == 15
    for level in (0, 1):
        (w, h) = SMALL.tile(level)
        for i, t in enumerate(ids):
            tile = tile_pixels(atlas, level, atlas.slots[t])
            assert tile.shape == (h, w, 3)
            want = (200, 40, 40) if t == "t05" else colour_of(i)
            inner = tile[1:-1, 1:-1].reshape(-1, 3)  # JPEG blurs a tile's edge into its neighbours
            assert np.abs(inner - want).max() < 14, (level, t)  # of 255: JPEG at quality 85
    # the 16:9 picture was cropped to 4:3 around its centre: its 12-px bars (of 160) are outside it
    crop = tile_pixels(atlas, 1, atlas.slots["t05"])
    assert crop[:, 1:-1, 1].max() < 90  # no green left


def test_a_picture_that_cannot_be_read_is_a_grey_tile(tmp_path):
    pics = {"a": picture((250, 250, 0)), "b": b"not a picture"}
    atlas = update_atlas(tmp_path, Dict(pics), ["a", "b"], SMALL)
    assert np.abs(tile_pixels(atlas, 1, 1)[2:-2, 2:-2] - (60, 60, 66)).max() < 10


# ---------------------------------------------------------------------------- sheets and slots
def test_larger_levels_are_made_when_first_asked_for_and_kept(tmp_path):
    ids = [f"t{i}" for i in range(10)]
    atlas = update_atlas(tmp_path, Dict({t: picture(colour_of(i)) for i, t in enumerate(ids)}), ids, SMALL)
    folder = tmp_path / "atlas"
    assert sorted(p.name.split("-")[0] for p in folder.glob("*.jpg")) == ["0"]  # only the smallest level
    assert not atlas.path(1, 2).exists()
    made = atlas.sheet(1, 2)
    assert atlas.path(1, 2).read_bytes() == made and atlas.sheet(1, 2) == made
    with pytest.raises(InputError, match="levels 0–1, not 2"):
        atlas.sheet(2, 0)
    with pytest.raises(InputError, match="sheets 0–2, not 3"):
        atlas.sheet(1, 3)


def test_a_new_trailer_takes_the_next_slot_and_only_its_sheet_is_made_again(tmp_path):
    ids = [f"t{i:02d}" for i in range(60)]
    pics = {t: picture(colour_of(i)) for i, t in enumerate(ids)}
    first = update_atlas(tmp_path, Dict(pics), ids, SMALL)
    sheet0, sheet1 = first.path(0, 0), first.path(0, 1)
    os.utime(sheet0, ns=(1, 1))  # so that a rewrite would show
    pics["new"] = picture((255, 0, 255))
    again = update_atlas(tmp_path, Dict(pics), ["new"] + ids, SMALL)  # first in the map's order, yet appended
    assert again.ids == ids + ["new"] and again.slots["new"] == 60
    assert again.path(0, 0) == sheet0 and sheet0.stat().st_mtime_ns == 1  # the same pictures: kept as it was
    assert again.path(0, 1) != sheet1 and not sheet1.exists()  # the sheet the new trailer joined: made again
    assert np.abs(tile_pixels(again, 0, 60)[1:-1, 1:-1] - (255, 0, 255)).max() < 20
    # a changed picture makes its sheet again; a trailer that left gives the slots anew, in the map's order
    pics["t03"] = picture((0, 0, 0))
    changed = update_atlas(tmp_path, Dict(pics), ids + ["new"], SMALL)
    assert changed.path(0, 0) != sheet0 and changed.path(0, 1) == again.path(0, 1)
    del pics["t10"]
    smaller = update_atlas(tmp_path, Dict(pics), ["new"] + ids, SMALL)
    assert smaller.ids == ["new"] + [t for t in ids if t != "t10"]
    assert {p.name for p in (tmp_path / "atlas").glob("*.jpg")} == {smaller.path(0, 0).name, smaller.path(0, 1).name}


def test_the_describe_answer_gives_each_level_and_sheet(tmp_path):
    ids = [f"t{i}" for i in range(50)]
    atlas = update_atlas(tmp_path, Dict({t: picture(colour_of(i)) for i, t in enumerate(ids)}), ids, SMALL)
    d = atlas.describe()
    assert d["count"] == 50 and d["aspect"] == pytest.approx(4 / 3, abs=1e-4)
    assert [lv["tile"] for lv in d["levels"]] == [[8, 6], [24, 18]]
    assert [(lv["cols"], lv["per_sheet"], len(lv["sheets"])) for lv in d["levels"]] == [(6, 48, 2), (2, 4, 13)]
    assert d["levels"][0]["sheets"][0] == atlas.path(0, 0).name.split("-")[2][:-4]


def test_atlas_settings_are_checked():
    with pytest.raises(ConfigError, match="increasing"):
        AtlasConfig(tiles=(64, 16))
    with pytest.raises(ConfigError, match="fit a sheet"):
        AtlasConfig(tiles=(16, 2048), sheet=1024)
    with pytest.raises(ConfigError, match="eager"):
        AtlasConfig(eager=5)


# ---------------------------------------------------------------------------- order
def test_the_hilbert_order_walks_a_grid_one_neighbour_at_a_time():
    side = 16
    grid = np.stack(np.meshgrid(np.arange(side), np.arange(side)), -1).reshape(-1, 2).astype(np.float64)
    rng = np.random.default_rng(0)
    shuffled = grid[rng.permutation(len(grid))]
    walk = shuffled[hilbert_order(shuffled, bits=4)]
    steps = np.abs(np.diff(walk, axis=0)).sum(axis=1)
    assert (steps == 1).all()  # every next cell shares a side with the last: neighbours stay together
    assert sorted(map(tuple, walk.astype(int))) == sorted(map(tuple, grid.astype(int)))  # each cell once
    assert hilbert_order(np.zeros((0, 2))).shape == (0,)


# ---------------------------------------------------------------------------- imported pictures
def test_imported_embeddings_with_a_folder_of_pictures(tmp_path, capsys):
    from mmx_cli.main import main

    ids, vectors, rows = embeddings_data(12)
    root = tmp_path / "data"
    run = import_data(root, ids, vectors, rows)
    assert run_pictures(Run.open(run)) is None  # imported embeddings alone have no pictures
    folder = tmp_path / "pictures"
    folder.mkdir()
    for i, t in enumerate(ids[:10]):
        (folder / f"{t}.jpg").write_bytes(picture(colour_of(i), size=(640, 360)))
    (folder / f"{ids[10]}.png").write_bytes(b"broken")
    out = tmp_path / "run2"
    assert main(["import-embeddings", str(root / "emb.npz"), "--labels", str(root / "meta.csv"), "--out", str(out),
                 "--pictures", str(folder)]) == 0
    printed = capsys.readouterr().out
    assert "imported 10 picture(s)" in printed and f"{ids[11]}: no picture" in printed and "not a picture" in printed
    pictures = run_pictures(Run.open(out))
    assert isinstance(pictures, PackedPictures) and sorted(pictures.versions()) == sorted(ids[:10])
    kept = Image.open(io.BytesIO(pictures.read("#Film 007")))  # ids that are not URL-safe too
    assert kept.size == (160, 90) and kept.format == "JPEG"  # shrunk as keyframes are kept
    atlas = update_atlas(out, pictures, ids, SMALL)
    assert atlas.ids == ids[:10]
    # written again with other pictures: new versions, so the sheets are made again
    write_pictures(Run.open(out), {ids[0]: picture((0, 0, 0))})
    assert update_atlas(out, run_pictures(Run.open(out)), ids, SMALL).ids == [ids[0]]
