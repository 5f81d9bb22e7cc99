"""The number format the network computes in: bf16 where the hardware has it, else fp32.

``train.precision`` (and ``finetune``'s ``precision``) is ``auto``, ``fp32`` or ``bf16``. ``auto`` is
bf16 on a GPU that computes it (Ampere and later) and on a CPU with bf16 units (AVX-512 BF16 or AMX —
the test the experts use, ``native_bf16_cpu``), fp32 elsewhere: on a CPU without them bf16 is
emulated and slower than fp32. bf16 is *mixed* precision (``torch.autocast``): the matrix products
run in bf16 with fp32 accumulation, while the master weights, the optimizer state, the losses, the
metrics and every vector a run writes (embeddings, scene vectors) stay fp32. Coarse training,
fine-tuning, prediction, embedding, scene vectors and ``mmx add`` all run in the precision this
module resolves; a run records what it trained in (``RunInfo.precision``, and every epoch's record).
"""

from __future__ import annotations

from contextlib import AbstractContextManager

import torch

from mmx.config import PRECISIONS


def native_bf16_cpu() -> bool:
    """Whether this CPU computes bfloat16 in hardware (AVX-512 BF16 or AMX), where bf16 runs ~2× fp32."""
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


def resolve_precision(setting: str, device: torch.device | str) -> str:
    """``fp32`` or ``bf16``: ``setting`` itself, or for ``auto`` what ``device`` computes natively."""
    if setting not in PRECISIONS:
        raise ValueError(f"precision {setting!r} is not one of {', '.join(PRECISIONS)}")
    if setting != "auto":
        return setting
    if torch.device(device).type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if native_bf16_cpu() else "fp32"


def in_cpu_autocast() -> bool:
    """Whether the code runs inside CPU autocast (``torch.is_autocast_enabled("cpu")``, older torch's spelling too)."""
    try:
        return torch.is_autocast_enabled("cpu")
    except TypeError:  # torch < 2.4
        return torch.is_autocast_cpu_enabled()


def autocast(device: torch.device | str, precision: str) -> AbstractContextManager:
    """Mixed precision on ``device``'s kind for a resolved ``precision`` (bf16); plain fp32 otherwise."""
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=precision == "bf16")
