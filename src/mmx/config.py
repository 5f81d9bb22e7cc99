"""Typed configuration: one dataclass per component, nested data → model → train, and fine-tuning.

Every default is the paper's (section numbers in the comments) unless the comment says why not.
Every config checks its values when it is created (``__post_init__``), so a misspelt choice fails
before any work starts. ``resolve`` is the one way a command builds a config: defaults (or a
base), then a YAML/JSON file, then ``section.key=value`` overrides, then the command's own flags,
merged into one mapping and checked once, every name and type included; ``save_config`` writes
the resolved config beside an output.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mmx.durable import atomic_write
from mmx.errors import ConfigError

# Tbl. 2's summary metrics (mmx.metrics computes them); any one of them can pick the best epoch.
METRIC_KEYS = (
    "auprc_micro", "auprc_macro", "auprc_weighted",
    "precision_weighted", "recall_weighted", "f1_weighted",
)
TRAIN_WINDOWS = ("even", "random")  # mmx.data.dataset.TRAIN_VIEWS
SEQUENCE_POOLS = ("concat", "sum")  # how sequence vectors are pooled before k (§7 / §3.2)
POSITIVE_PAIRS = ("halves", "random-windows")  # mmx.train.finetune.PAIR_RULES
TRACKING = ("none", "tensorboard", "mlflow")  # mmx.train.tracking.TRACKERS: where every epoch's figures go too
PRECISIONS = ("auto", "fp32", "bf16")  # mmx.precision: the number format the network computes in


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def _check_log(log: str, name: str) -> None:
    _require(log in TRACKING, f"{name} must be one of {', '.join(TRACKING)}, not {log!r}")


@dataclass
class DataConfig:
    experts: list[str] | None = None  # subset of the store's experts to use; None = all of them
    min_clips: int = 10  # trailers with fewer clips are excluded from training/evaluation (§4.1)
    split_seed: int = 0  # seed of the 80/10/10 hash split used when labels.csv gives no split
    split_fractions: list[float] = field(default_factory=lambda: [0.8, 0.1, 0.1])  # train/val/test (§4.1)
    train_windows: str = "even"  # "even": the evenly spaced windows used at inference; "random": starts drawn each epoch
    # read a trailer's broken experts as missing (zero features, availability mask off) in training and in every read
    # of the run: the dead stretches (zero or repeated rows) the store recorded when the features came in
    # (mmx.data.broken). On: bench/quality.py's dead cells +0.006 (200) / +0.008 (600) test AUPRC_w, every dead
    # expert and nothing else masked; a collection without dead stretches reads exactly as before (docs/quality.md)
    mask_broken_experts: bool = True
    # read as missing, too, the experts that look like noise across the whole store when the run is made (mmx check's
    # coherence rule). Off: on the unreliable cells it masks healthy experts and misses broken ones (−0.014 at 200)
    mask_noise_like: bool = False

    def __post_init__(self) -> None:
        _require(self.min_clips >= 1, f"data.min_clips must be at least 1, not {self.min_clips}")
        fr = self.split_fractions
        _require(len(fr) == 3 and all(f >= 0 for f in fr) and abs(sum(fr) - 1) < 1e-6,
                 f"data.split_fractions must be three shares (train, val, test) summing to 1, not {fr}")
        _require(self.train_windows in TRAIN_WINDOWS,
                 f"data.train_windows must be one of {', '.join(TRAIN_WINDOWS)}, not {self.train_windows!r}")


@dataclass
class ModelConfig:
    fusion: str = "cg"  # "cg" = collaborative gating (§3.1); "concat" = the paper's Naive Concat baseline
    # Defaults: sized for a few hundred to a few thousand trailers (bench/quality.py, docs/quality.md "Defaults");
    # the paper's sizes are the `paper` preset and configs/paper.yaml.
    expert_dim: int = 256  # shared space every expert is reduced to (paper §4.2: 768)
    netvlad_clusters: int = 16  # NetVLAD clusters for window-level experts (audio, §4.2); not given in the paper
    g_layers: int = 2  # depth of the pairwise-relation MLP g (eq. 1; CE uses 2)
    h_layers: int = 2  # depth of the attention MLP h (eq. 1; CE uses 2)
    gem_dim: int = 128  # output size of each expert's Gated Embedding Module (Miech et al.)
    clip_dim: int = 128  # L2-normalised clip vector (§7)
    seq_len: int = 9  # clips per sequence (§7, Tbl. 5)
    n_seqs: int = 40  # sequences per trailer (§7: 40 × 256 = 10240)
    # a longer video (a feature film) is read in ⌈n_clips / chapter_clips⌉ chapters of n_seqs windows each;
    # its embedding and genre probabilities are the means over chapters. 0: one piece, however long (the paper)
    chapter_clips: int = 720
    seq_hidden: int = 256  # hidden width of the sequence MLP j; not given in the paper (preset paper: 512)
    seq_dim: int = 256  # sequence vector after j (§7)
    sequence_pool: str = "sum"  # "sum" (§3.2) or "concat" (§7, the paper preset) of the sequence vectors before k
    bottleneck_hidden: int = 512  # hidden width of the bottleneck MLP k; not given in the paper (preset paper: 2048)
    embed_dim: int = 512  # trailer embedding, output of k (paper §7: 2048)
    head_hidden: int = 256  # hidden width of the genre head l (paper §7: 2048 × 1024)
    dropout: float = 0.2  # dropout before the last layer of the head and of the scene path; the paper uses none
    pooled_path: bool = True  # add the mean-pooled raw experts (Linear + ReLU) to the trailer embedding; not in the paper
    scene_path: bool = True  # add per-clip genre logits, log-mean-exp pooled over a view's clips, to the head's; not in the paper

    def __post_init__(self) -> None:
        sizes = {k: v for k, v in vars(self).items()
                 if isinstance(v, int) and not isinstance(v, bool) and k != "chapter_clips"}
        bad = [f"model.{k}={v}" for k, v in sizes.items() if v < 1]
        _require(not bad, f"{', '.join(bad)}: sizes and counts must be at least 1")
        _require(self.sequence_pool in SEQUENCE_POOLS,
                 f"model.sequence_pool must be one of {', '.join(SEQUENCE_POOLS)}, not {self.sequence_pool!r}")
        _require(0 <= self.dropout < 1, f"model.dropout must be in [0, 1), not {self.dropout}")
        _require(self.chapter_clips >= 0, f"model.chapter_clips must be 0 (off) or a clip count, not {self.chapter_clips}")


@dataclass
class TrainConfig:
    # Defaults are for collections of a few hundred trailers on a CPU; configs/paper.yaml holds the
    # paper's exact recipe (lr 3e-5, 200 epochs, batch 32, §4.2). docs/quality.md "Defaults" says why.
    epochs: int = 30  # paper: 200
    batch_size: int = 16  # paper: 32
    lr: float = 3e-4  # paper: 3e-5 (Adam with AMSGrad, §4.2)
    weight_decay: float = 0.0  # the paper uses none
    amsgrad: bool = True  # §4.2
    seed: int = 0  # seeds weights, batch order and dropout; CPU runs are bit-for-bit deterministic
    threshold: float = 0.3  # sigmoid threshold for predicted labels (§4.5)
    max_pos_weight: float = 30.0  # cap on the per-genre positive weight n_neg/n_pos of eq. 3
    select_metric: str = "auprc_weighted"  # validation metric that picks the best epoch
    eval_batch_size: int = 32  # batch size for evaluation and embedding
    threads: int = 0  # torch CPU threads, set by the command that trains; 0 = torch's default
    keep_optimizer: bool = False  # keep the optimizer state when the run finishes (exact continuation with --epochs)
    expert_dropout: float = 0.0  # chance that a trailer's expert is hidden in a training step (at least one stays); 0 = off
    early_stop: int = 0  # stop after this many epochs without a new best validation score; 0 = run every epoch
    path_losses: bool = True  # with the scene path, each path's logits also get their own BCE (deep supervision); not in the paper
    ema_epochs: float = 3.0  # validate and keep an exponential moving average of the weights over about this many epochs; 0 = off (paper)
    # experiment tracking besides metrics.jsonl (mmx.train.tracking): "tensorboard" writes event files into the run
    # folder, "mlflow" logs to $MLFLOW_TRACKING_URI, else to mlruns/ beside the run folder; needs the `track` extra
    log: str = "none"
    # "auto": bf16 mixed precision on a GPU and on a CPU with bf16 units (AVX-512 BF16, AMX), else fp32; also what
    # prediction, embedding, scene vectors and `mmx add` of the run compute in (mmx.precision). Weights, optimizer
    # state, losses and metrics stay fp32. bench/train.py: 1.4× (default) and 2.0× (paper) the fp32 speed on 2 AMX
    # cores; bench/quality.py: the same test AUPRC_w and P@10 (docs/training.md "Precision")
    precision: str = "auto"
    # torch.compile the network for the training steps (inductor: the elementwise work fused into a few kernels); the
    # compile takes minutes and is redone for each new shape class of batch, so it pays off on long runs
    # (bench/train.py counts it). Needs a C++ compiler on a CPU, triton on a GPU. Validation and reading run eager
    compile: bool = False

    def __post_init__(self) -> None:
        _check_log(self.log, "train.log")
        _require(self.precision in PRECISIONS,
                 f"train.precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")
        _require(0 <= self.expert_dropout < 1, f"train.expert_dropout must be in [0, 1), not {self.expert_dropout}")
        _require(self.early_stop >= 0, f"train.early_stop must be ≥ 0 (0 = off), not {self.early_stop}")
        _require(self.ema_epochs >= 0, f"train.ema_epochs must be ≥ 0 (0 = off), not {self.ema_epochs}")
        _require(self.epochs >= 1 and self.batch_size >= 1 and self.eval_batch_size >= 1,
                 f"train.epochs, batch_size and eval_batch_size must be at least 1 "
                 f"(got {self.epochs}, {self.batch_size}, {self.eval_batch_size})")
        _require(self.lr > 0 and self.weight_decay >= 0, f"train.lr must be > 0 and weight_decay ≥ 0 (got {self.lr}, {self.weight_decay})")
        _require(0 < self.threshold < 1, f"train.threshold must be in (0, 1), not {self.threshold}")
        _require(self.max_pos_weight > 0, f"train.max_pos_weight must be > 0, not {self.max_pos_weight}")
        _require(self.select_metric in METRIC_KEYS,
                 f"train.select_metric must be one of {', '.join(METRIC_KEYS)}, not {self.select_metric!r}")
        _require(self.threads >= 0, f"train.threads must be ≥ 0, not {self.threads}")


@dataclass
class FinetuneConfig:
    """The fine-grained stage (§3.3, §4.2): NT-Xent on two views of each trailer."""

    epochs: int = 50  # §4.2
    warmup_epochs: int = 10  # linear warm-up epochs before cosine annealing (§4.2)
    lr: float = 1e-4  # peak learning rate, Adam (§4.2)
    weight_decay: float = 0.0  # the paper uses none
    batch_size: int = 32  # trailers per batch, 2(N − 1) negatives per anchor; the paper's coarse batch (§4.2)
    temperature: float = 0.5  # τ of NT-Xent (§4.2)
    proj_hidden: int = 2048  # hidden width of projection layer m; not given in the paper (SimCLR: the input size)
    proj_dim: int = 128  # output of projection layer n (§4.2: 2048 → 128)
    positive_pair: str = "halves"  # mmx.train.finetune.PAIR_RULES: "halves" (§3.3) or "random-windows" (authors' later code)
    seed: int = 0  # seeds the projection head, batch order and random windows
    eval_batch_size: int = 32  # batch size for the silhouette and the final embeddings
    threads: int = 0  # torch CPU threads, set by the command that fine-tunes; 0 = torch's default
    keep_optimizer: bool = False  # keep the optimizer state when the run finishes
    log: str = "none"  # experiment tracking, as train.log: "none", "tensorboard" or "mlflow" (the `track` extra)
    precision: str = "auto"  # the number format of fine-tuning, as train.precision (mmx.precision)
    compile: bool = False  # torch.compile the network for the NT-Xent steps, as train.compile

    def __post_init__(self) -> None:
        _check_log(self.log, "log")
        _require(self.precision in PRECISIONS, f"precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")
        _require(self.temperature > 0 and self.lr > 0 and self.epochs >= 1 and self.warmup_epochs >= 0,
                 f"fine-tuning needs temperature > 0, lr > 0, epochs ≥ 1 and warmup_epochs ≥ 0 "
                 f"(got {self.temperature}, {self.lr}, {self.epochs}, {self.warmup_epochs})")
        _require(self.positive_pair in POSITIVE_PAIRS,
                 f"positive_pair {self.positive_pair!r} is unknown; use one of {', '.join(POSITIVE_PAIRS)}")
        _require(min(self.batch_size, self.eval_batch_size, self.proj_hidden, self.proj_dim) >= 1 and self.threads >= 0,
                 "batch_size, eval_batch_size, proj_hidden and proj_dim must be at least 1 and threads ≥ 0")


@dataclass
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)



def _coerce(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError("; ".join(errors))
    if origin is list:
        if isinstance(value, str):  # "--set data.experts=a,b" is a list too
            value = [v for v in value.split(",") if v]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return [_coerce(v, args[0], f"{where}[]") for v in value]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return {str(k): _coerce(v, args[1], f"{where}.{k}") for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads "1e-4" as a string
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    raise ConfigError(f"{where}: unsupported field type {tp!r}")


def merge(cfg: Any, values: dict[str, Any], where: str = "") -> Any:
    """Return a copy of dataclass ``cfg`` with ``values`` (a nested dict) merged in, type-checked."""
    hints = typing.get_type_hints(type(cfg))
    updates = {}
    for key, value in values.items():
        path = f"{where}{key}"
        if key not in hints:
            known = ", ".join(f.name for f in dataclasses.fields(cfg))
            raise ConfigError(f"unknown config field {path!r}; known here: {known}")
        current = getattr(cfg, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: expected a section (mapping), got {value!r}")
            updates[key] = merge(current, value, f"{path}.")
        else:
            updates[key] = _coerce(value, hints[key], path)
    return dataclasses.replace(cfg, **updates)


def parse_override(text: str) -> dict[str, Any]:
    """``"train.lr=1e-4"`` → ``{"train": {"lr": 0.0001}}`` (the value is read as YAML)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} is not of the form section.key=value")
    key, raw = text.split("=", 1)
    value = yaml.safe_load(raw) if raw.strip() else ""
    out: dict[str, Any] = {}
    node = out
    parts = key.strip().split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return out


