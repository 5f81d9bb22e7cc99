"""Download a catalogue's trailers with yt-dlp (``pip install mmx[dataset]``).

Each entry's ``url`` (a ``url`` column, or a YouTube id → watch URL) is downloaded to
``<out>/<trailer_id>.<ext>``. Resumable: a trailer whose video is already there is skipped, and an
interrupted download continues from yt-dlp's ``.part`` file. A transient failure (network error,
timeout, HTTP 5xx/408/429) is retried with exponential back-off; a permanent one (HTTP 4xx, video
unavailable) is not. Every item ends as downloaded, present or failed with the reason;
``fetch_collection`` then writes ``labels.csv`` for the trailers that are there and
``fetch_report.json`` with one line per item.
"""

from __future__ import annotations

import glob
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm.auto import tqdm

from mmx.catalog.build import Entry
from mmx.data.labels_csv import write_labels
from mmx.durable import atomic_write
from mmx.errors import ConfigError, MissingExtra

try:
    import yt_dlp
    from yt_dlp.networking.exceptions import HTTPError
    from yt_dlp.utils import DownloadError, ExtractorError
except ImportError:  # the dataset extra is optional; _require_yt_dlp says how to install it
    yt_dlp = None

VIDEO_SUFFIXES = {".mp4", ".mkv", ".webm", ".mov", ".avi", ".m4v", ".flv", ".3gp", ".ts", ".mpg", ".mpeg"}
TRANSIENT_HTTP = {408, 429}  # 4xx statuses worth retrying


@dataclass
class FetchConfig:
    jobs: int = 4  # trailers downloaded in parallel
    retries: int = 3  # further attempts after a transient failure (also yt-dlp's own HTTP retries)
    backoff: float = 2.0  # seconds before the first retry; doubled for each further one
    rate_limit: int | None = None  # bytes per second per download (yt-dlp ``ratelimit``); None = no limit
    video_format: str = "best[ext=mp4]/best"  # yt-dlp format selector; single-file formats need no ffmpeg
    socket_timeout: float = 30.0  # seconds before a stalled connection counts as a failure


@dataclass
class FetchResult:
    trailer_id: str
    status: str  # "downloaded", "present" (there before this run) or "failed"
    path: str = ""  # the video file, when there is one
    error: str = ""  # why it failed
    attempts: int = 0  # downloads tried in this run


class _Silent:
    """yt-dlp logger that prints nothing: the library reports through ``FetchResult``."""

    def debug(self, msg: str) -> None:
        pass

    info = warning = error = debug


def _require_yt_dlp() -> None:
    if yt_dlp is None:
        raise MissingExtra("dataset", "yt_dlp", "dataset fetch")


def parse_rate(text: str) -> int:
    """A rate in yt-dlp's notation, ``"2M"`` or ``"500K"``, in bytes per second."""
    _require_yt_dlp()
    rate = yt_dlp.utils.parse_bytes(text)
    if rate is None or rate <= 0:
        raise ConfigError(f"rate limit {text!r} is not a rate like 2M or 500K (bytes per second)")
    return rate


def find_video(out_dir: Path, trailer_id: str) -> Path | None:
    """The finished video ``<out_dir>/<trailer_id>.<ext>`` (``.part`` files do not count)."""
    for path in sorted(out_dir.glob(glob.escape(trailer_id) + ".*")):
        if path.stem == trailer_id and path.suffix.lower() in VIDEO_SUFFIXES:
            return path
    return None


def _is_permanent(err: Exception) -> bool:
    """True for failures a retry cannot fix: HTTP 4xx (but 408/429), or yt-dlp's "expected" errors."""
    exc = err.exc_info[1] if isinstance(err, DownloadError) and err.exc_info else err
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, HTTPError):
            return 400 <= exc.status < 500 and exc.status not in TRANSIENT_HTTP
        if isinstance(exc, ExtractorError) and exc.expected:
            return True
        exc = getattr(exc, "cause", None) or exc.__cause__
    return False


