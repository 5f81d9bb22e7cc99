"""Torch loaders over a run's trailers: the one way training, prediction and embedding read a store."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Iterator

from torch.utils.data import DataLoader

from mmx.data.broken import BrokenMask
from mmx.data.dataset import Batch, TrailerDataset, ViewRule, chapters, make_collate
from mmx.data.store import FeatureStore
from mmx.data.windows import chapter_count
from mmx.distributed import DistInfo, GlobalBatchSampler

if TYPE_CHECKING:
    from mmx.config import ModelConfig
    from mmx.run import RunInfo


def make_loader(
    store: FeatureStore,
    info: "RunInfo",
    ids: list[str],
    batch_size: int,
    views: list[ViewRule],
    shuffle_seed: int | None = None,
    seed: int = 0,
    epoch: int = 0,
    dist: DistInfo = DistInfo(),
    every_clip: bool = False,
) -> DataLoader:
    """Loader over ``ids`` with the run's experts and genres; shuffled with ``shuffle_seed`` when given.

    Shuffled loaders give this process's share of each global batch (``GlobalBatchSampler``; all
    of it in a world of one); their ``batch_sampler.steps`` say how the shares are weighted.
    ``epoch`` seeds the random views (with ``seed``), so an epoch draws the same windows on resume.
    ``every_clip``: every clip of each trailer is in the batch, also those no window uses (a long
    trailer's clips between its windows), in time order. A run made with ``data.mask_broken_experts``
    or ``data.mask_noise_like`` reads those broken experts as missing (``mmx.data.broken.BrokenMask``).
    """
    experts = info.expert_infos()
    mask = BrokenMask(store, info.noise_like, info.mask_broken) if info.mask_broken or info.noise_like else None
    ds = TrailerDataset(store, ids, list(experts), info.genres, views, seed=seed, every_clip=every_clip, mask=mask)
    ds.set_epoch(epoch)
    collate = make_collate(experts)
    pin = dist.device.type == "cuda"
    if shuffle_seed is None:
        return DataLoader(ds, batch_size=batch_size, collate_fn=collate, drop_last=False, pin_memory=pin)
    sampler = GlobalBatchSampler(len(ds), batch_size, shuffle_seed, dist)
    return DataLoader(ds, batch_sampler=sampler, collate_fn=collate, pin_memory=pin)


def whole_trailer_batches(
    store: FeatureStore, info: "RunInfo", ids: list[str], batch_size: int, cfg: "ModelConfig"
) -> Iterator[Batch]:
    """Batches for prediction and embedding: every trailer read whole, one view per chapter
    (``cfg.chapter_clips``; a trailer has one, a feature film several), trailers grouped by how many
    chapters they have. Batches come group by group: ``batch.ids`` says which trailers they hold."""
    groups: dict[int, list[str]] = defaultdict(list)
    for tid in ids:
        groups[chapter_count(store.meta(tid).n_clips, cfg.chapter_clips)].append(tid)
    for n_chapters, group in sorted(groups.items()):
        yield from make_loader(store, info, group, batch_size, chapters(n_chapters, cfg.n_seqs, cfg.seq_len))
