"""The extraction stages on media with known answers: cuts, audio, flow, clip sampling."""

from __future__ import annotations

import json
import wave as wavfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from mmx.extract.audio import load_audio, write_wav
from mmx.extract.cuts import detect_cuts, scene_ranges
from mmx.extract.decode import Resizer, decode_video, probe
from mmx.extract.flow import clip_flow, flow_executor
from mmx.extract.pipeline import Clip, Scan, assign_windows, make_clips, sample_indices
from mmx.synthetic.videos import (
    CONTAINER_CODECS,
    GENRE_STYLES,
    VideoCorpusConfig,
    generate_videos,
    make_trailer,
    render_shot,
    write_video,
)

SMALL = VideoCorpusConfig(n_videos=3, seed=5, shots=(5, 7), shot_frames=(16, 26), width=128, height=96)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    generate_videos(out, SMALL)
    return out


def _small_frames(path: Path, width: int = 128, height: int = 96):
    resizer = Resizer()
    return (resizer.image(f, width, height, "bgr24") for f in decode_video(path))


def test_cuts_found_within_one_frame(corpus):
    truths = json.loads((corpus / "truth.json").read_text())
    assert len(truths) == SMALL.n_videos
    for t in truths:
        found = detect_cuts(_small_frames(corpus / t["file"]), fps=t["fps"])
        assert len(found) == len(t["cuts"]), (t["file"], found, t["cuts"])
        assert np.abs(np.array(found) - np.array(t["cuts"])).max() <= 1


@pytest.mark.parametrize("suffix", sorted(CONTAINER_CODECS))
def test_every_container_decodes_with_cuts_and_audio(tmp_path, suffix):
    cfg = VideoCorpusConfig(width=64, height=48, suffix=suffix)
    path = tmp_path / f"t{suffix}"
    cuts = make_trailer(path, ["Action", "Horror", "Comedy"], [18, 18, 18], cfg, np.random.default_rng(0))
    assert probe(path).has_audio
    assert detect_cuts(_small_frames(path, 64, 48), fps=24.0) == cuts == [18, 36]
    assert abs(len(load_audio(path)) / 16000 - 54 / 24) < 0.1


def test_scene_settings_change_the_cuts(corpus):
    t = json.loads((corpus / "truth.json").read_text())[0]
    path = corpus / t["file"]
    assert detect_cuts(_small_frames(path), t["fps"], threshold=255.0) == []  # nothing passes: one scene
    longest = max(np.diff([0] + t["cuts"] + [t["n_frames"]]))
    sparse = detect_cuts(_small_frames(path), t["fps"], min_scene_len=int(longest) + 1)
    assert len(sparse) < len(t["cuts"])
    assert all(b - a > longest for a, b in zip([0] + sparse, sparse))


def test_scene_ranges_cover_all_frames():
    assert scene_ranges([], 50) == [(0, 50)]
    assert scene_ranges([10, 30], 50) == [(0, 10), (10, 30), (30, 50)]
    assert scene_ranges([0, 50, 60], 50) == [(0, 50)]  # cuts outside the video are ignored


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


def test_audio_resampled_to_16k_mono(tmp_path):
    sr, seconds = 44100, 2.0
    t = np.arange(int(sr * seconds)) / sr
    stereo = np.stack([0.4 * np.sin(2 * np.pi * 440 * t), 0.2 * np.sin(2 * np.pi * 1000 * t)]).astype(np.float32)
    path = write_video(tmp_path / "tone.mp4", [np.zeros((48, 64, 3), np.uint8)] * 48, 24, stereo, sr)
    wave = load_audio(path, 16000)
    assert wave.dtype == np.float32 and wave.ndim == 1
    assert abs(len(wave) / 16000 - seconds) < 0.03  # AAC pads the last 1024-sample frame at most
    spectrum = np.abs(np.fft.rfft(wave))
    freqs = np.fft.rfftfreq(len(wave), 1 / 16000)
    top2 = sorted(freqs[np.argsort(spectrum)[-2:]])
    assert np.allclose(top2, [440, 1000], atol=2)  # both channels are in the mono mix
    left, right = (spectrum[np.abs(freqs - f) < 5].max() for f in (440, 1000))
    assert 1.6 < left / right < 2.4  # in their original proportion
    write_wav(tmp_path / "tone.wav", wave, 16000)
    with wavfile.open(str(tmp_path / "tone.wav")) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()) == (16000, 1, 2, len(wave))
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    assert np.abs(pcm / 32767 - wave).max() < 1e-4


def test_no_audio_track_gives_none(tmp_path):
    path = write_video(tmp_path / "silent.mp4", [np.zeros((48, 64, 3), np.uint8)] * 10, 24)
    assert load_audio(path) is None
    assert probe(path).has_audio is False


def _translating(dx: int, dy: int, n: int = 3, size: int = 64) -> np.ndarray:
    rng = np.random.default_rng(0)
    base = cv2.GaussianBlur((rng.random((200, 200)) * 255).astype(np.uint8), (0, 0), 3)
    base = cv2.normalize(base, None, 0, 255, cv2.NORM_MINMAX)
    frames = [base[60 - dy * t:60 - dy * t + size, 60 - dx * t:60 - dx * t + size] for t in range(n)]
    return np.stack([np.repeat(f[..., None], 3, axis=2) for f in frames])  # (n, size, size, 3), moving by (dx, dy)


@pytest.mark.parametrize("dx,dy", [(3, 0), (-2, 2)])
def test_flow_points_the_way_the_picture_moves(dx, dy):
    flow = clip_flow(_translating(dx, dy))
    assert flow.shape == (2, 64, 64, 2) and flow.dtype == np.float32
    inner = flow[:, 8:-8, 8:-8]  # borders have no match
    assert np.allclose(inner[..., 0].mean(), dx, atol=0.3)
    assert np.allclose(inner[..., 1].mean(), dy, atol=0.3)


def test_flow_pool_matches_inline():
    frames = _translating(1, -1)
    with flow_executor(2) as pool:
        pooled = pool.submit(clip_flow, frames).result()
    assert np.allclose(pooled, clip_flow(frames), atol=1e-5)


def test_resize_crop_keeps_the_centre(tmp_path):
    img = np.zeros((120, 200, 3), np.uint8)
    img[:, 80:120] = 255  # a white band in the middle of a wide picture
    path = write_video(tmp_path / "wide.mp4", [img] * 3, 24)
    frame = next(iter(decode_video(path)))
    crop = Resizer().crop(frame, 60)  # 120×200 → 60×100 → centre 60×60
    assert crop.shape == (60, 60, 3)
    band = crop[:, :, 0].mean(0)  # (60,)
    assert band[25:35].min() > 200 and band[:15].max() < 60 and band[-15:].max() < 60


def test_generated_shots_have_the_genre_look():
    rng = np.random.default_rng(0)
    action = render_shot(GENRE_STYLES["Action"], 4, 32, 24, rng, even=True)
    horror = render_shot(GENRE_STYLES["Horror"], 4, 32, 24, rng, even=True)
    assert action.shape == (4, 24, 32, 3)
    assert action[..., 0].mean() > action[..., 2].mean()  # reddish
    assert horror[..., 2].mean() > horror[..., 1].mean()  # purple
