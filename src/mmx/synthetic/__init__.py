"""The synthetic demo collection (per-clip features with real label structure)."""
