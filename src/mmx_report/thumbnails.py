"""A thumbnail of a trailer whose video file is known (the store entry's ``source["video"]``).

Decoding needs PyAV (the ``extract`` extra); without it, or for a file that cannot be read, there is
no thumbnail and the report shows a dash.
"""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

from mmx.errors import VideoError

THUMB_WIDTH = 160  # pixels
THUMB_AT = 0.3  # position in the video, as a fraction of its duration


def thumbnail_png(path: Path) -> bytes | None:
    """PNG bytes of the frame at ``THUMB_AT`` of the video, ``THUMB_WIDTH`` wide; None when unreadable."""
    if not path.is_file() or importlib.util.find_spec("av") is None:
        return None
    from mmx.extract.decode import decode_video, probe

    try:
        at = probe(path).duration * THUMB_AT
        image = None
        for frame in decode_video(path):
            image = frame
            if frame.time is not None and frame.time >= at:
                break
    except VideoError:
        return None
    if image is None:
        return None
    pil = image.to_image()
    pil = pil.resize((THUMB_WIDTH, max(1, round(pil.height * THUMB_WIDTH / pil.width))))
    buf = io.BytesIO()
    pil.save(buf, format="PNG")
    return buf.getvalue()
