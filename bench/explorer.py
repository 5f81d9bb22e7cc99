"""The explorer in a real browser at catalogue scale, with the map's pictures: atlas cost, first paint, pan.

SYNTHETIC DATA: for each size in ``--sizes``, an imported-embeddings run (16-d vectors, genres drawn with
MovieNet-like frequencies, titles "Synthetic trailer N") whose map is written straight into the run's
layout cache (positions: a mixture of 2-D Gaussian clusters, as a t-SNE map looks; a real t-SNE of
100,000 trailers takes far longer than the page and is not what is measured here). Its pictures are
REAL frames: every 10th frame of the two real clips in /work/shared/data/real-clips (Big Buck Bunny,
Chaplin), kept as 160-px-wide JPEGs as extraction keeps keyframes, one per trailer (a cluster's trailers
share nearby frames), written as imported pictures (``mmx.atlas.write_pictures``, what
``mmx import-embeddings --pictures`` keeps).

Measured, per size:

* ``atlas`` — ``mmx.atlas.update_atlas`` of every trailer (the smallest level, made when the server
  prepares): seconds and bytes; a larger level's sheet made on first ask (the on-demand cost): seconds
  and bytes of one sheet of each level; the bytes of every sheet of each level, were they all made
  (extrapolated from the sheets made: ``bytes_all_sheets_est``);
* ``first_paint_ms`` — from navigation start until the map's first frame (dots, before any sheet came);
  ``pictures_paint_ms`` — until the first frame with every trailer drawn from the smallest level
  (``data-first-paint`` / ``data-pictures-paint``), for ``--repeats`` page loads;
* ``atlas_bytes_loaded`` — bytes of the sheets the page fetched for its first view, by level (Resource Timing,
  once nothing is loading: the smallest level at once, then the level as wide as the view's pictures);
* ``picture_share`` — the share of the map's pixels drawn (not background) at the pictures' first paint;
* ``pan`` / ``zoomed_pan`` — a drag of ``--pan-steps`` mouse moves: the page's own paint time per frame
  (``state.paintMs``) and the interval between animation frames, at fit and zoomed in 8×.

A uvicorn server on a free loopback port serves each run, prepared as `mmx serve` prepares it (map and
atlas made and encoded before it listens); Debian's headless Chromium (Playwright), 1400×900.

    python bench/explorer.py [--sizes 1000,100000] [--pan-steps 60] [--repeats 3]

The last line of the output is JSON. Targets (issues 15, 34): first paint ≤ 2 s, pan ≤ 33 ms per frame.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import tempfile
import threading
import time
from pathlib import Path

import av
import numpy as np
import uvicorn
from _common import free_port, load_averages, print_result  # noqa: E402  (bench/ is the script folder)
from PIL import Image
from playwright import sync_api

from mmx.atlas import hilbert_order, run_pictures, update_atlas, write_pictures
from mmx.embeddings import import_embeddings
from mmx.layout import map_layout, write_layout
from mmx.run import Run
from mmx_serve.app import create_app
from mmx_serve.collection import ServeConfig

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
CLIPS = Path("/work/shared/data/real-clips")
GENRES = {"Drama": 0.45, "Comedy": 0.3, "Thriller": 0.2, "Action": 0.18, "Romance": 0.15, "Crime": 0.13,
          "Horror": 0.1, "Adventure": 0.09, "Mystery": 0.07, "Sci-Fi": 0.07, "Fantasy": 0.06, "Family": 0.05,
          "Animation": 0.04, "Documentary": 0.04, "Biography": 0.03, "History": 0.03, "Music": 0.03,
          "War": 0.02, "Sport": 0.02, "Western": 0.01}
CLUSTERS = 60
SHARE = """() => { const c = document.getElementById('map'); const d = c.getContext('2d')
  .getImageData(0, 0, c.width, c.height).data; let k = 0; for (let i = 3; i < d.length; i += 4) k += d[i] > 0;
  return k / (c.width * c.height); }"""


def real_frames(step: int = 10, width: int = 160) -> list[bytes]:
    """Every ``step``-th frame of the real clips as a JPEG ``width`` px wide (as extraction keeps keyframes)."""
    out = []
    for name in ("big_buck_bunny_0_30.webm", "chaplin.mp4"):
        with av.open(str(CLIPS / name)) as container:
            for i, frame in enumerate(container.decode(video=0)):
                if i % step:
                    continue
                img = frame.to_image()
                img = img.resize((width, round(img.height * width / img.width)), Image.Resampling.BOX)
                buf = io.BytesIO()
                img.save(buf, "JPEG", quality=80)
                out.append(buf.getvalue())
    return out


def make_run(root: Path, n: int, frames: list[bytes], seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    ids = [f"t{i:06d}" for i in range(n)]
    names, p = list(GENRES), np.array(list(GENRES.values()))
    with open(root / "meta.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["trailer_id", "genres", "title", "year"])
        for i, tid in enumerate(ids):
            genres = [g for g, keep in zip(names, rng.random(len(names)) < p) if keep] or ["Drama"]
            w.writerow([tid, "|".join(genres), f"Synthetic trailer {i}", 1950 + i % 75])
    np.savez(root / "emb.npz", trailer_id=np.array(ids), embedding=rng.standard_normal((n, 16), dtype=np.float32))
    run = root / "run"
    import_embeddings(root / "emb.npz", root / "meta.csv", run)
    centres = rng.normal(size=(CLUSTERS, 2)) * 40
    cluster = rng.integers(0, CLUSTERS, n)
    xy = centres[cluster] + rng.normal(size=(n, 2)) * rng.uniform(1, 6, size=(n, 1))
    opened = Run.open(run)
    write_layout(opened, opened.embeddings(), xy.astype(np.float32))
    # a cluster's trailers share a stretch of frames, as a genre's trailers share looks
    pick = (cluster * len(frames) // CLUSTERS + rng.integers(0, 8, n)) % len(frames)
    write_pictures(opened, {t: frames[k] for t, k in zip(ids, pick)})
    return run


def atlas_cost(run: Path, cfg: ServeConfig) -> dict:
    """The atlas as the server makes it (the smallest level), then one sheet of each larger level on demand."""
    opened = Run.open(run)
    emb = opened.embeddings()
    order = [emb.ids[i] for i in hilbert_order(map_layout(opened, emb))]  # as the server orders the slots
    t = time.perf_counter()
    atlas = update_atlas(run, run_pictures(opened), order, cfg.atlas)
    out = {"slots": len(atlas.ids), "update_s": round(time.perf_counter() - t, 2), "levels": []}
    for level in range(len(cfg.atlas.tiles)):
        t = time.perf_counter()
        one = len(atlas.sheet(level, 0))
        made = time.perf_counter() - t
        n_sheets, made_bytes = atlas.n_sheets(level), atlas.nbytes(level)
        made_sheets = sum(atlas.path(level, s).exists() for s in range(n_sheets))
        out["levels"].append({
            "tile": list(cfg.atlas.tile(level)), "sheets": n_sheets, "per_sheet": atlas.per_sheet(level),
            "first_sheet_s": round(made, 3) if level else None, "first_sheet_bytes": one,
            "bytes_made": made_bytes, "bytes_all_sheets_est": round(made_bytes / made_sheets * n_sheets)})
    for level in range(1, len(cfg.atlas.tiles)):  # as the server starts: only the smallest level made
        atlas.path(level, 0).unlink()
    return out


def serve(run: Path) -> tuple[uvicorn.Server, str, float]:
    port = free_port()
    app = create_app(run)
    t = time.perf_counter()
    app.state.explorer.prepare()  # what `mmx serve` does before it listens: the map and atlas made and encoded
    prepare_s = time.perf_counter() - t
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=srv.run, daemon=True).start()
    deadline = time.time() + 120
    while not srv.started:
        if time.time() > deadline:
            raise SystemExit("the server did not start within 120 s")
        time.sleep(0.05)
    return srv, f"http://127.0.0.1:{port}", prepare_s


def stats(values: list[float]) -> dict:
    v = np.asarray(values, float)
    if not len(v):
        return {"frames": 0}
    return {"frames": len(v), "p50_ms": round(float(np.median(v)), 2), "p95_ms": round(float(np.percentile(v, 95)), 2),
            "max_ms": round(float(v.max()), 2)}


def pan(page, steps: int) -> dict:
    box = page.locator("#map").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.evaluate("""() => { state.paintMs.length = 0; window.__frames = [];
        const tick = (t) => { window.__frames.push(t); if (window.__frames.length < 100000) window.__raf = requestAnimationFrame(tick); };
        window.__raf = requestAnimationFrame(tick); }""")
    page.mouse.move(cx, cy)
    page.mouse.down()
    for s in range(steps):
        page.mouse.move(cx + 4 * (s + 1), cy + 2 * (s + 1))
        page.wait_for_timeout(16)
    page.mouse.up()
    page.wait_for_timeout(100)
    paint_ms, frames = page.evaluate("() => { cancelAnimationFrame(window.__raf); return [state.paintMs.slice(), window.__frames]; }")
    return {"paint": stats(paint_ms), "frame_interval": stats(np.diff(frames).tolist())}


def page_load(browser, url: str) -> tuple[object, dict]:
    # Playwright evaluates strings, which the page's CSP forbids
    ctx = browser.new_context(viewport={"width": 1400, "height": 900}, bypass_csp=True)
    page = ctx.new_page()
    page.goto(url + "/")
    page.wait_for_selector("#map[data-pictures-paint]", timeout=300_000)
    canvas = page.locator("#map")
    share = page.evaluate(SHARE)
    # the first view's sharper sheets (as wide as its pictures) come after: bytes once nothing is loading
    page.wait_for_function("state.atlas.loading === 0 && state.atlas.queue.length === 0", timeout=300_000)
    loaded = page.evaluate("""() => { const out = {}; for (const e of performance.getEntriesByType('resource')) {
        const m = /api\\/atlas\\?level=(\\d+)/.exec(e.name); if (m) out[m[1]] = (out[m[1]] || 0) + e.encodedBodySize; }
        return out; }""")
    return ctx, {"first_paint_ms": float(canvas.get_attribute("data-first-paint")),
                 "pictures_paint_ms": float(canvas.get_attribute("data-pictures-paint")),
                 "atlas_bytes_loaded": loaded, "pictures_drawn": int(canvas.get_attribute("data-thumbs")),
                 "picture_share": round(share, 3), "count": int(canvas.get_attribute("data-count"))}


def measure(browser, n: int, frames: list[bytes], args: argparse.Namespace) -> dict:
    result: dict = {"trailers": n}
    with tempfile.TemporaryDirectory(prefix="mmx-bench-explorer-") as tmp:
        t = time.perf_counter()
        run = make_run(Path(tmp), n, frames)
        result["setup_s"] = round(time.perf_counter() - t, 1)
        result["atlas"] = atlas_cost(run, ServeConfig())
        srv, url, result["prepare_s"] = serve(run)
        try:
            loads = []
            for _ in range(args.repeats):
                ctx, load = page_load(browser, url)
                loads.append(load)
                if len(loads) < args.repeats:
                    ctx.close()
            page = ctx.pages[0]
            result["loads"] = loads
            result["first_paint_ms"] = [x["first_paint_ms"] for x in loads]
            result["pictures_paint_ms"] = [x["pictures_paint_ms"] for x in loads]
            result["pan"] = pan(page, args.pan_steps)
            # zoomed in 8× on a trailer in the middle of the collection's slots (a crowded part of the map)
            page.evaluate("() => { centreOn(state.map.tiles.indexOf(Math.floor(state.map.count / 2))); "
                          "zoomAt(state.cssW / 2, state.cssH / 2, 8); }")
            page.wait_for_timeout(3000)  # the larger level's sheets of the view come
            result["zoomed_pictures_drawn"] = int(page.locator("#map").get_attribute("data-thumbs"))
            result["zoomed_pan"] = pan(page, args.pan_steps)
            ctx.close()
        finally:
            srv.should_exit = True
    return result


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="1000,100000", help="comma-separated numbers of trailers")
    p.add_argument("--pan-steps", type=int, default=60)
    p.add_argument("--repeats", type=int, default=3, help="page loads; the first paint is reported for each")
    args = p.parse_args(argv)
    frames = real_frames()
    out: dict = {"load_before": load_averages(), "cpus": os.cpu_count(), "pictures": f"{len(frames)} real frames",
                 "sizes": []}
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for n in [int(s) for s in args.sizes.split(",")]:
            out["sizes"].append(measure(browser, n, frames, args))
            print(json.dumps(out["sizes"][-1]), flush=True)
        browser.close()
    out["load_after"] = load_averages()
    out["targets_met"] = all(max(r["first_paint_ms"]) <= 2000 and r["pan"]["paint"]["p95_ms"] <= 33
                             and r["zoomed_pan"]["paint"]["p95_ms"] <= 33 for r in out["sizes"])
    return print_result(out)


if __name__ == "__main__":
    main()
