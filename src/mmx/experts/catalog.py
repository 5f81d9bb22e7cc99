"""What each registered expert is and whether its weights are here (``mmx experts``)."""

from __future__ import annotations

from mmx.experts import EXPERTS
from mmx.experts.weights import weights_dir


def describe(name: str) -> dict:
    """One expert: name, modality, dim, level, sampling, weight files with presence, source and checksum."""
    expert = EXPERTS.create(name)
    files = [{"path": str(p), "present": p.exists()} for p in expert.weight_files()]
    return {
        "name": expert.name,
        "modality": expert.modality,
        "dim": expert.dim,
        "level": expert.level,
        "fps": expert.fps if expert.modality != "audio" else None,
        "size": expert.size if expert.modality != "audio" else None,
        "weights": files,
        "ready": all(f["present"] for f in files),
        "source": getattr(expert, "weights_source", ""),
        "sha256": getattr(expert, "sha256", ""),  # checked before loading user files ("" = none known)
    }


def catalog() -> dict:
    """Every registered expert, and the folder where user-provided weight files are looked up."""
    return {"weights_dir": str(weights_dir()), "experts": [describe(n) for n in EXPERTS.names()]}
