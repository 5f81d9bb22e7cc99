"""The explorer page in a real browser: Debian's headless Chromium driven by Playwright for Python.

A real uvicorn server on a loopback port serves a 60-trailer run; the tests read what the page
exposes (``data-count`` / ``data-shown`` on the map canvas) and click where the page draws points.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn
from playwright import sync_api

from mmx_serve.app import create_app
from test_serve_api import make_embeddings_run

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]

if not CHROMIUM.exists():  # scripts/setup.sh installs it; a missing browser must not pass silently
    pytest.fail(f"{CHROMIUM} is missing: run scripts/setup.sh (it installs Debian's chromium)", pytrace=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    run = make_embeddings_run(tmp_path_factory.mktemp("browser"))
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(run), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not srv.started:
        assert time.time() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser, server):
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server + "/")
    page.wait_for_selector("#map[data-ready='1']", timeout=20000)
    yield page
    context.close()
    assert not errors, errors


def point_on_screen(page, trailer_id: str) -> tuple[float, float]:
    """Page coordinates where the map draws ``trailer_id``."""
    sx, sy = page.evaluate("id => screen(state.index.get(id))", trailer_id)
    box = page.locator("#map").bounding_box()
    return box["x"] + sx, box["y"] + sy


def test_page_loads_and_shows_every_trailer(page):
    canvas = page.locator("#map")
    assert canvas.get_attribute("data-count") == "60" and canvas.get_attribute("data-shown") == "60"
    assert page.locator("#shown").inner_text() == "60 of 60 trailers"
    assert page.locator("#legend span").count() == 4
    # the canvas is really painted: its pixels are not all one colour
    distinct = page.evaluate(
        "() => { const c = document.getElementById('map'); const d = c.getContext('2d')"
        ".getImageData(0, 0, c.width, c.height).data; const s = new Set();"
        " for (let i = 0; i < d.length; i += 4 * 97) s.add(d[i] + ',' + d[i+1] + ',' + d[i+2]); return s.size; }"
    )
    assert distinct >= 4


def test_hover_shows_title_and_genres(page):
    page.mouse.move(*point_on_screen(page, "film010"))
    tip = page.locator("#tooltip")
    tip.wait_for(state="visible")
    assert "Horror Story 10" in tip.inner_text() and "Horror" in tip.inner_text()


def test_click_opens_panel_with_clickable_neighbours(page):
    page.mouse.click(*point_on_screen(page, "#Film 007"))
    panel = page.locator("#panel")
    panel.wait_for(state="visible")
    page.wait_for_function("document.querySelectorAll('#neighbours li').length === 10")
    assert page.locator("#p-title").inner_text() == "Romance Story 7"
    assert "Romance" in page.locator("#p-probs").inner_text()
    assert page.locator("#p-timeline-box").is_hidden()  # imported embeddings have no timeline
    first = page.locator("#neighbours li").first
    target = first.get_attribute("data-id")
    first.click()
    page.wait_for_function(f"document.getElementById('panel').dataset.id === {target!r}")
    page.wait_for_function("document.getElementById('p-title').textContent !== 'loading…'")
    assert page.locator("#p-meta").inner_text().startswith(target)


def test_search_and_filters_narrow_the_map(page):
    canvas = page.locator("#map")
    page.fill("#search", "horror story 1")
    assert canvas.get_attribute("data-shown") == "3"  # 10, 14, 18
    results = page.locator("#results li")
    assert results.count() == 3 and "Horror Story 10" in results.first.inner_text()
    results.first.click()
    page.locator("#panel").wait_for(state="visible")
    page.wait_for_function("document.getElementById('p-title').textContent === 'Horror Story 10'")
    page.fill("#search", "")
    page.select_option("#genre", "Comedy")
    n_comedy = len([i for i in range(60) if i % 4 == 1 or (i % 4 == 0 and i % 5 == 0)])
    assert canvas.get_attribute("data-shown") == str(n_comedy)
    page.fill("#year-from", "2010")
    page.fill("#year-to", "2014")
    expected = [i for i in range(60) if (i % 4 == 1 or (i % 4 == 0 and i % 5 == 0)) and 2010 <= 1990 + i % 30 <= 2014]
    assert canvas.get_attribute("data-shown") == str(len(expected))
