"""What the network takes in, shared by the data layer that makes it and the model that reads it: ``ExpertInfo``
(an expert's feature size and level) and ``Batch`` (a batch of trailers' clip features and windows).
A leaf module: it imports no other module of mmx."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class ExpertInfo:
    dim: int  # feature size per clip (or per window)
    level: str = "clip"  # "clip": (n_clips, dim); "window": (n_windows, dim) + "<expert>__clip"
    source: str = ""  # where the features came from (import folder, extractor and its weights)


@dataclass
class Batch:
    ids: list[str]
    feats: dict[str, torch.Tensor]  # expert → (C, d) clip features, or (W, d) window features
    window_clip: dict[str, torch.Tensor]  # every window-level expert → (W,) flat clip index of each window (W may be 0)
    avail: torch.Tensor  # (C, E) bool: expert e is present for clip c
    windows: torch.Tensor  # (B, V, S, L) indices into the C flat clips
    labels: torch.Tensor  # (B, G) multi-hot float

    def clip_trailers(self) -> torch.Tensor:
        """(C,) the trailer (row of ``ids``) of every clip, from the views that cover it.

        A clip that no view covers enters nothing the network computes; it counts as trailer 0's.
        """
        B = self.windows.shape[0]
        owner = torch.zeros(self.avail.shape[0], dtype=torch.long, device=self.windows.device)
        trailer = torch.arange(B, device=owner.device).view(B, *[1] * (self.windows.dim() - 1)).expand_as(self.windows)
        return owner.scatter_(0, self.windows.flatten(), trailer.flatten())

    def to(self, device: torch.device | str) -> "Batch":
        return Batch(
            self.ids,
            {k: v.to(device, non_blocking=True) for k, v in self.feats.items()},
            {k: v.to(device, non_blocking=True) for k, v in self.window_clip.items()},
            self.avail.to(device),
            self.windows.to(device),
            self.labels.to(device),
        )

    def pin_memory(self) -> "Batch":
        return Batch(
            self.ids,
            {k: v.pin_memory() for k, v in self.feats.items()},
            {k: v.pin_memory() for k, v in self.window_clip.items()},
            self.avail.pin_memory(),
            self.windows.pin_memory(),
            self.labels.pin_memory(),
        )
