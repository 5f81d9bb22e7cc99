"""A small MovieNet-style label list with every kind of dirt the catalogue sorts out."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import write

MOVIENET = """imdb_id,youtube_id,genres,title,duration
tt1,aaaaaaaaaaa,"['Drama', 'History']",Intolerance (1916),126.1
tt2,-bbbbbbbbbb,"['Action', '-1ru6xV7SOMDrama']",Scarface (1932),158.3
tt3,ccccccccccc,[],Ninja Bachelor Party (1991),68.9
tt4,ddddddddddd,"['Romance', 'Musical']",How the Grinch Stole Christmas! (TV Movie 1966),1.0
tt5,eeeeeeeeeee,"Drama, Comedy",Broken (2004/I),1.0
tt6,aaaaaaaaaaa,"['Comedy']",Again (2004/I),1.0
tt7,fffffffffff,"['Sci-Fi', 'Sci-Fi', 'Thriller']",World on a Wire (TV Mini,1.0
"""


@pytest.fixture
def movienet_list(tmp_path) -> Path:
    return write(tmp_path / "list.csv", MOVIENET)
