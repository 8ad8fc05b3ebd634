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
from django.utils import timezone

from gridgov.accounts.models import Membership
from gridgov.accounts.roles import Role
from gridgov.core.tabular import bulk
from gridgov.registry.models import ResidenceType, Resident
from gridgov.rental import counts as kept_counts
from gridgov.rental import selectors, services
from gridgov.rental.models import (
    ChecklistItem,
    Compound,
    Grade,
    Inspection,
    ItemResult,
    RentalCase,
    RentalCount,
    RentalHouse,
    RentalRoom,
    StarApplication,
    StarAssessment,
    StarSite,
    StarStep,
    Tenancy,
    TenancyCategory,
    new_code,
)
from gridgov.territory.models import Area, Building, House, HouseUse

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
    counts.update(generate_stars(seed=seed, rooms=len(room_rows), log=log))
    return counts


def _json(value) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


def delete_rental() -> None:
    """Delete every rental record of the demo district (before its houses and residents)."""
    delete_stars()
    RentalCase.objects.filter(rental_house__in=RentalHouse.objects.filter(IN_DISTRICT)).delete()
    ItemResult.objects.filter(inspection__rental_house__in=RentalHouse.objects.filter(IN_DISTRICT)).delete()
    Inspection.objects.filter(rental_house__in=RentalHouse.objects.filter(IN_DISTRICT)).delete()
    Tenancy.objects.filter(rental_house__in=RentalHouse.objects.filter(IN_DISTRICT)).delete()
    RentalHouse.objects.filter(IN_DISTRICT).delete()
    RentalCount.objects.filter(area__path__startswith=PREFIX).delete()


# --- star safe buildings and compounds (星级安全楼栋 / 星级安全小区) ---------------------------------------
# Longhua (seed 000): 505 / 70 / 18 buildings hold 3 / 4 / 5 stars; 55 compounds applied, 35 awarded. The
# demo scales them by its rental rooms against Longhua's (658,600: the scale of the rental demo above), but
# never below a tenth, so that every star level has buildings in a small district.
STAR_BUILDINGS = {3: 505, 4: 70, 5: 18}
COMPOUNDS_APPLIED, COMPOUNDS_AWARDED = 55, 35
LONGHUA_ROOMS = 195_700 + 452_100 + 10_800
MIN_STAR_SCALE = 0.1
COMPOUND_NAMES = (
    "锦绣花园",
    "龙华新村",
    "民乐苑",
    "北站华府",
    "碧水龙庭",
    "大浪花园",
    "白石龙村",
    "上塘新村",
)
WITHDRAWN_REASON = "复核发现消防通道堵塞、电动车入户充电，整改逾期未完成，予以摘牌"


def _split(total: int, weights: dict[int, int]) -> dict[int, int]:
    """`total` split by weights, largest remainders first (deterministic)."""
    raw = {k: total * w / sum(weights.values()) for k, w in weights.items()}
    out = {k: int(v) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: (out[k] - raw[k], -k))[: total - sum(out.values())]:
        out[k] += 1
    return out


def _scores_for(criteria: list[dict], stars: int | None) -> dict[str, int]:
    """Points that give `stars` (None: a refusal) under the criteria: take points off the optional
    criteria, heaviest first, until the score falls into the band (a refusal: a required one unmet)."""
    scores = {c["code"]: c["weight"] for c in criteria}
    if stars is None:
        scores[next(c["code"] for c in criteria if c.get("required"))] = 0
        return scores
    rules = selectors.star_rules_current()
    for c in sorted((c for c in criteria if not c.get("required")), key=lambda c: -c["weight"]):
        for points in range(c["weight"], -1, -1):
            trial = {**scores, c["code"]: points}
            got = services.stars_for(rules.thresholds, *services.star_score(criteria, trial))
            if got is None or got < stars:
                break
            scores = trial
            if got == stars:
                return scores
    return scores


