"""Training loops and run folders (coarse BCE training here; fine-tuning lives beside it)."""
