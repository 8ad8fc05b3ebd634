"""Point → grid location: GridGov's raster locator against a shapely STRtree, on the same points.

    uv run python bench/locate.py [--points N] [--seed S] [--source auto|db|synthetic] [--demo SCALE]

Grids: the active grids of the current database (GRIDGOV_DATA_DIR / DATABASE_URL) when it has any,
e.g. after `gridgov demo --scale district`; otherwise a synthetic Longhua-like district split into
Voronoi grids (`--grids`, default 250). `--source` forces one or the other; `--demo district` first
generates that demo scale into the current database if it has no demo yet.

Points: N points drawn uniformly inside the union of the grid polygons (fixed seed).

Timed, best of `--repeat` runs on the same points:
  ours      gridgov.territory.locator.GridIndex.locate_many(lngs, lats)  (index build timed apart)
  baseline  shapely.STRtree(polygons).query(points, predicate="within")  (tree and points made
            beforehand; the predicate is applied as within(point, polygon))
Both answers are compared point by point (a point in no grid counts as -1); they must agree fully.

Prints a table, then one JSON line:
  {"bench": "locate", "points": N, "ours_per_s": …, "baseline_per_s": …, "ratio": …,
   "agreement": 1.0, "index_build_s": …, "grids": …, "source": …}
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import shapely

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

# A rough outline of a Longhua-sized district (≈ 175 km²), WGS-84.
LONGHUA_OUTLINE = [
    (113.985, 22.620),
    (114.030, 22.598),
    (114.085, 22.605),
    (114.118, 22.640),
    (114.125, 22.700),
    (114.095, 22.748),
    (114.050, 22.772),
    (113.998, 22.752),
    (113.972, 22.705),
    (113.968, 22.655),
]


def synthetic_grids(n: int, seed: int) -> tuple[np.ndarray, list]:
    """A Voronoi split of the outline into about n grids (ids 1…n)."""
    rng = np.random.default_rng(seed)
    outline = shapely.Polygon(LONGHUA_OUTLINE)
    minx, miny, maxx, maxy = outline.bounds
    seeds: list[np.ndarray] = []
    while sum(len(s) for s in seeds) < n:
        x = rng.uniform(minx, maxx, n)
        y = rng.uniform(miny, maxy, n)
        seeds.append(np.column_stack([x, y])[shapely.contains_xy(outline, x, y)])
    pts = np.vstack(seeds)[:n]
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=outline))
    polygons = [c for c in shapely.intersection(cells, outline) if c.geom_type in ("Polygon", "MultiPolygon")]
    polygons = [p for p in polygons if not p.is_empty]
    return np.arange(1, len(polygons) + 1), polygons


def setup_django() -> bool:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gridgov.settings")
    try:
        import django

        django.setup()
        return True
    except Exception as exc:  # no settings, no database driver …
        print(f"(Django not available: {exc}; using synthetic grids)")
        return False


def db_grids() -> tuple[np.ndarray, list] | None:
    from django.db import DatabaseError

    from gridgov.territory.locator import load_active_grids

    try:
        ids, polygons = load_active_grids()
    except DatabaseError:
        return None
    if not polygons:
        return None
    return np.asarray(ids), polygons


def ensure_demo(scale: str) -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from gridgov.demo.services import generate

    generate(scale, log=lambda *a, **k: print(*a))


def sample_points(polygons: list, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n points uniform in the union of the polygons (rejection sampling in the bbox)."""
    union = shapely.union_all(polygons)
    shapely.prepare(union)
    minx, miny, maxx, maxy = union.bounds
    rng = np.random.default_rng(seed)
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    have = 0
    while have < n:
        batch = max(1000, int((n - have) * 1.5))
        x = rng.uniform(minx, maxx, batch)
        y = rng.uniform(miny, maxy, batch)
        keep = shapely.contains_xy(union, x, y)
        xs.append(x[keep])
        ys.append(y[keep])
        have += int(keep.sum())
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


