"""``mmx dataset check|split|fetch|genre-map``: label lists → a clean, split, fetched collection."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from mmx_cli.common import print_json, table

if TYPE_CHECKING:
    from mmx.catalog import Catalog, Entry
    from mmx.catalog.stratify import SplitSummary

SHOWN = 10  # issues of each kind listed in the text report (--json lists all)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "dataset",
        help="check, split and fetch a trailer list (MovieNet, IMDb, TMDb, labels.csv)",
        description="Dataset builder: turn a label list into a clean, split, fetched trailer collection "
        "ready for `mmx extract`.",
    )
    dsub = p.add_subparsers(dest="dataset_command", metavar="ACTION")

    c = dsub.add_parser("check", help="report dirt and the statistics of the paper's Fig. 4",
                        description="Parse a list, map its genres and report malformed rows, rows with no genre, "
                        "unknown genres, duplicate ids, splits, and genre / labels-per-trailer / year statistics.")
    _list_args(c)
    c.add_argument("--json", action="store_true", help="print the report as JSON")
    c.set_defaults(func=run_check)

    s = dsub.add_parser("split", help="write labels.csv with train/val/test for every usable row",
                        description="Write the usable rows as labels.csv (mmx's import format) with a split: "
                        "the list's or split file's where given, else a seeded multi-label stratified 80/10/10.")
    _list_args(s)
    _split_args(s)
    s.add_argument("--out", required=True, help="labels.csv to write")
    s.set_defaults(func=run_split)

    f = dsub.add_parser("fetch", help="download the trailers with yt-dlp and write labels.csv",
                        description="Download every usable row's trailer (url column or YouTube id) into DIR as "
                        "<trailer_id>.<ext>; resumable; retries transient failures with back-off; writes "
                        "DIR/labels.csv for what is there and DIR/fetch_report.json. "
                        "Exit status 1 when any item failed.")
    _list_args(f)
    _split_args(f)
    f.add_argument("--out", required=True, metavar="DIR",
                   help="folder for the videos, labels.csv and fetch_report.json")
    f.add_argument("--jobs", type=int, default=4, help="downloads in parallel (default 4)")
    f.add_argument("--retries", type=int, default=3, help="retries after a transient failure (default 3)")
    f.add_argument("--backoff", type=float, default=2.0,
                   help="seconds before the first retry, doubled each time (default 2)")
    f.add_argument("--rate-limit", metavar="RATE",
                   help="bytes per second per download, e.g. 2M or 500K (default: none)")
    f.add_argument("--video-format", default="best[ext=mp4]/best",
                   help="yt-dlp format selector (default: %(default)s)")
    f.add_argument("--limit", type=int, help="fetch only the first N usable rows")
    f.set_defaults(func=run_fetch)

    g = dsub.add_parser("genre-map", help="print the shipped genre map (start of your own --genre-map file)")
    g.set_defaults(func=run_genre_map)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _list_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("list", help="the label list (csv / tsv)")
    p.add_argument("--format", help="list format: movienet, imdb, tmdb or csv (default: read from the header)")
    p.add_argument("--genre-map", metavar="FILE",
                   help="YAML genre map (default: the shipped one; `mmx dataset genre-map` prints it)")
    p.add_argument("--alias", metavar="NAME=GENRE", action="append", default=[],
                   help="extra genre-map entry, e.g. --alias Musical=Music; GENRE may be A|B, or empty to drop NAME")
    p.add_argument("--paper-genres-only", action="store_true",
                   help="drop genres outside the paper's 20 from the labels (they are reported either way)")


def _split_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--splits", metavar="FILE",
                   help="JSON split file {train|trn: [ids], val: [...], test|tst: [...]} "
                   "(default: the format's own file beside the list, e.g. MovieNet's splits.json)")
    p.add_argument("--seed", type=int, default=0, help="seed of the stratified split (default 0)")
    p.add_argument("--fractions", type=float, nargs=3, default=[0.8, 0.1, 0.1], metavar=("TRAIN", "VAL", "TEST"),
                   help="stratified split fractions (default 0.8 0.1 0.1, §4.1)")


def _catalog(args: argparse.Namespace) -> Catalog:
    from mmx.catalog import DEFAULT_MAP_FILE, GenreMap, load_catalog
    from mmx.catalog.genre_map import parse_alias

    args.genre_map = args.genre_map or str(DEFAULT_MAP_FILE)
    extra = dict(parse_alias(a) for a in args.alias)
    genre_map = GenreMap.load(args.genre_map, extra)
    return load_catalog(args.list, args.format, genre_map, keep_unknown=not args.paper_genres_only)


def _given_splits(args: argparse.Namespace, cat: Catalog) -> tuple[dict[str, str], Path | None]:
    from mmx.catalog import companion_split_file, read_split_file

    path = Path(args.splits) if getattr(args, "splits", None) else companion_split_file(cat.path, cat.format)
    return (read_split_file(path) if path else {}), path


def _split(args: argparse.Namespace, cat: Catalog) -> tuple[list[Entry], SplitSummary, Path | None]:
    from mmx.catalog import SplitConfig, assign_splits

    given, path = _given_splits(args, cat)
    entries, summary = assign_splits(cat.entries, SplitConfig(args.seed, list(args.fractions)), given)
    return entries, summary, path


def check_report(args: argparse.Namespace, cat: Catalog) -> dict:
    from mmx.catalog import statistics

    given, path = _given_splits(args, cat)
    split_of = {e.trailer_id: e.split or given.get(e.trailer_id) for e in cat.entries}
    splits = {s: sum(v == s for v in split_of.values()) for s in ("train", "val", "test")}
    return {
        "list": str(cat.path), "format": cat.format, "genre_map": args.genre_map, "rows": cat.rows,
        "usable": len(cat.entries),
        "counts": {"malformed": len(cat.malformed), "no_genre": len(cat.no_genre), "duplicates": len(cat.duplicates)},
        "malformed": [i.as_dict() for i in cat.malformed],
        "no_genre": [i.as_dict() for i in cat.no_genre],
        "duplicates": [i.as_dict() for i in cat.duplicates],
        "unknown_genres": dict(cat.unknown.most_common()),
        **statistics(cat.entries),
        "splits": {"file": str(path) if path else None, **splits,
                   "unassigned": sum(v is None for v in split_of.values())},
    }


def run_check(args: argparse.Namespace) -> int:
    cat = _catalog(args)
    rep = check_report(args, cat)
    if args.json:
        print_json(rep)
        return 0
    n = rep["counts"]
    print(f"{rep['list']} (format {rep['format']}, genre map {rep['genre_map']})")
    print(f"rows {rep['rows']}: usable {rep['usable']}, malformed {n['malformed']}, no genre {n['no_genre']}, "
          f"duplicate ids {n['duplicates']}")
    for kind, issues in (("malformed", cat.malformed), ("no genre", cat.no_genre), ("duplicate ids", cat.duplicates)):
        if issues:
            print(f"\n{kind} ({len(issues)}{f', first {SHOWN}' if len(issues) > SHOWN else ''}):")
            for i in issues[:SHOWN]:
                print(f"  line {i.line} ({i.trailer_id or 'no id'}): {i.reason}")
    total = max(rep["usable"], 1)
    if rep["unknown_genres"]:
        fate = "dropped" if args.paper_genres_only else "kept as the collection's own genres"
        print(f"\nunknown genres (outside the paper's 20; {fate}): "
              + ", ".join(f"{g} {c}" for g, c in rep["unknown_genres"].items()))
    sp = rep["splits"]
    print(f"\nsplits given ({sp['file'] or 'split column'}): train {sp['train']}, val {sp['val']}, test {sp['test']}; "
          f"{sp['unassigned']} without one (split/fetch stratify them)")
    print("\ngenre frequency (Fig. 4a; * = outside the paper's 20):")
    print(table(["genre", "trailers", "share"],
                [[g + (" *" if g in rep["unknown_genres"] else ""), c, f"{100 * c / total:.1f}%"]
                 for g, c in rep["genres"].items()]))
    print("\nlabels per trailer (Fig. 4b):")
    print(table(["labels", "trailers"], [[k, v] for k, v in rep["labels_per_trailer"].items()]))
    decades: dict[int, int] = {}
    for year, c in rep["years"].items():
        decades[year // 10 * 10] = decades.get(year // 10 * 10, 0) + c
    print("\nyear (Fig. 4d):")
    print(table(["decade", "trailers"], [[f"{d}s", c] for d, c in decades.items()] + [["no year", rep["no_year"]]]))
    return 0


def run_split(args: argparse.Namespace) -> int:
    cat = _catalog(args)
    from mmx.data.labels_csv import write_labels

    entries, summary, path = _split(args, cat)
    out = write_labels(args.out, [e.label_row() for e in entries])
    c = summary.counts()
    print(f"{len(entries)} of {cat.rows} rows → {out}: train {c['train']}, val {c['val']}, test {c['test']} "
          f"(given {sum(summary.given.values())}{f' by {path}' if path else ''}, stratified "
          f"{sum(summary.stratified.values())} with seed {args.seed})")
    if cat.malformed or cat.no_genre or cat.duplicates:
        print(f"left out: malformed {len(cat.malformed)}, no genre {len(cat.no_genre)}, duplicate ids "
              f"{len(cat.duplicates)} (`mmx dataset check` lists them)")
    if summary.not_in_list:
        print(f"{summary.not_in_list} id(s) of {path} are not usable rows of the list")
    return 0


def run_fetch(args: argparse.Namespace) -> int:
    from mmx.catalog.fetch import FetchConfig, fetch_collection, parse_rate

    cfg = FetchConfig(jobs=args.jobs, retries=args.retries, backoff=args.backoff,
                      rate_limit=parse_rate(args.rate_limit) if args.rate_limit else None,
                      video_format=args.video_format)
    cat = _catalog(args)
    entries, _, _ = _split(args, cat)
    if args.limit is not None:
        entries = entries[: args.limit]
    results = fetch_collection(entries, args.out, cfg, progress=sys.stderr.isatty())
    count = {s: sum(r.status == s for r in results) for s in ("downloaded", "present", "failed")}
    print(f"downloaded {count['downloaded']}, already there {count['present']}, failed {count['failed']} "
          f"→ {Path(args.out) / 'labels.csv'} ({count['downloaded'] + count['present']} trailers)")
    failed = [r for r in results if r.status == "failed"]
    if failed:
        print(f"{len(failed)} failed (details in {Path(args.out) / 'fetch_report.json'}):", file=sys.stderr)
        for r in failed:
            print(f"  {r.trailer_id}: {r.error}", file=sys.stderr)
        return 1
    return 0


def run_genre_map(args: argparse.Namespace) -> int:
    from mmx.catalog import DEFAULT_MAP_FILE

    sys.stdout.write(DEFAULT_MAP_FILE.read_text(encoding="utf-8"))
    return 0
