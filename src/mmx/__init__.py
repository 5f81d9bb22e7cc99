"""mmx: multi-modal movie-trailer genre classification and fine-grained retrieval.

The importable library: feature store, model, losses, metrics and training loops. Command-line,
plotting and serving code live in the separate ``mmx_cli`` package.
"""

__version__ = "0.1.0"