def read_config_file(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror}") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {path} is not valid YAML/JSON: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of sections")
    return data


def deep_update(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """``a`` with ``b`` merged in, nested mappings merged key by key (a new dict; neither is changed)."""
    out = dict(a)
    for key, value in b.items():
        out[key] = deep_update(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


C = typing.TypeVar("C")


def resolve(
    base: C,
    file: str | Path | None = None,
    overrides: list[str] | None = None,
    flags: dict[str, Any] | None = None,
) -> C:
    """``base`` with a config file, then ``section.key=value`` overrides (in order), then ``flags``
    (a nested mapping of the values a command's options gave) merged in; names, types and values
    checked once, on the result."""
    values: dict[str, Any] = read_config_file(file) if file is not None else {}
    for text in overrides or []:
        values = deep_update(values, parse_override(text))
    return merge(base, deep_update(values, flags or {}))


def load_config(
    file: str | Path | None = None,
    overrides: list[str] | None = None,
    base: RunConfig | None = None,
) -> RunConfig:
    """A RunConfig: defaults (or ``base``), then ``file``, then the ``section.key=value`` overrides."""
    return resolve(base if base is not None else RunConfig(), file, overrides)


def config_to_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


# may change between a run's start and its resume (precision: "auto" resolves per machine, and a run begun on a GPU
# may be resumed on a CPU; every epoch records the precision it trained in; compile: how, not what, it computes)
RESUMABLE_FIELDS = ("epochs", "threads", "keep_optimizer", "log", "precision", "compile")


def schedule(cfg: RunConfig | FinetuneConfig) -> TrainConfig | FinetuneConfig:
    """The settings that drive a stage's loop (epochs, seed, threads, keep_optimizer): the ``train`` section
    of a RunConfig, a FinetuneConfig itself."""
    return cfg.train if isinstance(cfg, RunConfig) else cfg


def with_schedule(cfg: RunConfig | FinetuneConfig, **fields: Any) -> RunConfig | FinetuneConfig:
    """``cfg`` with some of the settings a resumed run may change (``RESUMABLE_FIELDS``); None leaves one as it is."""
    given = {k: v for k, v in fields.items() if v is not None}
    unknown = sorted(set(given) - set(RESUMABLE_FIELDS))
    _require(not unknown,
             f"{', '.join(unknown)} cannot change when a run resumes; only {', '.join(RESUMABLE_FIELDS)} can")
    return merge(cfg, {"train": given} if isinstance(cfg, RunConfig) else given)


def with_epochs(cfg: RunConfig | FinetuneConfig, epochs: int) -> RunConfig | FinetuneConfig:
    """``cfg`` training ``epochs`` epochs (a resumed run may grow its epoch count)."""
    return with_schedule(cfg, epochs=epochs)


def recipe(cfg: RunConfig | FinetuneConfig) -> dict[str, Any]:
    """What a config trains, as a dict: everything but the settings that may change on resume
    (``RESUMABLE_FIELDS`` of its ``schedule``)."""
    d = config_to_dict(cfg)
    section = d["train"] if isinstance(cfg, RunConfig) else d
    for key in RESUMABLE_FIELDS:
        section.pop(key, None)
    return d


def config_from_dict(data: dict[str, Any]) -> RunConfig:
    return merge(RunConfig(), data)


def save_config(cfg: RunConfig, path: str | Path) -> None:
    atomic_write(Path(path), json.dumps(config_to_dict(cfg), indent=2) + "\n")
