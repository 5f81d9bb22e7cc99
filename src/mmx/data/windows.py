"""Choosing the 40 nine-clip sequences of a trailer (§7, Fig. 7).

Trailers have ~10–300 clips, the model always sees ``n_seqs`` windows of ``seq_len`` consecutive
clips. The rule (``window_indices``): window starts evenly spaced from the first clip to the last
possible start, so the windows cover the whole trailer in time order — overlapping when the
trailer has fewer than ``n_seqs × seq_len`` clips (a 100-clip trailer: starts 0, 2.3, 4.6, … 91),
spread with gaps between them when it has more (then every clip still lies within one stride of
a window). A film is longer than any trailer: with ``model.chapter_clips`` it is read in chapters
(``chapter_count``, ``chapter_span``), each with its own ``n_seqs`` windows. A trailer shorter than one window fills it by repeating clips in time order. With
``rng`` the starts are drawn uniformly instead (sorted), which is the "random window sets" view.
"""

from __future__ import annotations

import numpy as np


def window_indices(
    n_clips: int,
    n_seqs: int,
    seq_len: int,
    lo: int = 0,
    hi: int | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """(n_seqs, seq_len) clip indices of the windows over clips ``lo .. hi-1`` (default: all)."""
    hi = n_clips if hi is None else hi
    m = hi - lo
    if not 0 <= lo < hi <= n_clips:
        raise ValueError(f"clip range {lo}..{hi} is empty or outside 0..{n_clips}")
    if m < seq_len:  # too short for one window: stretch the clips over it
        one = lo + np.round(np.linspace(0, m - 1, seq_len)).astype(np.int64)
        return np.tile(one, (n_seqs, 1))
    if rng is None:
        starts = np.round(np.linspace(0, m - seq_len, n_seqs)).astype(np.int64)
    else:
        starts = np.sort(rng.integers(0, m - seq_len + 1, size=n_seqs))
    return lo + starts[:, None] + np.arange(seq_len)[None, :]


def chapter_count(n_clips: int, chapter_clips: int) -> int:
    """How many chapters a trailer of ``n_clips`` is read in: ⌈n / chapter_clips⌉ (1 when ``chapter_clips`` is 0)."""
    return max(1, -(-n_clips // chapter_clips)) if chapter_clips > 0 else 1


def chapter_span(n_clips: int, n_chapters: int, k: int) -> tuple[int, int]:
    """Clips ``lo .. hi-1`` of chapter ``k`` of ``n_chapters`` equal spans of a trailer."""
    return round(k * n_clips / n_chapters), round((k + 1) * n_clips / n_chapters)


def centred_window(n_clips: int, clip: int, seq_len: int) -> np.ndarray:
    """(seq_len,) indices of the window centred on ``clip`` (shifted inside the trailer)."""
    if n_clips < seq_len:
        return np.round(np.linspace(0, n_clips - 1, seq_len)).astype(np.int64)
    start = min(max(clip - seq_len // 2, 0), n_clips - seq_len)
    return start + np.arange(seq_len)
