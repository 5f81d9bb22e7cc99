"""The Python API (``import mmx``, docs/python.md): the quickstart notebook runs against it in a real kernel; its
answers are the command line's (the commands call the same functions); its frames hold what the library holds; a
new video file is predicted as the same file in the store is; ``import mmx`` loads nothing heavy and every name is
documented."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

import mmx
from helpers import ROOT
from mmx.errors import InputError
from mmx.inference import predict_ids
from mmx.scenes.scene_set import load_scenes
from mmx_cli.main import main


def outputs(folder: Path) -> list[list[dict]]:
    nb = nbformat.read(folder.parent / "executed.ipynb", as_version=4)
    return [c.outputs for c in nb.cells if c.cell_type == "code"]


@pytest.mark.slow
def test_the_quickstart_notebook_runs_extract_train_predict_plot_search_check_export(quickstart):
    cells = outputs(quickstart)
    assert not [o for cell in cells for o in cell if o.output_type == "error"]
    text = "\n".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for cell in cells for o in cell)
    assert "extracted 24, unchanged 0, failed 0" in text
    assert any("image/png" in o.get("data", {}) for cell in cells for o in cell), "the timeline plot is drawn"
    assert "WEBVTT - mmx genre timeline" in text and "240 scenes of 24 trailers" in text
    assert "24 manifests" in text
    run = mmx.open_run(quickstart / "run")
    assert run.state.finished and run.state.epoch == 30


@pytest.mark.slow
def test_answers_are_the_command_lines(quickstart, capsys):
    run = quickstart / "run"
    test = mmx.open_run(run).split_ids("test")
    found = mmx.predict(run, test)
    assert main(["predict", "--run", str(run), *test, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(found.to_records()))
    hits = mmx.search(run, test[0], k=4)
    assert main(["search", "--run", str(run), test[0], "-k", "4", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(hits.to_records()))
    scenes = mmx.search_scenes(run, test[0], seconds=1.0, k=3)
    assert main(["search", "--run", str(run), "--scene", f"{test[0]}@1.0", "-k", "3", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert [(r["trailer_id"], r["clip"]) for r in printed["results"]] == [(h.trailer_id, h.clip) for h in scenes.hits]
    assert printed["query"]["clip"] == scenes.scene.clip


@pytest.mark.slow
def test_frames_hold_what_the_library_holds(quickstart):
    run = mmx.open_run(quickstart / "run")
    ids = run.split_ids("test")
    frame = mmx.predict(run, ids).to_frame()
    probs, _ = predict_ids(run, ids)  # (N, G)
    assert list(frame.columns) == ["trailer_id", "title", "genres", "predicted", "added", "missing", *run.info.genres]
    np.testing.assert_allclose(frame[run.info.genres].to_numpy(), probs, atol=1e-4)  # rounded to 4 places
    assert all(set(r["predicted"]) == {g for g in run.info.genres if r[g] >= 0.3} for _, r in frame.iterrows())
    t = mmx.trailer_timeline(run, ids[0])
    tf = t.to_frame()
    assert list(tf.columns) == ["clip", "start", "end", *t.vocabulary] and len(tf) == run.store.meta(ids[0]).n_clips
    np.testing.assert_array_equal(tf[t.vocabulary].to_numpy(), t.matrix())
    assert (tf.end > tf.start).all() and tf.start.is_monotonic_increasing
    sf = mmx.search(run, ids[0], k=5).to_frame()
    assert list(sf["rank"]) == [1, 2, 3, 4, 5] and sf.score.is_monotonic_decreasing and ids[0] not in set(sf.trailer_id)
    table = mmx.trailers(run).to_frame()
    assert len(table) == len(run.store) and set(table.loc[table.split == "test", "trailer_id"]) == set(ids)
    scenes = load_scenes(run.root).to_frame()  # what the notebook's mmx.index_scenes wrote
    assert list(scenes.columns) == ["trailer_id", "clip", "start", "end"] and len(scenes) == 240
    assert scenes.groupby("trailer_id").clip.max().eq(9).all()
    health = mmx.check(run, only=["duplicates", "experts"])
    assert list(health.to_frame().columns)[:3] == ["check", "severity", "kind"]
    assert len(health.to_frame()) == len(health.findings)


@pytest.mark.slow
def test_a_new_video_file_is_predicted_as_the_same_file_in_the_store(quickstart, capsys):
    run = quickstart / "run"
    tid = "synth003"
    video = quickstart / "videos" / f"{tid}.mp4"
    alone, stored = mmx.predict_video(run, video).items[0], mmx.predict(run, tid).items[0]
    assert alone.trailer_id == tid and alone.genres == [] and alone.added == alone.predicted
    for g, p in stored.probabilities.items():  # the same file, experts and settings: the same features
        assert alone.probabilities[g] == pytest.approx(p, abs=1e-4), g
    assert main(["predict", "--run", str(run), "--video", str(video), "--json"]) == 0  # the command: the same answer
    (printed,) = json.loads(capsys.readouterr().out)
    assert printed["predicted"] == alone.predicted
    assert printed["probabilities"] == pytest.approx(alone.probabilities, abs=1e-4)
    with pytest.raises(InputError, match="does not exist"):
        mmx.predict_video(run, quickstart / "missing.mp4")


def test_import_mmx_loads_nothing_heavy_and_every_name_is_documented():
    code = ("import sys, mmx; print(sorted(m for m in ('torch', 'numpy', 'pandas', 'sklearn') if m in sys.modules));"
            "print(sorted(mmx.__all__))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    heavy, names = out.stdout.splitlines()
    assert heavy == "[]"
    guide = (ROOT / "docs" / "python.md").read_text()
    for name in eval(names):  # noqa: S307 — the list printed above
        assert name == "__version__" or callable(getattr(mmx, name)), name
        assert f"`mmx.{name}" in guide or name == "__version__", f"docs/python.md does not document mmx.{name}"
