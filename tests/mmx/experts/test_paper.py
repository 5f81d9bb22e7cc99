"""The paper's experts load weight files the user has: checkpoints of each real file's layout, with
random values, written here; the expert's vectors must equal the saved network's own output.
Missing files, wrong checksums, wrong layouts and unsafe pickles fail with errors naming the file.
"""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch
from torch import nn

from mmx.errors import WeightsCorrupt, WeightsMissing
from mmx.experts import EXPERTS
from mmx.experts.i3d import InceptionI3d
from mmx.experts.paper import R2Plus1D, ResNet18Places365, SENet154, scale_imagenet
from mmx.experts.vggish import VGGish, log_mel_examples
from mmx.experts.weights import WEIGHTS_ENV, on_meta, sha256_of

PAPER = ["senet154", "resnet18_places365", "r2plus1d", "i3d_flow", "vggish"]


@pytest.fixture
def weights_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path))
    return tmp_path


def randomised(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights and BatchNorm statistics (eval mode uses the statistics, so they must vary too)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif t.is_floating_point():
                t.copy_(torch.randn(t.shape, generator=g) * 0.05)
    return model.eval()


def uint8_frames(t: int, size: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (t, size, size, 3), dtype=np.uint8)


def test_resnet18_places365_reads_the_csail_checkpoint_and_safetensors(weights_dir):
    from safetensors.torch import save_file

    model = randomised(ResNet18Places365.architecture())
    # CSAIL's file: {"epoch", "arch", "state_dict"} with DataParallel's "module." prefix
    state = {f"module.{k}": v for k, v in model.state_dict().items()}
    torch.save({"epoch": 90, "arch": "resnet18", "state_dict": state}, weights_dir / "resnet18_places365.pth.tar")
    frames = uint8_frames(2, 224)
    out = EXPERTS.create("resnet18_places365").embed_frames(frames)
    other = weights_dir / "elsewhere" / "places.safetensors"
    other.parent.mkdir()
    save_file(model.state_dict(), str(other))
    again = EXPERTS.create("resnet18_places365", weights=other).embed_frames(frames)  # an explicit path
    model.fc = nn.Identity()
    with torch.inference_mode():
        expected = model(scale_imagenet(torch.from_numpy(frames))).mean(dim=0).numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(again, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_r2plus1d_checks_the_torchvision_checksum(weights_dir):
    model = randomised(R2Plus1D.architecture())
    path = weights_dir / "r2plus1d_18-91a641e6.pth"
    torch.save(model.state_dict(), path)
    frames = uint8_frames(8, 112)
    with pytest.raises(WeightsCorrupt, match="r2plus1d_18-91a641e6.pth: sha256 .* does not match .*91a641e6"):
        EXPERTS.create("r2plus1d").embed_frames(frames)  # random values: not torchvision's file
    expert = EXPERTS.create("r2plus1d", sha256=sha256_of(path))  # a checksum the user gives is checked instead
    model.fc = nn.Identity()
    x = expert.preprocess(torch.from_numpy(frames))
    assert x.shape == (1, 3, 8, 112, 112)
    with torch.inference_mode():
        expected = model(x)[0].numpy()
    np.testing.assert_allclose(expert.embed_frames(frames), expected, rtol=1e-4, atol=1e-5)


def test_i3d_flow_reads_a_pytorch_i3d_checkpoint(weights_dir):
    model = randomised(InceptionI3d(in_channels=2, num_classes=400))
    # pytorch-i3d's files predate BatchNorm's num_batches_tracked counters
    state = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(state, weights_dir / "flow_imagenet.pt")
    expert = EXPERTS.create("i3d_flow")
    flow = torch.from_numpy(np.random.default_rng(0).normal(0, 8, (8, 64, 64, 2)).astype(np.float32))
    x = expert.preprocess(flow)  # (1, 2, 8, 64, 64): clipped to ±20 px, scaled to [-1, 1]
    assert x.shape == (1, 2, 8, 64, 64) and x.abs().max() <= 1
    with torch.inference_mode():  # a small input keeps the test fast; the layout is what is tested
        np.testing.assert_allclose(expert.features(x).numpy(), model.embed(x).numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_vggish_reads_torchvggish(weights_dir):
    model = randomised(VGGish())
    torch.save(model.state_dict(), weights_dir / "vggish-10086976.pth")
    wave = np.random.default_rng(0).normal(0, 0.1, 3 * 16000).astype(np.float32)
    vectors, times = EXPERTS.create("vggish").embed_audio(wave, 16000)
    with torch.inference_mode():
        expected = model(torch.from_numpy(log_mel_examples(wave)).unsqueeze(1)).numpy()
    assert vectors.shape == (3, 128)  # three 0.96 s windows in 3 s
    np.testing.assert_allclose(vectors, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(times, [[0, 0.96], [0.96, 1.92], [1.92, 2.88]], atol=1e-6)


@pytest.mark.slow
def test_senet154_reads_a_checkpoint_of_its_layout(weights_dir):
    names = on_meta(SENet154.architecture).state_dict()  # 115 M parameters: values drawn without building it twice
    g = torch.Generator().manual_seed(0)
    state = {k: torch.empty(v.shape, dtype=torch.float16).uniform_(-0.02, 0.02, generator=g) if v.is_floating_point()
             else torch.zeros((), dtype=v.dtype) for k, v in names.items()}  # float16: half the file; loaded as float32
    state = {k: v.abs() + 0.5 if k.endswith("running_var") else v for k, v in state.items()}
    torch.save(state, weights_dir / "legacy_senet154-e9eb9fe6.pth")
    expert = EXPERTS.create("senet154")
    loaded = expert.net.state_dict()["last_linear.weight"]
    assert loaded.dtype == torch.float32
    torch.testing.assert_close(loaded, state["last_linear.weight"].float())
    with torch.inference_mode():
        f = expert.features(torch.zeros(1, 3, 64, 64))  # a small input keeps the test fast
    assert f.shape == (1, 2048) and torch.isfinite(f).all()


@pytest.mark.parametrize("name", PAPER)
def test_missing_weights_name_the_file_and_where(weights_dir, name):
    expert = EXPERTS.create(name)
    filename = type(expert).WEIGHTS.filename
    with pytest.raises(WeightsMissing) as err:
        expert.check_weights()
    msg = str(err.value)
    assert filename in msg and str(weights_dir / filename) in msg and WEIGHTS_ENV in msg
    assert type(expert).WEIGHTS.source.split()[0] in msg  # where to get it
    with pytest.raises(WeightsMissing):  # nothing is downloaded on first use either
        if expert.modality == "audio":
            expert.embed_audio(np.zeros(16000, np.float32), 16000)
        else:
            channels = 3 if expert.modality == "rgb" else 2
            expert.embed_frames(np.zeros((expert.min_frames, expert.size, expert.size, channels), np.float32))
    assert os.listdir(weights_dir) == []


def test_wrong_layout_is_refused(weights_dir):
    from torchvision.models import resnet18

    torch.save(resnet18().state_dict(), weights_dir / "resnet18_places365.pth.tar")  # ImageNet head: 1000 classes
    with pytest.raises(WeightsCorrupt, match="resnet18_places365.pth.tar: the checkpoint does not fit"):
        EXPERTS.create("resnet18_places365").embed_frames(uint8_frames(1, 224))


class Payload:
    def __reduce__(self):
        return (print, ("code ran",))


def test_checkpoints_with_code_are_not_run(weights_dir, capsys):
    (weights_dir / "vggish-10086976.pth").write_bytes(pickle.dumps({"features.0.weight": Payload()}, protocol=2))
    with pytest.raises(WeightsCorrupt, match="vggish-10086976.pth"):
        EXPERTS.create("vggish").embed_audio(np.zeros(16000, np.float32), 16000)
    assert "code ran" not in capsys.readouterr().out
