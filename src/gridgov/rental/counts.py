"""The rental counts kept per area (`RentalCount`): rental houses and rooms per grade and tenancy category
for every level of the area tree, so the figures of an area read a few rows instead of grouping every
house below it.

How they stay true:
  - every service that changes what a house counts for (created, graded, its rooms, its grid, active or
    not) calls `house_changed(before, after)` in its own transaction: the difference goes to the rows of
    the house's grid and of every area above it as F() increments;
  - the writes lock first the grid's Area row (FOR NO KEY UPDATE), then the count rows in one fixed
    order (area id, grade, category id): two writes in the same grid follow each other and both count,
    writes in different grids meet only on the shared ancestors' rows, always taken in the same order,
    so no deadlock and no lost update;
  - bulk writers (the demo, imports, the grid re-division) call `refresh(grid_ids)`: under the same grid
    locks it recomputes those grids from their houses and adds the difference to the grids and all their
    ancestors; `rollup(area)` recomputes the areas below an area from their grids (after grids moved to
    another parent); `rebuild()` recomputes everything (`gridgov manage rebuild_rental_counts`).
    `refresh` relies on what every write keeps: an area's rows are the sums of the rows of the grids below
    it (so it only adds the grids' differences above them); `rebuild` assumes nothing.

Only active rental houses count; a grade of '' is a house not yet inspected.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Sum

from gridgov.rental.models import RentalCount, RentalHouse
from gridgov.territory import paths
from gridgov.territory.models import Area, Level

Key = tuple[int, str, int]  # area id, grade, category id
Amounts = dict[Key, list[int]]  # key → [houses, rooms]


@dataclass(frozen=True)
class Footprint:
    """What one rental house adds to the counts: its grid, grade, category and rooms (None: nothing, the
    house is inactive or does not exist)."""

    grid_id: int
    grade: str
    category_id: int
    rooms: int


def footprint(house: RentalHouse | None) -> Footprint | None:
    if house is None or not house.is_active:
        return None
    grid_id = house.house.building.grid_id
    return Footprint(grid_id, house.grade or "", house.category_id, int(house.rooms_count or 0))


def _ancestor_ids(grid_ids: Iterable[int]) -> dict[int, list[int]]:
    """grid id → the ids of the grid and every area above it (by the grid's path today)."""
    grid_paths = dict(Area.objects.filter(pk__in=set(grid_ids)).values_list("pk", "path"))
    codes = {c for p in grid_paths.values() for c in paths.codes(p)}
    by_code = dict(Area.objects.filter(code__in=codes).values_list("code", "pk"))
    return {g: [by_code[c] for c in paths.codes(p) if c in by_code] for g, p in grid_paths.items()}


def _lock_grids(grid_ids: Iterable[int]) -> None:
    ids = sorted(set(grid_ids))
    if ids:
        list(Area.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk").values_list("pk"))


def _add(amounts: Amounts) -> None:
    """Add these amounts to the count rows, one row at a time in key order (F() increments; a missing row
    is created, or incremented after all when another transaction created it first)."""
    for key in sorted(amounts):
        houses, rooms = amounts[key]
        if not houses and not rooms:
            continue
        area_id, grade, category_id = key
        rows = RentalCount.objects.filter(area_id=area_id, grade=grade, category_id=category_id)
        if rows.update(houses=F("houses") + houses, rooms=F("rooms") + rooms):
            continue
        try:
            with transaction.atomic():
                RentalCount.objects.create(
                    area_id=area_id, grade=grade, category_id=category_id, houses=houses, rooms=rooms
                )
        except IntegrityError:
            rows.update(houses=F("houses") + houses, rooms=F("rooms") + rooms)


def _spread(per_grid: dict[tuple[int, str, int], list[int]], ancestors: dict[int, list[int]]) -> Amounts:
    """Per-grid amounts to the amounts of every area above each grid (the grid included)."""
    out: Amounts = defaultdict(lambda: [0, 0])
    for (grid_id, grade, category_id), (houses, rooms) in per_grid.items():
        for area_id in ancestors.get(grid_id, [grid_id]):
            row = out[(area_id, grade, category_id)]
            row[0] += houses
            row[1] += rooms
    return out


def house_changed(before: Footprint | None, after: Footprint | None) -> None:
    """A rental house went from `before` to `after` (None: absent or inactive) inside the caller's
    transaction: move its counts."""
    if before == after:
        return
    grids = {f.grid_id for f in (before, after) if f is not None}
    _lock_grids(grids)
    per_grid: dict[tuple[int, str, int], list[int]] = defaultdict(lambda: [0, 0])
    for f, sign in ((before, -1), (after, 1)):
        if f is not None:
            row = per_grid[(f.grid_id, f.grade, f.category_id)]
            row[0] += sign
            row[1] += sign * f.rooms
    _add(_spread(per_grid, _ancestor_ids(grids)))


def _from_houses(grid_ids: list[int] | None) -> dict[tuple[int, str, int], list[int]]:
    """(grid id, grade, category id) → [houses, rooms] of the active rental houses, of these grids or all."""
    qs = RentalHouse.objects.filter(is_active=True)
    if grid_ids is not None:
        qs = qs.filter(house__building__grid_id__in=grid_ids)
    rows = (
        qs.values("house__building__grid_id", "grade", "category_id")
        .annotate(houses=Count("id"), room_total=Sum("rooms_count"))
        .order_by()
    )
    return {
        (r["house__building__grid_id"], r["grade"] or "", r["category_id"]): [
            r["houses"],
            r["room_total"] or 0,
        ]
        for r in rows
    }


@transaction.atomic
def refresh(grid_ids: Iterable[int]) -> None:
    """Recompute the maintained counts of these grids and their ancestors from the rental houses."""
    ids = sorted({int(g) for g in grid_ids})
    if not ids:
        return
    ids = list(Area.objects.filter(pk__in=ids, level=Level.GRID).order_by("pk").values_list("pk", flat=True))
    _lock_grids(ids)
    truth = _from_houses(ids)
    diff: dict[tuple[int, str, int], list[int]] = defaultdict(lambda: [0, 0])
    for key, (houses, rooms) in truth.items():
        diff[key] = [houses, rooms]
    for grid_id, grade, category_id, houses, rooms in RentalCount.objects.filter(area_id__in=ids).values_list(
        "area_id", "grade", "category_id", "houses", "rooms"
    ):
        row = diff[(grid_id, grade, category_id)]
        row[0] -= houses
        row[1] -= rooms
    _add(_spread({k: v for k, v in diff.items() if v[0] or v[1]}, _ancestor_ids(ids)))


def _grid_rows_under(area: Area | None) -> list[tuple[str, str, int, int, int]]:
    qs = RentalCount.objects.filter(area__level=Level.GRID)
    if area is not None:
        qs = qs.filter(area__path__startswith=area.path)
    return list(qs.values_list("area__path", "grade", "category_id", "houses", "rooms"))


def _write_rollup(grid_rows: list[tuple[str, str, int, int, int]], areas: dict[str, int]) -> None:
    """Set the rows of `areas` (path → id, no grid among them) to the sums of the grid rows below each."""
    sums: dict[Key, list[int]] = defaultdict(lambda: [0, 0])
    for path, grade, category_id, houses, rooms in grid_rows:
        for p in paths.ancestor_paths(path)[:-1]:
            if p in areas:
                row = sums[(areas[p], grade, category_id)]
                row[0] += houses
                row[1] += rooms
    RentalCount.objects.filter(area_id__in=list(areas.values())).delete()
    RentalCount.objects.bulk_create(
        [
            RentalCount(area_id=a, grade=g, category_id=c, houses=h, rooms=r)
            for (a, g, c), (h, r) in sorted(sums.items())
            if h or r
        ],
        batch_size=2000,
    )


@transaction.atomic
def rollup(area: Area) -> None:
    """Recompute the rows of `area` and of every area below it that is not a grid from the rows of their
    grids (after grids moved to another parent: the grids' own rows stay as they are)."""
    _lock_grids(
        Area.objects.filter(path__startswith=area.path, level=Level.GRID).values_list("pk", flat=True)
    )
    above = dict(
        Area.objects.filter(path__startswith=area.path).exclude(level=Level.GRID).values_list("path", "pk")
    )
    _write_rollup(_grid_rows_under(area), above)


@transaction.atomic
def rebuild() -> dict[str, int]:
    """Recompute every count row from the rental houses. Returns the number of rows and houses."""
    _lock_grids(Area.objects.filter(level=Level.GRID).values_list("pk", flat=True))
    RentalCount.objects.filter(area__level=Level.GRID).delete()
    truth = _from_houses(None)
    RentalCount.objects.bulk_create(
        [
            RentalCount(area_id=g, grade=grade, category_id=c, houses=h, rooms=r)
            for (g, grade, c), (h, r) in sorted(truth.items())
        ],
        batch_size=2000,
    )
    above = dict(Area.objects.exclude(level=Level.GRID).values_list("path", "pk"))
    _write_rollup(_grid_rows_under(None), above)
    return {"rows": RentalCount.objects.count(), "houses": sum(h for h, _r in truth.values())}
