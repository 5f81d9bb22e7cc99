"""Feature store, import format, splits, window sampling and the torch dataset."""
