"""The rental part of the demo district: every rented house becomes a rental house (tenancy category,
rooms, landlord, the house's residents as tenants) with three inspections of history graded by the
default rules (the latest records every item; the older two only their failed items, to keep the demo fast). The latest grades follow Longhua's figures (seed 000: 195,700 rooms relaxed, 452,100
strict, 10,800 prohibited, so about 30 % / 68 % / 2 % of the houses here). Deterministic for a seed;
rows are written in bulk. The demo opens no cases from this history (docs/rental.md)."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable

from django.db.models import Q

from gridgov.accounts.models import Membership
from gridgov.accounts.roles import Role
from gridgov.core.tabular import bulk
from gridgov.registry.models import ResidenceType, Resident
from gridgov.rental import counts as kept_counts
from gridgov.rental import selectors, services
from gridgov.rental.models import (
    ChecklistItem,
    Grade,
    Inspection,
    ItemResult,
    RentalCase,
    RentalCount,
    RentalHouse,
    RentalRoom,
    Tenancy,
    TenancyCategory,
    new_code,
)
from gridgov.territory.models import House, HouseUse

PREFIX = "440309/"
IN_DISTRICT = Q(house__building__grid__path__startswith=PREFIX)
Log = Callable[[str], object]

# Latest grade of a house: Longhua's rooms per grade (seed 000).
LATEST: tuple[tuple[str, int], ...] = (
    (Grade.RELAXED, 195_700),
    (Grade.STRICT, 452_100),
    (Grade.PROHIBITED, 10_800),
)
# Tenancy category → (share of houses, rooms lo–hi)
CATEGORY = {
    "whole": (45, 1, 2),
    "shared": (33, 2, 4),
    "group": (10, 4, 8),
    "family_hotel": (4, 4, 8),
    "dormitory": (8, 6, 12),
}
HISTORY = 3


def _failures(rng: random.Random, grade: str, items: list[ChecklistItem]) -> set[str]:
    """Failed item codes that the default rules grade as `grade`."""
    if grade == Grade.PROHIBITED:
        return {"C01"} | set(rng.sample(["H02", "H04", "C02", "S01"], rng.randint(0, 2)))
    if grade == Grade.STRICT:
        if rng.random() < 0.4:
            return {"C05"} | set(rng.sample(["H04", "S02"], rng.randint(0, 1)))
        pool = [i.code for i in items if i.code not in ("C01", "C05")]
        while True:
            failed = set(rng.sample(pool, rng.randint(3, 5)))
            if sum(i.weight for i in items if i.code in failed) > 25:
                return failed
    if grade == Grade.WATCH:
        return set(rng.choice([["H01", "S01"], ["H03", "H04"], ["C02", "S02"], ["H02", "S01", "S02"]]))
    return set(rng.sample(["S01", "S02", "Z02"], rng.randint(0, 1)))


def generate_rental(*, seed: int, log: Log = print) -> dict[str, int]:
    rng = random.Random(f"{seed}-rental")
    today = dt.date.today()
    rules = selectors.current_rules()
    items = list(ChecklistItem.objects.filter(is_active=True))
    weights = {i.code: i.weight for i in items}
    item_pk = {i.code: i.pk for i in items}
    graded: dict[frozenset[str], tuple] = {}
    categories = {c.code: c for c in TenancyCategory.objects.all()}
    houses = list(
        House.objects.filter(building__grid__path__startswith=PREFIX, use=HouseUse.RENTED)
        .values_list("id", "building__grid_id")
        .order_by("id")
    )
    if not houses:
        return {"rental_houses": 0}
    inspector_of = dict(
        Membership.objects.filter(role=Role.GRID_WORKER, area__path__startswith=PREFIX)
        .order_by("user_id")
        .values_list("area_id", "user_id")
    )
    tenants: dict[int, list[tuple[int, dt.date | None]]] = {}
    for rid, house_id, moved_in in Resident.objects.filter(
        building__grid__path__startswith=PREFIX, house__use=HouseUse.RENTED, moved_out__isnull=True
    ).values_list("id", "house_id", "moved_in"):
        tenants.setdefault(house_id, []).append((rid, moved_in))
    landlords = list(
        Resident.objects.filter(
            building__grid__path__startswith=PREFIX, residence_type=ResidenceType.REGISTERED
        )
        .order_by("id")
        .values_list("id", flat=True)[:5000]
    )
    fallback_inspector = next(iter(inspector_of.values()), None)

    house_ids = bulk.allocate_ids(RentalHouse, len(houses))
    rental_rows: list[tuple] = []
    room_rows: list[tuple] = []
    tenancy_rows: list[tuple] = []
    inspection_rows: list[tuple] = []
    result_rows: list[tuple] = []
    inspection_ids = bulk.allocate_ids(Inspection, len(houses) * HISTORY)
    now = bulk.db_now()
    k = 0
    grade_names = [g for g, _ in LATEST]
    grade_weights = [w for _, w in LATEST]
    cat_codes = list(CATEGORY)
    cat_weights = [CATEGORY[c][0] for c in cat_codes]
    for (house_id, grid_id), rental_id in zip(houses, house_ids, strict=True):
        cat = rng.choices(cat_codes, cat_weights)[0]
        _, lo, hi = CATEGORY[cat]
        rooms = rng.randint(lo, hi)
        latest = rng.choices(grade_names, grade_weights)[0]
        grades = [
            rng.choice([latest, latest, Grade.WATCH, Grade.RELAXED, Grade.STRICT]) for _ in range(HISTORY - 1)
        ]
        grades.append(latest)
        inspector = inspector_of.get(grid_id, fallback_inspector)
        day = today - dt.timedelta(days=rng.randint(0, 20))
        days: list[dt.date] = []
        for g in reversed(grades):  # walk back from the latest inspection
            days.append(day)
            day -= dt.timedelta(days=int(rules.visit_days[g]) + rng.randint(-2, 3))
        days.reverse()
        streak = 0
        due = today
        for n, (g, on) in enumerate(zip(grades, days, strict=True)):
            failed = frozenset(_failures(rng, g, items))
            if failed not in graded:
                results = {c: ("fail" if c in failed else "pass") for c in weights}
                score = services.score_of(results, weights)
                graded[failed] = (score, *services.grade_for(rules, score, set(failed), set()))
            score, grade, applied = graded[failed]
            due = services.next_due(on, grade, categories[cat], rules)
            streak = streak + 1 if grade in rules.red_grades else 0
            iid = inspection_ids[k]
            k += 1
            inspection_rows.append(
                (iid, rental_id, rules.pk, inspector, on, [], score, grade, applied, due, "", "", now)
            )
            if n == HISTORY - 1:  # the latest inspection: every item; older ones: their failed items
                result_rows.extend((iid, i.pk, "fail" if i.code in failed else "pass", "") for i in items)
            else:
                result_rows.extend((iid, item_pk[c], "fail", "") for c in sorted(failed))
        tenant_list = tenants.get(house_id, [])
        landlord = rng.choice(landlords) if landlords else None
        rental_rows.append(
            (
                rental_id, house_id, new_code(), landlord, None, categories[cat].pk,
                f"BA{today.year}-{rental_id:07d}" if rng.random() < 0.7 else "", rng.random() < 0.8,
                None, max(rooms * 2, len(tenant_list)), rooms, len(tenant_list), grade,
                days[-1], due, streak, True, now, now,
            )
        )  # fmt: skip
        room_rows.extend((rental_id, f"{r + 1:02d}", 2) for r in range(rooms))
        tenancy_rows.extend((rental_id, rid, since or today) for rid, since in tenant_list)

    if fallback_inspector is None:
        return {"rental_houses": 0}
    bulk.write_rows(
        RentalHouse,
        [
            "id", "house_id", "code", "landlord_resident_id", "landlord_unit_id", "category_id", "filing_number",
            "pledge_signed", "pledge_date", "capacity_limit", "rooms_count", "tenants_count", "grade",
            "last_inspected_on", "next_due_on", "red_streak", "is_active", "created_at", "updated_at",
        ],
        rental_rows,
    )  # fmt: skip
    bulk.write_rows(RentalRoom, ["rental_house_id", "number", "capacity"], room_rows)
    bulk.write_rows(Tenancy, ["rental_house_id", "resident_id", "since"], tenancy_rows)
    bulk.write_rows(
        Inspection,
        [
            "id", "rental_house_id", "rules_id", "inspector_id", "inspected_on", "flags", "score", "grade",
            "overrides_applied", "next_due_on", "note", "client_id", "created_at",
        ],
        [(*r[:5], _json(r[5]), r[6], r[7], _json(r[8]), *r[9:]) for r in inspection_rows],
    )  # fmt: skip
    bulk.write_rows(ItemResult, ["inspection_id", "item_id", "result", "note"], result_rows)
    kept_counts.rebuild()
    counts = {
        "rental_houses": len(rental_rows),
        "rental_rooms": len(room_rows),
        "inspections": len(inspection_rows),
    }
    log(
        f"Rental housing: {counts['rental_houses']:,} houses, {counts['rental_rooms']:,} rooms, "
        f"{counts['inspections']:,} inspections."
    )
    return counts


def _json(value) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


def delete_rental() -> None:
    """Delete every rental record of the demo district (before its houses and residents)."""
    RentalCase.objects.filter(rental_house__in=RentalHouse.objects.filter(IN_DISTRICT)).delete()
    ItemResult.objects.filter(inspection__rental_house__in=RentalHouse.objects.filter(IN_DISTRICT)).delete()
    Inspection.objects.filter(rental_house__in=RentalHouse.objects.filter(IN_DISTRICT)).delete()
    Tenancy.objects.filter(rental_house__in=RentalHouse.objects.filter(IN_DISTRICT)).delete()
    RentalHouse.objects.filter(IN_DISTRICT).delete()
    RentalCount.objects.filter(area__path__startswith=PREFIX).delete()
