"""Scene-level genre timeline (Fig. 8): genre probabilities for every clip of a trailer.

For clip c the network sees a "trailer" whose ``n_seqs`` windows are all the one window of
``seq_len`` clips centred on c (``centred_window``, shifted inside the trailer at its ends), and the
genre head gives that window's probabilities. All windows of a trailer go through the network
in one batch, each clip vector computed once. Clip start/end seconds come from the store when it
has them (``clip_times``), else they are None.

A timeline leaves mmx as a table (``Timeline.to_frame``: one row per clip, one column per genre) or as a WebVTT
track (``webvtt``: one cue per clip with its top genres and their probabilities) that video players show while
the trailer plays; ``mmx.iiif`` makes W3C / IIIF time-range annotations of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mmx.data.dataset import ViewRule
from mmx.data.loader import make_loader
from mmx.data.windows import centred_window
from mmx.errors import InputError
from mmx.inference import model_run
from mmx.precision import autocast
from mmx.retrieval import unknown_id
from mmx.run import Run


@dataclass
class ClipGenres:
    clip: int  # index of the clip in the trailer, time order
    start: float | None  # seconds, when the store knows them
    end: float | None
    probabilities: dict[str, float]  # genre → sigmoid probability of the window centred on the clip


@dataclass
class Timeline:
    trailer_id: str
    title: str
    genres: list[str]  # the given labels
    vocabulary: list[str]  # the run's genres, the keys of every clip's probabilities
    clips: list[ClipGenres]

    def matrix(self) -> np.ndarray:
        """(n_clips, G) probabilities in ``vocabulary`` order."""
        return np.array([[c.probabilities[g] for g in self.vocabulary] for c in self.clips])

    def top(self, clip: int, n: int = 3) -> list[tuple[str, float]]:
        """The ``n`` most probable genres of one clip, most probable first."""
        return sorted(self.clips[clip].probabilities.items(), key=lambda kv: -kv[1])[:n]

    def to_frame(self):
        """A pandas DataFrame, one row per clip in time order: ``clip`` (its number in the trailer), ``start`` and
        ``end`` (seconds; NaN when the store has no clip times), then one column per genre of ``vocabulary``
        (the sigmoid probability of the window of clips centred on the clip)."""
        from mmx.frames import data_frame

        rows = [{"clip": c.clip, "start": c.start, "end": c.end, **c.probabilities} for c in self.clips]
        return data_frame(rows, ["clip", "start", "end", *self.vocabulary], floats=["start", "end"])


def centred_views(n_clips: int, n_seqs: int, seq_len: int) -> list[ViewRule]:
    """One view per clip: ``n_seqs`` copies of the window centred on it."""

    def view(clip: int) -> ViewRule:
        return lambda n, rng: np.tile(centred_window(n, clip, seq_len), (n_seqs, 1))  # (S, L)

    return [view(c) for c in range(n_clips)]


TIMELINE_CHUNK = 256  # clips whose windows go through the network at once: memory stays flat for a film


@torch.no_grad()
def clip_probabilities(run: str | Path | Run, trailer_id: str) -> np.ndarray:
    """(n_clips, G) genre probabilities of the window centred on each clip of ``trailer_id``."""
    run = model_run(run)
    store, model = run.store, run.model()
    if trailer_id not in store:
        raise unknown_id(trailer_id, sorted(store.entries()), f"store {store.root}")
    views = centred_views(store.meta(trailer_id).n_clips, model.cfg.n_seqs, model.cfg.seq_len)
    parts = []
    for start in range(0, len(views), TIMELINE_CHUNK):  # each batch reads only the clips its windows use
        batch = next(iter(make_loader(store, run.info.reading, [trailer_id], 1, views[start : start + TIMELINE_CHUNK])))
        with autocast("cpu", run.precision):
            logits = model.logits(batch).float()  # (1, chunk, G)
        parts.append(torch.sigmoid(logits)[0].numpy())  # (chunk, G)
    return np.concatenate(parts)  # (n_clips, G)


def trailer_timeline(run: str | Path | Run, trailer_id: str) -> Timeline:
    """The genre timeline of one trailer of the run's store (coarse or fine run)."""
    run = model_run(run)
    store, info = run.store, run.info
    probs = clip_probabilities(run, trailer_id)
    times = store.load_clip_times(trailer_id)
    meta = store.meta(trailer_id)
    clips = [
        ClipGenres(
            clip=c,
            start=None if times is None else float(times[c, 0]),
            end=None if times is None else float(times[c, 1]),
            probabilities={g: float(p) for g, p in zip(info.genres, probs[c])},
        )
        for c in range(len(probs))
    ]
    return Timeline(trailer_id, meta.title, meta.genres, list(info.genres), clips)


def vtt_time(seconds: float) -> str:
    """``HH:MM:SS.mmm``, WebVTT's timestamp."""
    ms = round(seconds * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def vtt_text(text: str) -> str:
    """Text as a WebVTT cue payload allows it: no ``-->``, no line break, ``&`` and ``<`` escaped."""
    return " ".join(text.replace("-->", "→").split()).replace("&", "&amp;").replace("<", "&lt;")


def webvtt(t: Timeline, top: int = 3) -> str:
    """The timeline as a WebVTT file: one cue per clip (its seconds) naming its ``top`` genres with their
    probabilities, e.g. ``Horror 0.81 · Thriller 0.44 · Mystery 0.12``; the header names the trailer."""
    if t.clips and t.clips[0].start is None:
        raise InputError(f"the store has no clip times for {t.trailer_id!r} (features imported without them); a "
                         "WebVTT track needs seconds: extract the trailer's video (`mmx extract`)")
    lines = [f"WEBVTT - mmx genre timeline: {vtt_text(t.title or t.trailer_id)}", ""]
    for c in t.clips:
        end = max(c.end, c.start + 0.001)  # a cue ends after it starts
        lines += [f"clip {c.clip + 1}", f"{vtt_time(c.start)} --> {vtt_time(end)}",
                  " · ".join(f"{vtt_text(g)} {p:.2f}" for g, p in t.top(c.clip, top)), ""]
    return "\n".join(lines)
