"""The report's sections, in the paper's order; each one a function of the report's inputs.

A section returns a ``Section``: its tables (lists of row dicts, written as CSV and JSON and shown
as HTML), its figures (PNG bytes) and notes. A section whose inputs are missing returns a
``Section`` with ``missing`` set to the command that would produce them, so the page is always
written. Sections are registered in ``SECTIONS`` in page order.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mmx.ablation import SCORES_FILE, paired_difference, read_scores
from mmx.health import Finding, run_collection
from mmx.health.report import check
from mmx.inference import evaluate_run, label_suggestions
from mmx.layout import map_layout
from mmx.metrics import SHORT_NAMES
from mmx.registry import Registry
from mmx.retrieval import Neighbours
from mmx.run import ModelRun, Run
from mmx.timeline import trailer_timeline
from mmx_report import figures
from mmx_report.page import data_uri, esc
from mmx_report.published import (
    SUMMARY_KEYS,
    TBL2_GENRES,
    TBL2_SUMMARY,
    TBL2_SUPPORT,
    TBL5,
    TBL5_NOTE,
    paper_per_genre,
)
from mmx_report.thumbnails import thumbnail_png


@dataclass
class ReportInputs:
    run: Run  # the coarse run (or an imported-embeddings run)
    ablation: dict | None = None  # mmx.ablation.load_ablation(...)
    ablation_dir: Path | None = None
    fine: ModelRun | None = None  # the fine-tuned run
    seed: int = 0  # seeds the choice of example trailers (the map is the run's own, shared with the explorer)
    split: str = "test"  # split of the examples, the evaluation and the label suggestions
    n_examples: int = 3  # trailers shown in Fig. 5 and Fig. 8
    top_k: int = 5  # retrieval results per query (Fig. 5)
    n_suggestions: int = 15  # rows of Tbl. 4
    n_health: int = 5  # findings shown per check in the health section (most serious first)


@dataclass
class Plot:
    name: str  # file stem under figures/
    caption: str
    png: bytes


@dataclass
class Section:
    key: str
    title: str
    intro: str = ""
    tables: dict[str, list[dict]] = field(default_factory=dict)  # name → rows (first row's keys = columns)
    html_tables: dict[str, str] = field(default_factory=dict)  # name → ready HTML (cells with images/markup)
    figures: list[Plot] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    missing: str | None = None  # set when the inputs are missing: what to run instead


SECTIONS: Registry[Section] = Registry("report section")


def _has_model(run: Run) -> bool:
    return isinstance(run, ModelRun)


def _needs_model(key: str, title: str, inputs: ReportInputs) -> Section | None:
    if _has_model(inputs.run):
        return None
    return Section(key, title, missing=(
        f"{inputs.run.root} holds imported embeddings without a network; train one with "
        "`mmx train --store STORE --out RUN` and pass --run RUN"))


def _ids(inputs: ReportInputs) -> list[str]:
    """Trailers of the report's split; every trailer when the run has no such split (imported embeddings)."""
    has_split = inputs.split in inputs.run.info.splits
    ids = inputs.run.split_ids(inputs.split) if has_split else []
    return ids or inputs.run.split_ids("all")


def _examples(inputs: ReportInputs, ids: list[str], n: int) -> list[str]:
    """``n`` trailers of ``ids`` drawn with the report's seed (same seed, same trailers)."""
    rng = np.random.default_rng(inputs.seed)
    picked = rng.choice(len(ids), size=min(n, len(ids)), replace=False)
    return [ids[i] for i in sorted(picked)]


# ---------------------------------------------------------------------------- Tbl. 2
def _paper_genre_order(ours: list[str]) -> list[str]:
    return [g for g in TBL2_GENRES if g in ours] + sorted(g for g in ours if g not in TBL2_GENRES)


def _row(model: str, source: str, metrics: dict, genres: list[str]) -> dict:
    row = {"model": model, "source": source}
    row.update({g: metrics["per_genre"].get(g, {}).get("auprc") for g in genres})
    row.update({SHORT_NAMES[k]: metrics.get(k) for k in SUMMARY_KEYS})
    return row


def _paper_row(label: str, genres: list[str]) -> dict:
    per = paper_per_genre(label)
    row = {"model": label, "source": "paper"}
    row.update({g: per.get(g) for g in genres})
    row.update({SHORT_NAMES[k]: v for k, v in zip(SUMMARY_KEYS, TBL2_SUMMARY[label])})
    return row


