"""``mmx experts``: every registered expert with its size and whether its weight files are here."""

from __future__ import annotations

import json

from mmx.experts.weights import WEIGHTS_ENV
from mmx_cli.main import main

DEFAULTS = {"appearance": 1280, "motion": 1024, "scene": 512, "audio": 200}
PAPER = {"senet154": 2048, "resnet18_places365": 512, "r2plus1d": 512, "i3d_flow": 1024, "vggish": 128}


def test_experts_json(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path))
    assert main(["experts", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["weights_dir"] == str(tmp_path)
    info = {e["name"]: e for e in out["experts"]}
    assert {**DEFAULTS, **PAPER}.items() <= {n: e["dim"] for n, e in info.items()}.items()
    assert all(info[n]["ready"] for n in DEFAULTS)  # shipped inside installed packages, or none needed
    assert not any(info[n]["ready"] for n in PAPER)  # the user's files, none here
    assert info["vggish"]["weights"] == [{"path": str(tmp_path / "vggish-10086976.pth"), "present": False}]
    assert info["audio"]["level"] == "window" and info["motion"]["level"] == "clip"


def test_experts_table(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path))
    (tmp_path / "flow_imagenet.pt").write_bytes(b"")  # present (its content is checked only when loaded)
    assert main(["experts"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines()[2:] if line and not line.startswith(" ")}
    assert rows["i3d_flow"].endswith("yes") and rows["senet154"].endswith("MISSING")
    assert "i3d-kinetics-400.ckpt" in rows["motion"] and "MSD_musicnn/.index" in rows["audio"]
    assert str(tmp_path) in out and "https://download.pytorch.org/models/r2plus1d_18-91a641e6.pth" in out
