"""The files of a run folder: what each one is, what it is derived from, the command that builds it.

Every file a run folder holds is declared once in ``ARTIFACTS``. *Sources* (the run's info, its
config, its training state and weights) are written by the command that makes the run;
*derived* artifacts (embeddings, scene vectors, their indexes, the map, cached scores) are
computed from other files of the run — and from the run's feature store, whose trailers they
list — and can always be rebuilt by their command.

Two rules hold for every file:

* **one write**: ``mmx.durable.atomic_write`` — a reader sees the old file or the new one, never half of it;
* **one freshness rule**: a derived artifact is fresh when it exists, is not older than any input
  file it is derived from, and lists exactly the trailers its source lists. ``problem`` says why an
  artifact is not fresh, naming the command that refreshes it; ``require_fresh`` raises that.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mmx.errors import RunError

STORE = "store"  # the input name of the run's feature store (its trailers), outside the run folder


@dataclass(frozen=True)
class Artifact:
    file: str  # path inside the run folder; ``{kind}`` / ``NNNN`` mark a family of files
    what: str  # what it holds, as a phrase ("the run's weights")
    derived_from: tuple[str, ...] = ()  # artifacts (or STORE) it is computed from; () for sources
    command: str = ""  # the command that (re)builds it; ``{run}`` is the run folder

    @property
    def derived(self) -> bool:
        return bool(self.derived_from)

    def refresh_hint(self, root: Path, **names: str) -> str:
        return f"`{self.command.format(run=root, **names)}`"


RUN_INFO, CONFIG, FINETUNE, STATE, METRICS = "run.json", "config.json", "finetune.json", "state.json", "metrics.jsonl"
BEST, CHECKPOINTS, EMBEDDINGS, TRAILERS, SOURCE = (
    "best.safetensors", "checkpoints/epoch-NNNN.*", "embeddings.npz", "trailers.csv", "source.json")
LAYOUT, INDEX, INDEX_RECORD = "layout.npz", "index-{kind}.faiss", "index-{kind}.json"
SCENES, SCENE_INDEX, SCENE_INDEX_RECORD = "scenes.npz", "scenes.faiss", "scenes.json"
SCORES, REVIEWS, INGEST_LOCK = "scores.npz", "reviews.jsonl", ".ingest.lock"
USERS, USERS_LOCK, INGESTS = "users.json", ".users.json.lock", "ingests.jsonl"
PICTURES, PICTURES_INDEX, ATLAS, ATLAS_SHEETS = "pictures.bin", "pictures.npz", "atlas/atlas.json", "atlas/NNNN.jpg"
TENSORBOARD_EVENTS, MLFLOW_RECORD = "events.out.tfevents.*", "mlflow.json"

ARTIFACTS: dict[str, Artifact] = {a.file: a for a in (
    Artifact(RUN_INFO, "the run's kind, store, experts, genres and splits (written last: the run is complete)",
             command="mmx train --out {run}"),
    Artifact(CONFIG, "the resolved RunConfig", command="mmx train --out {run}"),
    Artifact(FINETUNE, "the fine-tuning settings of a fine run", command="mmx finetune --out {run}"),
    Artifact(STATE, "the training state: last epoch, its checkpoint, best epoch, history",
             command="mmx train --out {run}"),
    Artifact(METRICS, "one line per epoch", command="mmx train --out {run}"),
    Artifact(BEST, "the run's weights", command="mmx train --out {run}"),
    Artifact(CHECKPOINTS, "the last finished epoch: weights, other parts, optimizer state (resume)",
             command="mmx train --out {run} --resume"),
    # appended by TensorBoard's own writer as training goes (a log read by TensorBoard, never by mmx)
    Artifact(TENSORBOARD_EVENTS, "TensorBoard event files of every epoch (train.log: tensorboard)",
             command="mmx train --out {run} --log tensorboard"),
    Artifact(MLFLOW_RECORD, "the MLflow run this run logs to (train.log: mlflow), continued on --resume",
             command="mmx train --out {run} --log mlflow"),
    Artifact(TRAILERS, "metadata of imported embeddings", command="mmx import-embeddings --out {run}"),
    Artifact(SOURCE, "the files embeddings were imported from", command="mmx import-embeddings --out {run}"),
    Artifact(PICTURES, "pictures given with imported embeddings, one per trailer, packed",
             command="mmx import-embeddings --pictures DIR --out {run}"),
    Artifact(PICTURES_INDEX, "each imported picture's trailer, bytes and digest",
             command="mmx import-embeddings --pictures DIR --out {run}"),
    Artifact(EMBEDDINGS, "the trailer embeddings", (BEST, STORE), "mmx embed --run {run}"),
    Artifact(LAYOUT, "the 2-D map of the trailers", (EMBEDDINGS,), "mmx serve --run {run}"),
    Artifact(ATLAS, "the map's pictures: each slot's trailer and picture version", (STORE, PICTURES_INDEX),
             "mmx serve --run {run}"),
    Artifact(ATLAS_SHEETS, "one sheet of the map's pictures (a level's tiles, named by what they hold)",
             (STORE, PICTURES_INDEX), "mmx serve --run {run}"),
    Artifact(INDEX, "the {kind} index of the trailer embeddings", (EMBEDDINGS,), "mmx index --run {run} --kind {kind}"),
    Artifact(INDEX_RECORD, "settings and row ids of the {kind} index", (EMBEDDINGS,),
             "mmx index --run {run} --kind {kind}"),
    Artifact(SCENES, "the scene vectors", (BEST, STORE), "mmx scenes --run {run}"),
    Artifact(SCENE_INDEX, "the scene index", (SCENES,), "mmx scenes --run {run}"),
    Artifact(SCENE_INDEX_RECORD, "settings of the scene index", (SCENES,), "mmx scenes --run {run}"),
    Artifact(SCORES, "an ablation variant's predictions on its evaluation split", (BEST,), "mmx ablate"),
    Artifact(REVIEWS, "the label review journal (decisions made in the explorer)", command="mmx serve --run {run}"),
    Artifact(INGEST_LOCK, "the lock ingests of several servers share", command="mmx serve --run {run}"),
    Artifact(USERS, "the explorer's accounts: names, roles, salted token hashes (mode 0600)",
             command="mmx users add NAME --role ROLE --run {run}"),
    Artifact(USERS_LOCK, "the lock changes of the accounts take", command="mmx users add NAME --role ROLE --run {run}"),
    Artifact(INGESTS, "who added which trailer through the explorer, and when", command="mmx serve --run {run}"),
)}


# ---------------------------------------------------------------------------- the one freshness rule
def problem(root: str | Path, name: str, holds: list[str] | None = None, source_ids: list[str] | None = None,
            source: str = STORE, **names: str) -> str | None:
    """Why the derived artifact ``name`` of run folder ``root`` is not fresh, or None when it is.

    It is not fresh when it is missing, older than an input file it is derived from (inputs that
    are gone do not count: nothing could refresh it from them), or — given the trailer ids it
    ``holds`` and the ids of its ``source`` — when it does not list exactly those trailers.
    ``names`` fill the placeholders of a family of files (``kind="ivf"``). The sentence ends with
    the command that refreshes it.
    """
    root = Path(root)
    art = ARTIFACTS[name]
    path = root / name.format(**names)
    hint = f"; refresh it with {art.refresh_hint(root, **names)}"
    if not path.exists():
        return f"{path} does not exist yet{hint}"
    mtime = path.stat().st_mtime_ns
    for dep in art.derived_from:
        dep_path = root / dep.format(**names)
        if dep != STORE and dep_path.exists() and mtime < dep_path.stat().st_mtime_ns:
            return f"{path} is older than {ARTIFACTS[dep].what.format(**names)}{hint}"
    if holds is not None and source_ids is not None and sorted(holds) != sorted(source_ids):
        new = len(set(source_ids) - set(holds))
        return (f"{path} holds {len(holds)} trailers, the {source} {len(source_ids)}"
                + (f" ({new} added since it was built)" if new else "") + hint)
    return None


def require_fresh(root: str | Path, name: str, holds: list[str] | None = None,
                  source_ids: list[str] | None = None, source: str = STORE, **names: str) -> None:
    """``RunError`` naming the stale artifact and its command unless ``problem`` finds none."""
    why = problem(root, name, holds, source_ids, source, **names)
    if why:
        raise RunError(why)
