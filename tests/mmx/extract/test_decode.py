"""Decoding: frames resized on their short side and centre-cropped keep the centre of the picture."""

from __future__ import annotations

import numpy as np

from mmx.extract.decode import Resizer, decode_video
from mmx.synthetic.videos import write_video


def test_resize_crop_keeps_the_centre(tmp_path):
    img = np.zeros((120, 200, 3), np.uint8)
    img[:, 80:120] = 255  # a white band in the middle of a wide picture
    path = write_video(tmp_path / "wide.mp4", [img] * 3, 24)
    frame = next(iter(decode_video(path)))
    crop = Resizer().crop(frame, 60)  # 120×200 → 60×100 → centre 60×60
    assert crop.shape == (60, 60, 3)
    band = crop[:, :, 0].mean(0)  # (60,)
    assert band[25:35].min() > 200 and band[:15].max() < 60 and band[-15:].max() < 60
