"""Name → factory registries: a factory registered once, built by name with its arguments, the names sorted; an
unknown name is a ConfigError listing the known ones."""

from __future__ import annotations

import pytest

from mmx.errors import ConfigError
from mmx.registry import Registry


def test_register_create_and_list():
    shapes: Registry[tuple] = Registry("shape")

    @shapes.register("square")
    def square(side: int = 1) -> tuple:
        return ("square", side)

    shapes.register("circle")(lambda r=1: ("circle", r))
    assert shapes.create("square", 3) == ("square", 3) and shapes.create("circle", r=2) == ("circle", 2)
    assert shapes.get("square") is square  # the decorator hands the function back unchanged
    assert shapes.names() == ["circle", "square"] and "circle" in shapes and "hexagon" not in shapes
    with pytest.raises(ValueError, match="shape 'square' is registered twice"):
        shapes.register("square")(lambda: ("square", 0))


def test_an_unknown_name_is_a_config_error_naming_the_known_ones():
    fusions: Registry[object] = Registry("fusion")
    with pytest.raises(ConfigError, match="unknown fusion 'cg'; known: none"):
        fusions.create("cg")
    fusions.register("concat")(object)
    fusions.register("cg")(object)
    with pytest.raises(ConfigError, match="unknown fusion 'attention'; known: cg, concat"):
        fusions.get("attention")
