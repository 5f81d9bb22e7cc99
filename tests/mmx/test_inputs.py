"""What the network reads (``Batch``): every clip of a batch knows its trailer."""

from __future__ import annotations

import torch

from mmx.data.dataset import evenly_spaced


def test_every_clip_of_a_batch_knows_its_trailer(small_store):
    """``Batch.clip_trailers``: the clips of trailer b are the b-th run of ``n_clips`` rows."""
    from mmx.data.loader import make_loader
    from mmx.run import RunInfo

    ids = sorted(small_store.entries())[:6]
    experts = {n: vars(i) for n, i in sorted(small_store.experts.items())}
    info = RunInfo(kind="coarse", store=str(small_store.root), experts=experts, genres=["Action", "Drama"],
                   splits={"train": ids, "val": [], "test": []})
    batch = next(iter(make_loader(small_store, info.reading, ids, 6, evenly_spaced(40, 9))))
    n_clips = torch.tensor([small_store.meta(t).n_clips for t in batch.ids])
    assert torch.equal(batch.clip_trailers(), torch.repeat_interleave(torch.arange(len(ids)), n_clips))
