"""The dataset card of an export: YAML that declares the configs and splits written, and a datasheet whose
composition is counted from the store (trailers per split and genre, the experts table), the parts only the
publisher knows marked TO FILL, and what was left out said."""

from __future__ import annotations

from collections import Counter

import yaml

from helpers import trailer, write_folder
from mmx.data.importer import import_folder
from mmx.data.store import EntryMeta, FeatureStore
from mmx.export import ExportConfig, ExportSummary
from mmx.export_card import TO_FILL, write_card

ROWS = [{"trailer_id": "a", "genres": "Action|Drama", "split": "train"},
        {"trailer_id": "b", "genres": "Drama", "split": "train"}]


def test_the_card_declares_what_was_written_and_counts_the_store(tmp_path):
    store = FeatureStore.create(tmp_path / "store")
    import_folder(write_folder(tmp_path / "in", {r["trailer_id"]: trailer(seed=i) for i, r in enumerate(ROWS)}, ROWS),
                  store)
    store.write_entry(EntryMeta("c", [], 12, [], split="test"), trailer(seed=2, audio=False))  # a label lost later
    out = tmp_path / "dataset"
    out.mkdir()
    summary = ExportSummary(out, trailers={"train": 2, "test": 1}, clips={"train": 24, "test": 12})
    card = write_card(out, summary, store, None, ExportConfig(title="Three trailers")).read_text()
    front = yaml.safe_load(card.split("---")[1])
    assert front["pretty_name"] == "Three trailers"
    assert [(c["config_name"], c.get("default", False)) for c in front["configs"]] == [("trailers", True),
                                                                                        ("clips", False)]
    assert front["configs"][1]["data_files"] == [{"split": "test", "path": "clips/test-*.parquet"},
                                                 {"split": "train", "path": "clips/train-*.parquet"}]
    genres = Counter(g for m in store.entries().values() for g in m.genres)
    assert genres == {"Drama": 2, "Action": 1}
    assert "- 3 trailers (test: 1, train: 2)" in card and "- 36 clips (test: 12, train: 24)" in card
    assert "- 2 genres; trailers per genre: Drama 2, Action 1" in card
    assert "| `audio` | 3 | window |" in card and "| `image` | 8 | clip |" in card and "| `motion` | 4 | clip |" in card
    assert "Window-level experts (audio) keep one vector per window" in card
    assert "- 1 trailer(s) without a genre label" in card
    assert "Features only: no keyframes" in card and card.count(TO_FILL) == 5
    assert 'clips = datasets.load_dataset("dataset", "clips", split="train")' in card


def test_a_trailers_only_export_declares_no_clips(tmp_path):
    store = FeatureStore.create(tmp_path / "store")
    import_folder(write_folder(tmp_path / "in", {"a": trailer(audio=False)}, ROWS[:1]), store)
    out = tmp_path / "out"
    out.mkdir()
    card = write_card(out, ExportSummary(out, trailers={"train": 1}, keyframes=True), store, None,
                      ExportConfig()).read_text()
    front = yaml.safe_load(card.split("---")[1])
    assert front["pretty_name"] == "out" and [c["config_name"] for c in front["configs"]] == ["trailers"]
    assert "clips = datasets" not in card and "Window-level" not in card
    assert "Keyframes (one JPEG per clip) are included." in card
