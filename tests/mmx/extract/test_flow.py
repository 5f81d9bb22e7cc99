"""Optical flow: it points the way the picture moves, and a worker pool gives what an inline call gives."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from mmx.extract.flow import clip_flow, flow_executor


def _translating(dx: int, dy: int, n: int = 3, size: int = 64) -> np.ndarray:
    rng = np.random.default_rng(0)
    base = cv2.GaussianBlur((rng.random((200, 200)) * 255).astype(np.uint8), (0, 0), 3)
    base = cv2.normalize(base, None, 0, 255, cv2.NORM_MINMAX)
    frames = [base[60 - dy * t:60 - dy * t + size, 60 - dx * t:60 - dx * t + size] for t in range(n)]
    return np.stack([np.repeat(f[..., None], 3, axis=2) for f in frames])  # (n, size, size, 3), moving by (dx, dy)


@pytest.mark.parametrize("dx,dy", [(3, 0), (-2, 2)])
def test_flow_points_the_way_the_picture_moves(dx, dy):
    flow = clip_flow(_translating(dx, dy))
    assert flow.shape == (2, 64, 64, 2) and flow.dtype == np.float32
    inner = flow[:, 8:-8, 8:-8]  # borders have no match
    assert np.allclose(inner[..., 0].mean(), dx, atol=0.3)
    assert np.allclose(inner[..., 1].mean(), dy, atol=0.3)


def test_flow_pool_matches_inline():
    frames = _translating(1, -1)
    with flow_executor(2) as pool:
        pooled = pool.submit(clip_flow, frames).result()
    assert np.allclose(pooled, clip_flow(frames), atol=1e-5)
