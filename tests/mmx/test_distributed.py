"""Data-parallel training: 2 gloo processes on the CPU follow one process with the same global batch."""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file

from helpers import fine_cfg, make_coarse_run, tiny_cfg
from mmx.data.store import FeatureStore
from mmx.distributed import (
    DistInfo,
    GlobalBatchSampler,
    close_distributed,
    gather_with_grad,
    global_batch_norm,
    init_distributed,
    share_weight,
)
from mmx.progress import QUIET
from mmx.run import RunDir
from mmx.train.coarse import train
from mmx.train.finetune import finetune

EPOCHS = 2
# the runs compared compute in fp32: the claim is that 2 processes make the same sums in another order, equal up to
# fp32 rounding (bf16 rounds each product's inputs to 2⁻⁹; its global batch norm is checked apart, below)
FP32 = "train.precision=fp32"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _join(rank: int, world: int, port: int) -> DistInfo:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    return init_distributed()


def _worker(rank: int, world: int, port: int, store: str, parent: str, out: str) -> None:
    """Train a coarse run, fine-tune ``parent``, and check the gather, in one 2-process job."""
    info = _join(rank, world, port)
    ok = False
    try:
        quiet = {"reporter": QUIET, "dist": info}
        train(FeatureStore(store), f"{out}/coarse", tiny_cfg(EPOCHS, FP32), **quiet)
        finetune(parent, f"{out}/fine", fine_cfg(2, precision="fp32"), **quiet)
        x = torch.arange(3 * (rank + 1), dtype=torch.float64).reshape(rank + 1, 3).requires_grad_()  # 1 and 2 rows
        g = gather_with_grad(x, info)  # (3, 3)
        (g * torch.arange(1, 4, dtype=torch.float64)[:, None]).sum().backward()
        torch.save({"gathered": g.detach(), "grad": x.grad}, f"{out}/gather-{rank}.pt")
        ok = True
    finally:
        close_distributed(ok)


@pytest.fixture(scope="module")
def two(small_store, tmp_path_factory):
    """Single-process coarse and fine runs, and the same runs made by 2 gloo processes."""
    tmp = tmp_path_factory.mktemp("ddp")
    quiet = {"reporter": QUIET, "dist": DistInfo()}
    train(small_store, tmp / "one" / "coarse", tiny_cfg(EPOCHS, FP32), **quiet)
    parent = make_coarse_run(small_store, tmp / "parent")  # (auto precision: only its weights are read)
    finetune(parent.root, tmp / "one" / "fine", fine_cfg(2, precision="fp32"), **quiet)
    for attempt in range(2):  # a port picked free can be taken before gloo binds it: one retry, new port
        two = tmp / f"two-{attempt}"
        try:
            mp.spawn(_worker, args=(2, _free_port(), str(small_store.root), str(parent.root), str(two)), nprocs=2)
            break
        except mp.ProcessRaisedException as e:
            if attempt == 1 or not any(w in str(e) for w in ("EADDRINUSE", "address", "socket", "onnect", "Gloo")):
                raise
    return tmp / "one", two


@pytest.mark.slow
def test_two_gloo_processes_train_like_one_process(two):
    one_dir, two_dir = (d / "coarse" for d in two)
    one, two = RunDir(one_dir).read_state(), RunDir(two_dir).read_state()
    assert sorted(p.name for p in two_dir.iterdir()) == sorted(p.name for p in one_dir.iterdir())
    assert [h["epoch"] for h in two.history] == list(range(1, EPOCHS + 1))
    for a, b in zip(one.history, two.history):
        # the same sums in another order: equal up to float rounding (AUPRC, a rank statistic over
        # 8 validation trailers, moves a little when rounding swaps two close probabilities)
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-5)
        assert b["val_auprc_weighted"] == pytest.approx(a["val_auprc_weighted"], abs=0.01)
    wa, wb = (load_file(str(RunDir(d).model_weights(one, "last"))) for d in (one_dir, two_dir))
    # the bias before each batch norm has a zero gradient up to rounding, which Adam scales to full
    # steps: it drifts differently in any two runs (and the running mean with it) without effect
    for k in (k for k in wa if not k.endswith(("cg.fc.bias", "cg.bn.running_mean"))):
        torch.testing.assert_close(wb[k], wa[k], rtol=1e-3, atol=1e-4, msg=k)


