"""The ``mmx`` command line: application code on top of the ``mmx`` library."""
