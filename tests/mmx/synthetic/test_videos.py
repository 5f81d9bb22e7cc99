"""Generated trailers: each genre's shots have its look."""

from __future__ import annotations

import numpy as np

from mmx.synthetic.videos import GENRE_STYLES, render_shot


def test_generated_shots_have_the_genre_look():
    rng = np.random.default_rng(0)
    action = render_shot(GENRE_STYLES["Action"], 4, 32, 24, rng, even=True)
    horror = render_shot(GENRE_STYLES["Horror"], 4, 32, 24, rng, even=True)
    assert action.shape == (4, 24, 32, 3)
    assert action[..., 0].mean() > action[..., 2].mean()  # reddish
    assert horror[..., 2].mean() > horror[..., 1].mean()  # purple
