"""The derived files of a run, in one table: which of them are stale, and how each is brought up to date when
trailers join the run's store (``mmx add``, the explorer's ingest).

A derived file (``mmx.artifacts``: computed from the run's weights, its store or another derived file) is an
entry of ``DERIVED``, in the order they are brought up to date:

* ``embeddings.npz`` — the new trailers embedded with the run's network, merged in (ids sorted);
* ``index-<kind>.faiss`` — the new vectors added as rows (a replaced trailer needs ``mmx index``);
* ``layout.npz`` — each new trailer placed among its neighbours on the existing map;
* ``scenes.npz`` and its index — the new trailers' scene vectors added, the index rebuilt.

Each entry says why the files of it that a run holds are stale (``stale``: ``mmx info``) and brings them up to
date after trailers ``ids`` joined (``update``). Trailers of the store a file lacks besides them (extracted
with ``mmx extract`` meanwhile) join it too; a file that cannot be brought up to date that way (older than the
weights, holding trailers the store no longer has, a trailer index holding a re-extracted trailer) is left as it
is and named in ``Refresh.stale`` with the command that refreshes it; a missing one stays missing. Adding a
derived file is one entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from mmx import artifacts
from mmx.data.vectors import read_npz, write_npz
from mmx.run import ModelRun, Run


@dataclass
class Refresh:
    """What bringing a run's derived files up to date did."""

    ids: list[str]  # the trailers that joined the store
    store_ids: list[str] = field(default_factory=list)  # every trailer of the store now
    stale_before: dict[str, str] = field(default_factory=dict)  # file → why it was stale before anything changed
    updated: list[str] = field(default_factory=list)  # files brought up to date
    stale: list[str] = field(default_factory=list)  # files left as they were, each with its refresh command
    embedded: tuple[list[str], np.ndarray] | None = None  # trailers embedded and their (N, D) vectors, if any

    def todo(self, held: list[str]) -> list[str]:
        """What a derived file holding ``held`` needs: the added trailers and any other store trailer it lacks."""
        return sorted(set(self.ids) | (set(self.store_ids) - set(held)))

    def fresh_after(self, run: ModelRun, name: str, held: list[str]) -> bool:
        """Whether ``name`` (an artifact of the run's store) will be fresh with the trailers it needs added; when
        not, the reason goes to ``stale``."""
        why = artifacts.problem(run.root, name, sorted(set(held) | set(self.todo(held))), self.store_ids,
                                f"store {run.store.root}")
        if why:
            self.stale.append(why)
        return why is None


@dataclass(frozen=True)
class Derived:
    """One kind of derived file of a run."""

    name: str  # the artifact (mmx.artifacts), as its file is named
    stale: Callable[[ModelRun], dict[str, str]]  # file → why it is not fresh, for the files of it the run holds
    update: Callable[[ModelRun, Refresh], None]  # bring it up to date after ``Refresh.ids`` joined the store


# ---------------------------------------------------------------------------- embeddings
def _embeddings_stale(run: ModelRun) -> dict[str, str]:
    path = run.dir.embeddings_path
    why = run.embeddings_problem() if path.exists() else None
    return {str(path): why} if why else {}


def _embeddings_update(run: ModelRun, refresh: Refresh) -> None:
    from mmx.embeddings import embed_ids

    path = run.dir.embeddings_path
    if not path.exists():
        return
    old_ids, old_vectors = read_npz(path)
    if not refresh.fresh_after(run, artifacts.EMBEDDINGS, old_ids):
        return
    todo = refresh.todo(old_ids)
    vectors = embed_ids(run.model(), run.store, run.info, todo, run.config.train.eval_batch_size, run.precision)  # (N, D)
    merged = dict(zip(old_ids, old_vectors)) | dict(zip(todo, vectors))
    order = sorted(merged)
    write_npz(path, order, np.stack([merged[t] for t in order]))
    run.forget(models=False)
    refresh.updated.append(str(path))
    refresh.embedded = todo, vectors


# ---------------------------------------------------------------------------- trailer indexes
def _index_stale(run: ModelRun) -> dict[str, str]:
    from mmx.index import has_faiss, index_paths, index_problem, run_index_kinds

    if not has_faiss():
        return {}
    found = {str(index_paths(run, kind)[0]): index_problem(run, kind) for kind in run_index_kinds(run)}
    return {path: why for path, why in found.items() if why}


def _index_update(run: ModelRun, refresh: Refresh) -> None:
    from mmx.index import extend_run_index, has_faiss, index_paths, read_record, run_index_kinds

    if not has_faiss():
        return
    for kind in run_index_kinds(run):
        path, side = index_paths(run, kind)
        if str(path) in refresh.stale_before:  # built from other embeddings: said stale, left as it is
            refresh.stale.append(refresh.stale_before[str(path)])
            continue
        if refresh.embedded is None:
            continue
        ids, vectors = refresh.embedded
        if set(ids) & set(read_record(side, "")["ids"]):  # a trailer replaced: its old row cannot be dropped
            refresh.stale.append(f"{path} holds the old vectors of re-extracted trailers; refresh it with "
                                 f"`mmx index --run {run.root} --kind {kind}`")
        else:
            extend_run_index(run, kind, ids, vectors)
            refresh.updated.append(str(path))


# ---------------------------------------------------------------------------- the map
def _layout_update(run: ModelRun, refresh: Refresh) -> None:
    from mmx.layout import map_layout

    path = run.root / artifacts.LAYOUT
    if path.exists() and refresh.embedded is not None:
        map_layout(run)  # places the new trailers among their neighbours and rewrites the map
        refresh.updated.append(str(path))


# ---------------------------------------------------------------------------- scenes
def _scenes_stale(run: ModelRun) -> dict[str, str]:
    from mmx.scenes.scene_set import scenes_problem

    path = run.root / artifacts.SCENES
    why = scenes_problem(run) if path.exists() else None
    return {str(path): why} if why else {}


def _scenes_update(run: ModelRun, refresh: Refresh) -> None:
    from mmx.scenes.compute import add_scenes
    from mmx.scenes.scene_set import scene_trailer_ids

    held = scene_trailer_ids(run.root)
    if held is None or not refresh.fresh_after(run, artifacts.SCENES, held):
        return
    add_scenes(run, refresh.todo(held))
    refresh.updated.append(str(run.root / artifacts.SCENES))


DERIVED: tuple[Derived, ...] = (
    Derived(artifacts.EMBEDDINGS, _embeddings_stale, _embeddings_update),
    Derived(artifacts.INDEX, _index_stale, _index_update),
    Derived(artifacts.LAYOUT, lambda run: {}, _layout_update),  # the server rebuilds a stale map when it opens the run
    Derived(artifacts.SCENES, _scenes_stale, _scenes_update),
)


def stale_files(run: Run) -> list[str]:
    """Why each derived file an opened run holds is not fresh: one sentence each, naming the command that
    refreshes it. Files that are not there are not listed; imported embeddings derive nothing."""
    if not isinstance(run, ModelRun):
        return []
    return [why for d in DERIVED for why in d.stale(run).values()]


def bring_up_to_date(run: ModelRun, ids: list[str]) -> Refresh:
    """Every derived file of ``run`` brought up to date after store trailers ``ids`` joined (just written)."""
    refresh = Refresh(list(ids), sorted(run.store.entries()))
    for d in DERIVED:  # decided before anything changes: an index is judged against the embeddings it was built from
        refresh.stale_before |= d.stale(run)
    for d in DERIVED:
        d.update(run, refresh)
    return refresh
