"""The dataset card of an exported collection: YAML that declares its configs and splits for the
Hugging Face hub and ``datasets``, and a datasheet (Gebru et al., "Datasheets for Datasets", 2021:
motivation, composition, collection process, preprocessing, uses, distribution, maintenance)
pre-filled from the store and the run; the parts only the publisher knows are marked TO FILL.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import yaml

from mmx.data.store import FeatureStore
from mmx.run import Run

TO_FILL = "**TO FILL** (the publisher)"


def card_yaml(summary, title: str) -> dict:
    configs = []
    for name, counts in (("trailers", summary.trailers), ("clips", summary.clips)):
        if counts:
            files = [{"split": split, "path": f"{name}/{split}-*.parquet"} for split in sorted(counts)]
            configs.append({"config_name": name, "data_files": files, **({"default": True} if name == "trailers" else {})})
    return {"pretty_name": title, "configs": configs, "task_categories": ["video-classification"],
            "tags": ["movie-trailers", "genre-classification", "multi-label", "mmx"], "license": "other"}


def genre_frequencies(store: FeatureStore | None, run: Run | None) -> Counter:
    if store is not None:
        return Counter(g for m in store.entries().values() for g in m.genres)
    return Counter(g for gs in run.embeddings().genres for g in gs)


def experts_table(store: FeatureStore) -> list[str]:
    lines = ["| expert | dim | level | source (extractor settings, weights and their checksums, or the import) |",
             "|---|---|---|---|"]
    for name, e in sorted(store.experts.items()):
        lines.append(f"| `{name}` | {e.dim} | {e.level} | {e.source.replace('|', '/') or 'not recorded'} |")
    return lines


def composition(summary, store: FeatureStore | None, run: Run | None) -> list[str]:
    freq = genre_frequencies(store, run)
    n = sum(summary.trailers.values())
    lines = [f"- {n} trailers ({', '.join(f'{s}: {c}' for s, c in sorted(summary.trailers.items()))})"]
    if summary.clips:
        lines.append(f"- {sum(summary.clips.values())} clips ({', '.join(f'{s}: {c}' for s, c in sorted(summary.clips.items()))})")
    lines.append(f"- {len(freq)} genres; trailers per genre: " + ", ".join(f"{g} {c}" for g, c in freq.most_common()))
    if store is not None:
        lines += ["", *experts_table(store)]
        sources = Counter(m.source.get("format") or ("extract" if "video" in m.source else "import")
                          for m in store.entries().values())
        lines += ["", "Entries by origin: " + ", ".join(f"{k} {v}" for k, v in sources.most_common())]
    if run is not None:
        lines.append(f"- Run `{run.root.name}` ({run.kind}): genre order of `genre_probs` = {', '.join(run.info.genres)}")
    return lines


def skipped(store: FeatureStore | None, run: Run | None) -> list[str]:
    lines = []
    if run is not None:
        for why, ids in sorted(run.info.excluded.items()):
            if ids:
                lines.append(f"- left out of the run's splits, {why.replace('_', ' ')}: {len(ids)} trailer(s)")
    if store is not None:
        no_genre = sum(1 for m in store.entries().values() if not m.genres)
        if no_genre:
            lines.append(f"- {no_genre} trailer(s) without a genre label")
    lines.append("- Entries that failed their import or extraction are not in the store: `mmx import` / "
                 "`mmx extract` named each with its reason when they ran.")
    return lines


def write_card(out: Path, summary, store: FeatureStore | None, run: Run | None, cfg) -> Path:
    title = cfg.title or out.resolve().name
    front = yaml.safe_dump(card_yaml(summary, title), sort_keys=False)
    level_rule = ("Window-level experts (audio) keep one vector per window; the `clips` config lists the windows "
                  "of each clip." if store and any(e.level == "window" for e in store.experts.values()) else "")
    body = [
        f"# {title}", "",
        "Per-clip expert features of movie trailers with their genres, exported by `mmx export` "
        "(multi-modal trailer genre classification, Fish et al., ICIP 2021).", "",
        "```python", "import datasets",
        f'trailers = datasets.load_dataset("{out.name}", "trailers", split="train")',
        *([f'clips = datasets.load_dataset("{out.name}", "clips", split="train")'] if summary.clips else []),
        "```", "", "`mmx import THIS_FOLDER --format parquet --store STORE` reads it back into a feature store, bit-exact.", "",
        "## Datasheet", "",
        "### Motivation", "", f"Why the collection was made and by whom: {TO_FILL}.", "",
        "### Composition", "", *composition(summary, store, run), "",
        "### Collection process", "",
        f"Where the trailers come from and how they were chosen: {TO_FILL}. The features' own origin is the "
        "source column of the experts table (extractor, its settings, weight checksums; or the release imported).", "",
        "### Preprocessing", "",
        "Features are float32 as stored; clip times float64 seconds (null where the source gave none). Clips are "
        "the store's (scene cuts for `mmx extract`, the release's own rows for imported releases). "
        f"`<expert>_mean` in `trailers` is the mean over the trailer's rows. {level_rule}", "",
        "### Uses", "", f"Genre classification, retrieval and scene-level analysis of trailers. Not for: {TO_FILL}.", "",
        "### Distribution", "",
        "Keyframes (one JPEG per clip) are included." if summary.keyframes else
        "Features only: no keyframes (pictures) are distributed.", f"Licence: {TO_FILL}.", "",
        "### Maintenance", "", f"Who maintains it and how errors are reported: {TO_FILL}.", "",
        "### What was skipped and why", "", *skipped(store, run), "",
    ]
    path = out / "README.md"
    path.write_text(f"---\n{front}---\n\n" + "\n".join(body))
    return path
