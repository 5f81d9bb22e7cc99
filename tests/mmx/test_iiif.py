"""IIIF Presentation 3: the quickstart's manifests validate against iiif-prezi3's models, their annotations cover
the timeline scene by scene, `mmx export --iiif` publishes them at given URLs, and the validation bites."""

from __future__ import annotations

import json
import re
from pathlib import Path

import iiif_prezi3
import numpy as np
import pytest
from pydantic import ValidationError

import mmx
from mmx_cli.main import main

pytestmark = pytest.mark.slow  # the quickstart notebook run in a kernel


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
