"""``mmx serve``: a web explorer and JSON API over one run's trailers (an application, not part of ``mmx``);
``mmx_serve.app.create_app`` builds it, ``mmx_serve.server.serve`` runs it."""
