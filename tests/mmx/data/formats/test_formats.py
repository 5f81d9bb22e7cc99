"""Import formats as a whole: auto-detection names one format or asks, and each release's miniature imports,
trains and evaluates with its anchor's own metric."""

from __future__ import annotations

import json

import pytest

from mmx.data.formats import detect
from mmx.errors import InputError
from mmx_cli.main import main
from release_miniatures import write_movienet, write_trailers12k, write_video_features

TINY = ["--model", "tiny", "--set", "train.batch_size=8", "--set", "train.lr=3e-3", "--set", "train.threads=1"]


def test_auto_detection_names_one_format_or_asks(tmp_path, small_features):
    assert detect(small_features) == "mmx"
    write_movienet(tmp_path / "m", n=2)
    assert detect(tmp_path / "m") == detect(tmp_path / "m" / "features.pkl") == "movienet"
    with pytest.raises(InputError, match="none of the layouts"):
        detect(tmp_path)
    with pytest.raises(InputError, match="does not exist"):
        detect(tmp_path / "nothing")


@pytest.mark.slow
@pytest.mark.parametrize("release", ["trailers12k", "movienet", "video-features"])
def test_release_imports_trains_and_evaluates_with_its_anchor_metric(release, tmp_path, capsys):
    root, store, run = tmp_path / "release", str(tmp_path / "store"), str(tmp_path / "run")
    {"trailers12k": write_trailers12k, "movienet": write_movienet, "video-features": write_video_features}[release](root)
    extra = ["--labels", str(root / "labels.csv")] if release == "video-features" else []
    assert main(["import", str(root), "--store", store] + extra) == 1  # dirty entries were skipped
    assert f"{release}: imported" in capsys.readouterr().out
    assert main(["train", "--store", store, "--out", run, "--epochs", "3", "--quiet"] + TINY) == 0
    protocol = "movienet" if release == "movienet" else "trailers12k"
    capsys.readouterr()
    assert main(["evaluate", "--run", run, "--protocol", protocol, "--split", "all", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    keys = ["uap", "map", "wap", "sap"] if protocol == "trailers12k" else ["map_macro", "map_micro", "f1_macro"]
    assert all(0 <= result[k] <= 100 for k in keys) and result["protocol"] == protocol
    assert result[keys[0]] > result["random"][keys[0]]  # three epochs on a weak signal beat random scores
    assert main(["evaluate", "--run", run, "--protocol", protocol]) == 0
    assert "MMX" in capsys.readouterr().out