def _options(out_dir: Path, trailer_id: str, cfg: FetchConfig) -> dict:
    return {
        "outtmpl": str(out_dir / (trailer_id.replace("%", "%%") + ".%(ext)s")),
        "format": cfg.video_format,
        "noplaylist": True,
        "continuedl": True,  # resume from .part files
        "overwrites": False,
        "retries": cfg.retries,
        "fragment_retries": cfg.retries,
        "retry_sleep_functions": {"http": lambda n: cfg.backoff * 2 ** n, "fragment": lambda n: cfg.backoff * 2 ** n},
        "ratelimit": cfg.rate_limit,
        "socket_timeout": cfg.socket_timeout,
        "logger": _Silent(),
        "quiet": True,
        "noprogress": True,
        "no_color": True,
    }


def fetch_one(entry: Entry, out_dir: Path, cfg: FetchConfig) -> FetchResult:
    """Download one trailer unless its video is already in ``out_dir``."""
    tid = entry.trailer_id
    if not entry.url:
        return FetchResult(tid, "failed", error="no url or youtube_id in the list; add a url column")
    if "/" in tid or "\\" in tid or tid in {".", ".."}:
        return FetchResult(tid, "failed", error="trailer id cannot be a file name (has / or \\)")
    existing = find_video(out_dir, tid)
    if existing is not None:
        return FetchResult(tid, "present", str(existing))
    attempt = 0
    while True:
        attempt += 1
        try:
            with yt_dlp.YoutubeDL(_options(out_dir, tid, cfg)) as ydl:
                ydl.extract_info(entry.url, download=True)
        except DownloadError as e:
            if _is_permanent(e) or attempt > cfg.retries:
                return FetchResult(tid, "failed", error=str(e.msg or e).removeprefix("ERROR: "), attempts=attempt)
            time.sleep(cfg.backoff * 2 ** (attempt - 1))
            continue
        path = find_video(out_dir, tid)
        if path is None:
            return FetchResult(tid, "failed", error=f"yt-dlp finished but left no video named {tid}.* in {out_dir}",
                               attempts=attempt)
        return FetchResult(tid, "downloaded", str(path), attempts=attempt)


def fetch(entries: list[Entry], out_dir: str | Path, cfg: FetchConfig, progress: bool = False) -> list[FetchResult]:
    """One result per entry, in the entries' order; ``cfg.jobs`` downloads run at a time."""
    _require_yt_dlp()
    if cfg.jobs < 1 or cfg.retries < 0 or cfg.backoff < 0:
        raise ConfigError(f"fetch needs jobs >= 1, retries >= 0 and backoff >= 0, got {cfg}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=cfg.jobs) as pool:
        futures = [pool.submit(fetch_one, e, out, cfg) for e in entries]
        with tqdm(total=len(futures), desc="fetch", unit="trailer", disable=not progress) as bar:
            for fut in futures:
                fut.add_done_callback(lambda _: bar.update())
            try:
                return [fut.result() for fut in futures]
            except KeyboardInterrupt:  # stop queued items; running ones keep their .part files
                pool.shutdown(wait=False, cancel_futures=True)
                raise


def fetch_collection(
    entries: list[Entry], out_dir: str | Path, cfg: FetchConfig, progress: bool = False
) -> list[FetchResult]:
    """``fetch`` the entries, then write ``labels.csv`` (the trailers whose video is there, for
    ``mmx extract --labels`` / ``mmx import``) and ``fetch_report.json`` (every item) into ``out_dir``."""
    results = fetch(entries, out_dir, cfg, progress)
    ok = {r.trailer_id for r in results if r.status != "failed"}
    write_labels(Path(out_dir) / "labels.csv", [e.label_row() for e in entries if e.trailer_id in ok])
    report = {"results": [asdict(r) for r in results]}
    atomic_write(Path(out_dir) / "fetch_report.json", json.dumps(report, indent=1) + "\n")
    return results
