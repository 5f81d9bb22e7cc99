"""The Python API (``import mmx``, docs/python.md): the quickstart notebook runs against it in a real kernel; its
answers are the command line's (the commands call the same functions); its frames hold what the library holds; a
new video file is predicted as the same file in the store is; the IIIF manifests validate; ``import mmx`` loads
nothing heavy."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import iiif_prezi3
import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient
from pydantic import ValidationError

import mmx
from mmx.errors import InputError, MissingExtra
from mmx.inference import predict_ids
from mmx.scenes.scene_set import load_scenes
from mmx.timeline import ClipGenres, Timeline, webvtt
from mmx_cli.main import main

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "docs" / "notebooks" / "quickstart.ipynb"


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory) -> Path:
    """docs/notebooks/quickstart.ipynb executed in a kernel of this Python, in a fresh folder; its work folder."""
    folder = tmp_path_factory.mktemp("quickstart")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    src = str(Path(mmx.__file__).resolve().parents[1])  # the kernel imports the mmx under test
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)}
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute(
        env=env)
    nbformat.write(nb, folder / "executed.ipynb")
    return folder / "mmx-quickstart"


def outputs(folder: Path) -> list[list[dict]]:
    nb = nbformat.read(folder.parent / "executed.ipynb", as_version=4)
    return [c.outputs for c in nb.cells if c.cell_type == "code"]


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


def validate(doc: dict) -> None:
    """``doc`` against iiif-prezi3's models: the Manifest, and each Canvas, AnnotationPage and Annotation on its own
    (a page inside ``annotations`` also matches the models' loose page reference, which checks nothing inside)."""
    models = iiif_prezi3
    models.Manifest.model_validate_json(json.dumps(doc))
    for canvas in doc["items"]:
        models.Canvas.model_validate_json(json.dumps(canvas))
        for page in canvas["items"] + canvas.get("annotations", []):
            models.AnnotationPage.model_validate_json(json.dumps(page))
            for annotation in page["items"]:
                models.Annotation.model_validate_json(json.dumps(annotation))


def test_iiif_manifests_validate_and_their_annotations_cover_the_timeline(quickstart):
    folder = quickstart / "iiif"
    run = mmx.open_run(quickstart / "run")
    collection = iiif_prezi3.Collection.model_validate_json((folder / "collection.json").read_text())
    assert len(collection.items) == len(run.store) == 24
    for path in sorted(folder.glob("synth*.json"))[:4]:
        doc = json.loads(path.read_text())
        validate(doc)
        (canvas,) = doc["items"]
        meta = run.store.meta(doc["metadata"][0]["value"]["none"][0])
        assert canvas["duration"] == pytest.approx(meta.source["duration"]) and canvas["width"] == 64
        video = canvas["items"][0]["items"][0]
        assert video["motivation"] == "painting" and video["body"]["type"] == "Video"
        assert video["body"]["id"] == Path(meta.source["video"]).resolve().as_uri()
        notes = canvas["annotations"][0]["items"]
        spans = [re.fullmatch(rf"{re.escape(canvas['id'])}#t=([\d.]+),([\d.]+)", a["target"]) for a in notes[:-1]]
        assert all(spans) and len(spans) == meta.n_clips + 1  # the trailer, then every scene
        times = run.store.load_clip_times(meta.trailer_id)
        np.testing.assert_allclose([[float(s[1]), float(s[2])] for s in spans[1:]], times, atol=1e-3)
        assert all(0 <= float(s[1]) < float(s[2]) <= canvas["duration"] + 1e-3 for s in spans)
        assert notes[-1]["motivation"] == "supplementing" and notes[-1]["body"]["format"] == "text/vtt"
        assert (folder / Path(notes[-1]["body"]["id"]).name).read_text().startswith("WEBVTT")
    published = quickstart / "published"  # the command, with the URLs the folder and the videos are served at
    assert main(["export", "--run", str(quickstart / "run"), "--iiif", str(published), "--ids", "synth001,synth002",
                 "--base-url", "https://example.org/iiif/", "--video-base", "https://example.org/media"]) == 0
    doc = json.loads(next(published.glob("synth002-*.json")).read_text())
    validate(doc)
    assert doc["id"].startswith("https://example.org/iiif/synth002-") and doc["id"].endswith(".json")
    assert doc["items"][0]["items"][0]["items"][0]["body"]["id"] == "https://example.org/media/synth002.mp4"
    assert len(iiif_prezi3.Collection.model_validate_json((published / "collection.json").read_text()).items) == 2
    broken = json.loads(path.read_text())
    del broken["items"][0]["annotations"][0]["items"][1]["target"]
    with pytest.raises(ValidationError):  # the validation bites: an annotation without a target fails
        validate(broken)


def test_webvtt_cues_are_well_formed_and_say_why_without_seconds():
    clips = [ClipGenres(0, 0.0, 1.25, {"Action": 0.9, "Drama <b>": 0.2, "X-->Y": 0.5}),
             ClipGenres(1, 1.25, 1.25, {"Action": 0.1, "Drama <b>": 0.7, "X-->Y": 0.3})]
    text = webvtt(Timeline("t1", "A & B\n-->", [], ["Action", "Drama <b>", "X-->Y"], clips), top=2)
    lines = text.splitlines()
    assert lines[0] == "WEBVTT - mmx genre timeline: A &amp; B →" and lines[1] == ""
    assert lines[2:5] == ["clip 1", "00:00:00.000 --> 00:00:01.250", "Action 0.90 · X→Y 0.50"]
    assert lines[6:9] == ["clip 2", "00:00:01.250 --> 00:00:01.251", "Drama &lt;b> 0.70 · X→Y 0.30"]
    assert sum("-->" in line for line in lines) == 2  # only the cue timings
    timeless = Timeline("t2", "", [], ["Action"], [ClipGenres(0, None, None, {"Action": 0.5})])
    with pytest.raises(InputError, match="no clip times"):
        webvtt(timeless)


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


def test_without_pandas_to_frame_names_the_notebook_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    t = Timeline("t", "", [], ["Action"], [ClipGenres(0, 0.0, 1.0, {"Action": 0.5})])
    with pytest.raises(MissingExtra, match=r"'notebook' extra .*pip install 'mmx\[notebook\]'"):
        t.to_frame()
