"""The k-fold protocol: every fold trained on a store of hard links, the folds' mean and standard deviation, a
finished protocol kept."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from mmx.data.store import FeatureStore
from mmx_cli.main import main
from release_miniatures import write_trailers12k

pytestmark = pytest.mark.slow  # a network trained per fold

TINY = ["--model", "tiny", "--set", "train.batch_size=8", "--set", "train.lr=3e-3", "--set", "train.threads=1"]


def test_kfold_protocol_trains_every_fold_on_hard_linked_stores(tmp_path, capsys):
    root, store, out = tmp_path / "t12k", str(tmp_path / "store"), tmp_path / "kfold"
    write_trailers12k(root)
    assert main(["import", str(root), "--store", store]) == 1
    capsys.readouterr()
    assert main(["kfold", "--store", store, "--out", str(out), "--epochs", "2", "--json", "--quiet"] + TINY) == 0
    summary = json.loads(capsys.readouterr().out)
    assert [f["fold"] for f in summary["folds"]] == [0, 1, 2]
    for key in ("uap", "map", "wap", "sap"):
        values = [f[key] for f in summary["folds"]]
        assert summary["mean"][key] == pytest.approx(np.mean(values))
        assert summary["sd"][key] == pytest.approx(np.std(values, ddof=1))
    src, linked = FeatureStore(store), FeatureStore(out / "fold1" / "store")
    tid = sorted(src.entries())[0]
    assert linked.meta(tid).split == src.meta(tid).source["folds"][1] and not linked.verify()
    a, b = (s.entries_dir / s.meta(tid).key / "i_resnet.npy" for s in (src, linked))
    assert os.stat(a).st_ino == os.stat(b).st_ino  # a link, not a copy
    assert main(["kfold", "--store", store, "--out", str(out), "--folds", "1", "--quiet"] + TINY) == 0  # finished: kept
    assert "mean ± sd" in capsys.readouterr().out