def best_of(repeat: int, fn):
    times = []
    result = None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return min(times), result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--source", choices=["auto", "db", "synthetic"], default="auto")
    parser.add_argument(
        "--grids", type=int, default=250, help="synthetic grids (when not using the database)"
    )
    parser.add_argument(
        "--demo", choices=["small", "district", "longhua"], help="generate this demo scale first"
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each method; the best counts")
    args = parser.parse_args(argv)

    loaded = None
    if args.source != "synthetic" and setup_django():
        if args.demo:
            ensure_demo(args.demo)
        loaded = db_grids()
        if loaded is None and args.source == "db":
            print("The database has no active grids with geometry (try --demo district).", file=sys.stderr)
            return 2
    elif args.source == "synthetic" and args.demo:
        print("--demo needs the database source.", file=sys.stderr)
        return 2
    if loaded is not None:
        ids, polygons = loaded
        source = "db"
    else:
        ids, polygons = synthetic_grids(args.grids, args.seed)
        source = "synthetic"

    from gridgov.territory.locator import GridIndex

    t = time.perf_counter()
    lngs, lats = sample_points(polygons, args.points, args.seed)
    sample_s = time.perf_counter() - t

    index = GridIndex(ids, polygons)
    build_s = index.build_seconds
    stats = index.stats

    t = time.perf_counter()
    tree = shapely.STRtree(polygons)
    tree_s = time.perf_counter() - t
    t = time.perf_counter()
    points = shapely.points(lngs, lats)
    points_s = time.perf_counter() - t

    ours_s, ours = best_of(args.repeat, lambda: index.locate_many(lngs, lats))
    base_s, (pt_idx, poly_idx) = best_of(args.repeat, lambda: tree.query(points, predicate="within"))

    # Baseline pairs → one grid id per point (the first polygon when several contain it).
    first = np.full(len(lngs), len(polygons), dtype=np.int64)
    np.minimum.at(first, pt_idx, poly_idx)
    baseline = np.where(first < len(polygons), ids[np.minimum(first, len(polygons) - 1)], -1)
    agreement = float((baseline == ours).mean()) if len(lngs) else 1.0
    located = float((ours >= 0).mean()) if len(lngs) else 0.0

    cells = stats["cells"]
    rows = [
        ("grids", f"{len(polygons):,} ({source})"),
        ("points", f"{len(lngs):,} uniform in the union of the grids ({sample_s:.1f} s to draw)"),
        (
            "raster",
            f"{stats['raster'][1]} × {stats['raster'][0]} = {cells:,} cells, ≈ {stats['cell_m'][0]:.0f} m",
        ),
        ("boundary cells", f"{stats['boundary_cells']:,} ({stats['boundary_cells'] / max(cells, 1):.1%})"),
        ("index build (ours)", f"{build_s:.3f} s"),
        ("STRtree build / points", f"{tree_s:.3f} s / {points_s:.3f} s (not counted)"),
        ("ours: locate_many", f"{ours_s:.3f} s  {len(lngs) / ours_s:>14,.0f} points/s"),
        ("baseline: STRtree within", f"{base_s:.3f} s  {len(lngs) / base_s:>14,.0f} points/s"),
        ("ratio", f"{base_s / ours_s:.1f}×"),
        ("agreement", f"{agreement:.6f} (located {located:.4%})"),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"bench/locate.py — best of {args.repeat} runs each")
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")
    print(
        json.dumps(
            {
                "bench": "locate",
                "points": int(len(lngs)),
                "ours_per_s": round(len(lngs) / ours_s),
                "baseline_per_s": round(len(lngs) / base_s),
                "ratio": round(base_s / ours_s, 2),
                "agreement": agreement,
                "index_build_s": round(build_s, 3),
                "grids": len(polygons),
                "source": source,
            }
        )
    )
    return 0 if agreement == 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