@SECTIONS.register("tbl2")
def table2(inputs: ReportInputs) -> Section:
    title = "Tbl. 2 — coarse genre classification: per-genre AUPRC, F1w, AUPRC_w, Pw, Rw"
    rows: list[tuple[str, str | None, dict]] = []  # (our label, paper row or None, metrics)
    notes = []
    if inputs.ablation is not None:
        for name, v in inputs.ablation["variants"].items():
            if v["table"] == "tbl2" and name in inputs.ablation["results"]:
                rows.append((v["label"], v["label"], inputs.ablation["results"][name]))
            elif v["table"] == "tbl2" and v["skipped"]:
                notes.append(f"{v['label']}: skipped — {v['skipped']}")
        split = inputs.ablation["split"]
        if _has_model(inputs.run):
            result = evaluate_run(inputs.run, split)
            rows += [("Linear probe (tuned)", None, result["probe"]),
                     (f"this run ({inputs.run.root.name})", "MMX-Trailer-20", result)]
            notes.append(f"Verdict: {result['verdict']}.")
    elif _has_model(inputs.run):
        result = evaluate_run(inputs.run, inputs.split)
        rows = [("Random", "Random", result["random"]), ("Linear probe (tuned)", None, result["probe"]),
                ("this run", "MMX-Trailer-20", result)]
        split = inputs.split
        notes.append(f"Verdict: {result['verdict']}.")
        notes.append(
            "Only the random baseline and this run: run `mmx ablate --store STORE --out ABL` and pass "
            "`--ablation ABL` for every expert, pair, Naive Concat and gating row."
        )
    else:
        return _needs_model("tbl2", title, inputs)
    genres = _paper_genre_order(sorted({g for _, _, m in rows for g in m["per_genre"]}))
    support_ours = {"model": "Support", "source": f"ours ({split})"}
    support_ours.update({g: rows[0][2]["per_genre"].get(g, {}).get("support") for g in genres})
    support_paper = {"model": "Support", "source": "paper (test)"}
    support_paper.update({g: dict(zip(TBL2_GENRES, TBL2_SUPPORT)).get(g) for g in genres})
    table = [support_ours, support_paper]
    for label, paper_label, metrics in rows:  # the tuned probe has no row in the paper
        table.append(_row(label, "ours", metrics, genres))
        if paper_label is not None:
            table.append(_paper_row(paper_label, genres))
    n = rows[-1][2]["n"]
    intro = (f"Ours: the {split} split of this collection — every figure rests on its {n} trailers (AUPRC per "
             "genre with at least one positive). Paper: MMX-Trailer-20's test split (754 trailers). "
             "Threshold 0.3 for F1w, Pw, Rw.")
    return Section("tbl2", title, intro, tables={"tbl2": table}, notes=notes)


# ---------------------------------------------------------------------------- Tbl. 5
@SECTIONS.register("tbl5")
def table5(inputs: ReportInputs) -> Section:
    title = "Tbl. 5 — sequence length"
    abl = inputs.ablation
    names = [n for n, v in (abl or {}).get("variants", {}).items() if v["table"] == "tbl5"]
    if not names:
        where = inputs.ablation_dir or "ABL"
        return Section("tbl5", title, missing=(
            f"no sequence-length variants: run `mmx ablate --store STORE --out {where}` (with --tables "
            "tbl5 or both) and pass --ablation to `mmx report`"))
    table = []
    for name in names:
        v = abl["variants"][name]
        ours = abl["results"].get(name)
        row = {"sequence length": v["label"], "source": "ours"}
        row.update({SHORT_NAMES[k]: (ours or {}).get(k) for k in SUMMARY_KEYS})
        table.append(row)
        paper = {"sequence length": v["label"], "source": "paper"}
        paper.update({SHORT_NAMES[k]: x for k, x in zip(SUMMARY_KEYS, TBL5.get(v["label"], (None,) * 4))})
        table.append(paper)
    notes = [f"{abl['variants'][n]['label']}: skipped — {abl['variants'][n]['skipped']}"
             for n in names if abl["variants"][n]["skipped"]]
    return Section("tbl5", title, f"Ours: the {abl['split']} split, collaborative gating, all experts.",
                   tables={"tbl5": table}, notes=[TBL5_NOTE] + notes)


