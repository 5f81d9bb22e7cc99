"""Torch loaders over a run's trailers: the one way training, prediction and embedding read a store.

What a loader reads of each trailer is a ``Reading``: the experts, the genres, and which broken experts it reads
as missing — a run makes its own (``mmx.run.RunInfo.reading``)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator

from torch.utils.data import DataLoader

from mmx.data.dataset import BrokenMask, TrailerDataset, ViewRule, chapters, make_collate
from mmx.data.store import FeatureStore
from mmx.data.windows import chapter_count
from mmx.distributed import DistInfo, GlobalBatchSampler
from mmx.inputs import Batch, ExpertInfo

if TYPE_CHECKING:
    from mmx.config import ModelConfig


@dataclass(frozen=True)
class Reading:
    """What a loader reads of each trailer, in the network's order."""

    experts: dict[str, ExpertInfo]  # expert → its size and level, in the order the network takes them
    genres: list[str]  # the label columns, in order
    noise_like: dict[str, list[str]] = field(default_factory=dict)  # trailer → experts read as missing entirely
    mask_broken: bool = False  # read the store's recorded dead stretches as missing (mmx.data.broken)

    def mask(self, store: FeatureStore) -> BrokenMask | None:
        return BrokenMask(store, self.noise_like, self.mask_broken) if self.mask_broken or self.noise_like else None


def make_loader(
    store: FeatureStore,
    reading: Reading,
    ids: list[str],
    batch_size: int,
    views: list[ViewRule],
    shuffle_seed: int | None = None,
    seed: int = 0,
    epoch: int = 0,
    dist: DistInfo = DistInfo(),
    every_clip: bool = False,
) -> DataLoader:
    """Loader over ``ids`` reading ``reading``'s experts and genres; shuffled with ``shuffle_seed`` when given.

    Shuffled loaders give this process's share of each global batch (``GlobalBatchSampler``; all
    of it in a world of one); their ``batch_sampler.steps`` say how the shares are weighted.
    ``epoch`` seeds the random views (with ``seed``), so an epoch draws the same windows on resume.
    ``every_clip``: every clip of each trailer is in the batch, also those no window uses (a long
    trailer's clips between its windows), in time order. A run made with ``data.mask_broken_experts``
    or ``data.mask_noise_like`` reads those broken experts as missing (``mmx.data.dataset.BrokenMask``).
    """
    ds = TrailerDataset(store, ids, list(reading.experts), reading.genres, views, seed=seed, every_clip=every_clip,
                        mask=reading.mask(store))
    ds.set_epoch(epoch)
    collate = make_collate(reading.experts)
    pin = dist.device.type == "cuda"
    if shuffle_seed is None:
        return DataLoader(ds, batch_size=batch_size, collate_fn=collate, drop_last=False, pin_memory=pin)
    sampler = GlobalBatchSampler(len(ds), batch_size, shuffle_seed, dist)
    return DataLoader(ds, batch_sampler=sampler, collate_fn=collate, pin_memory=pin)


def whole_trailer_batches(
    store: FeatureStore, reading: Reading, ids: list[str], batch_size: int, cfg: "ModelConfig"
) -> Iterator[Batch]:
    """Batches for prediction and embedding: every trailer read whole, one view per chapter
    (``cfg.chapter_clips``; a trailer has one, a feature film several), trailers grouped by how many
    chapters they have. Batches come group by group: ``batch.ids`` says which trailers they hold."""
    groups: dict[int, list[str]] = defaultdict(list)
    for tid in ids:
        groups[chapter_count(store.meta(tid).n_clips, cfg.chapter_clips)].append(tid)
    for n_chapters, group in sorted(groups.items()):
        yield from make_loader(store, reading, group, batch_size, chapters(n_chapters, cfg.n_seqs, cfg.seq_len))
