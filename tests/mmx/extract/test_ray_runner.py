"""``mmx extract --ray`` on a local Ray cluster: the same store as a single-process run, resumable."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # a local Ray cluster

ray = pytest.importorskip("ray")

from extract_fakes import register_fakes  # noqa: E402
from helpers import TESTS  # noqa: E402
from mmx.data.store import FeatureStore  # noqa: E402
from mmx.extract import ExtractConfig, extract_videos  # noqa: E402
from mmx.extract.ray_runner import runner  # noqa: E402
from mmx.synthetic.videos import VideoCorpusConfig, generate_videos  # noqa: E402
from mmx_cli.main import main  # noqa: E402

register_fakes()

CFG = ExtractConfig(experts=["fake_colour", "fake_flow", "fake_loudness"], flow_workers=0)
CORPUS = VideoCorpusConfig(n_videos=4, seed=5, shots=(3, 4), shot_frames=(16, 20), width=96, height=72)


@pytest.fixture(scope="module")
def cluster():
    """A local two-CPU Ray instance whose workers can import the fake experts of tests/."""
    path = os.pathsep.join([str(TESTS)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": path}})
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("videos")
    generate_videos(out, CORPUS)
    return out


def _assert_same_store(a: FeatureStore, b: FeatureStore) -> None:
    assert a.experts == b.experts
    assert sorted(a.entries()) == sorted(b.entries())
    for tid, ma in a.entries().items():
        mb = b.meta(tid)
        assert (ma.genres, ma.n_clips, ma.experts, ma.split) == (mb.genres, mb.n_clips, mb.experts, mb.split)
        assert ma.source == mb.source  # same file hash, settings, stamp and flags: reruns skip it alike
        np.testing.assert_array_equal(a.load_clip_times(tid), b.load_clip_times(tid))
        for name in ma.experts:
            np.testing.assert_allclose(a.load(tid, name), b.load(tid, name), rtol=0, atol=1e-5)
        np.testing.assert_array_equal(a.load_window_clips(tid, "fake_loudness"), b.load_window_clips(tid, "fake_loudness"))


def test_ray_store_equals_single_process_store_and_resumes(cluster, corpus, tmp_path):
    labels = corpus / "labels.csv"
    single = FeatureStore.create(tmp_path / "single")
    assert extract_videos([corpus], single, CFG, labels=labels, progress=False).ok
    spread = FeatureStore.create(tmp_path / "ray")
    report = extract_videos([corpus], spread, CFG, labels=labels, progress=False, runner=runner(None))
    assert report.ok and len(report.extracted) == CORPUS.n_videos
    _assert_same_store(single, FeatureStore(tmp_path / "ray"))

    victim = sorted(spread.entries())[1]  # a run cut short: one entry missing
    spread.remove_entry(victim)
    again = extract_videos([corpus], FeatureStore(tmp_path / "ray"), CFG, labels=labels, progress=False,
                           runner=runner(None))
    assert again.extracted == [victim] and len(again.unchanged) == CORPUS.n_videos - 1
    _assert_same_store(single, FeatureStore(tmp_path / "ray"))


def test_cli_ray_option_and_bad_files(cluster, corpus, tmp_path, capsys):
    (tmp_path / "in").mkdir()
    one = sorted(corpus.glob("*.mp4"))[0]
    (tmp_path / "in" / one.name).symlink_to(one)
    (tmp_path / "in" / "broken.mp4").write_bytes(b"not a video")
    rc = main(["extract", str(tmp_path / "in"), "--store", str(tmp_path / "store"), "--experts",
               ",".join(CFG.experts), "--flow-workers", "0", "--ray", "--quiet"])
    assert rc == 1  # the broken file fails on its worker, is named, and the other video is stored
    err = capsys.readouterr().err
    assert "broken.mp4" in err
    assert list(FeatureStore(tmp_path / "store").entries()) == [one.stem]
