"""The extraction pipeline: clips, frames sampled at each expert's rate, audio windows given to clips; and
`mmx extract` end to end on generated trailers with cheap fake experts: alignment, resume, kill, settings."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import wave as wavfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from extract_fakes import register_fakes
from helpers import TESTS
from mmx.data.store import FeatureStore
from mmx.extract import ExtractConfig, extract_videos
from mmx.extract.decode import Resizer, decode_video
from mmx.extract.pipeline import Clip, Scan, assign_windows, make_clips, sample_indices
from mmx.synthetic.videos import VideoCorpusConfig, generate_videos
from mmx_cli.main import main

register_fakes()

FAKES = ["fake_colour", "fake_flow", "fake_loudness"]
CORPUS = VideoCorpusConfig(n_videos=4, seed=11, shots=(4, 5), shot_frames=(16, 22), width=128, height=96)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("videos")
    generate_videos(out, CORPUS)
    return out


@pytest.fixture(scope="module")
def extracted(corpus, tmp_path_factory) -> Path:
    store = tmp_path_factory.mktemp("store") / "store"
    wavs = tmp_path_factory.mktemp("wav")
    rc = main(["extract", str(corpus), "--store", str(store), "--experts", ",".join(FAKES),
               "--labels", str(corpus / "labels.csv"), "--flow-workers", "0", "--keep-wav", str(wavs), "--quiet"])
    assert rc == 0
    return store


def _truths(corpus: Path) -> list[dict]:
    return json.loads((corpus / "truth.json").read_text())


def test_entries_follow_the_shots(corpus, extracted):
    store = FeatureStore(extracted)
    truths = _truths(corpus)
    assert len(store) == len(truths)
    assert {n: (i.dim, i.level) for n, i in store.experts.items()} == {
        "fake_colour": (6, "clip"), "fake_flow": (4, "clip"), "fake_loudness": (2, "window")}
    for t in truths:
        meta = store.meta(t["trailer_id"])
        bounds = np.array([0] + t["cuts"] + [t["n_frames"]]) / t["fps"]
        assert meta.genres == t["genres"] and meta.n_clips == len(t["cuts"]) + 1
        assert meta.source["sha256"] and "scene_threshold" in meta.source["extract"]
        times = store.load_clip_times(t["trailer_id"])
        assert np.abs(times - np.stack([bounds[:-1], bounds[1:]], 1)).max() <= 1.01 / t["fps"]
        for name in ("fake_colour", "fake_flow"):
            arr = store.load(t["trailer_id"], name)
            assert arr.shape == (meta.n_clips, store.experts[name].dim) and np.isfinite(arr).all()
        windows = store.load(t["trailer_id"], "fake_loudness")
        clips = store.load_window_clips(t["trailer_id"], "fake_loudness")
        assert len(windows) == len(clips) == int(t["n_frames"] / t["fps"] / 0.5)
        centres = np.arange(len(windows)) * 0.5 + 0.25  # the fake expert's 0.5 s windows
        holder = [int(np.nonzero((times[:, 0] <= c) & (c < times[:, 1]))[0][0]) for c in centres]
        assert clips.tolist() == holder


def test_clip_vectors_come_from_their_own_shot(corpus, extracted):
    """The fake colour expert's mean colour of clip c equals the mean colour of shot c, decoded here."""
    store = FeatureStore(extracted)
    t = _truths(corpus)[0]
    resizer = Resizer()
    frames = np.stack([resizer.crop(f, 32) for f in decode_video(corpus / t["file"])]) / 255.0  # (F, 32, 32, 3)
    bounds = [0] + t["cuts"] + [t["n_frames"]]
    shot_means = np.stack([frames[a + 1:b - 1].mean((0, 1, 2)) for a, b in zip(bounds[:-1], bounds[1:])])
    colour = store.load(t["trailer_id"], "fake_colour")[:, :3]
    assert np.abs(colour - shot_means).max() < 0.03
    assert np.abs(colour[1:] - colour[:-1]).max(1).min() > 0.05  # neighbouring shots really differ


def test_wav_kept_at_16k(corpus, extracted):
    wav_dir = next(Path(extracted).parent.parent.glob("wav*/"))
    t = _truths(corpus)[1]
    with wavfile.open(str(wav_dir / f"{t['trailer_id']}.wav")) as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1 and w.getsampwidth() == 2
        assert abs(w.getnframes() / 16000 - t["n_frames"] / t["fps"]) < 0.1


