"""Chapters of a long trailer or film: how many, and spans that cover every clip once in near-equal parts."""

from __future__ import annotations

import pytest

from mmx.data.windows import chapter_count, chapter_span


@pytest.mark.parametrize("n, per, count", [(10, 720, 1), (720, 720, 1), (721, 720, 2), (2000, 720, 3), (2000, 0, 1)])
def test_chapter_count(n, per, count):
    assert chapter_count(n, per) == count
    spans = [chapter_span(n, count, k) for k in range(count)]
    assert spans[0][0] == 0 and spans[-1][1] == n and all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
    assert max(hi - lo for lo, hi in spans) - min(hi - lo for lo, hi in spans) <= 1  # equal spans
