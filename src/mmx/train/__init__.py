"""Training: the shared loop (``loop.py``), coarse genre training (``coarse.py``), NT-Xent fine-tuning (``finetune.py``)."""