def test_rerun_skips_relabels_and_reextracts(corpus, extracted, tmp_path):
    store = FeatureStore(extracted)
    cfg = ExtractConfig(experts=FAKES, flow_workers=0)
    report = extract_videos([corpus], store, cfg, labels=corpus / "labels.csv", progress=False)
    assert report.ok and not report.extracted and len(report.unchanged) == len(_truths(corpus))

    labels = (corpus / "labels.csv").read_text().replace("synth000,", "synth000,Horror|", 1)
    (tmp_path / "labels.csv").write_text(labels)
    before = store.load("synth000", "fake_colour", mmap=False)
    report = extract_videos([corpus], store, cfg, labels=tmp_path / "labels.csv", progress=False)
    assert report.relabelled == ["synth000"] and not report.extracted
    store.refresh()
    assert "Horror" in store.meta("synth000").genres
    assert np.array_equal(store.load("synth000", "fake_colour"), before)

    changed = ExtractConfig(experts=FAKES, flow_workers=0, drop_frames=2)  # other vectors: extract again
    report = extract_videos([corpus / "synth001.mp4"], store, changed, labels=corpus / "labels.csv", progress=False)
    assert report.extracted == ["synth001"]
    store.refresh()
    assert store.meta("synth001").source["extract"]["drop_frames"] == 2


def test_rerun_trusts_the_stored_hash_of_an_untouched_file(corpus, extracted, monkeypatch):
    import mmx.extract.batch as batch

    def no_hashing(path):
        raise AssertionError(f"{path} was hashed again although unchanged")

    monkeypatch.setattr(batch, "sha256_file", no_hashing)
    cfg = ExtractConfig(experts=FAKES, flow_workers=0)
    report = extract_videos([corpus / "synth003.mp4"], FeatureStore(extracted), cfg,
                            labels=corpus / "labels.csv", progress=False)
    assert report.unchanged == ["synth003"]


@pytest.mark.slow
def test_parallel_workers_give_the_same_vectors(corpus, extracted, tmp_path):
    store = FeatureStore.create(tmp_path / "par")
    cfg = ExtractConfig(experts=FAKES, workers=2)
    report = extract_videos([corpus / "synth002.mp4", corpus / "synth003.mp4"], store, cfg, progress=False)
    assert report.ok and sorted(report.extracted) == ["synth002", "synth003"]
    ref = FeatureStore(extracted)
    for tid in ("synth002", "synth003"):
        for name in FAKES:
            assert np.allclose(store.load(tid, name), ref.load(tid, name), atol=1e-5)


def test_unknown_expert_is_named(corpus, tmp_path, capsys):
    rc = main(["extract", str(corpus), "--store", str(tmp_path / "s"),
               "--experts", "fake_colour,no_such_expert", "--quiet"])
    assert rc == 2
    assert "no_such_expert" in capsys.readouterr().err
    assert len(FeatureStore(tmp_path / "s")) == 0