# ---------------------------------------------------------------------------- Fig. 1
def _map(run: Run) -> tuple[np.ndarray, list[str]]:
    """The run's map (``mmx.layout``, the explorer's too) of its labelled trailers, and their primary genres."""
    emb = run.embeddings()
    rows = [i for i, gs in enumerate(emb.genres) if gs]
    return map_layout(run)[rows], [emb.genres[i][0] for i in rows]


@SECTIONS.register("fig1")
def figure1(inputs: ReportInputs) -> Section:
    title = "Fig. 1 — coarse and fine embeddings (t-SNE, coloured by primary genre)"
    coarse = inputs.run.embeddings()
    kind = inputs.run.kind
    name = "coarse (genre classification)" if kind == "coarse" else f"{kind} run {inputs.run.root.name}"
    panels = [(name, *_map(inputs.run))]
    notes = []
    if inputs.fine is not None:
        panels.append(("fine (NT-Xent fine-tuned)", *_map(inputs.fine)))
    else:
        notes.append(f"Fine embedding missing: run `mmx finetune --run {inputs.run.root} --out FINE` "
                     "and pass `--fine FINE` to `mmx report`.")
    fig = Plot("fig1_tsne", f"t-SNE (cosine, after PCA) of the {coarse.dim}-d trailer embeddings — the map "
                 "`mmx serve` shows; colour = first listed genre.",
                 figures.png(figures.embedding_maps(panels)))
    return Section("fig1", title, figures=[fig], notes=notes)


# ---------------------------------------------------------------------------- Fig. 4
@SECTIONS.register("fig4")
def figure4(inputs: ReportInputs) -> Section:
    title = "Fig. 4 — dataset statistics"
    if not _has_model(inputs.run):
        emb = inputs.run.embeddings()
        genre_lists, years, scenes = emb.genres, [y for y in emb.years if y is not None], []
        n_clips: list[int] = []
    else:
        store = inputs.run.store
        metas = [store.meta(t) for t in sorted(store.entries())]
        genre_lists = [m.genres for m in metas]
        years = [m.year for m in metas if m.year is not None]
        n_clips = [m.n_clips for m in metas]
        scenes = []
        for m in metas:
            times = store.load_clip_times(m.trailer_id) if m.has_clip_times else None
            if times is not None:
                scenes.extend(float(e - s) for s, e in times)
    counts: dict[str, int] = {}
    for gs in genre_lists:
        for g in gs:
            counts[g] = counts.get(g, 0) + 1
    labels = [len(gs) for gs in genre_lists]
    stats = [{"statistic": k, "value": v} for k, v in (
        ("trailers", len(genre_lists)),
        ("genres", len(counts)),
        ("mean labels per trailer", round(float(np.mean(labels)), 3) if labels else None),
        ("mean clips per trailer", round(float(np.mean(n_clips)), 2) if n_clips else None),
        ("mean scene length (s)", round(float(np.mean(scenes)), 2) if scenes else None),
        ("years", f"{min(years)}–{max(years)}" if years else None),
    )]
    freq = [{"genre": g, "trailers": counts[g]} for g in sorted(counts, key=lambda g: (-counts[g], g))]
    fig = Plot("fig4_dataset", "Genre frequency, labels per trailer, scene length and year of the run's collection.",
                 figures.png(figures.dataset_statistics(counts, labels, scenes, years)))
    notes = [] if scenes else ["No clip times in the store (imported features without clip_times): "
                               "scene lengths come from `mmx extract` or a clip_times array in the import."]
    return Section("fig4", title, tables={"dataset": stats, "genre_frequency": freq}, figures=[fig], notes=notes)


