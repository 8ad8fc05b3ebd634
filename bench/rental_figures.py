"""Rental figures at district scale: the grade table through the API (read from the counts kept per area)
against a naive GROUP BY over the rooms, same data, same run.

    uv run python bench/rental_figures.py [--rooms 600000] [--repeat 5] [--seed 15]
                                          [--database-url URL] [--keep] [--sqlite]
    make bench-rental BENCH_ARGS="--rooms 100000"

Setup: the database of --database-url (default $DATABASE_URL) is used, and created when missing; without
either, a fresh database `gridgov_bench_rental_<pid>_<time>` is created on postgres://postgres@127.0.0.1:5432
and dropped at the end unless --keep (--sqlite: a SQLite file in a temporary directory instead). The
script migrates, then writes in bulk (COPY on PostgreSQL) a district of its own (code 440399: 6
subdistricts × 10 communities × 8 grids, 40 buildings a grid) with rental houses of the five tenancy
categories and random grades (a tenth not yet graded) and their rooms until --rooms rooms exist, then runs
`rental.counts.rebuild()` (timed apart).

Timed (best of --repeat), for the district and one area per level below it (a subdistrict, a community, a
grid), as the district's leader:
  ours      GET /api/v1/rental/figures?area=… through the Django test client (the whole request: scope,
            the count rows of the area and its children, the response) — what the figures screen does;
  naive     one GROUP BY over the rooms: rooms ⋈ rental houses ⋈ buildings ⋈ grid areas, below the area,
            grouped by the child area (a prefix of the grid's path), grade and tenancy category, counting
            rooms and distinct houses — what the figures cost without the kept counts.
Checked: per child area, grade and category, both give the same houses and rooms (exit code 1 otherwise).

Prints a table, then one JSON line:
  {"bench": "rental_figures", "rooms", "houses", "vendor", "rebuild_s", "levels": {level: {"ours_ms",
   "naive_ms", "ratio"}}, "ours_ms", "naive_ms", "ratio", "agree"}
ours_ms / naive_ms / ratio are the sums over the four requests (goal: ratio ≥ 10×).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

DISTRICT = "440399"
SUBDISTRICTS = 6
COMMUNITIES = 10  # per subdistrict
GRIDS = 8  # per community
BUILDINGS = 40  # per grid
CATEGORIES = {"whole": (45, 1, 2), "shared": (33, 2, 4), "group": (10, 4, 8), "family_hotel": (4, 4, 8),
              "dormitory": (8, 6, 12)}  # fmt: skip
GRADES = {"relaxed": 30, "watch": 10, "strict": 48, "prohibited": 2, "": 10}


def build(rooms: int, seed: int = 15, per_grid: int = BUILDINGS) -> dict[str, Any]:
    """Write the benchmark district in bulk: areas, buildings, houses, rental houses and their rooms until
    `rooms` rooms exist. Returns the areas to ask for and the counts written."""
    from gridgov.core.tabular import bulk
    from gridgov.rental.models import RentalHouse, RentalRoom, TenancyCategory
    from gridgov.territory.models import Area, Building, House, Level

    rng = random.Random(seed)
    now = bulk.db_now()
    category_pk = dict(TenancyCategory.objects.values_list("code", "pk"))
    area_ids = bulk.allocate_ids(Area, 1 + SUBDISTRICTS * (1 + COMMUNITIES * (1 + GRIDS)))
    areas: list[tuple] = []
    grids: list[int] = []

    def area(parent: tuple | None, level: str, code: str, name: str) -> tuple:
        path = (parent[6] if parent else "") + f"{code}/"
        row = (area_ids[len(areas)], parent[0] if parent else None, level, code, name, "", path,
               path.count("/") - 1, 0, "", True, now, now)  # fmt: skip
        areas.append(row)
        return row

    district = area(None, Level.DISTRICT, DISTRICT, "基准区")
    for s in range(1, SUBDISTRICTS + 1):
        sub = area(district, Level.SUBDISTRICT, f"{DISTRICT}{s:03d}", f"第{s}街道")
        for c in range(1, COMMUNITIES + 1):
            comm = area(sub, Level.COMMUNITY, f"{sub[3]}{c:03d}", f"{sub[4]}第{c}社区")
            for g in range(1, GRIDS + 1):
                grids.append(area(comm, Level.GRID, f"{comm[3]}{g:03d}", f"{comm[4]}第{g:02d}网格")[0])
    bulk.write_rows(
        Area,
        ["id", "parent_id", "level", "code", "name", "geometry", "path", "depth", "households", "external_code",
         "is_active", "created_at", "updated_at"],
        areas,
    )  # fmt: skip
    grid_code = {row[0]: row[3] for row in areas}

    # Rental houses until the rooms are there; 6 houses a floor, spread over the buildings of every grid.
    cat_codes = list(CATEGORIES)
    cat_weights = [CATEGORIES[c][0] for c in cat_codes]
    grade_names = list(GRADES)
    grade_weights = list(GRADES.values())
    plan: list[tuple[str, str, int]] = []
    total = 0
    while total < rooms:
        cat = rng.choices(cat_codes, cat_weights)[0]
        n = min(rng.randint(CATEGORIES[cat][1], CATEGORIES[cat][2]), rooms - total)
        plan.append((cat, rng.choices(grade_names, grade_weights)[0], n))
        total += n
    building_ids = bulk.allocate_ids(Building, len(grids) * per_grid)
    buildings = []
    for i, bid in enumerate(building_ids):
        grid = grids[i // per_grid]
        code = f"{grid_code[grid]}{i % per_grid + 1:03d}"
        buildings.append(
            (bid, grid, code, "", f"基准区{code}", 114.0, 22.6, "", 6, "urban_village", 0, now, now)
        )
    bulk.write_rows(
        Building,
        ["id", "grid_id", "code", "name", "address", "lng", "lat", "footprint", "floors", "kind", "households",
         "created_at", "updated_at"],
        buildings,
    )  # fmt: skip
    house_ids = bulk.allocate_ids(House, len(plan))
    rental_ids = bulk.allocate_ids(RentalHouse, len(plan))
    houses, rentals, room_rows = [], [], []
    for k, ((cat, grade, n), hid, rid) in enumerate(zip(plan, house_ids, rental_ids, strict=True)):
        bid = building_ids[k % len(building_ids)]
        slot = k // len(building_ids)
        houses.append((hid, bid, "1", slot // 6 + 1, f"{slot // 6 + 1:02d}{slot % 6 + 1:02d}", "rented", 1))
        rentals.append(
            (rid, hid, f"bench{rid:012d}", category_pk[cat], "", False, n, 0, grade, 0, True, now, now)
        )
        room_rows.extend((rid, f"{r + 1:02d}", 2) for r in range(n))
    bulk.write_rows(House, ["id", "building_id", "unit", "floor", "room", "use", "households"], houses)
    bulk.write_rows(
        RentalHouse,
        ["id", "house_id", "code", "category_id", "filing_number", "pledge_signed", "rooms_count",
         "tenants_count", "grade", "red_streak", "is_active", "created_at", "updated_at"],
        rentals,
    )  # fmt: skip
    for start in range(0, len(room_rows), 200_000):
        bulk.write_rows(
            RentalRoom, ["rental_house_id", "number", "capacity"], room_rows[start : start + 200_000]
        )
    sub = areas[1]
    comm = areas[2]
    grid = areas[3]
    return {
        "levels": [
            ("district", district[3]),
            ("subdistrict", sub[3]),
            ("community", comm[3]),
            ("grid", grid[3]),
        ],
        "district_id": district[0],
        "houses": len(rentals),
        "rooms": len(room_rows),
        "grids": len(grids),
    }


def leader(district_id: int):
    """A leader of the benchmark district (reads the whole district)."""
    from gridgov.accounts.models import Membership, User
    from gridgov.accounts.roles import Role

    user, _ = User.objects.get_or_create(
        username="bench_rental_leader", defaults={"display_name": "基准领导"}
    )
    Membership.objects.get_or_create(user=user, role=Role.LEADER, area_id=district_id)
    return user


def ours(client, code: str) -> dict[str, Any]:
    response = client.get("/api/v1/rental/figures", {"area": code}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200, response.content[:300]
    return response.json()


def naive(code: str) -> Counter:
    """One GROUP BY over the rooms below the area: (child code, grade, category code, "houses"|"rooms")."""
    from django.db import connection

    from gridgov.territory.models import Area

    area = Area.objects.get(code=code)
    child_len = len(area.path) + (len(code) + 4 if area.level != "grid" else 0)  # + a child's "code/"
    sql = """
        SELECT substr(g.path, 1, %s) AS child, h.grade, c.code, count(DISTINCT h.id), count(r.id)
        FROM rental_rentalroom r
        JOIN rental_rentalhouse h ON h.id = r.rental_house_id
        JOIN rental_tenancycategory c ON c.id = h.category_id
        JOIN territory_house th ON th.id = h.house_id
        JOIN territory_building b ON b.id = th.building_id
        JOIN territory_area g ON g.id = b.grid_id
        WHERE h.is_active AND g.path LIKE %s
        GROUP BY 1, 2, 3
    """
    out: Counter = Counter()
    with connection.cursor() as cur:
        cur.execute(sql, [child_len, area.path + "%"])
        for child, grade, category, houses, rooms in cur.fetchall():
            key = child.rstrip("/").rsplit("/", 1)[-1] if area.level != "grid" else code
            out[(key, grade or "ungraded", category, "houses")] += houses
            out[(key, grade or "ungraded", category, "rooms")] += rooms
    return out


def as_counter(body: dict[str, Any]) -> Counter:
    """The API's figures in the naive GROUP BY's terms: per child (the area itself for a grid) and grade
    the houses and rooms, checked per category through the category totals."""
    out: Counter = Counter()
    rows = body["children"] or [body["area"]]
    for row in rows:
        for grade, counts in row["grades"].items():
            out[(row["code"], grade, "houses")] += counts["houses"]
            out[(row["code"], grade, "rooms")] += counts["rooms"]
        for category, counts in row["categories"].items():
            out[(row["code"], category, "c-houses")] += counts["houses"]
            out[(row["code"], category, "c-rooms")] += counts["rooms"]
    return +out


def fold(raw: Counter) -> Counter:
    out: Counter = Counter()
    for (child, grade, category, what), n in raw.items():
        out[(child, grade, what)] += n
        out[(child, category, f"c-{what}")] += n
    return +out


def best(fn, repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return min(times), result


def measure(built: dict[str, Any], repeat: int = 3) -> dict[str, Any]:
    """Time both ways for each level and check they agree."""
    from django.test import Client

    client = Client(SERVER_NAME="localhost")
    client.force_login(leader(built["district_id"]))
    ours(client, built["levels"][0][1])  # warm the session and the caches of the process
    levels: dict[str, Any] = {}
    agree = True
    for level, code in built["levels"]:
        ours_s, body = best(lambda code=code: ours(client, code), repeat)
        naive_s, raw = best(lambda code=code: naive(code), repeat)
        same = as_counter(body) == fold(raw)
        agree = agree and same
        levels[level] = {"code": code, "ours_ms": round(ours_s * 1000, 2), "naive_ms": round(naive_s * 1000, 2),
                         "ratio": round(naive_s / ours_s, 1), "agree": same}  # fmt: skip
    ours_ms = sum(v["ours_ms"] for v in levels.values())
    naive_ms = sum(v["naive_ms"] for v in levels.values())
    return {"levels": levels, "ours_ms": round(ours_ms, 2), "naive_ms": round(naive_ms, 2),
            "ratio": round(naive_ms / ours_ms, 1), "agree": agree}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rooms", type=int, default=600_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--keep", action="store_true", help="keep a database the script created")
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file in a temporary directory")
    args = parser.parse_args(argv)

    data_dir = Path(tempfile.mkdtemp(prefix="gridgov-bench-rental-"))
    os.environ["GRIDGOV_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gridgov.settings")
    db = None
    if args.sqlite:
        os.environ.pop("DATABASE_URL", None)
    else:
        from scratchdb import Database, database_url

        url, chosen = database_url(args.database_url, "gridgov_bench_rental")
        db = Database(url)
        db.ensure()
        db.created = db.created or chosen
        os.environ["DATABASE_URL"] = url
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        from gridgov.rental import counts
        from gridgov.territory.models import Area

        print(f"{connection.vendor}: migrating …", flush=True)
        call_command("migrate", interactive=False, verbosity=0)
        if Area.objects.filter(code=DISTRICT).exists():
            print(f"district {DISTRICT} exists already: use a fresh database", file=sys.stderr)
            return 2
        t = time.perf_counter()
        built = build(args.rooms, args.seed)
        build_s = time.perf_counter() - t
        print(f"built {built['houses']:,} rental houses, {built['rooms']:,} rooms in {built['grids']} grids "
              f"in {build_s:.1f} s", flush=True)  # fmt: skip
        if connection.vendor == "postgresql":  # statistics and visibility maps now, not autovacuum mid-run
            with connection.cursor() as cur:
                cur.execute("VACUUM ANALYZE")
        t = time.perf_counter()
        counts.rebuild()
        rebuild_s = time.perf_counter() - t
        result = measure(built, args.repeat)
    finally:
        if db is not None and db.created and not args.keep:
            from django.db import connections

            connections.close_all()
            db.drop()

    print()
    print(f"{'level':<12} {'area':<16} {'ours (API)':>12} {'naive GROUP BY':>15} {'ratio':>8}  agree")
    for level, v in result["levels"].items():
        print(f"{level:<12} {v['code']:<16} {v['ours_ms']:>9.1f} ms {v['naive_ms']:>12.1f} ms "
              f"{v['ratio']:>7.1f}×  {v['agree']}")  # fmt: skip
    print(
        f"{'all four':<29} {result['ours_ms']:>9.1f} ms {result['naive_ms']:>12.1f} ms {result['ratio']:>7.1f}×"
    )
    print(f"rebuild of the counts: {rebuild_s:.1f} s; goal: ratio ≥ 10×")
    summary = {"bench": "rental_figures", "rooms": built["rooms"], "houses": built["houses"],
               "vendor": connection.vendor, "build_s": round(build_s, 1), "rebuild_s": round(rebuild_s, 2),
               **result}  # fmt: skip
    print(json.dumps(summary, ensure_ascii=False, default=str))
    return 0 if result["agree"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