def generate_stars(*, seed: int, rooms: int, log: Log = print) -> dict[str, int]:
    """Star buildings and compounds of the demo district with their applications, assessments and
    history: the awards spread over the past year (so some reviews are due now), a few applications still
    open or refused, and one building withdrawn with its reason."""
    rng = random.Random(f"{seed}-stars")
    rules = selectors.star_rules_current()
    if rules is None:
        return {"star_sites": 0}
    today = dt.date.today()
    scale = max(rooms / LONGHUA_ROOMS, MIN_STAR_SCALE)
    per_star = _split(round(sum(STAR_BUILDINGS.values()) * scale), STAR_BUILDINGS)
    applied_compounds = round(COMPOUNDS_APPLIED * scale)
    awarded_compounds = round(COMPOUNDS_AWARDED * scale)
    buildings = list(
        Building.objects.filter(grid__path__startswith=PREFIX).select_related("grid").order_by("id")
    )
    communities = {a.code: a for a in Area.objects.filter(path__startswith=PREFIX, level="community")}
    staff = dict(
        Membership.objects.filter(role=Role.COMMUNITY_STAFF, area__path__startswith=PREFIX)
        .order_by("-user_id")
        .values_list("area_id", "user_id")
    )
    assessors = dict(
        Membership.objects.filter(role=Role.SUBDISTRICT_STAFF, area__path__startswith=PREFIX)
        .order_by("-user_id")
        .values_list("area__code", "user_id")
    )
    if not buildings or not communities or not staff:
        return {"star_sites": 0}
    fallback_staff = next(iter(staff.values()))
    fallback_assessor = next(iter(assessors.values()), fallback_staff)

    def community_of(path: str) -> Area:
        return communities[path.split("/")[2]]

    def make(kind: str, target, community: Area, path: str, plan: str, stars: int | None) -> StarSite:
        """One site through its history: plan is awarded / withdrawn / refused / applied / assessed."""
        applicant = staff.get(community.pk, fallback_staff)
        assessor = assessors.get(path.split("/")[1], fallback_assessor)
        site = StarSite.objects.create(kind=kind, community=community, path=path, **{kind: target})
        start = timezone.now() - dt.timedelta(days=rng.randint(5, 360), hours=rng.randint(0, 8))
        app = StarApplication.objects.create(
            site=site, kind="application", applicant_id=applicant, status="applied"
        )
        StarApplication.objects.filter(pk=app.pk).update(created_at=start)
        steps = [StarStep(site=site, application=app, action="apply", actor_id=applicant, at=start)]
        if plan != "applied":
            criteria = services.criteria_for(rules, kind)
            scores = _scores_for(criteria, None if plan == "refused" else stars)
            score, unmet = services.star_score(criteria, scores)
            got = services.stars_for(rules.thresholds, score, unmet)
            StarAssessment.objects.create(
                application=app, rules=rules, criteria=criteria, scores=scores, score=score, stars=got,
                unmet_required=unmet, assessor_id=assessor,
            )  # fmt: skip
            at = start + dt.timedelta(days=rng.randint(3, 10))
            steps.append(StarStep(site=site, application=app, action="assess", actor_id=assessor, at=at))
            app.status = "refused" if got is None else "assessed"
            if got is None:
                reason = "一票否决项未达标：" + ", ".join(unmet)
                steps.append(
                    StarStep(
                        site=site, application=app, action="refuse", actor_id=assessor, at=at, reason=reason
                    )
                )
            elif plan in ("awarded", "withdrawn"):
                at += dt.timedelta(days=rng.randint(1, 5))
                app.status = "awarded"
                site.status, site.stars, site.awarded_on = "awarded", got, at.date()
                site.valid_until = site.awarded_on + dt.timedelta(days=rules.validity_days)
                site.review_due_on = site.valid_until - dt.timedelta(days=rules.review_notice_days)
                steps.append(
                    StarStep(
                        site=site, application=app, action="award", actor_id=assessor, at=at, stars_after=got
                    )
                )
                if plan == "withdrawn":
                    at = min(at + dt.timedelta(days=rng.randint(30, 120)), timezone.now())
                    steps.append(StarStep(site=site, action="withdraw", actor_id=assessor, at=at, stars_before=got,
                                          reason=WITHDRAWN_REASON))  # fmt: skip
                    site.status, site.stars, site.review_due_on = "withdrawn", None, None
                    site.withdrawn_on, site.withdrawn_reason = at.date(), WITHDRAWN_REASON
                site.save()
            app.decided_at = None if app.status == "assessed" else at
            app.save(update_fields=["status", "decided_at"])
        StarStep.objects.bulk_create(steps)
        return site

    picked = rng.sample(buildings, min(len(buildings), sum(per_star.values()) + 6))
    plans: list[tuple[str, int | None]] = [("awarded", s) for s in (5, 4, 3) for _ in range(per_star[s])]
    plans += [
        ("withdrawn", 3),
        ("refused", None),
        ("refused", None),
        ("applied", None),
        ("applied", None),
        ("assessed", 4),
    ]
    for b, (plan, stars) in zip(picked, plans, strict=False):
        make("building", b, community_of(b.grid.path), b.grid.path, plan, stars)

    # Compounds: named in a community of their buildings, each building in one compound at most.
    free = [b for b in buildings if b not in set(picked)]
    rng.shuffle(free)
    compound_plans: list[tuple[str, int | None]] = [
        ("awarded", rng.choices((3, 4, 5), (505, 70, 18))[0]) for _ in range(awarded_compounds)
    ]
    compound_plans += [("refused", None)] * max(applied_compounds - awarded_compounds - 1, 0)
    compound_plans += [("applied", None)] * (1 if applied_compounds > awarded_compounds else 0)
    used_names: set[tuple[str, str]] = set()
    for i, (plan, stars) in enumerate(compound_plans):
        if not free:
            break
        first = free.pop()
        community = community_of(first.grid.path)
        members = [first] + [b for b in free if b.grid.path.startswith(community.path)][: rng.randint(1, 5)]
        free = [b for b in free if b not in members]
        name = COMPOUND_NAMES[i % len(COMPOUND_NAMES)] + (
            "" if i < len(COMPOUND_NAMES) else f"{i // len(COMPOUND_NAMES) + 1}期"
        )
        while (community.code, name) in used_names:
            name += "二期"
        used_names.add((community.code, name))
        compound = Compound.objects.create(
            name=name, type="village" if "村" in name else "residential", community=community
        )
        compound.buildings.set(members)
        make("compound", compound, community, community.path, plan, stars)
    sites = StarSite.objects.filter(path__startswith=PREFIX)
    due = sites.filter(status="awarded", review_due_on__lte=today).count()
    log(
        f"Star safe buildings: {per_star[3]} / {per_star[4]} / {per_star[5]} buildings with 3 / 4 / 5 stars, "
        f"{len(compound_plans)} compounds applied ({awarded_compounds} awarded), {due} reviews due."
    )
    return {"star_sites": sites.count(), "star_reviews_due": due}


def delete_stars() -> None:
    """Delete the star records of the demo district (before its buildings)."""
    sites = StarSite.objects.filter(path__startswith=PREFIX)
    StarStep.objects.filter(site__in=sites).delete()
    StarAssessment.objects.filter(application__site__in=sites).delete()
    StarApplication.objects.filter(site__in=sites).delete()
    sites.delete()
    Compound.objects.filter(community__path__startswith=PREFIX).delete()