# ---------------------------------------------------------------------------- Fig. 5/10
@SECTIONS.register("fig5")
def figure5(inputs: ReportInputs) -> Section:
    title = "Fig. 5/10 — retrieval examples"
    run = inputs.fine or inputs.run
    space = Neighbours.of_run(run)
    emb = space.vectors.emb
    ids = [t for t in _ids(inputs) if t in emb.position]
    store = run.store if _has_model(run) else None
    rows, cells = [], []
    for query in _examples(inputs, ids, inputs.n_examples):
        hits = space.nearest(query, inputs.top_k)
        for rank, h in enumerate([None] + hits):
            tid = query if h is None else h.trailer_id
            i = emb.position[tid]
            rows.append({"query": query, "rank": rank, "trailer_id": tid, "title": emb.titles[i],
                         "genres": "|".join(emb.genres[i]), "score": None if h is None else round(h.score, 4)})
            video = store.meta(tid).source.get("video") if store is not None else None
            cells.append((rows[-1], thumbnail_png(Path(video)) if video else None))
    kind = "fine-tuned" if inputs.fine is not None else "coarse"
    notes = [] if inputs.fine is not None else [
        f"Searched the coarse embedding; fine-tune (`mmx finetune --run {inputs.run.root} --out FINE`, then "
        "`--fine FINE`) for the paper's self-supervised space."]
    return Section("fig5", title, f"Top-{inputs.top_k} cosine neighbours in the {kind} embedding of "
                   f"{len(emb.ids)} trailers; rank 0 is the query.",
                   tables={"retrieval": rows}, html_tables={"retrieval": _retrieval_html(cells)}, notes=notes)


def _retrieval_html(cells: list[tuple[dict, bytes | None]]) -> str:
    out = ['<table class="retrieval">']
    for row, thumb in cells:
        if row["rank"] == 0:
            out.append(f'<tr class="query"><th colspan="5">query {esc(row["trailer_id"])}</th></tr>')
        img = f'<img src="{data_uri(thumb)}" alt="">' if thumb else "—"
        score = "query" if row["score"] is None else f'{row["score"]:.3f}'
        out.append(f"<tr><td>{row['rank']}</td><td>{img}</td><td>{esc(row['title'] or row['trailer_id'])}</td>"
                   f"<td>{esc(row['genres'].replace('|', ', '))}</td><td>{score}</td></tr>")
    out.append("</table>")
    return "\n".join(out)


# ---------------------------------------------------------------------------- Fig. 6
@SECTIONS.register("fig6")
def figure6(inputs: ReportInputs) -> Section:
    title = "Fig. 6 — silhouette score through fine-tuning"
    state = inputs.fine.state if inputs.fine is not None else None
    history = [h for h in (state.history if state else ()) if "val_silhouette" in h]
    if not history:
        return Section("fig6", title, missing=(
            f"no fine-tuning history: run `mmx finetune --run {inputs.run.root} --out FINE` and pass `--fine FINE`"))
    epochs = [h["epoch"] for h in history]
    scores = [h["val_silhouette"] for h in history]
    table = [{"epoch": e, "val_silhouette": s} for e, s in zip(epochs, scores)]
    fig = Plot("fig6_silhouette", "Cosine silhouette of the validation trailers by primary genre; epoch 0 is the coarse model.",
                 figures.png(figures.silhouette_curve(epochs, [s if not math.isnan(s) else 0.0 for s in scores])))
    return Section("fig6", title, tables={"silhouette": table}, figures=[fig])


# ---------------------------------------------------------------------------- Fig. 8
@SECTIONS.register("fig8")
def figure8(inputs: ReportInputs) -> Section:
    title = "Fig. 8 — scene-level genre predictions"
    missing = _needs_model("fig8", title, inputs)
    if missing:
        return missing
    figs, rows = [], []
    for tid in _examples(inputs, _ids(inputs), inputs.n_examples):
        tl = trailer_timeline(inputs.run, tid)
        probs = tl.matrix()  # (n_clips, G)
        figs.append(Plot(f"fig8_{len(figs)}", f"{tl.title or tid}: given {', '.join(tl.genres)}",
                           figures.png(figures.timeline(tl.title or tid, probs, tl.vocabulary, tl.genres,
                                                        [c.start for c in tl.clips]))))
        for c in tl.clips:
            rows.append({"trailer_id": tid, "clip": c.clip, "start": c.start, "end": c.end, **c.probabilities})
    seq_len = inputs.run.config.model.seq_len
    return Section("fig8", title, f"Genre probabilities of the {seq_len}-clip window (the model's sequence length) "
                   "centred on each clip, for trailers of the evaluated split.", tables={"timeline": rows}, figures=figs)


