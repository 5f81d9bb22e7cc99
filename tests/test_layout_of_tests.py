"""tests/ mirrors src/: a module's tests are found by its path.

``src/mmx/data/store.py`` is tested in ``tests/mmx/data/test_store.py``; a package's ``__init__.py`` that defines
things (``mmx/health/__init__.py``) in ``tests/mmx/health/test_health.py``; an ``__init__.py`` that only hands
names on (imports, ``__all__``, a lazy ``__getattr__``) needs none. Every library module has such a file, with tests
in it; every test file under tests/mmx, tests/mmx_cli, tests/mmx_serve and tests/mmx_report names a module (or
package) that exists, so a module renamed or moved takes its tests along. Whole-system tests live in tests/e2e and
the checks of the code base as a whole at the top of tests/ (tests/README.md).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from helpers import ROOT

SRC = ROOT / "src"
TESTS = ROOT / "tests"
PACKAGES = ["mmx", "mmx_cli", "mmx_serve", "mmx_report"]  # the library, then the apps


def hands_names_on(path: Path) -> bool:
    """An ``__init__.py`` that defines nothing: imports, private or dunder tables (``__all__``, ``_API``), and the
    lazy-loading ``__getattr__`` / ``__dir__``."""
    tree = ast.parse(path.read_text())
    for i, node in enumerate(tree.body):
        if i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the docstring
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if all(isinstance(t, ast.Name) and t.id.startswith("_") for t in targets):
                continue
        if isinstance(node, ast.FunctionDef) and node.name in ("__getattr__", "__dir__"):
            continue
        return False
    return True


def mirrored(module: Path) -> Path:
    """The test file of ``module`` (a path under src/)."""
    rel = module.relative_to(SRC)
    name = rel.parent.name if module.name == "__init__.py" else module.stem
    return TESTS / rel.parent / f"test_{name}.py"


def has_tests(path: Path) -> bool:
    tree = ast.parse(path.read_text())
    return any(isinstance(n, ast.FunctionDef) and n.name.startswith("test_") for n in ast.walk(tree))


def library_modules() -> list[Path]:
    return [p for p in sorted((SRC / "mmx").rglob("*.py")) if not (p.name == "__init__.py" and hands_names_on(p))]


def test_every_library_module_has_tests_at_its_mirrored_path():
    missing = [str(mirrored(m).relative_to(ROOT)) for m in library_modules() if not mirrored(m).is_file()]
    empty = [str(mirrored(m).relative_to(ROOT)) for m in library_modules()
             if mirrored(m).is_file() and not has_tests(mirrored(m))]
    assert not missing, f"library modules without a test file at the mirrored path: {', '.join(missing)}"
    assert not empty, f"test files without a test: {', '.join(empty)}"


@pytest.mark.parametrize("package", PACKAGES)
def test_every_mirrored_test_file_names_a_module(package):
    modules = {mirrored(p) for p in (SRC / package).rglob("*.py")}
    orphans = [str(t.relative_to(ROOT)) for t in sorted((TESTS / package).rglob("test_*.py")) if t not in modules]
    assert not orphans, (f"test files under tests/{package} that name no module of src/{package} (move them beside "
                         f"the module they test, or to tests/e2e): {', '.join(orphans)}")


def test_the_mirror_is_read_the_way_it_is_written():
    """The rule above on known cases: a module, a package that defines things, a package that hands names on."""
    assert mirrored(SRC / "mmx" / "data" / "store.py") == TESTS / "mmx" / "data" / "test_store.py"
    assert mirrored(SRC / "mmx" / "health" / "__init__.py") == TESTS / "mmx" / "health" / "test_health.py"
    assert not hands_names_on(SRC / "mmx" / "health" / "__init__.py")  # defines Finding, Collection, ...
    assert hands_names_on(SRC / "mmx" / "__init__.py")  # the lazy Python API face
    assert hands_names_on(SRC / "mmx" / "catalog" / "__init__.py")  # imports and __all__
