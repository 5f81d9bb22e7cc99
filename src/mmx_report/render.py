"""``build_report``: every table and figure of the paper for one run, as HTML, CSV, JSON and PNG.

Output folder::

    report.html          one self-contained page (figures inline as base64 data URIs)
    figures/NAME.png     every figure
    tables/NAME.csv      every table (and NAME.json, the same rows)

The same inputs and seed give the same files byte for byte.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Callable

from mmx.ablation import load_ablation
from mmx.durable import atomic_write
from mmx.embeddings import ensure_embeddings
from mmx.run import Run
from mmx_report.page import render
from mmx_report.sections import SECTION_ORDER, SECTIONS, ReportInputs, Section

REPORT_FILE = "report.html"


def build_report(
    run: str | Path,
    ablation_dir: str | Path | None,
    out_dir: str | Path,
    fine_run: str | Path | None = None,
    seed: int = 0,
    split: str = "test",
    note: str | None = None,
    log: Callable[[str], None] = lambda s: None,
) -> Path:
    """Write the report of ``run`` (with ``mmx ablate``'s folder and a fine run when given); returns the page.

    ``note`` is shown first under the title (e.g. the demo's "SYNTHETIC DATA" warning).
    """
    out = Path(out_dir)
    inputs = ReportInputs(
        run=_run(run),
        ablation=load_ablation(ablation_dir) if ablation_dir is not None else None,
        ablation_dir=Path(ablation_dir) if ablation_dir is not None else None,
        fine=_run(fine_run) if fine_run is not None else None,
        seed=seed,
        split=split,
    )
    sections = []
    for name in SECTION_ORDER:
        log(f"report: {name}")
        sections.append(SECTIONS.create(name, inputs))
    write_files(out, sections)
    page = out / REPORT_FILE
    atomic_write(page, render("mmx report — MMX-Trailer-20 tables and figures", _header(inputs, note), sections))
    return page


def _run(path: str | Path) -> Run:
    run = Run.open(path)  # raises RunError naming the folder when it is not a run
    ensure_embeddings(run)
    return run


def _header(inputs: ReportInputs, note: str | None) -> list[tuple[str, str]]:
    info = inputs.run.info
    lines = [("run", f"{inputs.run.root} ({info.kind})"),
             ("store", info.store or "— (imported embeddings)"),
             ("experts", ", ".join(info.experts) or "—"),
             ("genres", f"{len(info.genres)}: {', '.join(info.genres)}"),
             ("trailers", ", ".join(f"{k} {len(v)}" for k, v in info.splits.items())),
             ("ablation", str(inputs.ablation_dir) if inputs.ablation_dir else "— (mmx ablate)"),
             ("fine run", str(inputs.fine.root) if inputs.fine else "— (mmx finetune)"),
             ("seed", str(inputs.seed))]
    if note:
        lines.insert(0, ("note", note))
    return lines


def write_files(out: Path, sections: list[Section]) -> None:
    """figures/*.png and tables/*.csv + *.json of every section."""
    for s in sections:
        for fig in s.figures:
            atomic_write(out / "figures" / f"{fig.name}.png", fig.png)
        for name, rows in s.tables.items():
            atomic_write(out / "tables" / f"{name}.json", json.dumps(rows, indent=1, allow_nan=True) + "\n")
            atomic_write(out / "tables" / f"{name}.csv", _csv(rows))


def _csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    columns = list(dict.fromkeys(k for r in rows for k in r))
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()