@pytest.mark.slow
def test_two_process_finetune_gathers_negatives_like_one_process(two):
    one, other = (RunDir(d / "fine").read_state() for d in two)
    assert (two[1] / "fine" / "embeddings.npz").exists()
    # NT-Xent over the gathered global batch: without the gather each process would see half the
    # negatives and a visibly lower loss (log 2(N/2 − 1) < log 2(N − 1) at the start)
    # (rounding differences, amplified by Adam on the batch-norm biases noted above, stay near 1e-5
    # relative; the missing gather would be off by tens of percent)
    for a, b in zip(one.history[1:], other.history[1:]):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-4)
        assert b["val_silhouette"] == pytest.approx(a["val_silhouette"], abs=0.01)  # see the bias note above


@pytest.mark.slow
def test_gather_keeps_rank_order_and_routes_gradients(two):
    r0, r1 = (torch.load(two[1] / f"gather-{r}.pt", weights_only=True) for r in (0, 1))
    expected = torch.tensor([[0, 1, 2], [0, 1, 2], [3, 4, 5]], dtype=torch.float64)
    torch.testing.assert_close(r0["gathered"], expected)
    torch.testing.assert_close(r1["gathered"], expected)
    # d/dx of Σ_r Σ_i w_i g_i (each process's identical loss) = world × w for its own rows
    torch.testing.assert_close(r0["grad"], torch.full((1, 3), 2.0, dtype=torch.float64))
    torch.testing.assert_close(r1["grad"], torch.tensor([[4.0] * 3, [6.0] * 3], dtype=torch.float64))


def test_shares_cover_each_global_batch_once_in_the_single_process_order():
    one = GlobalBatchSampler(11, 4, seed=7, info=DistInfo())
    assert [len(b) for b in one] == [4, 4, 3]
    assert sum(one, []) == torch.randperm(11, generator=torch.Generator().manual_seed(7)).tolist()
    shares = [GlobalBatchSampler(11, 4, 7, DistInfo(rank=r, world_size=3)) for r in range(3)]
    for step, batch in enumerate(one):
        assert sum((s.batches[step] for s in shares), []) == batch  # shares in rank order make the batch
        weights = [share_weight(s.steps[step], DistInfo(rank=r, world_size=3)) for r, s in enumerate(shares)]
        assert sum(weights) == pytest.approx(3.0)  # DDP averages: Σ w_r · mean_r / 3 = global mean
    tail = GlobalBatchSampler(9, 4, 7, DistInfo(rank=1, world_size=2))
    assert tail.steps[-1].local == 0 and len(tail.batches[-1]) == 1  # a stand-in, weighted 0


def test_global_batch_norm_keeps_fp32_statistics_of_bf16_activations():
    """Under bf16 autocast the activations are bf16; their global statistics must still be fp32's: E[x²] − E[x]² in
    bf16 cancels to nonsense (negative variances: NaN) where the mean is large against the spread."""
    torch.manual_seed(0)
    x = (100.0 + torch.randn(300, 4)).to(torch.bfloat16)  # 300 rows: a count bf16 cannot hold either
    local = torch.nn.BatchNorm1d(4).train()
    glob = global_batch_norm(torch.nn.Sequential(torch.nn.BatchNorm1d(4))).train()
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{_free_port()}", rank=0, world_size=1)
    try:
        got = glob(x)
    finally:
        dist.destroy_process_group()
    want = local(x.float())
    assert got.dtype == torch.float32 and torch.isfinite(got).all()
    torch.testing.assert_close(got, want, rtol=0, atol=0.05)  # bf16 inputs: 100 ± 0.4 (its unit at 100), over sd 1
    torch.testing.assert_close(glob[0].running_var, local.running_var, rtol=1e-4, atol=1e-5)
