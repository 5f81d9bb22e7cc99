"""Timelines archives read: a IIIF Presentation 3 Manifest per trailer, its genres as W3C Web Annotations.

``export_iiif(run, DIR)`` (``mmx export --run RUN --iiif DIR``) writes, for every trailer of a trained run's store
that has clip times::

    DIR/<key>.json        a Manifest: the trailer's video as one Canvas with its duration (and size), painted by
                          the video file; the Canvas's AnnotationPage of time-range annotations (``canvas#t=start,
                          end``): one for the whole trailer with its predicted genres and one per scene (clip) with
                          its top genres — each a "commenting" annotation whose first body is the text a viewer
                          shows ("Horror 0.81 · Thriller 0.44 · Mystery 0.12") followed by one "tagging" body per
                          genre at or above the run's threshold — and, supplementing the Canvas, the WebVTT track
    DIR/<key>.vtt         that track (``mmx.timeline.webvtt``), which AV viewers show as captions
    DIR/collection.json   a Collection of every Manifest

``<key>`` is the trailer's store folder name (``mmx.data.store.entry_key``: safe for any id). Ids are URLs under
``base_url`` (where DIR will be published; default: DIR's own ``file:`` URI) and videos URLs under ``video_base``
(default: each video file's own ``file:`` URI, as the store recorded it). Trailers without a video file get a
Canvas without painting content (their annotations still hold); trailers without clip times (features imported
without seconds) have no time-based Canvas and are skipped, named in ``IiifSummary.skipped``.
"""

from __future__ import annotations

import json
import mimetypes
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from mmx.data.store import EntryMeta, entry_key
from mmx.durable import atomic_write
from mmx.errors import InputError
from mmx.progress import QUIET, Reporter
from mmx.run import Run
from mmx.timeline import Timeline, trailer_timeline, webvtt

CONTEXT = "http://iiif.io/api/presentation/3/context.json"
COLLECTION = "collection.json"


@dataclass
class IiifConfig:
    base_url: str = ""  # URL DIR will be published at (manifest ids start with it); "": DIR's own file: URI
    video_base: str = ""  # URL of the folder serving the videos (each by its file name); "": each file's file: URI
    top: int = 3  # genres named in each scene's text


@dataclass
class IiifSummary:
    out: Path
    manifests: list[str] = field(default_factory=list)  # trailer ids written
    without_video: list[str] = field(default_factory=list)  # written with an empty Canvas: no video file recorded
    skipped: dict[str, str] = field(default_factory=dict)  # trailer id → why no Manifest was written


def seconds(x: float) -> str:
    """Seconds as a media fragment gives them: at most three decimals, no trailing zeros."""
    return f"{x:.3f}".rstrip("0").rstrip(".")


def text(value: str, lang: str = "none") -> dict:
    """A IIIF language map."""
    return {lang: [value]}


def ranked(probabilities: dict[str, float], n: int | None = None) -> list[tuple[str, float]]:
    return sorted(probabilities.items(), key=lambda kv: -kv[1])[:n]


def genre_annotation(ident: str, target: str, probabilities: dict[str, float], threshold: float, top: int | None
                     ) -> dict:
    """A commenting annotation of ``target``: the genres as text, then a tagging body per predicted genre."""
    shown = " · ".join(f"{g} {p:.2f}" for g, p in ranked(probabilities, top))
    tags = [{"type": "TextualBody", "value": g, "purpose": "tagging", "language": "en"}
            for g, p in ranked(probabilities) if p >= threshold]
    body = [{"type": "TextualBody", "value": shown, "format": "text/plain", "language": "en", "purpose": "commenting"}]
    return {"id": ident, "type": "Annotation", "motivation": "commenting", "body": body + tags, "target": target}


def canvas_size(meta: EntryMeta, t: Timeline) -> dict:
    """The Canvas's duration (the video's, else the last clip's end) and, when known, its width and height."""
    source = meta.source
    size = {"duration": float(source.get("duration") or t.clips[-1].end)}
    if source.get("width") and source.get("height"):
        size |= {"width": int(source["width"]), "height": int(source["height"])}
    return size


