"""The explorer page in a real browser: Debian's headless Chromium driven by Playwright for Python.

A real uvicorn server on a loopback port serves a 60-trailer run; the tests read what the page
exposes (``data-count`` / ``data-shown`` on the map canvas) and click where the page draws points.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import uvicorn
from playwright import sync_api

from helpers import make_embeddings_run
from mmx_serve.app import create_app
from server_process import free_port

pytestmark = pytest.mark.slow  # a real server and a headless browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]

if not CHROMIUM.exists():  # scripts/setup.sh installs it; a missing browser must not pass silently
    pytest.fail(f"{CHROMIUM} is missing: run scripts/setup.sh (it installs Debian's chromium)", pytrace=False)


@contextmanager
def serving(run: Path, media: Path | None = None) -> Iterator[str]:
    """``mmx serve`` of ``run`` (``media``: its --media-root) on a free loopback port, in a thread; yields its URL."""
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(run, media), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not srv.started:
        assert time.time() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with serving(make_embeddings_run(tmp_path_factory.mktemp("browser"))) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@contextmanager
def map_page(browser, url: str) -> Iterator[sync_api.Page]:
    """The explorer's page at ``url`` with its map drawn; no script error may happen until it closes."""
    context = browser.new_context(viewport={"width": 1200, "height": 800}, bypass_csp=True)  # Playwright uses eval
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url + "/")
    page.wait_for_selector("#map[data-ready='1']", timeout=20000)
    yield page
    context.close()
    assert not errors, errors


@pytest.fixture()
def page(browser, server):
    with map_page(browser, server) as page:
        yield page


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
    # imported embeddings without pictures: dots, each in its genre's colour and big enough to see
    assert canvas.get_attribute("data-thumbs") == "0" and page.evaluate("dotRadius()") >= 2.2
    coloured = page.evaluate("""() => { const d = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
        const r = canvas.width / state.cssW;
        return state.map.ids.filter((_, i) => { const [x, y] = screen(i);
          const at = 4 * (Math.round(y * r) * canvas.width + Math.round(x * r));
          const want = state.packed[state.primary[i]];
          return (d[at] | d[at + 1] << 8 | d[at + 2] << 16 | d[at + 3] << 24) >>> 0 === want; }).length; }""")
    assert coloured >= 54  # of 60: a dot drawn over another may hide its centre
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


# ---------------------------------------------------------------------------- a trained run with pictures
@pytest.fixture(scope="module")
def scene_server(tmp_path_factory):
    from helpers import make_scene_run

    run, media = make_scene_run(tmp_path_factory.mktemp("browser-scenes"))
    with serving(run, media) as url:
        yield url, run


@pytest.fixture()
def scene_page(browser, scene_server):
    url, run = scene_server
    with map_page(browser, url) as page:
        yield page, run


def open_first(page, run):
    from mmx.run import Run

    store = Run.open(run).store
    tid = min(store.entries())
    page.evaluate("id => openTrailer(id)", tid)
    page.wait_for_function("document.querySelectorAll('#p-scenes .scene').length > 0")
    return tid, store


WIDE = {"width": 1400, "height": 900}  # the size the explorer's layout is judged at


def pictures_page(browser, url: str) -> sync_api.Page:
    """``map_page`` at 1400 × 900, once every trailer is drawn from the atlas's first sheets."""
    page = browser.new_context(viewport=WIDE, bypass_csp=True).new_page()
    page.goto(url + "/")
    page.wait_for_selector("#map[data-pictures-paint]", timeout=20000)
    return page


def picture_boxes(page) -> list[tuple[float, float, float, float]]:
    """(left, top, right, bottom) of every trailer's picture, in CSS px of the canvas."""
    return page.evaluate("""() => { const w = pictureWidth(), h = w / state.atlas.aspect;
        return state.map.ids.map((_, i) => { const [x, y] = screen(i);
          return [x - w / 2, y - h / 2, x + w / 2, y + h / 2]; }); }""")


