#!/usr/bin/env bash
# GPU readiness in one command: both networks trained a few steps in fp32 and bf16, a real coarse run, the
# network embedding on CUDA, the real clips extracted with --device cuda, 1M vectors searched; one JSON line.
# Run it where a GPU is (through the device tool when a GPU is lent: docs/scale.md "GPU readiness").
# Without CUDA it says so and exits with status 2. Arguments go to bench/gpu.py (--clips DIR, --experts, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
exec "$PYTHON" bench/gpu.py "$@"
