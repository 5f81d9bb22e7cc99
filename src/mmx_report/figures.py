"""The report's figures, drawn with matplotlib's object API (no pyplot state) into PNG bytes.

Each function takes plain arrays and lists and returns a ``Figure``; ``png`` renders one. PNGs
carry no timestamp or version metadata, so the same inputs give the same bytes.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.metrics import precision_recall_curve  # noqa: E402

DPI = 100


def png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    return buf.getvalue()


def genre_colours(genres: list[str]) -> dict[str, tuple]:
    """A fixed colour per genre (tab20 over the sorted vocabulary)."""
    cmap = matplotlib.colormaps["tab20"]
    return {g: cmap(i % 20) for i, g in enumerate(sorted(genres))}


def embedding_maps(panels: list[tuple[str, np.ndarray, list[str]]]) -> Figure:
    """Fig. 1: one scatter per (title, (N, 2) points, primary genre per point), one legend."""
    vocab = sorted({g for _, _, labels in panels for g in labels})
    colours = genre_colours(vocab)
    fig = Figure(figsize=(6 * len(panels), 5.5))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (title, xy, labels) in zip(axes, panels):
        for g in vocab:
            rows = [i for i, lab in enumerate(labels) if lab == g]
            if rows:
                ax.scatter(xy[rows, 0], xy[rows, 1], s=10, color=colours[g], label=g, alpha=0.8)
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, title="primary genre")
    return fig


def dataset_statistics(
    genre_counts: dict[str, int], labels_per_trailer: list[int], scene_seconds: list[float], years: list[int],
) -> Figure:
    """Fig. 4: genre frequency, labels per trailer, scene (clip) length, year of release."""
    fig = Figure(figsize=(12, 8))
    (a, b), (c, d) = fig.subplots(2, 2)
    names = sorted(genre_counts, key=lambda g: (-genre_counts[g], g))
    a.bar(range(len(names)), [genre_counts[g] for g in names], color="tab:blue")
    a.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=8)
    a.set_title("genre frequency")
    a.set_ylabel("trailers")
    counts = np.bincount(labels_per_trailer) if labels_per_trailer else np.zeros(1, int)
    b.bar(range(len(counts)), counts, color="tab:orange")
    b.set_title("labels per trailer")
    b.set_xlabel("genres")
    b.set_ylabel("trailers")
    _histogram(c, scene_seconds, "scene length", "seconds", "no clip times in the store")
    _histogram(d, years, "year", "year", "no years in the labels")
    fig.tight_layout()
    return fig


def _histogram(ax, values: list[float], title: str, xlabel: str, empty: str) -> None:
    ax.set_title(title)
    if not values:
        ax.text(0.5, 0.5, empty, ha="center", va="center", transform=ax.transAxes)
        ax.set_xticks([])
        ax.set_yticks([])
        return
    ax.hist(values, bins=30, color="tab:green")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")


def silhouette_curve(epochs: list[int], scores: list[float]) -> Figure:
    """Fig. 6: validation silhouette (cosine, primary genre) per fine-tuning epoch; epoch 0 = coarse."""
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    ax.plot(epochs, scores, marker="o", color="tab:purple")
    ax.axhline(scores[0], color="grey", linestyle=":", label="coarse start (epoch 0)")
    ax.set_xlabel("fine-tuning epoch")
    ax.set_ylabel("silhouette score")
    ax.legend()
    return fig


def timeline(title: str, probs: np.ndarray, genres: list[str], given: list[str], times: list[float | None]) -> Figure:
    """Fig. 8: genre probability of the window centred on each clip, (n_clips, G) as a heat map."""
    fig = Figure(figsize=(10, 0.25 * len(genres) + 1.5))
    ax = fig.subplots()
    im = ax.imshow(probs.T, aspect="auto", cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
    ax.set_yticks(range(len(genres)), [f"{g} *" if g in given else g for g in genres], fontsize=8)
    step = max(1, len(times) // 12)
    ticks = list(range(0, len(times), step))
    labels = [f"{times[i]:.0f}s" if times[i] is not None else str(i) for i in ticks]
    ax.set_xticks(ticks, labels, fontsize=8)
    ax.set_xlabel("clip (start time)" if times and times[0] is not None else "clip")
    ax.set_title(f"{title}   (* = given label)", fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.03, pad=0.01)
    return fig


def pr_curves(scores: dict[str, tuple[np.ndarray, np.ndarray]], genres: list[str]) -> Figure:
    """Fig. 9: precision-recall curve of each expert (label → (labels, probs), both (N, G)) per genre."""
    cols = 5
    rows = -(-len(genres) // cols)
    fig = Figure(figsize=(3 * cols, 2.7 * rows))
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    colours = matplotlib.colormaps["tab10"]
    for j, (ax, genre) in enumerate(zip(axes, genres)):
        for i, (label, (y, p)) in enumerate(scores.items()):
            if y[:, j].any():
                precision, recall, _ = precision_recall_curve(y[:, j], p[:, j])
                ax.plot(recall, precision, color=colours(i), label=label, linewidth=1.2)
        ax.set_title(genre, fontsize=9)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.tick_params(labelsize=7)
    for ax in axes[len(genres):]:
        ax.set_visible(False)
    handles, names = max((ax.get_legend_handles_labels() for ax in axes), key=lambda hn: len(hn[0]))
    fig.legend(handles, names, loc="upper center", ncol=len(scores), bbox_to_anchor=(0.5, 1.02))
    fig.supxlabel("recall")
    fig.supylabel("precision")
    fig.tight_layout()
    return fig
