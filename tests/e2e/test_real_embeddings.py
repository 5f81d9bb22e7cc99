"""The 7,594 real trailer embeddings of the authors' visualiser (read from ../shared/data)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from mmx.data.vectors import read_placeholders
from mmx.embeddings import ensure_embeddings, import_embeddings
from mmx.genres import parse_genres
from mmx.health import run_collection
from mmx.health.label_issues import LabelCheckConfig, collection_findings
from mmx.metrics import precision_at_k
from mmx.retrieval import nearest, search_run
from mmx.run import Run

pytestmark = pytest.mark.slow  # the 7,594 real embeddings


@pytest.fixture(scope="module")
def real_run(shared_data, tmp_path_factory):
    src = shared_data / "mmx-visualiser"
    out = tmp_path_factory.mktemp("real") / "run"
    report = import_embeddings(src / "embeddings.npz", src / "metadata.csv", out)
    assert len(report.kept) == 7594  # six ids end in a space in the npz: reported, stripped, kept
    assert len(report.problems) == 6 and all("surrounding spaces" in p.reason for p in report.problems)
    return out, src


def independent_precision_at_10(x: np.ndarray, genres: list[list[str]]) -> float:
    """Full similarity matrix, full sort, Python sets: nothing shared with mmx.retrieval."""
    norm = x / np.linalg.norm(x, axis=1, keepdims=True)
    sims = norm @ norm.T  # (7594, 7594)
    np.fill_diagonal(sims, -np.inf)
    top = np.argpartition(-sims, 10, axis=1)[:, :10]
    sets = [set(g) for g in genres]
    return float(np.mean([np.mean([bool(sets[q] & sets[j]) for j in top[q]]) for q in range(len(x))]))


def test_precision_at_10_on_real_embeddings(real_run):
    out, src = real_run
    emb = ensure_embeddings(out)
    with np.load(src / "embeddings.npz") as z:
        np.testing.assert_array_equal(emb.vectors, z["embedding"])
    assert all(emb.genres) and "none" not in {g for gs in emb.genres for g in gs}
    expected = independent_precision_at_10(emb.vectors, emb.genres)
    got = precision_at_k(emb.vectors, emb.genres, k=10)
    assert got == pytest.approx(expected, abs=1e-9)
    assert 0.6 < got < 0.7  # 0.658: far above what a random neighbour shares


def test_search_on_real_embeddings(real_run):
    out, src = real_run
    t0 = time.perf_counter()
    hits = search_run(out, "Aliens", k=10)
    first = time.perf_counter() - t0  # loading 7,594 × 1,024 from disk included
    assert len(hits) == 10 and "Aliens" not in [h.trailer_id for h in hits]
    emb = ensure_embeddings(out)
    i = emb.position["Aliens"]
    assert nearest(emb, emb.vectors[i], 1)[0].trailer_id == "Aliens"
    t0 = time.perf_counter()
    for _ in range(20):
        nearest(emb, "Aliens", k=10)
    per_query = (time.perf_counter() - t0) / 20
    assert first < 5 and per_query < 0.5
    meta_genres = {}
    for line in (src / "metadata.csv").read_text().splitlines()[1:]:
        tid, year, genres = line.rsplit(",", 2)
        meta_genres[tid.strip('"')] = parse_genres(genres)
    assert all(h.genres == meta_genres[h.trailer_id] for h in hits if h.trailer_id in meta_genres)


def test_placeholder_genres_are_left_out_recorded_and_seen_by_the_check(real_run):
    out, _ = real_run
    dropped = read_placeholders(out / "trailers.csv")  # 235 rows say e.g. "Horror|none|none|none|none"
    assert len(dropped) == 235 and all(v == ["none"] for v in dropped.values())
    coll = run_collection(Run.open(out))
    found, scored = collection_findings(coll, LabelCheckConfig())
    placeholder = next(f for f in found if f.kind == "placeholder genre")
    assert placeholder.genre == "none" and placeholder.evidence["trailers"] == 235 and "none" not in scored