SCRIPT = f"""
import sys
sys.path.insert(0, {str(TESTS)!r})
import extract_fakes
from mmx_cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def _complete_entries(store: Path) -> list[str]:
    """Trailer ids of the visible entries, checking that each one is whole."""
    out = []
    for d in sorted((store / "entries").iterdir()):
        if d.name.startswith("."):
            continue
        meta = json.loads((d / "meta.json").read_text())
        for name in meta["experts"]:
            assert np.load(d / f"{name}.npy").shape[0] == meta["n_clips"]
        out.append(meta["trailer_id"])
    return out


@pytest.mark.slow
def test_killed_run_resumes(corpus, tmp_path):
    """kill -9 in the middle of a run: only whole entries are visible; the next run does the rest."""
    store = tmp_path / "store"
    cmd = [sys.executable, "-c", SCRIPT, "extract", str(corpus), "--store", str(store),
           "--experts", "fake_slow", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 90
    try:
        while time.time() < deadline and proc.poll() is None:
            entries = store / "entries"
            if entries.exists() and any(not d.name.startswith(".") for d in entries.iterdir()):
                break
            time.sleep(0.02)
        assert proc.poll() is None, f"run ended before it could be killed: {proc.stderr.read().decode()}"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    done = _complete_entries(store)
    n = len(_truths(corpus))
    assert 1 <= len(done) < n

    report = extract_videos([corpus], FeatureStore(store), ExtractConfig(experts=["fake_slow"]), progress=False)
    assert report.ok and sorted(report.unchanged) == done
    assert len(report.extracted) == n - len(done)
    assert sorted(_complete_entries(store)) == sorted(t["trailer_id"] for t in _truths(corpus))


@pytest.mark.slow
def test_extracted_store_trains_unchanged(tmp_path):
    """`mmx train` reads what `mmx extract` wrote, with nothing in between (trailers of ≥ 10 clips)."""
    videos = tmp_path / "videos"
    cfg = VideoCorpusConfig(n_videos=10, seed=3, shots=(10, 10), shot_frames=(16, 16), width=64, height=48)
    generate_videos(videos, cfg)
    store = tmp_path / "store"
    assert main(["extract", str(videos), "--store", str(store), "--labels", str(videos / "labels.csv"),
                 "--experts", "fake_colour,fake_loudness", "--quiet"]) == 0
    assert {m.n_clips for m in FeatureStore(store).entries().values()} == {10}
    assert main(["train", "--store", str(store), "--out", str(tmp_path / "run"), "--model", "tiny",
                 "--epochs", "1", "--quiet"]) == 0


def test_planning_writes_nothing(corpus, tmp_path):
    from helpers import snapshot
    from mmx.data.labels_csv import read_labels
    from mmx.extract.batch import find_videos, plan_jobs
    from mmx.extract.pipeline import load_experts

    cfg = ExtractConfig(experts=["fake_colour"], keyframes=False)
    videos = [corpus / "synth002.mp4", corpus / "synth003.mp4"]
    store = FeatureStore.create(tmp_path / "store")
    assert extract_videos(videos, store, cfg, labels=corpus / "labels.csv", progress=False).ok
    labels = (corpus / "labels.csv").read_text().replace("synth002,", "synth002,War|", 1)
    (tmp_path / "labels.csv").write_text(labels)
    rows = {r.trailer_id: r for r in read_labels(tmp_path / "labels.csv", [])}
    before = snapshot(store.root)
    plan = plan_jobs(find_videos(videos, []), FeatureStore(store.root), load_experts(cfg)[0],
                     replace(cfg, keyframes=True), rows, True)
    assert [job.trailer_id for _, job in plan.relabel] == ["synth002"] and not plan.extract
    assert [job.trailer_id for _, job in plan.keyframes] == ["synth003"]  # no keyframes yet: to be added
    assert snapshot(store.root) == before


def test_a_video_extracted_with_an_entrys_settings_matches_it(corpus, tmp_path):
    from mmx.extract.batch import entry_config

    store = FeatureStore.create(tmp_path / "store")
    cfg = ExtractConfig(experts=["fake_colour", "fake_loudness"], sampling={"fake_colour": {"fps": 3, "size": 24}},
                        drop_frames=2, keyframes=False)
    assert extract_videos([corpus / "synth001.mp4"], store, cfg, progress=False).ok
    same = entry_config(store.meta("synth001"))
    assert same.sampling["fake_colour"]["size"] == 24 and same.drop_frames == 2
    report = extract_videos([corpus / "synth001.mp4"], store, replace(same, keyframes=False), progress=False)
    assert report.unchanged == ["synth001"]


def test_one_more_video_is_extracted_as_the_store_was(corpus, tmp_path):
    """What ingest and scene queries use: a new video gets the store's sampling, not the defaults."""
    from mmx.extract.batch import store_config

    store = FeatureStore.create(tmp_path / "store")
    experts = ["fake_colour", "fake_loudness"]
    cfg = ExtractConfig(experts=experts, sampling={"fake_colour": {"fps": 3, "size": 24}}, drop_frames=2)
    assert extract_videos([corpus / "synth001.mp4"], store, cfg, progress=False).ok
    other = FeatureStore.create(tmp_path / "other")
    assert extract_videos([corpus / "synth002.mp4"], other, store_config(store, experts), progress=False).ok
    assert other.meta("synth002").source["experts"] == store.meta("synth001").source["experts"]
    assert other.meta("synth002").source["extract"] == store.meta("synth001").source["extract"]
    assert store_config(FeatureStore.create(tmp_path / "empty"), experts) == ExtractConfig(experts=experts)


