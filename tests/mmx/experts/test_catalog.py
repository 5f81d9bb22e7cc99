"""What ``mmx experts`` reports of each expert: its dims, level and sampling, and whether each weight file is
where it is looked for (a user's file counts once it is there; shipped weights are always ready)."""

from __future__ import annotations

from mmx.experts import EXPERTS
from mmx.experts.catalog import catalog, describe
from mmx.experts.weights import WEIGHTS_ENV


def test_an_expert_is_ready_once_its_weight_files_are_there(tmp_path, monkeypatch):
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path))
    flow = describe("i3d_flow")
    assert (flow["modality"], flow["dim"], flow["level"]) == ("flow", 1024, "clip")
    assert flow["fps"] == EXPERTS.create("i3d_flow").fps
    assert flow["weights"] == [{"path": str(tmp_path / "flow_imagenet.pt"), "present": False}] and not flow["ready"]
    (tmp_path / "flow_imagenet.pt").write_bytes(b"")  # its content is checked only when it is loaded
    assert describe("i3d_flow")["ready"] and describe("i3d_flow")["weights"][0]["present"]
    audio = describe("vggish")
    assert audio["level"] == "window" and audio["fps"] is None and audio["size"] is None  # audio: no frames
    assert describe("scene")["weights"] == [] and describe("scene")["ready"]  # GIST has no weights


def test_the_catalog_lists_every_registered_expert_and_the_weights_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path))
    listed = catalog()
    assert listed["weights_dir"] == str(tmp_path)
    assert [e["name"] for e in listed["experts"]] == EXPERTS.names()
