"""Scene-level timeline (Fig. 8) equal to one window at a time, its WebVTT captions, and label suggestions at
scale (Tbl. 4)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from helpers import make_coarse_run
from mmx.data.loader import make_loader
from mmx.data.windows import centred_window
from mmx.errors import InputError, UnknownTrailerError
from mmx.precision import autocast
from mmx.run import Run
from mmx.timeline import ClipGenres, Timeline, centred_views, trailer_timeline, webvtt
from mmx_cli.main import main


@pytest.fixture(scope="module")
def coarse(small_store, tmp_path_factory):
    return make_coarse_run(small_store, tmp_path_factory.mktemp("timeline") / "run", epochs=2, scene_path=True)


def test_centred_views():
    views = centred_views(20, 4, 3)
    assert len(views) == 20
    np.testing.assert_array_equal(views[7](20, None), np.tile([6, 7, 8], (4, 1)))
    np.testing.assert_array_equal(views[0](20, None), np.tile([0, 1, 2], (4, 1)))  # shifted inside
    np.testing.assert_array_equal(views[19](20, None), np.tile([17, 18, 19], (4, 1)))


@pytest.mark.slow
def test_timeline_equals_one_window_at_a_time(coarse, small_store):
    tid = coarse.read_info().splits["test"][0]
    t = trailer_timeline(coarse, tid)
    n = small_store.meta(tid).n_clips
    assert len(t.clips) == n and t.vocabulary == coarse.read_info().genres and t.genres == small_store.meta(tid).genres
    times = small_store.load_clip_times(tid)
    assert [(c.start, c.end) for c in t.clips] == [tuple(r) for r in times.tolist()]
    run = Run.open(coarse.root)
    model, cfg = run.model(), run.config.model
    assert model.scenes is not None  # the scene path too: the window's clips are its scenes
    for c in (0, n // 2, n - 1):  # the network on a trailer made of that one window, alone
        window = np.tile(centred_window(n, c, cfg.seq_len), (cfg.n_seqs, 1))
        batch = next(iter(make_loader(small_store, coarse.read_info().reading, [tid], 1, [lambda n_, rng: window])))
        with torch.no_grad(), autocast("cpu", run.precision):  # what the run reads in
            expected = torch.sigmoid(model(batch).float())[0].numpy()
        np.testing.assert_allclose(t.matrix()[c], expected, rtol=1e-5, atol=1e-6)
    assert ((t.matrix() >= 0) & (t.matrix() <= 1)).all()
    with pytest.raises(UnknownTrailerError, match="did you mean"):
        trailer_timeline(coarse, tid + "x")


@pytest.mark.slow
def test_cli_timeline_json_and_plot(coarse, tmp_path, capsys):
    tid = coarse.read_info().splits["val"][0]
    plot = tmp_path / "timeline.png"
    assert main(["predict", "--run", str(coarse.root), tid, "--timeline", "--json", "--plot", str(plot)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out[0]["trailer_id"] == tid and {"clip", "start", "end", "probabilities"} <= set(out[0]["clips"][0])
    assert plot.read_bytes()[:4] == b"\x89PNG"
    assert main(["predict", "--run", str(coarse.root), tid, "--timeline"]) == 0
    assert "top genre" in capsys.readouterr().out
    assert main(["predict", "--run", str(coarse.root), tid, "--plot", str(plot)]) == 2


@pytest.mark.slow
def test_suggest_ranks_changes_by_confidence(coarse, tmp_path, capsys):
    out = tmp_path / "suggest.csv"
    assert main(["suggest", "--run", str(coarse.root), "--split", "val", "--out", str(out)]) == 0
    assert "label(s) to add" in capsys.readouterr().out
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    val = set(coarse.read_info().splits["val"])
    assert rows and {r["trailer_id"] for r in rows} <= val
    conf = [float(r["confidence"]) for r in rows]
    assert conf == sorted(conf, reverse=True)
    for r in rows:
        p, given = float(r["probability"]), r["given"].split("|")
        if r["action"] == "add":
            assert p >= 0.3 and r["genre"] not in given and float(r["confidence"]) == pytest.approx(p)
        else:
            assert p < 0.3 and r["genre"] in given and float(r["confidence"]) == pytest.approx(1 - p, abs=1e-4)


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