def painting(canvas: str, meta: EntryMeta, size: dict, cfg: IiifConfig) -> list[dict]:
    """The Canvas's AnnotationPage painting it with the trailer's video (none without a recorded video file)."""
    video = meta.source.get("video")
    if not video:
        return []
    path = Path(video)
    url = f"{cfg.video_base.rstrip('/')}/{quote(path.name)}" if cfg.video_base else path.resolve().as_uri()
    body = {"id": url, "type": "Video", "format": mimetypes.guess_type(path.name)[0] or "video/mp4", **size}
    return [{"id": f"{canvas}/page", "type": "AnnotationPage", "items": [
        {"id": f"{canvas}/page/video", "type": "Annotation", "motivation": "painting", "body": body,
         "target": canvas}]}]


def manifest(t: Timeline, meta: EntryMeta, probabilities: dict[str, float], threshold: float, base: str,
             cfg: IiifConfig) -> dict:
    """The Manifest of one trailer (``base``: its URL without suffix; the WebVTT track is ``base.vtt``)."""
    canvas = f"{base}/canvas/1"
    size = canvas_size(meta, t)
    whole = f"{canvas}#t=0,{seconds(size['duration'])}"
    notes = [genre_annotation(f"{canvas}/genres/trailer", whole, probabilities, threshold, None)]
    notes += [genre_annotation(f"{canvas}/genres/clip-{c.clip + 1}", f"{canvas}#t={seconds(c.start)},{seconds(c.end)}",
                               c.probabilities, threshold, cfg.top) for c in t.clips]
    captions = {"id": f"{canvas}/captions/genres", "type": "Annotation", "motivation": "supplementing",
                "body": {"id": f"{base}.vtt", "type": "Text", "format": "text/vtt", "language": "en",
                         "label": text("genres", "en")}, "target": canvas}
    predicted = [f"{g} {p:.2f}" for g, p in ranked(probabilities) if p >= threshold]
    metadata = [("trailer id", t.trailer_id), ("given genres", ", ".join(t.genres) or "-"),
                ("predicted genres", ", ".join(predicted) or "-")]
    metadata += [("year", str(meta.year))] if meta.year else []
    return {
        "@context": CONTEXT, "id": f"{base}.json", "type": "Manifest", "label": text(t.title or t.trailer_id),
        "summary": text(f"genres predicted by mmx: {', '.join(predicted) or 'none'}; one annotation per scene", "en"),
        "metadata": [{"label": text(k, "en"), "value": text(v)} for k, v in metadata],
        "items": [{"id": canvas, "type": "Canvas", **size, "items": painting(canvas, meta, size, cfg),
                   "annotations": [{"id": f"{canvas}/genres", "type": "AnnotationPage", "items": notes + [captions]}]}],
    }


def export_iiif(run: str | Path | Run, out: str | Path, ids: list[str] | None = None,
                cfg: IiifConfig = IiifConfig(), reporter: Reporter = QUIET) -> IiifSummary:
    """A Manifest (and WebVTT track) per trailer of the run's store (``ids``: those only), and their Collection."""
    from mmx.api import predict
    from mmx.inference import model_run

    run = model_run(run)  # a coarse or fine run: the genres need its network
    found = predict(run, ids)  # every trailer's genres at once
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} is a file; give a folder for the IIIF manifests")
    root = (cfg.base_url.rstrip("/") if cfg.base_url else out.resolve().as_uri())
    summary, refs = IiifSummary(out), []
    for p in reporter.bar(found.items, desc="iiif", unit="trailer"):
        meta = run.store.meta(p.trailer_id)
        if not meta.has_clip_times:
            summary.skipped[p.trailer_id] = "no clip times (features imported without seconds): no time-based Canvas"
            continue
        t = trailer_timeline(run, p.trailer_id)
        key = entry_key(p.trailer_id)
        doc = manifest(t, meta, p.probabilities, found.threshold, f"{root}/{key}", cfg)
        atomic_write(out / f"{key}.json", json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
        atomic_write(out / f"{key}.vtt", webvtt(t, cfg.top))
        refs.append({"id": doc["id"], "type": "Manifest", "label": doc["label"]})
        summary.manifests.append(p.trailer_id)
        if not meta.source.get("video"):
            summary.without_video.append(p.trailer_id)
    collection = {"@context": CONTEXT, "id": f"{root}/{COLLECTION}", "type": "Collection",
                  "label": text(f"mmx: {run.root.name}"), "items": refs}
    atomic_write(out / COLLECTION, json.dumps(collection, indent=1, ensure_ascii=False) + "\n")
    return summary
