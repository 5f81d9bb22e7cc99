"""A batch of videos (`mmx extract`): every bad input in one batch — a clear summary line each, the rest
extracted, the store untouched; a full disk stops the batch with one line and the rerun completes; damaged entries
are named and extracted again."""

from __future__ import annotations

import errno
import hashlib
import io
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import cv2
import numpy as np
import pytest

from extract_fakes import CHEAP, register_fakes
from mmx.data import store as store_module
from mmx.data.store import FeatureStore
from mmx.errors import StoreError
from mmx.extract import extract_videos
from mmx.synthetic.videos import GENRE_STYLES, VideoCorpusConfig, make_trailer, render_shot, write_video
from mmx_cli.main import main

register_fakes()
FAKES = "fake_colour,fake_loudness"
CFG = VideoCorpusConfig(width=96, height=72)


def _trailer(path: Path, n_shots: int, seed: int = 0, audio: bool = True) -> Path:
    rng = np.random.default_rng(seed)
    genres = ["Action", "Comedy", "Horror", "Sci-Fi"]
    make_trailer(path, [genres[i % 4] for i in range(n_shots)], [18] * n_shots, CFG, rng, audio=audio)
    return path


def _shots(n_shots: int, width: int, height: int, frames: int = 18) -> np.ndarray:
    rng = np.random.default_rng(1)
    styles = list(GENRE_STYLES.values())
    shots = [render_shot(styles[i % 4], frames, width, height, rng, even=i % 2 == 0) for i in range(n_shots)]
    return np.concatenate(shots)


def _garble(path: Path, out: Path, seed: int = 0) -> Path:
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(seed)
    start = data.find(b"mdat") + 2000
    for _ in range(12):
        pos = int(rng.integers(start, len(data) - 4000))
        data[pos:pos + 150] = rng.integers(0, 256, 150, dtype=np.uint8).tobytes()
    out.write_bytes(bytes(data))
    return out


