"""Reads of rental housing, already narrowed to what the user may see: the rental houses of buildings whose
grid lies in the user's area subtree (building heads: their grid), the registry's reader scope. The public
page of a house code is the only read without a login, and it carries nothing about a person."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.db.models import Count, Prefetch, QuerySet, Sum, prefetch_related_objects
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.cases.models import OPEN_STATUSES
from gridgov.core.errors import BadRequest, NotFound
from gridgov.core.principal import principal_for
from gridgov.registry.selectors import READER_ROLES, registry_filter
from gridgov.rental.models import (
    COLOUR,
    GRADE_ORDER,
    CaseKind,
    Grade,
    GradingRules,
    Inspection,
    RentalCase,
    RentalHouse,
    TenancyCategory,
)
from gridgov.territory import paths
from gridgov.territory.models import Area

PATH = "house__building__grid__path"
DUE_WITHIN_DAYS = 7
UNGRADED = "ungraded"


def _nothing() -> NotFound:
    return NotFound(_("Nothing here, or it is outside your area."))


def houses_for(user) -> QuerySet[RentalHouse]:
    q = registry_filter(user, PATH)
    if q is None:
        return RentalHouse.objects.none()
    return RentalHouse.objects.filter(q, is_active=True)


def house_list(
    user, *, area_code: str = "", grade: str = "", category: str = "", due: str = ""
) -> QuerySet[RentalHouse]:
    """The user's rental houses, narrowed by area, grade, category and due date (due: due within
    DUE_WITHIN_DAYS days or overdue; overdue: past the due date), by id or, when by due date, most overdue
    first."""
    qs = houses_for(user).select_related("house__building__grid", "category")
    if area_code:
        area = Area.objects.filter(code=area_code).first()
        qs = qs.filter(**{f"{PATH}__startswith": area.path}) if area else qs.none()
    if grade:
        qs = qs.filter(grade="" if grade == UNGRADED else grade)
    if category:
        qs = qs.filter(category__code=category)
    if due:
        today = timezone.localdate()
        last = (
            today - dt.timedelta(days=1) if due == "overdue" else today + dt.timedelta(days=DUE_WITHIN_DAYS)
        )
        return qs.filter(next_due_on__lte=last).order_by("next_due_on", "id")
    return qs.order_by("id")


MAX_LABELS = 500  # about 25 s of rendering on two cores (2,000: 104 s); see docs/rental.md


def label_houses(
    user,
    *,
    area_code: str = "",
    grade: str = "",
    category: str = "",
    due: str = "",
    rental_house_id: int | None = None,
) -> list[RentalHouse]:
    """The rental houses a QR label sheet prints: one house of the user's (404 outside the scope), or the
    user's houses narrowed by the list's filters, in the order someone walking the buildings sticks them
    (building, unit, room). At most MAX_LABELS per sheet, and at least one: else a 400 that says to narrow
    (or change) the filter."""
    if rental_house_id is not None:
        return [house_detail(user, rental_house_id)]
    qs = house_list(user, area_code=area_code, grade=grade, category=category, due=due)
    n = qs.count()
    if n > MAX_LABELS:
        raise BadRequest(
            _(
                "%(n)s rental houses match: a label sheet prints at most %(max)s. Narrow the filter (an area, "
                "a grade or a category) and print in parts."
            )
            % {"n": n, "max": MAX_LABELS}
        )
    if n == 0:
        raise BadRequest(_("No rental house matches the filter: there are no labels to print."))
    return list(
        qs.select_related("house__building").order_by(
            "house__building__code", "house__unit", "house__room", "id"
        )
    )


def house_detail(user, rental_house_id: int) -> RentalHouse:
    house = (
        houses_for(user)
        .select_related("house__building__grid", "category", "landlord_resident", "landlord_unit")
        .filter(pk=rental_house_id)
        .first()
    )
    if house is None:
        raise _nothing()
    return house


LATEST_INSPECTIONS = 20


def house_page(user, rental_house_id: int) -> RentalHouse:
    """One rental house as its page shows it: rooms, the latest inspections (rules, results, the cases
    each opened) as `latest_inspections`, and the links to its open cases as `open_case_links` — a fixed
    number of queries whatever the history."""
    house = house_detail(user, rental_house_id)
    latest = (
        Inspection.objects.select_related("rules")
        .prefetch_related("results__item", "cases__case")
        .order_by("-inspected_on", "-id")
    )
    prefetch_related_objects(
        [house],
        "rooms",
        Prefetch("inspections", queryset=latest[:LATEST_INSPECTIONS], to_attr="latest_inspections"),
        Prefetch(
            "cases",
            queryset=RentalCase.objects.filter(case__status__in=OPEN_STATUSES).select_related("case"),
            to_attr="open_case_links",
        ),
    )
    return house


def current_rules() -> GradingRules:
    return GradingRules.objects.order_by("-version").first()  # type: ignore[return-value]


def open_cases(house: RentalHouse, kind: str | None = None) -> QuerySet[RentalCase]:
    """The links to the house's cases that are still open (of one kind, or all)."""
    qs = RentalCase.objects.filter(rental_house=house, case__status__in=OPEN_STATUSES)
    return qs.filter(kind=kind) if kind else qs