# ---------------------------------------------------------------------------- Fig. 9
@SECTIONS.register("fig9")
def figure9(inputs: ReportInputs) -> Section:
    title = "Fig. 9 — precision-recall per expert per genre"
    abl, where = inputs.ablation, inputs.ablation_dir
    singles = [(n, v) for n, v in (abl or {}).get("variants", {}).items()
               if v["table"] == "tbl2" and v["run"] and v["experts"] is not None and len(v["experts"]) == 1]
    if not singles:
        return Section("fig9", title, missing=(
            f"no single-expert runs: run `mmx ablate --store STORE --out {where or 'ABL'}` and pass --ablation"))
    runs = {v["label"]: read_scores(Path(where) / v["run"] / SCORES_FILE) for _, v in singles}
    first = next(iter(runs.values()))
    keep = [j for j in range(len(first["genres"])) if first["labels"][:, j].any()]  # genres with a positive
    scores = {label: (s["labels"][:, keep], s["probs"][:, keep]) for label, s in runs.items()}
    genres = [first["genres"][j] for j in keep]
    fig = Plot("fig9_pr", f"Precision-recall on the {abl['split']} split, one curve per single-expert model "
                 "(genres with at least one positive there).", figures.png(figures.pr_curves(scores, genres)))
    return Section("fig9", title, figures=[fig])


# ---------------------------------------------------------------------------- Tbl. 4
@SECTIONS.register("tbl4")
def table4(inputs: ReportInputs) -> Section:
    title = "Tbl. 4 — label suggestions (given vs predicted)"
    missing = _needs_model("tbl4", title, inputs)
    if missing:
        return missing
    suggestions = label_suggestions(inputs.run, _ids(inputs))
    changed = [s for s in suggestions if s["added"]] or suggestions
    rows = [{"trailer_id": s["trailer_id"], "title": s["title"], "given": ", ".join(s["genres"]),
             "predicted": ", ".join(s["predicted"]), "added": ", ".join(s["added"]),
             "dropped": ", ".join(s["missing"])} for s in changed[: inputs.n_suggestions]]
    return Section("tbl4", title, "Trailers where the model adds labels (sigmoid ≥ threshold); "
                   "<span class=\"added\">blue</span> = predicted but not given.",
                   tables={"tbl4": rows}, html_tables={"tbl4": _suggestions_html(changed[: inputs.n_suggestions])})


def _suggestions_html(suggestions: list[dict]) -> str:
    out = ["<table><tr><th>movie</th><th>given genres</th><th>predicted genres</th><th>dropped</th></tr>"]
    for s in suggestions:
        pred = ", ".join(f'<span class="added">{esc(g)}</span>' if g in s["added"] else esc(g) for g in s["predicted"])
        out.append(f"<tr><td>{esc(s['title'] or s['trailer_id'])}</td><td>{esc(', '.join(s['genres']))}</td>"
                   f"<td>{pred or '—'}</td><td>{esc(', '.join(s['missing'])) or '—'}</td></tr>")
    out.append("</table>")
    return "\n".join(out)


# ---------------------------------------------------------------------------- findings
def paper_findings(ablation: dict, metric: str = "auprc_weighted", out: Path | None = None) -> list[dict]:
    """The paper's qualitative findings checked on an ablation: which hold here, by ``metric``.

    With the ablation's folder ``out`` (its variants' test scores) each AUPRC_w comparison also gets the paired
    bootstrap interval of its difference over the test trailers: a finding holds ("yes") only when every interval
    lies above zero, fails ("no") when one lies below, and is "within noise" otherwise."""
    res, variants = ablation["results"], ablation["variants"]

    def score(name: str) -> float | None:
        return res[name][metric] if name in res else None

    def check(claim: str, better: str, others: list[str]) -> dict:
        s, o = score(better), [score(n) for n in others]
        if s is None or any(x is None for x in o):
            return {"finding": claim, "holds": "not run", "evidence": "not run"}
        shown = ", ".join(f"{variants[n]['label']} {score(n):.3f}" for n in [better] + others)
        pairs = [paired_difference(out, ablation, better, n) for n in others] if out and metric == "auprc_weighted" else []
        if not pairs or any(p is None for p in pairs):
            return {"finding": claim, "holds": "yes" if all(s > x for x in o) else "no", "evidence": shown}
        spans = "; ".join(f"− {variants[n]['label']} {p['difference']:+.3f} (95 % {p['low']:+.3f} … {p['high']:+.3f})"
                          for n, p in zip(others, pairs))
        holds = ("yes" if all(p["low"] > 0 for p in pairs) else "no" if any(p["high"] < 0 for p in pairs)
                 else "within noise")
        return {"finding": claim, "holds": holds, "evidence": f"{shown}; {spans}"}

    singles = ["image", "motion", "scene", "audio"]
    return [
        check("collaborative gating beats naive concatenation", "gating", ["naive-concat"]),
        check("Image is the strongest single expert", "image", [n for n in singles if n != "image"]),
        check("sequence length 9 beats 1 and 20", "seq-9", ["seq-1", "seq-20"]),
    ]


