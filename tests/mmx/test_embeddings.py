"""A run's embeddings: imported ones (bad rows reported, the rest kept), a network's embeddings files, npz
queries embedded as the store's trailers are, and `mmx search` on them."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest

from helpers import make_coarse_run
from mmx.data.importer import import_folder
from mmx.data.store import FeatureStore
from mmx.data.vectors import read_npz
from mmx.embeddings import embed_query_npz, ensure_embeddings, import_embeddings
from mmx.errors import InputError, UnknownTrailerError
from mmx.metrics import precision_at_k
from mmx.retrieval import evaluate_retrieval, nearest, search_run
from mmx_cli.main import main

NEW = "demo0007"  # the trailer that arrives after training


def _copy_folder(src, dst, ids):
    dst.mkdir()
    with open(src / "labels.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["trailer_id"] in ids]
    with open(dst / "labels.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    for r in rows:
        shutil.copy(src / f"{r['trailer_id']}.npz", dst)


@pytest.fixture(scope="module")
def run_without_new(small_features, tmp_path_factory):
    """A coarse run on every synthetic trailer but NEW."""
    tmp = tmp_path_factory.mktemp("search")
    ids = {p.stem for p in small_features.glob("*.npz")} - {NEW}
    _copy_folder(small_features, tmp / "old", ids)
    store = FeatureStore.create(tmp / "store")
    assert import_folder(tmp / "old", store).ok
    return make_coarse_run(store, tmp / "run"), store, tmp


@pytest.mark.slow
def test_npz_query_equals_the_same_trailer_imported(run_without_new, small_features, tmp_path):
    run, store, tmp = run_without_new
    emb = ensure_embeddings(run)
    assert NEW not in emb.position and emb.ids == sorted(store.entries())
    ids, vectors = read_npz(run.root / "embeddings.npz")  # the visualiser's layout
    assert ids == emb.ids and vectors.dtype == np.float32 and vectors.shape == (len(ids), 32)
    for i in (0, 11):  # a trailer is its own top hit
        assert nearest(emb, emb.vectors[i], 1)[0].trailer_id == emb.ids[i]

    query = small_features / f"{NEW}.npz"
    vector = embed_query_npz(run, query)
    before = search_run(run, str(query), k=8)

    _copy_folder(small_features, tmp_path / "new", {NEW})  # now NEW is imported into the run's store
    assert import_folder(tmp_path / "new", store).ok
    after_emb = ensure_embeddings(run)  # the store changed: embeddings are recomputed
    assert NEW in after_emb.position and len(after_emb.ids) == len(emb.ids) + 1
    np.testing.assert_allclose(after_emb.vectors[after_emb.position[NEW]], vector, rtol=1e-5, atol=1e-6)
    after = search_run(run, NEW, k=8)
    assert [h.trailer_id for h in after] == [h.trailer_id for h in before]
    np.testing.assert_allclose([h.score for h in after], [h.score for h in before], atol=1e-5)
    store.remove_entry(NEW)


@pytest.mark.slow
def test_bad_npz_queries_are_named(run_without_new, small_features, tmp_path):
    run, _, _ = run_without_new
    with np.load(small_features / f"{NEW}.npz") as z:
        arrays = {k: z[k] for k in z.files}
    wrong_dim = dict(arrays, motion=arrays["motion"][:, :5])
    np.savez(tmp_path / "dim.npz", **wrong_dim)
    with pytest.raises(InputError, match="motion is 5-d, the run's is 12-d"):
        embed_query_npz(run, tmp_path / "dim.npz")
    np.savez(tmp_path / "extra.npz", **arrays, flow=arrays["motion"])
    with pytest.raises(InputError, match=r"expert\(s\) flow are not the run's"):
        embed_query_npz(run, tmp_path / "extra.npz")
    np.savez(tmp_path / "nan.npz", **dict(arrays, scene=np.full_like(arrays["scene"], np.nan)))
    with pytest.raises(InputError, match="NaN"):
        embed_query_npz(run, tmp_path / "nan.npz")
    no_audio = {k: v for k, v in arrays.items() if not k.startswith("audio")}  # a trailer without sound
    np.savez(tmp_path / "mute.npz", **no_audio)
    assert embed_query_npz(run, tmp_path / "mute.npz").shape == (32,)
    np.savez(tmp_path / "alien.npz", flow=arrays["motion"])
    with pytest.raises(InputError, match="none of the run's experts"):
        embed_query_npz(run, tmp_path / "alien.npz")
    with pytest.raises(InputError):
        search_run(run, str(tmp_path / "absent.npz"))


@pytest.mark.slow
def test_cli_search_embed_and_unknown_id(run_without_new, small_features, tmp_path, capsys):
    run, store, _ = run_without_new
    first = sorted(store.entries())[0]
    assert main(["search", "--run", str(run.root), first, "-k", "3", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert len(hits) == 3 and first not in [h["trailer_id"] for h in hits]
    assert {"trailer_id", "score", "genres", "title"} <= set(hits[0])
    assert main(["search", "--run", str(run.root), str(small_features / f"{NEW}.npz")]) == 0
    assert "nearest to" in capsys.readouterr().out
    with pytest.raises(UnknownTrailerError, match="did you mean demo0001"):
        search_run(run, "Demo0001")
    assert main(["embed", "--run", str(run.root), "--out", str(tmp_path / "e.npz")]) == 0
    assert "wrote 79 trailer embeddings of 32 dims" in capsys.readouterr().out
    ids, vectors = read_npz(tmp_path / "e.npz")
    np.testing.assert_array_equal(vectors, ensure_embeddings(run).vectors)


def test_import_embeddings_reports_bad_rows_and_keeps_the_rest(emb_files):
    tmp, ids, x, genres = emb_files
    report = import_embeddings(tmp / "emb.npz", tmp / "meta.csv", tmp / "run")
    reasons = [p.reason for p in report.problems]
    assert report.kept == ids
    assert len(reasons) == 4
    assert any("duplicate" in r and "'t00'" in r for r in reasons)
    assert any("'nometa'" in r and "missing from meta.csv" in r for r in reasons)
    assert any("'nan-row'" in r and "NaN" in r for r in reasons)
    assert any("'zero-row'" in r and "zeros" in r for r in reasons)
    emb = ensure_embeddings(tmp / "run")
    assert emb.ids == ids and emb.genres == genres and emb.titles[0] == "Title t00" and emb.years[0] == 2000
    np.testing.assert_array_equal(emb.vectors, x)
    result = evaluate_retrieval(tmp / "run")
    assert result["precision_at_10"] == pytest.approx(precision_at_k(x, genres, 10))
    assert result["kind"] == "embeddings" and "coarse" not in result
    with pytest.raises(Exception, match="already holds a run"):
        import_embeddings(tmp / "emb.npz", tmp / "meta.csv", tmp / "run")
