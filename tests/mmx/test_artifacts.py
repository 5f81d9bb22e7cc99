"""Every file a run folder holds is declared in the table of run files, with the command that makes it; none is
stale after a run and its scenes are made."""

from __future__ import annotations

from mmx.run import Run


def test_every_file_of_a_run_folder_is_declared(trained):
    from fnmatch import fnmatch

    from mmx.artifacts import ARTIFACTS
    from mmx.derived import stale_files
    from mmx.scenes.compute import compute_scenes

    run = Run.open(trained)
    compute_scenes(run)
    patterns = [f.replace("{kind}", "*").replace("NNNN", "*") for f in ARTIFACTS]
    for path in trained.rglob("*"):
        rel = path.relative_to(trained).as_posix()
        assert path.is_dir() or any(fnmatch(rel, p) for p in patterns), f"{rel} is not in mmx.artifacts.ARTIFACTS"
    assert all(a.command.startswith("mmx ") for a in ARTIFACTS.values())
    assert stale_files(run) == []
