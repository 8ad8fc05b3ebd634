"""`gridgov cases …`: batch tools on exported reports; they need no database and no Django.

gridgov cases cluster --csv FILE --text-col COL [--time-col COL] [--lng-col COL --lat-col COL] --out FILE
gridgov cases classifier evaluate --csv FILE --text-col COL --label-col COL [--folds 5]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from gridgov.cases.textsim import Report, TableError, cluster_reports, column_index, read_table
from gridgov.core.tabular.export import write_csv

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
TIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%Y.%m.%d %H:%M:%S",
    "%Y.%m.%d",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日%H:%M",
    "%Y年%m月%d日",
    "%Y%m%d%H%M%S",
    "%Y%m%d",
)


def parse_time(value: str) -> datetime | None:
    """ISO 8601 or a common Chinese spreadsheet format; times without a zone are Beijing time."""
    value = (value or "").strip()
    if not value:
        return None
    parsed = None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        for fmt in TIME_FORMATS:
            try:
                parsed = datetime.strptime(value, fmt)
                break
            except ValueError:
                continue
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=LOCAL_TZ)
    return parsed.astimezone(UTC)


def parse_float(value: str) -> float | None:
    try:
        number = float((value or "").strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


# ---------------------------------------------------------------------------------------------
# cluster


def cmd_cluster(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    if (args.lng_col is None) != (args.lat_col is None):
        return _fail("--lng-col and --lat-col go together: give both or neither")
    try:
        header, rows = read_table(args.csv)
        text_i = column_index(header, args.text_col, args.csv, "text column (--text-col)")
        time_i = (
            column_index(header, args.time_col, args.csv, "time column (--time-col)")
            if args.time_col
            else None
        )
        lng_i = (
            column_index(header, args.lng_col, args.csv, "longitude column (--lng-col)")
            if args.lng_col
            else None
        )
        lat_i = (
            column_index(header, args.lat_col, args.csv, "latitude column (--lat-col)")
            if args.lat_col
            else None
        )
    except TableError as exc:
        return _fail(str(exc))

    reports = []
    bad_time = bad_point = 0
    for k, row in enumerate(rows):
        at = lng = lat = None
        if time_i is not None:
            at = parse_time(row[time_i])
            bad_time += at is None
        if lng_i is not None and lat_i is not None:
            lng, lat = parse_float(row[lng_i]), parse_float(row[lat_i])
            if lng is None or lat is None or not (-180 <= lng <= 180 and -90 <= lat <= 90):
                lng = lat = None
                bad_point += 1
        reports.append(Report(id=k, text=row[text_i], lng=lng, lat=lat, at=at))

    groups = cluster_reports(
        reports, radius_m=args.radius_m, window_h=args.window_h, text_threshold=args.text_threshold
    )

    out_header = list(header)
    if "group_id" in out_header:
        gi = out_header.index("group_id")
    else:
        gi = len(out_header)
        out_header.append("group_id")
    out = Path(args.out)

    def _with_group(row: list[str], group) -> list[str]:
        row = list(row) + [""] * (len(out_header) - len(row))
        row[gi] = "" if group is None else str(group)
        return row

    try:
        with open(out, "w", encoding="utf-8-sig", newline="") as fh:
            # Through the export kernel's writer: a report's text starting with = + - @ stays text.
            write_csv(
                fh, out_header, (_with_group(row, group) for row, group in zip(rows, groups, strict=True))
            )
    except OSError as exc:
        return _fail(f"{out}: {exc.strerror or exc}")

    n_groups = len({g for g in groups if g is not None})
    in_groups = sum(g is not None for g in groups)
    seconds = time.perf_counter() - start
    notes = []
    if bad_time:
        notes.append(f"{bad_time} without a readable time")
    if bad_point:
        notes.append(f"{bad_point} without valid coordinates")
    note = f" ({'; '.join(notes)}: left ungrouped)" if notes else ""
    print(f"rows {len(rows)}, groups {n_groups}, rows in groups {in_groups}, {seconds:.1f} s → {out}{note}")
    return 0


# ---------------------------------------------------------------------------------------------
# classifier evaluate


def format_report(metrics: dict) -> str:
    per_class = metrics["per_class"]
    width = max([len("类别 category"), *(_display_width(c) for c in per_class)])
    lines = [
        f"{metrics['n']} rows, {metrics['classes']} categories, {metrics['folds']}-fold "
        f"cross-validation ({metrics['split']})",
        f"accuracy {metrics['accuracy']:.3f}   macro-F1 {metrics['macro_f1']:.3f}   "
        f"top-3 accuracy {metrics['top3_accuracy']:.3f}",
        "",
        f"{_pad('类别 category', width)}  {'F1':>6}  {'support':>7}",
    ]
    for label, m in sorted(per_class.items(), key=lambda kv: (-kv[1]["support"], kv[0])):
        lines.append(f"{_pad(label, width)}  {m['f1']:>6.3f}  {m['support']:>7}")
    return "\n".join(lines)


def _display_width(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _display_width(text))


def cmd_classifier_evaluate(args: argparse.Namespace) -> int:
    from gridgov.cases.classifier import evaluate

    if args.folds < 2:
        return _fail("--folds must be at least 2")
    try:
        header, rows = read_table(args.csv)
        text_i = column_index(header, args.text_col, args.csv, "text column (--text-col)")
        label_i = column_index(header, args.label_col, args.csv, "label column (--label-col)")
    except TableError as exc:
        return _fail(str(exc))
    pairs = [(row[text_i], row[label_i].strip()) for row in rows if row[label_i].strip()]
    skipped = len(rows) - len(pairs)
    if len(pairs) < 2 or len({label for _, label in pairs}) < 2:
        return _fail(f"{args.csv}: at least 2 labelled rows in 2 categories are needed (found {len(pairs)})")
    start = time.perf_counter()
    metrics = evaluate([t for t, _ in pairs], [label for _, label in pairs], folds=args.folds, seed=args.seed)
    metrics["seconds"] = round(time.perf_counter() - start, 2)
    if skipped:
        metrics["skipped_unlabelled"] = skipped
    print(format_report(metrics))
    print(json.dumps(metrics, ensure_ascii=False))
    return 0


# ---------------------------------------------------------------------------------------------
# parser


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add `cases` (with `cluster` and `classifier evaluate`) to a `gridgov` subparsers object."""
    cases = subparsers.add_parser("cases", help="batch tools on exported reports: grouping, category model")
    sub = cases.add_subparsers(dest="cases_command", required=True)

    cluster = sub.add_parser(
        "cluster",
        help="group duplicate reports in a CSV file (adds a group_id column)",
        description="Group reports that are near each other (--radius-m), close in time (--window-h) "
        "and similar in text (--text-threshold); writes the rows with a group_id column "
        "(empty for a report without duplicates) as UTF-8 CSV with BOM.",
    )
    cluster.add_argument("--csv", required=True, help="input .csv (UTF-8 or GBK)")
    cluster.add_argument("--text-col", required=True, help="column with the description")
    cluster.add_argument(
        "--time-col", help="column with the report time (Beijing time unless it says otherwise)"
    )
    cluster.add_argument("--lng-col", help="column with the WGS-84 longitude")
    cluster.add_argument("--lat-col", help="column with the WGS-84 latitude")
    cluster.add_argument("--out", required=True, help="output .csv")
    cluster.add_argument("--radius-m", type=float, default=100.0)
    cluster.add_argument("--window-h", type=float, default=72.0)
    cluster.add_argument("--text-threshold", type=float, default=0.5, help="cosine similarity (0–1)")
    cluster.set_defaults(func=cmd_cluster)

    classifier = sub.add_parser("classifier", help="the category suggestion model")
    csub = classifier.add_subparsers(dest="classifier_command", required=True)
    ev = csub.add_parser(
        "evaluate",
        help="cross-validate the category model on a labelled CSV file",
        description="Prints accuracy, macro-F1, top-3 accuracy and per-class F1 by cross-validation, "
        "then one JSON line with the figures.",
    )
    ev.add_argument("--csv", required=True, help="input .csv (UTF-8 or GBK)")
    ev.add_argument("--text-col", required=True)
    ev.add_argument("--label-col", required=True)
    ev.add_argument("--folds", type=int, default=5)
    ev.add_argument("--seed", type=int, default=0)
    ev.set_defaults(func=cmd_classifier_evaluate)
    return cases
