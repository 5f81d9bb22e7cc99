"""``mmx serve``: a web explorer and JSON API over one run's trailers (an application, not part of ``mmx``)."""

from mmx_serve.app import create_app

__all__ = ["create_app"]