@SECTIONS.register("findings")
def findings(inputs: ReportInputs) -> Section:
    title = "The paper's findings on this collection"
    if inputs.ablation is None:
        return Section("findings", title, missing=(
            f"no ablation: run `mmx ablate --store STORE --out {inputs.ablation_dir or 'ABL'}` and pass --ablation"))
    rows = paper_findings(inputs.ablation, out=inputs.ablation_dir)
    n = {r["n"] for r in inputs.ablation["results"].values() if "n" in r}
    rest = f" of {', '.join(map(str, sorted(n)))} trailers" if n else ""
    return Section("findings", title, f"Compared by AUPRC_w on the {inputs.ablation['split']} split{rest}, with the "
                   "95 % paired bootstrap interval of each difference over those trailers (one training seed): a "
                   "finding holds only when its intervals lie above zero.", tables={"findings": rows})


# ---------------------------------------------------------------------------- collection health
def _evidence(f: Finding) -> str:
    """The finding's numbers in one cell: ``key value`` pairs, lists joined with en dashes (clip spans)."""
    def show(v) -> str:
        return "–".join(map(str, v)) if isinstance(v, list) else str(v)
    return ", ".join(f"{k} {show(v)}" for k, v in f.evidence.items())


@SECTIONS.register("health")
def health(inputs: ReportInputs) -> Section:
    title = "Collection health — duplicates, split leaks, broken experts, label issues (mmx check)"
    report = check(run_collection(inputs.run))
    rows, top = [], []
    for c, by in report.counts().items():
        mine = [f for f in report.findings if f.check == c]
        kinds = Counter(f.kind for f in mine).most_common()
        rows.append({"check": c, "errors": by["error"], "warnings": by["warning"], "notes": by["info"],
                     "found": ", ".join(f"{n} {k}" for k, n in kinds) or "nothing"})
        top += [{"check": c, "severity": f.severity, "kind": f.kind,
                 "trailers": " ~ ".join(f.trailers) or "(collection)", "about": f.genre or f.expert or "",
                 "evidence": _evidence(f), "action": f.action}
                for f in mine[: inputs.n_health]]
    leaks = report.test_leaks
    notes = [f"Test split: {leaks['pairs']} near-duplicate pair(s) cross into it from another split, touching "
             f"{leaks['trailers']} test trailer(s); its scores above are inflated."] if leaks and leaks["pairs"] else []
    tables = {"health": rows, "health_top": top}
    reviews = _review_rows(inputs.run, inputs.split)
    if reviews:
        tables["health_reviews"] = reviews
        notes.append("This run was trained with reviewed labels: the last table compares the network trained "
                     "before the review with this one, on the same trailers and the reviewed labels.")
    return Section("health", title, f"<code>mmx check {esc(inputs.run.root)}</code> on the run's "
                   f"{report.n_trailers} trailers: findings per check, then the {inputs.n_health} most serious of "
                   "each with their evidence.", tables=tables, notes=notes)


def _review_rows(run: Run, split: str) -> list[dict]:
    """Before / after the review a run was trained with (``mmx train --reviews``): AUPRC_w of both networks on
    ``split`` against the reviewed labels; [] for a run trained on its store's labels."""
    from mmx.inference import evaluate_reviews

    gain = evaluate_reviews(run, split) if isinstance(run, ModelRun) else None
    if gain is None:
        return []
    where = f"{gain['split']} split, {gain['n']} trailers, reviewed labels"
    return [{"network": f"before: {gain['source']}", "labels": "as it was trained", "AUPRC_w": round(gain["before"], 4),
             "scored on": where},
            {"network": "after: this run", "labels": f"{gain['decisions']} decision(s), {gain['changed']} trailer(s) "
             "relabelled", "AUPRC_w": round(gain["after"], 4), "scored on": where}]


SECTION_ORDER = ["findings", "tbl2", "tbl5", "fig1", "fig4", "fig5", "fig6", "fig8", "fig9", "tbl4", "health"]