@pytest.mark.slow
@pytest.mark.parametrize("buffer_mb", [0.3, 0.0])  # 0.3 MB: short scenes in one pass, long ones in a second
def test_one_decoding_pass_gives_what_two_passes_give(corpus, tmp_path, buffer_mb):
    from mmx.extract import Extractor
    from mmx.extract.pipeline import load_experts

    cfg = ExtractConfig(experts=FAKES, flow_workers=0)
    experts, _ = load_experts(cfg)
    one = Extractor(cfg, experts).extract(corpus / "synth000.mp4", "synth000")
    two = Extractor(replace(cfg, scene_buffer_mb=buffer_mb), experts).extract(corpus / "synth000.mp4", "synth000")
    assert "sample" not in one.timings and "sample" in two.timings  # a second pass only with the small buffer
    np.testing.assert_array_equal(one.clip_times, two.clip_times)
    assert one.keyframes == two.keyframes and one.flags == two.flags and one.info == two.info
    assert sorted(one.arrays) == sorted(two.arrays)
    for name in one.arrays:  # the same vectors, to what another batching of the clips may change (kernels)
        same_vectors(one.arrays[name], two.arrays[name])


@pytest.mark.slow
def test_a_cut_reported_late_gives_what_cuts_in_order_give(corpus, monkeypatch):
    """The detector reports its first cut only when the video ends, after the scene holding it was
    closed and sampled: the clips that differ are sampled in a second pass, the result is unchanged."""
    from mmx.extract import Extractor, pipeline
    from mmx.extract.cuts import CutDetector
    from mmx.extract.pipeline import load_experts

    class LateFirstCut(CutDetector):
        def add(self, index, bgr):
            super().add(index, bgr)
            if self.cuts and not hasattr(self, "late"):
                self.late = self.cuts.pop(0)

        def finish(self):
            self.cuts += [self.late] if hasattr(self, "late") else []
            return super().finish()

    cfg = ExtractConfig(experts=FAKES, flow_workers=0)
    experts, _ = load_experts(cfg)
    in_order = Extractor(cfg, experts).extract(corpus / "synth000.mp4", "synth000")
    monkeypatch.setattr(pipeline, "CutDetector", LateFirstCut)
    late = Extractor(cfg, experts).extract(corpus / "synth000.mp4", "synth000")
    assert "sample" not in in_order.timings and "sample" in late.timings
    np.testing.assert_array_equal(in_order.clip_times, late.clip_times)
    assert in_order.keyframes == late.keyframes and len(in_order.clip_times) > 2
    assert sorted(in_order.arrays) == sorted(late.arrays)
    for name in in_order.arrays:
        same_vectors(in_order.arrays[name], late.arrays[name])


def same_vectors(a: np.ndarray, b: np.ndarray) -> None:
    """Equal up to the last bits of a float32 kernel that sums in another order (clip indices exactly)."""
    if a.dtype.kind != "f":
        np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5 * float(np.abs(a).max(initial=1.0)))


def test_clips_drop_first_and_last_frame():
    times = np.arange(40) / 10.0
    s = Scan(times=times, cuts=[10, 12], end=4.0, bad_packets=0)
    clips = make_clips(s, drop=1)
    assert [(c.start, c.end) for c in clips] == [(1, 9), (10, 12), (13, 39)]  # a 2-frame scene keeps both
    assert [(c.t0, c.t1) for c in clips] == [(0.0, 1.0), (1.0, 1.2), (1.2, 4.0)]


def test_sampling_at_the_expert_rate():
    times = np.arange(250) / 25.0  # 10 s at 25 fps
    clip = Clip(start=1, end=249, t0=0.0, t1=10.0)
    idx = sample_indices(times, clip, fps=1.0, min_frames=1, max_frames=16)
    assert len(idx) == 10  # 9.92 s of frames at 1 fps
    assert np.allclose(np.diff(times[idx]), 1.0)
    assert abs(times[idx].mean() - times[1:249].mean()) < 0.05  # centred on the clip
    dense = sample_indices(times, clip, fps=25.0, min_frames=8, max_frames=16)
    assert len(dense) == 16 and np.all(np.diff(dense) == 1)  # consecutive frames from the middle
    short = Clip(start=100, end=103, t0=3.96, t1=4.16)
    rep = sample_indices(times, short, fps=25.0, min_frames=8, max_frames=16)
    assert len(rep) == 8 and set(rep) <= {100, 101, 102}  # too short: frames repeat, never leave the clip


def test_audio_windows_go_to_the_clip_holding_their_centre():
    clips = [Clip(0, 10, 0.0, 1.0), Clip(10, 20, 1.0, 2.5), Clip(20, 30, 2.5, 3.0)]
    spans = np.array([[0.0, 0.96], [0.96, 1.92], [1.92, 2.88], [2.88, 3.84]])
    # centres 0.48, 1.44, 2.40, 3.36 s; the last lies past the end and goes to the last clip
    assert assign_windows(spans, clips).tolist() == [0, 1, 1, 2]
    assert assign_windows(spans, clips).dtype == np.int32