def _digest_tree(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    store_path = d / "store"
    _trailer(d / "victim.mp4", 3, seed=3)
    assert main(["extract", str(d / "victim.mp4"), "--store", str(store_path), "--experts", FAKES, "--quiet"]) == 0
    store = FeatureStore(store_path)
    victim_dir = store.entries_dir / store.meta("victim").key
    before = _digest_tree(victim_dir)
    (d / "victim.mp4").write_text("the file was replaced by this text\n")  # same trailer id, now unreadable

    videos = d / "videos"
    videos.mkdir()
    (videos / "empty.mp4").write_bytes(b"")
    (videos / "notes.mp4").write_text("not a video at all\n" * 20)
    good = _trailer(d / "good.mp4", 4, seed=4)
    (videos / "truncated.mp4").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    write_video(d / "full.mkv", _shots(4, 96, 72), 24, 0.2 * np.ones(4 * 18 * 1000, np.float32), 24000)
    (videos / "cut-short.mkv").write_bytes((d / "full.mkv").read_bytes()[: (d / "full.mkv").stat().st_size // 2])
    _garble(good, videos / "corrupt.mp4")
    _trailer(videos / "silent.mp4", 3, audio=False)
    _trailer(videos / "fewshots.mp4", 3)
    _trailer(videos / "oneshot.mp4", 1)
    small = _shots(2, 80, 60, frames=16)
    huge = [cv2.resize(f, (2560, 1920), interpolation=cv2.INTER_NEAREST) for f in small]
    write_video(videos / "huge.mp4", huge, 24)
    dts = np.where(np.arange(72) % 2 == 0, 1 / 30, 1 / 12)  # alternating frame durations
    write_video(videos / "vfr.mp4", _shots(4, 96, 72), 24, frame_times=np.concatenate([[0], np.cumsum(dts)[:-1]]))
    t = np.arange(32000) / 16000
    write_video(videos / "audioonly.mp4", [], 24, (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32), 16000)
    (videos / "broken-link.mp4").symlink_to(d / "nowhere.mp4")
    return d, store_path, victim_dir, before, videos


@pytest.fixture(scope="module")
def result(batch):
    """One CLI run over all of them: (exit status, stdout, stderr)."""
    d, store_path, _, _, videos = batch
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = main(["extract", str(videos), str(d / "victim.mp4"), str(d / "missing.mp4"),
                   "--store", str(store_path), "--experts", FAKES, "--quiet"])
    return rc, out.getvalue(), err.getvalue()


def _line(text: str, name: str) -> str:
    lines = [ln for ln in text.splitlines() if f"{name}:" in ln]
    assert lines, f"no summary line for {name} in:\n{text}"
    return " / ".join(lines)


@pytest.mark.slow
def test_exit_status_says_something_failed(result):
    rc, out, _ = result
    assert rc == 1
    assert "failed 7" in out


@pytest.mark.slow
@pytest.mark.parametrize("name,reason", [
    ("empty.mp4", "is empty (0 bytes)"),
    ("notes.mp4", "is not a video FFmpeg can read"),
    ("truncated.mp4", "truncated"),
    ("audioonly.mp4", "has no video stream (audio only)"),
    ("broken-link.mp4", "does not exist"),
    ("missing.mp4", "does not exist"),
    ("victim.mp4", "is not a video FFmpeg can read"),
])
def test_failures_are_named_with_their_reason(result, name, reason):
    _, _, err = result
    assert reason in _line(err, name)


@pytest.mark.slow
@pytest.mark.parametrize("name,note", [
    ("silent.mp4", "no audio track: expert 'fake_loudness' missing, the rest extracted"),
    ("fewshots.mp4", "3 clip(s), fewer than 10: kept and flagged"),
    ("oneshot.mp4", "no scene cuts: the whole video is one clip"),
    ("huge.mp4", "large picture 2560×1920: frames resized"),
    ("vfr.mp4", "variable frame rate"),
    ("corrupt.mp4", "corrupt packet(s) skipped"),
    ("cut-short.mkv", "truncated or damaged; kept what decoded"),
])
def test_unusual_videos_are_extracted_and_noted(result, batch, name, note):
    _, out, _ = result
    assert note in _line(out, name)
    store = FeatureStore(batch[1])
    meta = store.meta(Path(name).stem)
    assert note in " ".join(meta.source["flags"])
    assert store.load(meta.trailer_id, "fake_colour").shape == (meta.n_clips, 6)


@pytest.mark.slow
def test_what_each_unusual_video_holds(result, batch):
    store = FeatureStore(batch[1])
    assert store.meta("silent").experts == ["fake_colour"]
    assert store.meta("fewshots").n_clips == 3 and store.meta("oneshot").n_clips == 1
    assert store.meta("huge").source["width"] == 2560 and store.meta("huge").n_clips == 2
    times = store.load_clip_times("vfr")  # cuts every 18 frames = 9 × (1/30 + 1/12) s
    assert np.allclose(times[:, 0], [0, 1.05, 2.1, 3.15], atol=0.04)


@pytest.mark.slow
def test_store_entries_untouched_by_failures(result, batch):
    _, store_path, victim_dir, before, _ = batch
    assert _digest_tree(victim_dir) == before
    store = FeatureStore(store_path)
    assert "victim" in store and "empty" not in store and "notes" not in store
    assert not [p for p in store.entries_dir.iterdir() if p.name.startswith(".")]  # no half-written entry


def fill_disk_after(monkeypatch, entries: int) -> None:
    """Every store write after the first ``entries`` whole entries fails with ENOSPC."""
    real = store_module.FeatureStore._commit
    done = {"n": 0}

    def commit(self, tmp, meta):
        if done["n"] >= entries:
            raise OSError(errno.ENOSPC, "No space left on device")
        done["n"] += 1
        return real(self, tmp, meta)

    monkeypatch.setattr(store_module.FeatureStore, "_commit", commit)


def test_a_full_disk_stops_the_batch_with_one_line_and_the_rerun_completes(videos, tmp_path, monkeypatch, capsys):
    store = tmp_path / "store"
    fill_disk_after(monkeypatch, 2)
    rc = main(["extract", str(videos), "--store", str(store), "--experts", "fake_colour,fake_loudness", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1
    assert str(store) in err[0] and "no space left" in err[0] and "run the same command again" in err[0]
    kept = FeatureStore(store)
    assert len(kept) == 2 and kept.verify() == []
    assert not [p for p in (store / "entries").iterdir() if p.name.startswith(".")]
    monkeypatch.undo()
    report = extract_videos([videos], FeatureStore(store), CHEAP, progress=False)
    assert report.ok and len(report.unchanged) == 2 and len(report.extracted) == 2
    assert len(FeatureStore(store)) == 4


def test_full_disk_raised_from_the_library(videos, tmp_path, monkeypatch):
    fill_disk_after(monkeypatch, 0)
    with pytest.raises(StoreError, match="no space left"):
        extract_videos([videos], FeatureStore.create(tmp_path / "s"), CHEAP, progress=False)


def test_damaged_entries_are_named_and_extracted_again(videos, full, tmp_path, capsys):
    store = FeatureStore.create(tmp_path / "store")
    assert extract_videos([videos], store, CHEAP, progress=False).ok
    a, b = sorted(store.entries())[:2]
    path = store.entries_dir / store.meta(a).key / "fake_colour.npy"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    path = store.entries_dir / store.meta(b).key / "clip_times.npy"
    path.write_bytes(path.read_bytes()[:100])
    assert main(["store", "verify", str(store.root)]) == 1
    out = capsys.readouterr().out
    assert f"{a} (" in out and f"{b} (" in out and "mmx extract" in out
    report = extract_videos([videos], FeatureStore(store.root), CHEAP, progress=False)
    assert sorted(report.extracted) == [a, b] and len(report.unchanged) == 2
    assert sum("damaged" in p.reason for p in report.warnings) == 2
    again = FeatureStore(store.root)
    assert again.verify() == []
    np.testing.assert_allclose(again.load(a, "fake_colour"), full.load(a, "fake_colour"), atol=1e-6)