def _scope_areas(user) -> list[Area]:
    principal = principal_for(user)
    paths = [m.area_path for m in principal.memberships if m.role in READER_ROLES and m.area_id]
    return list(Area.objects.filter(path__in=paths).order_by("path"))


def figures(user, area_code: str = "") -> dict[str, Any]:
    """Rental houses and rooms per grade and per tenancy category in an area, one row per child area
    (drill down by asking for a child's code). The area must lie in the user's scope."""
    roots = _scope_areas(user)
    if not roots:
        raise _nothing()
    if area_code:
        area = Area.objects.filter(code=area_code).first()
        if area is None or not any(area.path.startswith(r.path) for r in roots):
            raise _nothing()
    else:
        area = roots[0]
    children = list(Area.objects.filter(parent=area, is_active=True).order_by("code"))
    rows = (
        houses_for(user)
        .filter(**{f"{PATH}__startswith": area.path})
        .values(PATH, "grade", "category__code")
        .annotate(houses=Count("id"), rooms=Sum("rooms_count"))
        .order_by()
    )

    def blank() -> dict[str, Any]:
        return {
            "houses": 0,
            "rooms": 0,
            "grades": {g: {"houses": 0, "rooms": 0} for g in [*GRADE_ORDER, UNGRADED]},
            "categories": defaultdict(lambda: {"houses": 0, "rooms": 0}),
        }

    total = blank()
    per_child = {c.path: blank() for c in children}
    for row in rows:
        targets = [total]
        targets += [per_child[c.path] for c in children if row[PATH].startswith(c.path)]
        for t in targets:
            rooms = row["rooms"] or 0
            t["houses"] += row["houses"]
            t["rooms"] += rooms
            g = t["grades"][row["grade"] or UNGRADED]
            g["houses"] += row["houses"]
            g["rooms"] += rooms
            c = t["categories"][row["category__code"]]
            c["houses"] += row["houses"]
            c["rooms"] += rooms

    def out(a: Area, t: dict[str, Any]) -> dict[str, Any]:
        return {
            "code": a.code,
            "name": a.name,
            "level": a.level,
            "houses": t["houses"],
            "rooms": t["rooms"],
            "grades": t["grades"],
            "categories": dict(t["categories"]),
        }

    return {
        "area": out(area, total),
        "children": [out(c, per_child[c.path]) for c in children],
        "category_names": {c.code: c.local_name for c in TenancyCategory.objects.all()},
    }


def public_page(code: str) -> dict[str, Any]:
    """What scanning a house's QR code shows: grade, colour, the date of the last inspection, the open
    hazards by checklist item, what tenants should know and how to report. Nothing about any person (no
    landlord, tenant, inspector, room number or filing number)."""
    house = (
        RentalHouse.objects.filter(code=code, is_active=True)
        .select_related("house__building__grid", "category")
        .first()
    )
    if house is None:
        raise NotFound(_("There is no rental house with this code."))
    hazards = sorted(
        {
            link.item.local_name
            for link in open_cases(house, CaseKind.HAZARD).select_related("item")
            if link.item
        }
    )
    return {
        "code": house.code,
        "community": _community_name(house),
        "category": house.category.local_name,
        "grade": house.grade or None,
        "colour": COLOUR[Grade(house.grade)] if house.grade else None,
        "last_inspected_on": house.last_inspected_on,
        "open_hazards": hazards,
        "tenant_notice": str(
            _(
                "Register with the community within 3 days of moving in, keep exits and corridors clear, do not "
                "charge electric bikes indoors, and do not sublet to more people than the limit."
            )
        ),
        "how_to_report": str(
            _(
                "Report a problem in the resident app or at the community service centre; quote this house code."
            )
        ),
    }


def _community_name(house: RentalHouse) -> str:
    parts = paths.codes(house.house.building.grid.path)
    if len(parts) < paths.COMMUNITY_DEPTH:
        return ""
    return (
        Area.objects.filter(code=parts[paths.COMMUNITY_DEPTH - 1]).values_list("name", flat=True).first()
        or ""
    )


def rules_table(rules: GradingRules) -> dict[str, Any]:
    return {
        "version": rules.version,
        "thresholds": rules.thresholds,
        "overrides": rules.overrides,
        "visit_days": rules.visit_days,
        "red_grades": rules.red_grades,
        "red_streak": rules.red_streak,
        "note": rules.note,
        "created_at": rules.created_at,
    }
