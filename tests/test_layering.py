"""The shape of the code: no import circle and nothing imported from a floor above, reading below training, the
library below the apps, one name per file, a CLI that answers at once."""

from __future__ import annotations

import ast
import functools
import subprocess
import sys
from pathlib import Path

import pytest

from mmx.errors import MmxError
from mmx_cli import main as cli

SRC = Path(__file__).resolve().parents[1] / "src"
APPS = ("mmx_cli", "mmx_serve", "mmx_report")


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at its top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def library_files() -> list[Path]:
    return sorted((SRC / "mmx").rglob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def import_targets(path: Path) -> set[str]:
    """The first-party modules a file imports (at its top, inside functions, or for type checking): ``from a.b
    import c`` is module ``a.b.c`` when that is a module, else ``a.b`` (a package's face only hands names on)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module
                     for a in node.names]
        found |= {n for n in names if n in MODULES}
    return found - {module_name(path)}


@functools.cache
def graph() -> dict[str, set[str]]:
    return {name: import_targets(path) for name, path in MODULES.items()}


def reaches(start: str, edges: dict[str, set[str]]) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in edges[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen


def test_no_import_circle():
    edges = graph()
    circles = sorted(m for m in edges if m in reaches(m, edges))
    assert not circles, f"modules that import themselves through others: {circles}"


# floor rules: a module never imports what stands above it (DESIGN §5; docs in README's layout)
NEVER = {
    # durable I/O, the run folder's declarations, the configs and the whole data layer stand below the runs
    ("mmx.durable", "mmx.artifacts", "mmx.config", "mmx.data"): (
        "mmx.run", "mmx.index", "mmx.scenes", "mmx.embeddings", "mmx.derived", "mmx.add", "mmx.api"),
    ("mmx.model",): ("mmx.data", "mmx.run", "mmx.train"),  # the network takes mmx.inputs, never the data layer
    ("mmx.durable", "mmx.inputs", "mmx.errors"): ("mmx.",),  # leaves: they import nothing of mmx
}


@pytest.mark.parametrize("low", [low for lows in NEVER for low in lows], ids=str)
def test_a_low_module_never_reaches_up(low):
    edges = graph()
    above = tuple(a for lows, highs in NEVER.items() if low in lows for a in highs)
    for name in [m for m in edges if m == low or m.startswith(low + ".")]:
        bad = sorted(t for t in edges[name] if t.startswith(above) and not t.startswith(low))
        assert not bad, f"{name} imports {bad}"


def test_every_library_file_has_a_name_of_its_own():
    """No two modules share a file name, but a package's ``__init__`` and the app modules named after what they
    serve: a CLI command (``mmx_cli/commands/``) and an API route group (``mmx_serve/routes/``)."""
    named: dict[str, list[str]] = {}
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        if path.name != "__init__.py" and not rel.startswith(("mmx_cli/commands/", "mmx_serve/routes/")):
            named.setdefault(path.name, []).append(rel)
    assert not {n: p for n, p in named.items() if len(p) > 1}


@pytest.mark.parametrize("path", library_files(), ids=lambda p: str(p.relative_to(SRC)))
def test_reading_never_imports_training_and_the_library_never_imports_apps(path):
    rel = path.relative_to(SRC / "mmx").as_posix()
    mods = imported_modules(path)
    assert not {m for m in mods if m.split(".")[0] in APPS}, f"{rel} imports an application"
    if not rel.startswith("train/") and rel != "ablation.py":
        assert not {m for m in mods if m == "mmx.train" or m.startswith("mmx.train.")}, f"{rel} imports mmx.train"


BLOCKER = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"av", "cv2", "scenedetect", "matplotlib", "fastapi", "faiss", "ray"}:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Block())
from mmx_cli.main import main
try:
    main(sys.argv[1:])
except SystemExit as e:
    print("exit", e.code)
print("heavy:", sorted(m for m in ("torch", "numpy", "sklearn") if m in sys.modules))
"""


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"], ["extract", "--help"], ["serve", "--help"]])
def test_help_answers_without_heavy_libraries(argv):
    out = subprocess.run([sys.executable, "-c", BLOCKER, *argv], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "usage: mmx" in out.stdout and "exit 0" in out.stdout
    assert "heavy: []" in out.stdout  # neither torch, numpy nor scikit-learn is imported to answer --help


def test_a_missing_extra_is_one_line_naming_it(monkeypatch, capsys):
    def needs_fastapi(args):
        raise ModuleNotFoundError("No module named 'fastapi'", name="fastapi")

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    parser.set_defaults(func=needs_fastapi)
    for action in parser._subparsers._group_actions[0].choices.values():
        action.set_defaults(func=needs_fastapi)
    assert cli.main(["serve", "--run", "R"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'serve' extra" in err and "pip install 'mmx[serve]'" in err


def test_only_user_errors_become_one_line_messages(monkeypatch, capsys):
    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    info = parser._subparsers._group_actions[0].choices["info"]

    info.set_defaults(func=lambda args: (_ for _ in ()).throw(MmxError("the file X is bad; do Y")))
    assert cli.main(["info", "x"]) == 2
    assert capsys.readouterr().err == "mmx info: error: the file X is bad; do Y\n"

    info.set_defaults(func=lambda args: {}["a bug"])  # a programming error keeps its traceback
    with pytest.raises(KeyError):
        cli.main(["info", "x"])
