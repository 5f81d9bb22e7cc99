"""The explorer in a real browser at catalogue scale: first paint and pan frame time with 100,000 trailers.

SYNTHETIC DATA: an imported-embeddings run of ``--trailers`` trailers (16-d vectors, genres drawn
with MovieNet-like frequencies, titles "Synthetic trailer N") whose map is written straight into
the run's layout cache (positions: a mixture of 2-D Gaussian clusters, as a t-SNE map looks; a
real t-SNE of 100,000 trailers takes far longer than the page and is not what is measured here).
A uvicorn server on a free loopback port serves it, prepared as `mmx serve` prepares it (map read
and encoded before it listens); Debian's headless Chromium (Playwright) opens
the page and we read:

* ``first_paint_ms`` — from navigation start until the map's first frame has been drawn
  (``performance.now()`` at the end of the first paint, which the page keeps in ``data-first-paint``);
* ``pan`` — a drag of ``--pan-steps`` mouse moves across the map: the page's own paint time per frame
  (``state.paintMs``: the JS work of one frame) and the interval between animation frames while panning;
* ``zoomed_pan`` — the same after zooming in 8×.

    python bench/explorer.py [--trailers 100000] [--pan-steps 60]

The last line of the output is JSON. Targets (issue 15): first paint ≤ 2 s, pan ≤ 33 ms per frame.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import socket
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import uvicorn
from playwright import sync_api

from mmx.embeddings import import_embeddings
from mmx.layout import write_layout
from mmx.run import Run
from mmx_serve.app import create_app

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
GENRES = {"Drama": 0.45, "Comedy": 0.3, "Thriller": 0.2, "Action": 0.18, "Romance": 0.15, "Crime": 0.13,
          "Horror": 0.1, "Adventure": 0.09, "Mystery": 0.07, "Sci-Fi": 0.07, "Fantasy": 0.06, "Family": 0.05,
          "Animation": 0.04, "Documentary": 0.04, "Biography": 0.03, "History": 0.03, "Music": 0.03,
          "War": 0.02, "Sport": 0.02, "Western": 0.01}


def make_run(root: Path, n: int, seed: int = 0) -> Path:
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
    centres = rng.normal(size=(60, 2)) * 40
    xy = centres[rng.integers(0, 60, n)] + rng.normal(size=(n, 2)) * rng.uniform(1, 6, size=(n, 1))
    opened = Run.open(run)
    write_layout(opened, opened.embeddings(), xy.astype(np.float32))
    return run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(run: Path) -> tuple[uvicorn.Server, str]:
    port = free_port()
    app = create_app(run)
    app.state.explorer.prepare()  # what `mmx serve` does before it listens: the map read and encoded
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=srv.run, daemon=True).start()
    deadline = time.time() + 120
    while not srv.started:
        if time.time() > deadline:
            raise SystemExit("the server did not start within 120 s")
        time.sleep(0.05)
    return srv, f"http://127.0.0.1:{port}"


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
    gaps = np.diff(frames).tolist()
    return {"paint": stats(paint_ms), "frame_interval": stats(gaps)}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trailers", type=int, default=100_000)
    p.add_argument("--pan-steps", type=int, default=60)
    p.add_argument("--repeats", type=int, default=3, help="page loads; the first paint is reported for each")
    args = p.parse_args(argv)
    result: dict = {"trailers": args.trailers, "load_before": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="mmx-bench-explorer-") as tmp:
        t = time.perf_counter()
        run = make_run(Path(tmp), args.trailers)
        result["setup_s"] = round(time.perf_counter() - t, 1)
        srv, url = serve(run)
        try:
            with sync_api.sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                firsts = []
                for _ in range(args.repeats):
                    # Playwright evaluates strings, which the page's CSP forbids
                    ctx = browser.new_context(viewport={"width": 1400, "height": 900}, bypass_csp=True)
                    page = ctx.new_page()
                    page.goto(url + "/")
                    page.wait_for_selector("#map[data-ready='1']", timeout=60_000)
                    firsts.append(float(page.locator("#map").get_attribute("data-first-paint")))
                    if len(firsts) < args.repeats:
                        ctx.close()
                result["first_paint_ms"] = firsts
                result["count"] = int(page.locator("#map").get_attribute("data-count"))
                result["pan"] = pan(page, args.pan_steps)
                page.evaluate("() => { const r = canvas.getBoundingClientRect(); zoomAt(r.width / 2, r.height / 2, 8); }")
                page.wait_for_timeout(100)
                result["zoomed_pan"] = pan(page, args.pan_steps)
                ctx.close()
                browser.close()
        finally:
            srv.should_exit = True
    result["load_after"] = os.getloadavg()
    result["targets_met"] = (max(result["first_paint_ms"]) <= 2000 and result["pan"]["paint"]["p95_ms"] <= 33
                             and result["zoomed_pan"]["paint"]["p95_ms"] <= 33)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