def all_on_screen(page) -> bool:
    w, h = page.evaluate("[state.cssW, state.cssH]")
    return all(left >= 0 and top >= 0 and right <= w and bottom <= h
               for left, top, right, bottom in picture_boxes(page))


def keyframe_colours(run) -> list[list[float]]:
    """The mean colour of every trailer's middle keyframe (the helpers' keyframes are one colour each)."""
    import io

    from PIL import Image

    from mmx.run import Run

    store = Run.open(run).store
    return [np.asarray(Image.open(io.BytesIO(store.keyframe(t, m.n_clips // 2))), np.float32).mean((0, 1)).tolist()
            for t, m in sorted(store.entries().items())]


PICTURES_SHOWN = """(colours) => {
    // each canvas pixel that is one trailer's keyframe colour (the nearest, within 4 levels in all): per trailer
    const c = document.getElementById('map'), d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const counts = colours.map(() => 0);
    for (let i = 0; i < d.length; i += 4) {
      let best = -1, bestD = 5;
      colours.forEach((q, j) => {
        const e = Math.max(Math.abs(d[i] - q[0]), Math.abs(d[i + 1] - q[1]), Math.abs(d[i + 2] - q[2]));
        if (e < bestD) { bestD = e; best = j; } });
      if (best >= 0) counts[best]++;
    }
    const w = pictureWidth() * c.width / state.cssW;
    const share = counts.reduce((a, b) => a + b, 0) / (c.width * c.height);
    return { share, counts, area: w * w / state.atlas.aspect }; }"""


def test_first_paint_shows_every_trailer_as_its_picture(browser, scene_server):
    url, run = scene_server
    page = pictures_page(browser, url)
    canvas = page.locator("#map")
    assert canvas.get_attribute("data-thumbs") == "30" == canvas.get_attribute("data-count")
    assert all_on_screen(page)  # every picture whole inside the map
    # the pixels that are a trailer's keyframe (each is one colour), not background, frames or labels
    colours = keyframe_colours(run)
    assert min(np.abs(np.subtract(a, b)).max() for i, a in enumerate(colours) for b in colours[:i]) >= 5
    shown = page.evaluate(PICTURES_SHOWN, colours)
    assert shown["share"] >= 0.15, shown["share"]
    least = min(shown["counts"]) / shown["area"]
    assert least >= 0.1, least  # no picture is hidden by the others: at least a tenth of each shows
    assert int(canvas.get_attribute("data-regions")) >= 2  # regions named by their genres when zoomed out
    assert page.locator("#minimap").is_hidden()  # the whole map is in view
    page.context.close()


def test_pictures_come_under_the_pages_own_content_security_policy(browser, scene_server):
    url, _ = scene_server
    context = browser.new_context(viewport=WIDE)  # no bypass: the sheets are images of 'self' read back on a canvas
    page = context.new_page()
    refused = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda e: refused.append(str(e)))
    page.goto(url + "/")
    page.wait_for_selector("#map[data-pictures-paint]", timeout=20000)
    assert page.locator("#map").get_attribute("data-thumbs") == "30" and not refused
    context.close()


def test_zoom_stays_at_the_pointer_fetches_sharper_tiles_and_fit_returns(browser, scene_server):
    url, _ = scene_server
    page = pictures_page(browser, url)
    box = page.locator("#map").bounding_box()
    at = (box["x"] + 0.8 * box["width"], box["y"] + 0.3 * box["height"])
    before = page.evaluate(f"toMap({0.8 * box['width']}, {0.3 * box['height']})")
    page.mouse.move(*at)
    for _ in range(8):
        page.mouse.wheel(0, -400)
    page.wait_for_function("state.view.scale > 20")
    after = page.evaluate(f"toMap({0.8 * box['width']}, {0.3 * box['height']})")
    span = page.evaluate("Math.max(...state.map.x) - Math.min(...state.map.x)")
    assert np.abs(np.subtract(after, before)).max() < 1e-3 * span  # the map point under the pointer stayed
    assert int(page.locator("#map").get_attribute("data-regions")) == 0 and page.locator("#minimap").is_visible()
    # zoomed in on a trailer: its picture comes from a larger level of the atlas
    page.evaluate("() => { centreOn(0); zoomAt(state.cssW / 2, state.cssH / 2, 6 / state.view.scale); }")
    page.wait_for_function("performance.getEntriesByType('resource').some(e => /api\\/atlas\\?level=3/.test(e.name))")
    page.mouse.move(box["x"] + 5, box["y"] + 5)
    page.mouse.down()
    page.mouse.move(box["x"] + 600, box["y"] + 400, steps=5)  # dragged far away
    page.mouse.up()
    page.keyboard.press("f")
    assert page.evaluate("[state.view.scale, state.view.dx, state.view.dy]") == [1, 0, 0]
    assert all_on_screen(page) and page.locator("#minimap").is_hidden()
    page.evaluate("() => zoomAt(10, 10, 0.5)")  # zoomed out, off to a corner: the button fits again
    page.locator("#zoom-fit").click()
    assert all_on_screen(page)
    page.context.close()


def test_the_selected_trailer_is_centred_when_the_panel_opens(browser, scene_server):
    url, _ = scene_server
    page = pictures_page(browser, url)
    boxes = picture_boxes(page)
    box = page.locator("#map").bounding_box()
    centres = [(box["x"] + (b[0] + b[2]) / 2, box["y"] + (b[1] + b[3]) / 2) for b in boxes]
    clear = [k for k, (x, y) in enumerate(centres)  # not under the legend or the zoom buttons
             if page.evaluate(f"document.elementFromPoint({x}, {y}).id") == "map"]
    i = min(clear, key=lambda k: boxes[k][0])  # the leftmost picture: far from the centre
    page.mouse.click(*centres[i])
    page.locator("#panel").wait_for(state="visible")
    page.wait_for_function("state.selected >= 0 && state.cssW < 1100")  # the panel took its room
    page.wait_for_timeout(100)
    x, y = page.evaluate("screen(state.selected)")
    w, h = page.evaluate("[state.cssW, state.cssH]")
    assert page.evaluate("state.selected") == i and abs(x - w / 2) < 1 and abs(y - h / 2) < 1
    page.context.close()


def test_scene_strip_similar_scenes_and_playback(scene_page):
    page, run = scene_page
    tid, store = open_first(page, run)
    n = store.meta(tid).n_clips
    assert page.locator("#p-scenes .scene img").count() == n  # one keyframe per clip
    page.wait_for_function("[...document.querySelectorAll('#p-scenes img')].every(i => i.complete && i.naturalWidth > 0)")
    times = store.load_clip_times(tid)
    clip = int(np.searchsorted(times[:, 0], 2.0))  # a scene starting after 2 s, inside the 7.5 s test video
    page.locator("#p-scenes .scene").nth(clip).click()
    page.wait_for_function("document.querySelectorAll('#similar-scenes li[data-id]').length === 8")
    others = page.eval_on_selector_all("#similar-scenes li[data-id]", "els => els.map(e => e.dataset.id)")
    assert tid not in others
    start = float(times[clip, 0])
    # playing from the scene's start: the time is there at once and then moves on (it plays)
    page.wait_for_function(f"(t => t >= {start} - 0.05 && t < {start} + 1.5)(document.getElementById('player').currentTime)",
                           timeout=10000)


def vtt_cues(text: str) -> list[tuple[float, float, str]]:
    """(start, end, text) of every cue of a WebVTT file."""
    def seconds(stamp: str) -> float:
        h, m, s = stamp.split(":")
        return int(h) * 3600 + int(m) * 60 + float(s)

    cues = []
    for block in text.split("\n\n")[1:]:
        lines = block.strip().splitlines()
        if lines:
            start, _, end = lines[1].partition(" --> ")
            cues.append((seconds(start), seconds(end), "\n".join(lines[2:])))
    return cues


def test_the_genre_timeline_shows_as_captions_while_the_trailer_plays(scene_page, tmp_path):
    """The player loads GET /api/timeline.vtt as a <track>: the cues are `mmx predict --timeline --vtt`'s, and at a
    scene's second the caption showing names that scene's top genres."""
    from mmx.run import Run
    from mmx.timeline import trailer_timeline
    from mmx_cli.main import main

    page, run = scene_page
    tid, store = open_first(page, run)
    page.wait_for_function("(t => t && t.mode === 'showing' && t.cues && t.cues.length > 0)"
                           "(document.getElementById('player').textTracks[0])", timeout=10000)
    shown = page.evaluate("() => [...document.getElementById('player').textTracks[0].cues]"
                          ".map(c => [c.startTime, c.endTime, c.text])")
    written = tmp_path / "genres.vtt"
    assert main(["predict", "--run", str(run), tid, "--timeline", "--vtt", str(written)]) == 0
    expected = vtt_cues(written.read_text())
    assert len(shown) == len(expected) == store.meta(tid).n_clips
    for (start, end, text), (s, e, t) in zip(shown, expected):
        assert abs(start - s) < 1e-3 and abs(end - e) < 1e-3 and text == t
    second = 2.5  # inside the 7.5 s test video
    cue = next(c for c in expected if c[0] <= second < c[1])
    page.evaluate(f"() => {{ const p = document.getElementById('player'); p.pause(); p.currentTime = {second}; }}")
    page.wait_for_function("(t => t.activeCues && t.activeCues.length > 0 && t.activeCues[0].text === "
                           f"{cue[2]!r})(document.getElementById('player').textTracks[0])", timeout=10000)
    timeline = trailer_timeline(Run.open(run), tid)  # the scene's three most probable genres, as the network says
    clip = next(c.clip for c in timeline.clips if c.start <= second < c.end)
    assert cue[2] == " · ".join(f"{g} {p:.2f}" for g, p in timeline.top(clip))


def test_a_label_decision_in_the_page_is_journalled_and_exported(scene_page, tmp_path):
    from mmx.review import ReviewJournal
    from mmx_cli.main import main

    page, run = scene_page
    tid, _ = open_first(page, run)
    page.wait_for_function("document.querySelectorAll('#p-add-genre option').length > 0")
    genre = page.locator("#p-add-genre").input_value()
    page.locator("#p-add").click()
    page.wait_for_function(f"[...document.querySelectorAll('#p-genres span')].some(s => s.textContent.includes({genre!r}))")
    assert any(d.genre == genre and d.decision == "add" for d in ReviewJournal(run).decisions(tid))
    page.wait_for_function("document.getElementById('notice').textContent.includes('since this run trained')")
    assert f"--reviews {run} --out" in page.locator("#notice").text_content()  # the retrain the decision asks for
    out = tmp_path / "labels.csv"
    assert main(["labels", "export", "--run", str(run), "--out", str(out)]) == 0
    row = next(line for line in out.read_text().splitlines() if line.startswith(tid + ","))
    assert genre in row


# ---------------------------------------------------------------------------- a team's explorer
@pytest.fixture(scope="module")
def team_server(tmp_path_factory):
    """The 60-trailer run with accounts: a reviewer's token."""
    from mmx.users import Users

    run = make_embeddings_run(tmp_path_factory.mktemp("browser-team"))
    _, token = Users.of_run(run).add("ana", "reviewer")
    with serving(run) as url:
        yield url, run, token


def test_a_reviewer_logs_in_and_the_decision_says_who(browser, team_server):
    from mmx.review import ReviewJournal

    url, run, token = team_server
    context = browser.new_context(viewport={"width": 1200, "height": 800})  # the page under its own CSP
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(url + "/")
    page.wait_for_selector("#login:not([hidden])")
    page.fill("#login-token", "mmx_00000000_" + "a" * 43)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#login-error:has-text('not one of')")
    page.fill("#login-token", token)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#map[data-ready='1']", timeout=20000)
    assert page.locator("#who").text_content() == "ana (reviewer)"
    cookie = next(c for c in context.cookies() if c["name"] == "mmx_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # the page's scripts cannot read the session
    page.evaluate("id => openTrailer(id)", "film001")
    page.wait_for_selector("#p-add-genre option", state="attached")
    genre = page.locator("#p-add-genre").input_value()
    page.locator("#p-add").click()
    page.wait_for_selector("#p-review-note:has-text('last by ana')")
    assert [(d.genre, d.user) for d in ReviewJournal(run).decisions("film001")] == [(genre, "ana")]
    page.click("#logout")
    page.wait_for_selector("#login:not([hidden])")
    context.close()
    assert not errors, errors


# ---------------------------------------------------------------------------- collection health
@pytest.fixture(scope="module")
def dirty_server(tmp_path_factory):
    """A run with a re-uploaded copy (film010b), a mislabelled trailer (film002: Horror labelled Comedy) and
    placeholder genres (``helpers.make_dirty_run``)."""
    from helpers import make_dirty_run

    run = make_dirty_run(tmp_path_factory.mktemp("browser-dirty"))
    with serving(run) as url:
        yield url, run


def test_health_badges_filter_the_map_and_open_the_label_review(browser, dirty_server, tmp_path):
    from mmx.review import ReviewJournal
    from mmx_cli.main import main

    url, run = dirty_server
    with map_page(browser, url) as page:
        # the check ran (in the background)
        page.wait_for_selector("#health-kind option[value='duplicate']", state="attached", timeout=120000)
        n = page.evaluate("state.findings.kinds.duplicate")
        assert n >= 2
        assert page.locator("#health-kind option[value='duplicate']").inner_text() == f"possible duplicates ({n})"
        page.select_option("#health-kind", "duplicate")
        assert page.locator("#map").get_attribute("data-shown") == str(n)  # the map shows only those trailers
        assert page.locator("#flagged-list li").count() == n
        copy = page.locator("#flagged-list li[data-id='film010b'] .badge")
        assert copy.inner_text() == "possible duplicate of Horror Story 10"
        copy.click()
        page.wait_for_function("document.getElementById('panel').dataset.id === 'film010b'")
        page.wait_for_selector("#p-review-focus:has-text('possible duplicate of Horror Story 10')")
        assert page.locator("#p-health .badge.duplicate").count() == 1
        # a label badge opens the review of that trailer with its genre marked: the curator fixes it there
        page.select_option("#health-kind", "label")
        page.locator("#flagged-list li[data-id='film002'] .badge", has_text="label to review: Comedy").click()
        page.wait_for_function("document.getElementById('panel').dataset.id === 'film002'")
        page.wait_for_selector("#p-genres span.flag[data-genre='Comedy']")
        page.select_option("#p-add-genre", "Horror")
        page.locator("#p-add").click()
        page.wait_for_selector("#p-genres span[data-genre='Horror']")
        page.locator("#p-genres span[data-genre='Comedy'] button.x").click()
        page.wait_for_selector("#p-health .badge.reviewed:has-text('label to review: Comedy')")
        decisions = ReviewJournal(run).decisions("film002")
        assert [(d.genre, d.decision) for d in decisions] == [("Horror", "add"), ("Comedy", "remove")]
        out = tmp_path / "labels.csv"
        assert main(["labels", "export", "--run", str(run), "--out", str(out)]) == 0
        assert "film002,Horror,Horror Story 2," in out.read_text()  # the fix, in the import format
