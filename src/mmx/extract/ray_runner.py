"""Extraction spread over a Ray cluster (``mmx extract ... --ray [ADDRESS]``).

Each Ray actor is one expert worker: it loads the experts once (as a worker process of
``--workers`` does) and extracts whole videos with the same one-video function,
``batch._extract_one``. An actor holds one GPU where the cluster has GPUs (Ray makes it the only
one the actor sees, so ``device="auto"`` puts every expert and its batches on it, in half
precision), else one CPU (one expert thread). Results
come back to the driver, which writes them into the store exactly as a single-process run does
(``batch.write``: atomic entries, the same fingerprints), so a run cut short resumes as before and
the store equals that of a single-process run. The video files must be readable at the same path
on every node (a shared folder); the store needs to be reachable from the driver only.

``runner(address)`` plugs into ``extract_videos(..., runner=...)``.
"""

from __future__ import annotations

import importlib
from dataclasses import replace
from typing import Callable, Iterator

import ray
from ray.util import ActorPool

from mmx.experts import Expert
from mmx.extract.batch import Job, _extract_one
from mmx.extract.pipeline import Extraction, Extractor, load_experts
from mmx.extract.settings import ExtractConfig
from mmx.progress import QUIET, Reporter

LOCAL = "local"  # ``--ray`` without an address: start a Ray instance on this machine


class ExpertWorker:
    """A Ray actor: its own experts, created once, extracting one video per call."""

    def __init__(self, cfg: ExtractConfig, modules: list[str], threads: int):
        for name in modules:  # the modules that register the experts (plugins too) in this worker
            importlib.import_module(name)
        cfg = replace(cfg, flow_workers=0, threads=threads)  # the actors are the pool; threads = its CPUs
        experts, _ = load_experts(cfg)
        self.extractor = Extractor(cfg, experts)

    def extract(self, job: Job) -> tuple[Job, Extraction | str]:
        return job, _extract_one(self.extractor, job)


def connect(address: str | None) -> None:
    """Join the Ray cluster at ``address`` (or start a local one), unless this process already has."""
    if ray.is_initialized():
        return
    ray.init(address=None if address in (None, LOCAL) else address, include_dashboard=False,
             log_to_driver=False)


def worker_options() -> tuple[int, dict]:
    """How many expert workers the cluster holds, and the resources of each (a GPU, else a CPU)."""
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    if gpus:
        return gpus, {"num_gpus": 1, "num_cpus": 1}
    return max(1, int(resources.get("CPU", 1))), {"num_cpus": 1}


def run_jobs_on_ray(
    jobs: list[Job], cfg: ExtractConfig, experts: list[Expert], progress: Reporter = QUIET, address: str | None = None,
) -> Iterator[tuple[Job, Extraction | str]]:
    """(job, result) for every job, as Ray's expert workers finish them."""
    if not jobs:
        return
    connect(address)
    count, options = worker_options()
    modules = sorted({type(e).__module__ for e in experts})
    actor = ray.remote(ExpertWorker).options(**options)
    workers = [actor.remote(cfg, modules, options["num_cpus"]) for _ in range(min(count, len(jobs)))]
    try:
        yield from ActorPool(workers).map_unordered(lambda w, job: w.extract.remote(job), jobs)
    finally:
        for w in workers:
            ray.kill(w)


def runner(address: str | None) -> Callable[..., Iterator[tuple[Job, Extraction | str]]]:
    """A ``run_jobs`` replacement for ``extract_videos`` that uses the Ray cluster at ``address``."""

    def run(jobs: list[Job], cfg: ExtractConfig, experts: list[Expert], progress: Reporter = QUIET):
        return run_jobs_on_ray(jobs, cfg, experts, progress, address)

    return run
