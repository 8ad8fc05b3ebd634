"""Every write of rental housing, one transaction each: rental houses, publishing grading rules, and
recording an inspection (score → grade by the rules' thresholds and overrides → next due date → hazard
cases and the rectification case). The grading itself is pure (`score_of`, `grade_for`, `next_due`), so
tests drive it from tables. See docs/rental.md."""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.accounts.models import Membership
from gridgov.accounts.roles import Role
from gridgov.cases import services as case_services
from gridgov.cases.models import CaseKind as CaseCaseKind
from gridgov.cases.models import Category, Channel
from gridgov.core import notifications, worktime
from gridgov.core.errors import BadRequest, FieldErrors, NotFound, TooLarge, field_error
from gridgov.core.models import Notification
from gridgov.core.principal import principal_for, require
from gridgov.core.tabular.models import JobMode
from gridgov.registry.models import Resident, Unit
from gridgov.registry.selectors import registry_filter
from gridgov.rental import counts, selectors
from gridgov.rental.models import (
    GRADE_ORDER,
    OPEN_APPLICATION,
    ApplicationKind,
    ApplicationStatus,
    CaseKind,
    ChecklistItem,
    Compound,
    Grade,
    GradingRules,
    Inspection,
    InspectionSource,
    ItemResult,
    RentalCase,
    RentalHouse,
    RentalImportJob,
    RentalRoom,
    Result,
    SiteKind,
    SiteStatus,
    StarApplication,
    StarAssessment,
    StarRules,
    StarSite,
    StarStep,
    StepAction,
    Tenancy,
    TenancyCategory,
)
from gridgov.territory import paths
from gridgov.territory.models import Area, Building, House

# Flags an inspector may set; `over_capacity` is set by the system when the tenants exceed the limit.
FLAGS = ("refused", "group_rental_suspected")
SYSTEM_FLAGS = ("over_capacity",)
MAX_VISIT_DAYS = 366


# --- grading: pure ---------------------------------------------------------------------------------------
def _rank(grade: str) -> int:
    return GRADE_ORDER.index(Grade(grade))


def stricter(a: str, b: str) -> str:
    return a if _rank(a) >= _rank(b) else b


def score_of(results: dict[str, str], weights: dict[str, int]) -> Decimal:
    """Passed weight over applicable weight, 0–100 with one decimal (no applicable item: 0)."""
    applicable = sum(weights[c] for c, r in results.items() if r != Result.NOT_APPLICABLE)
    if not applicable:
        return Decimal("0.0")
    passed = sum(weights[c] for c, r in results.items() if r == Result.PASS)
    return (Decimal(100 * passed) / Decimal(applicable)).quantize(Decimal("0.1"), ROUND_HALF_UP)


def grade_for(
    rules: GradingRules, score: Decimal, failed: set[str], flags: set[str]
) -> tuple[str, list[str]]:
    """The grade of a score under the rules: the first threshold the score reaches, then every override
    whose item failed or whose flag is set forces at least its grade. Returns (grade, codes of the
    overrides that changed or confirmed it)."""
    grade = next(
        (t["grade"] for t in rules.thresholds if score >= Decimal(str(t["min_score"]))),
        rules.thresholds[-1]["grade"],
    )
    applied = []
    for o in rules.overrides:
        if failed & set(o.get("items", [])) or flags & set(o.get("flags", [])):
            applied.append(o["code"])
            grade = stricter(grade, o["grade"])
    return grade, applied


def next_due(inspected_on: dt.date, grade: str, category: TenancyCategory, rules: GradingRules) -> dt.date:
    """The next inspection's due day: the shorter of the grade's and the category's visit interval (the
    stricter wins), moved forward to a working day of the kernel's calendar."""
    days = int(rules.visit_days[grade])
    if category.visit_days:
        days = min(days, category.visit_days)
    due = inspected_on + dt.timedelta(days=days)
    while not worktime.is_workday(due):
        due += dt.timedelta(days=1)
    return due


# --- grading rules ---------------------------------------------------------------------------------------
def _check_rules(data: dict[str, Any], errors: FieldErrors) -> None:
    grades = set(Grade.values)
    thresholds = data.get("thresholds") or []
    try:
        mins = [float(t["min_score"]) for t in thresholds]
        ok = bool(thresholds) and all(t["grade"] in grades for t in thresholds)
    except (KeyError, TypeError, ValueError):
        ok, mins = False, []
    if not ok or mins != sorted(mins, reverse=True) or mins[-1] != 0 or any(not 0 <= m <= 100 for m in mins):
        errors.add(
            "thresholds",
            _("Give thresholds from the highest score down to 0, each between 0 and 100 with a grade."),
        )
    codes = set(ChecklistItem.objects.values_list("code", flat=True))
    for i, o in enumerate(data.get("overrides") or []):
        if (
            not isinstance(o, dict)
            or not str(o.get("code") or "").strip()
            or o.get("grade") not in grades
            or not set(o.get("items") or []) <= codes
            or not set(o.get("flags") or []) <= set(FLAGS + SYSTEM_FLAGS)
            or not (o.get("items") or o.get("flags"))
        ):
            errors.add(f"overrides.{i}", _("An override needs a code, a grade and known items or flags."))
    visit = data.get("visit_days") or {}
    if set(visit) != grades or not all(
        isinstance(v, int) and 1 <= v <= MAX_VISIT_DAYS for v in visit.values()
    ):
        errors.add("visit_days", _("Give every grade a visit interval of 1 to 366 days."))
    red = data.get("red_grades") or []
    if not red or not set(red) <= grades:
        errors.add("red_grades", _("Choose one of the allowed values"))
    if not isinstance(data.get("red_streak"), int) or not 2 <= data["red_streak"] <= 12:
        errors.add("red_streak", _("Give a number from 2 to 12."))


@transaction.atomic
def publish_rules(*, actor, data: dict[str, Any], note: str = "") -> GradingRules:
    """Publish a new version of the grading rules (the older versions stay as they were)."""
    require(actor, "rental.rules.publish")
    errors = FieldErrors()
    _check_rules(data, errors)
    errors.raise_if_any()
    last = GradingRules.objects.select_for_update().order_by("-version").first()
    return GradingRules.objects.create(
        version=(last.version + 1) if last else 1,
        thresholds=data["thresholds"],
        overrides=data.get("overrides") or [],
        visit_days=data["visit_days"],
        red_grades=data["red_grades"],
        red_streak=data["red_streak"],
        note=note,
        created_by=actor,
    )


# --- rental houses ---------------------------------------------------------------------------------------
@transaction.atomic
def create_rental_house(
    *,
    actor,
    house_id: int,
    category_code: str,
    landlord_resident_id: int | None = None,
    landlord_unit_id: int | None = None,
    filing_number: str = "",
    pledge_date: dt.date | None = None,
    capacity_limit: int | None = None,
    rooms: list[str] | None = None,
) -> RentalHouse:
    require(actor, "rental.house.create")
    q = registry_filter(actor, "building__grid__path")
    house = House.objects.filter(q, pk=house_id).first() if q is not None else None
    if house is None:
        raise NotFound(_("Nothing here, or it is outside your area."))
    errors = FieldErrors()
    if RentalHouse.objects.filter(house=house).exists():
        errors.add("house_id", _("This house is already a rental house."))
    category = TenancyCategory.objects.filter(code=category_code, is_active=True).first()
    if category is None:
        errors.add("category_code", _("Choose one of the allowed values"))
    if landlord_resident_id and landlord_unit_id:
        errors.add("landlord_unit_id", _("Give the landlord as a person or as a unit, not both."))
    rq = registry_filter(actor)
    if landlord_resident_id and not Resident.objects.filter(rq, pk=landlord_resident_id).exists():
        errors.add("landlord_resident_id", _("There is no such resident in your area."))
    if landlord_unit_id and not Unit.objects.filter(rq, pk=landlord_unit_id).exists():
        errors.add("landlord_unit_id", _("There is no such unit in your area."))
    numbers = [r.strip() for r in rooms or []]
    if any(not n for n in numbers) or len(set(numbers)) != len(numbers):
        errors.add("rooms", _("Give each room a number, once."))
    if pledge_date and pledge_date > timezone.localdate():
        errors.add("pledge_date", _("The date lies in the future."))
    errors.raise_if_any()
    assert category is not None
    rental = RentalHouse.objects.create(
        house=house,
        category=category,
        landlord_resident_id=landlord_resident_id,
        landlord_unit_id=landlord_unit_id,
        filing_number=filing_number.strip(),
        pledge_signed=pledge_date is not None,
        pledge_date=pledge_date,
        capacity_limit=capacity_limit,
        rooms_count=len(numbers),
    )
    RentalRoom.objects.bulk_create([RentalRoom(rental_house=rental, number=n) for n in numbers])
    counts.house_changed(None, counts.footprint(rental))
    return rental


@transaction.atomic
def add_tenant(*, actor, rental_house_id: int, resident_id: int, since: dt.date, room: str = "") -> Tenancy:
    require(actor, "rental.house.create")
    rental = selectors.house_detail(actor, rental_house_id)
    errors = FieldErrors()
    rq = registry_filter(actor)
    resident = Resident.objects.filter(rq, pk=resident_id).first() if rq is not None else None
    if resident is None:
        errors.add("resident_id", _("There is no such resident in your area."))
    room_obj = None
    if room:
        room_obj = RentalRoom.objects.filter(rental_house=rental, number=room).first()
        if room_obj is None:
            errors.add("room", _("There is no such room in this house."))
    errors.raise_if_any()
    assert resident is not None
    tenancy = Tenancy.objects.create(rental_house=rental, room=room_obj, resident=resident, since=since)
    RentalHouse.objects.filter(pk=rental.pk).update(
        tenants_count=Tenancy.objects.filter(rental_house=rental, until__isnull=True).count()
    )
    return tenancy


# --- inspections -----------------------------------------------------------------------------------------
def _check_inspection(
    rental: RentalHouse,
    items: dict[str, ChecklistItem],
    results: dict[str, str],
    flags: list[str],
    on: dt.date,
) -> None:
    errors = FieldErrors()
    if on > timezone.localdate():
        errors.add("inspected_on", _("The date lies in the future."))
    elif rental.last_inspected_on and on < rental.last_inspected_on:
        errors.add("inspected_on", _("The house was already inspected on a later day."))
    unknown = sorted(set(flags) - set(FLAGS))
    if unknown:
        errors.add("flags", _("Choose one of the allowed values"))
    for code, value in results.items():
        if code not in items:
            errors.add(f"results.{code}", _("There is no such checklist item."))
        elif value not in Result.values:
            errors.add(f"results.{code}", _("Choose one of the allowed values"))
    if "refused" not in flags:
        missing = sorted(set(items) - set(results))
        if missing:
            errors.add("results", _("Record every checklist item: %(codes)s") % {"codes": ", ".join(missing)})
    errors.raise_if_any()


@transaction.atomic
def record_inspection(
    *,
    actor,
    rental_house_id: int,
    results: dict[str, str],
    flags: list[str] | None = None,
    inspected_on: dt.date | None = None,
    note: str = "",
    client_id: str = "",
) -> tuple[Inspection, bool]:
    """Record an inspection and grade it by the current rules. Returns (inspection, created): a retry
    with a client id the inspector already used returns the first inspection and changes nothing."""
    client_id = (client_id or "").strip()
    if client_id:
        done = Inspection.objects.filter(inspector=actor, client_id=client_id).first()
        if done is not None:
            return done, False
    selectors.house_detail(actor, rental_house_id)  # NotFound outside the scope
    require(actor, "rental.inspect", ("rental_house", rental_house_id))
    rental = (
        RentalHouse.objects.select_for_update(of=("self",))
        .select_related("category", "house__building__grid")
        .get(pk=rental_house_id)
    )
    flags = list(dict.fromkeys(flags or []))
    on = inspected_on or timezone.localdate()
    items = {i.code: i for i in ChecklistItem.objects.filter(is_active=True)}
    _check_inspection(rental, items, results, flags, on)

    rules = selectors.current_rules()
    if rental.capacity_limit is not None and rental.tenants_count > rental.capacity_limit:
        flags.append("over_capacity")
    score = score_of(results, {c: items[c].weight for c in results})
    failed = {c for c, r in results.items() if r == Result.FAIL}
    grade, applied = grade_for(rules, score, failed, set(flags))
    due = next_due(on, grade, rental.category, rules)
    try:
        with transaction.atomic():
            inspection = Inspection.objects.create(
                rental_house=rental,
                rules=rules,
                inspector=actor,
                inspected_on=on,
                flags=flags,
                score=score,
                grade=grade,
                overrides_applied=applied,
                next_due_on=due,
                note=note.strip(),
                client_id=client_id,
            )
    except IntegrityError:
        done = Inspection.objects.filter(inspector=actor, client_id=client_id).first() if client_id else None
        if done is None:
            raise
        return done, False
    ItemResult.objects.bulk_create(
        [ItemResult(inspection=inspection, item=items[c], result=r) for c, r in sorted(results.items())]
    )
    before = counts.footprint(rental)
    rental.red_streak = rental.red_streak + 1 if grade in rules.red_grades else 0
    rental.grade = grade
    rental.last_inspected_on = on
    rental.next_due_on = due
    rental.save(update_fields=["red_streak", "grade", "last_inspected_on", "next_due_on", "updated_at"])
    counts.house_changed(before, counts.footprint(rental))

    for code in sorted(failed):
        if items[code].hazard_category_code:
            _open_hazard(actor, rental, inspection, items[code])
    if _rectification_due(rental, rules):
        _open_rectification(actor, rental, inspection)
    return inspection, True


# The case subcategory of a rental house's rectification (cases seed: SYSTEM_SUBCATEGORIES).
RECTIFICATION_CATEGORY = "G0503"


def _intake(actor, rental: RentalHouse, description: str, key: str, category_code: str, area_code: str):
    known = Category.objects.filter(code=category_code, is_active=True, parent__isnull=False).exists()
    case, _created = case_services.intake(
        actor=actor,
        description=description,
        kind=CaseCaseKind.HAZARD,
        channel=Channel.PATROL,
        area_code=area_code,
        address=str(rental.house),
        category_code=category_code if known else None,
        idempotency_key=key,
    )
    return case


def _open_hazard(actor, rental: RentalHouse, inspection: Inspection, item: ChecklistItem) -> None:
    """A failed item opens a hazard case on the house's grid, unless the house already has an open one for
    the item."""
    if selectors.open_cases(rental, CaseKind.HAZARD).filter(item=item).exists():
        return
    description = _("Rental house inspection found a hazard: %(item)s (house code %(code)s)") % {
        "item": item.local_name,
        "code": rental.code,
    }
    key = f"rental-{inspection.pk}-{item.code}"
    case = _intake(
        actor, rental, description, key, item.hazard_category_code, rental.house.building.grid.code
    )
    RentalCase.objects.create(
        rental_house=rental, kind=CaseKind.HAZARD, inspection=inspection, item=item, case=case
    )


def _rectification_due(rental: RentalHouse, rules: GradingRules) -> bool:
    """Whether the house's red grades in a row call for a rectification case: the streak reaches the rules'
    length and no rectification case is open; after an earlier one closed, only the red grades recorded
    since its closing count (a closed rectification is followed by a new one after another full streak,
    not at the next red)."""
    if rental.red_streak < rules.red_streak:
        return False
    if selectors.open_cases(rental, CaseKind.RECTIFICATION).exists():
        return False
    last = (
        RentalCase.objects.filter(rental_house=rental, kind=CaseKind.RECTIFICATION)
        .select_related("case")
        .order_by("-id")
        .first()
    )
    if last is None:
        return True
    since = Inspection.objects.filter(rental_house=rental)
    if last.case.closed_at:
        since = since.filter(created_at__gt=last.case.closed_at)
    else:
        since = since.filter(id__gt=last.inspection_id)
    return min(rental.red_streak, since.count()) >= rules.red_streak


def _open_rectification(actor, rental: RentalHouse, inspection: Inspection) -> None:
    """The rectification case (整治) of the house: subcategory 出租屋整治, on the house's community (not its
    grid), so the community holds it."""
    description = _(
        "Rental house graded strict or prohibited %(n)s times in a row: rectification by the community "
        "(house code %(code)s)"
    ) % {"n": rental.red_streak, "code": rental.code}
    community = paths.community_of(rental.house.building.grid)
    key = f"rental-{inspection.pk}-rectification"
    case = _intake(actor, rental, description, key, RECTIFICATION_CATEGORY, community.code)
    RentalCase.objects.create(
        rental_house=rental, kind=CaseKind.RECTIFICATION, inspection=inspection, case=case
    )


# --- reminders -------------------------------------------------------------------------------------------
REMIND_KIND = "rental.inspections_due"
REMIND_WITHIN_DAYS = 3


def remind_due(*, today: dt.date | None = None) -> dict[str, int]:
    """Tell each grid's grid workers, once a day, how many of the grid's rental houses are due for
    inspection within REMIND_WITHIN_DAYS days and how many are overdue (the daily task; a second run on
    the same day tells no one again)."""
    today = today or timezone.localdate()
    rows = (
        RentalHouse.objects.filter(
            is_active=True, next_due_on__lte=today + dt.timedelta(days=REMIND_WITHIN_DAYS)
        )
        .values("house__building__grid_id")
        .annotate(
            due=Count("id", filter=Q(next_due_on__gte=today)),
            overdue=Count("id", filter=Q(next_due_on__lt=today)),
        )
        .order_by()
    )
    per_grid = {r["house__building__grid_id"]: (r["due"], r["overdue"]) for r in rows}
    if not per_grid:
        return {"grids": 0, "notified": 0}
    names = dict(Area.objects.filter(pk__in=per_grid).values_list("pk", "name"))
    told = set(
        Notification.objects.filter(kind=REMIND_KIND, facts__day=today.isoformat()).values_list(
            "recipient_id", "facts__grid"
        )
    )
    notices = []
    for area_id, user_id in Membership.objects.filter(
        role=Role.GRID_WORKER, area_id__in=per_grid
    ).values_list("area_id", "user_id"):
        if (user_id, names[area_id]) in told:
            continue
        due, overdue = per_grid[area_id]
        facts = {"day": today.isoformat(), "grid": names[area_id], "due": due, "overdue": overdue}
        notices.append(notifications.Notice(user_id, REMIND_KIND, facts, None))
    with transaction.atomic():
        notifications.notify_many(notices)
    return {"grids": len(per_grid), "notified": len(notices)}


# --- imports (the rental list and existing gradings; importer.py checks the rows) -------------------------
def _grids_of(house_ids) -> set[int]:
    return set(House.objects.filter(pk__in=set(house_ids)).values_list("building__grid_id", flat=True))


def register_imported_houses(records: list, *, job_id: int | None) -> set[int]:
    """Register the checked rows of a rental list (importer.HouseRecord) as rental houses with their
    rooms, in the caller's transaction (one batch). Returns the ids of the grids touched."""
    if not records:
        return set()
    houses = [
        RentalHouse(
            house_id=r.house_id, category_id=r.category_id, landlord_resident_id=r.landlord_resident_id,
            landlord_unit_id=r.landlord_unit_id, filing_number=r.filing_number,
            pledge_signed=r.pledge_date is not None, pledge_date=r.pledge_date, capacity_limit=r.capacity_limit,
            rooms_count=len(r.rooms), import_job_id=job_id,
        )
        for r in records
    ]  # fmt: skip
    RentalHouse.objects.bulk_create(houses, batch_size=2000)
    if any(h.pk is None for h in houses):  # a backend without RETURNING: look them up
        ids = dict(
            RentalHouse.objects.filter(house_id__in=[h.house_id for h in houses]).values_list(
                "house_id", "pk"
            )
        )
        for h in houses:
            h.pk = ids[h.house_id]
    RentalRoom.objects.bulk_create(
        [
            RentalRoom(rental_house_id=h.pk, number=n)
            for h, r in zip(houses, records, strict=True)
            for n in r.rooms
        ],
        batch_size=2000,
    )
    return _grids_of(r.house_id for r in records)


def take_back_imported_houses(job_id: int) -> set[int]:
    """Remove the rental houses an import registered (all-or-nothing after a late conflict)."""
    qs = RentalHouse.objects.filter(import_job_id=job_id)
    grids = _grids_of(qs.values_list("house_id", flat=True))
    RentalRoom.objects.filter(rental_house__import_job_id=job_id).delete()
    qs.delete()
    return grids


def record_imported_gradings(records: list, *, user_id: int | None, job_id: int | None) -> set[int]:
    """Record the checked rows of existing gradings (importer.GradingRecord), in the caller's transaction:
    each an imported inspection (no score, no item results) by the current rules, which sets the house's
    grade, last inspection day and next due day (`next_due`, the same cadence as an inspection) and its red
    streak; an imported grading opens no case. Returns the ids of the grids touched."""
    if not records:
        return set()
    if user_id is None:
        raise ValueError("an imported grading needs the importer")
    rules = selectors.current_rules()
    houses = (
        RentalHouse.objects.select_for_update(of=("self",))
        .select_related("category")
        .in_bulk({r.rental_house_id for r in records})
    )
    now = timezone.now()
    inspections = []
    for r in sorted(records, key=lambda r: (r.graded_on, r.row)):
        rental = houses[r.rental_house_id]
        due = next_due(r.graded_on, r.grade, rental.category, rules)
        inspections.append(
            Inspection(
                rental_house=rental, rules=rules, inspector_id=user_id, inspected_on=r.graded_on, flags=[],
                score=None, grade=r.grade, overrides_applied=[], next_due_on=due, note=r.note,
                source=InspectionSource.IMPORT, import_job_id=job_id,
            )
        )  # fmt: skip
        rental.red_streak = rental.red_streak + 1 if r.grade in rules.red_grades else 0
        rental.grade, rental.last_inspected_on, rental.next_due_on = r.grade, r.graded_on, due
    Inspection.objects.bulk_create(inspections, batch_size=2000)
    _save_derived(houses.values(), now)
    return _grids_of(h.house_id for h in houses.values())


def _save_derived(houses, now) -> None:
    """Write the houses' grade, days and red streak: one UPDATE per distinct combination (a batch has few),
    much faster than a CASE per row over thousands of houses."""
    groups: dict[tuple, list[int]] = {}
    for h in houses:
        groups.setdefault((h.grade, h.last_inspected_on, h.next_due_on, h.red_streak), []).append(h.pk)
    for (grade, last, due, streak), ids in groups.items():
        for start in range(0, len(ids), 2000):
            RentalHouse.objects.filter(pk__in=ids[start : start + 2000]).update(
                grade=grade, last_inspected_on=last, next_due_on=due, red_streak=streak, updated_at=now
            )


def take_back_imported_gradings(job_id: int) -> set[int]:
    """Remove the gradings an import recorded and derive each house's grade, days and red streak again
    from the inspections it keeps (all-or-nothing after a late conflict)."""
    ids = set(Inspection.objects.filter(import_job_id=job_id).values_list("rental_house_id", flat=True))
    Inspection.objects.filter(import_job_id=job_id).delete()
    houses = RentalHouse.objects.select_for_update(of=("self",)).in_bulk(ids)
    history: dict[int, list[Inspection]] = {pk: [] for pk in ids}
    for i in (
        Inspection.objects.filter(rental_house_id__in=ids)
        .select_related("rules")
        .order_by("-inspected_on", "-id")
    ):
        history[i.rental_house_id].append(i)
    for pk, rental in houses.items():
        done = history[pk]
        latest = done[0] if done else None
        rental.grade = latest.grade if latest else ""
        rental.last_inspected_on = latest.inspected_on if latest else None
        rental.next_due_on = latest.next_due_on if latest else None
        rental.red_streak = 0
        for i in done:
            if i.grade not in i.rules.red_grades:
                break
            rental.red_streak += 1
    _save_derived(houses.values(), timezone.now())
    return _grids_of(h.house_id for h in houses.values())


def _importer_area(actor) -> Area | None:
    from gridgov.core.principal import principal_for
    from gridgov.rental.permissions import IMPORTER_ROLES

    for m in principal_for(actor).memberships:
        if m.role in IMPORTER_ROLES and m.area_id:
            return Area.objects.get(pk=m.area_id)
    return None


def create_import_job(
    *, actor, stream, file_name: str, size: int, kind: str, mode: str = JobMode.VALID_ROWS, request=None,
    enqueue: bool = True,
) -> RentalImportJob:  # fmt: skip
    """Store the upload encrypted, create the job, queue it (the work runs in a Huey task)."""
    from django.conf import settings

    from gridgov.rental import jobs

    require(actor, "rental.import", request=request)
    if size > settings.GRIDGOV_REGISTRY_IMPORT_MAX_BYTES:
        raise TooLarge(
            _("The file is too large: at most %(mb)s MB.")
            % {"mb": settings.GRIDGOV_REGISTRY_IMPORT_MAX_BYTES // 2**20}
        )
    job = RentalImportJob.objects.create(
        kind=kind, mode=mode, file_name=(file_name or "upload")[-200:], file_format=jobs.format_of(file_name),
        file_size=size, created_by=actor, area=_importer_area(actor),
    )  # fmt: skip
    jobs.store_upload(job, stream)
    if enqueue:
        from gridgov.rental.tasks import run_import

        transaction.on_commit(lambda: run_import(job.pk))
    return job


def resume_stalled_imports() -> int:
    """Rental imports whose worker died (no heartbeat for STALE_SECONDS): queue them again."""
    from gridgov.core.tabular.jobs import STALE_SECONDS
    from gridgov.core.tabular.models import JobStatus
    from gridgov.rental.tasks import run_import

    stale = timezone.now() - dt.timedelta(seconds=STALE_SECONDS)
    ids = list(
        RentalImportJob.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=stale).values_list(
            "pk", flat=True
        )
    )
    for job_id in ids:
        run_import(job_id)
    return len(ids)


# --- star safe buildings and compounds (星级安全楼栋 / 星级安全小区) ---------------------------------------
# application → assessment (score → stars, or a refusal) → award with a validity → review (re-assessed,
# then kept / raised / lowered by the award, or withdrawn when refused) → withdrawal (摘牌) at any time.
# Every step locks the site row first, so two people acting on one site at once are served one after the
# other and the second finds the step already done (400).
STAR_RESULT_KIND = "rental.star_result"
STAR_REVIEW_KIND = "rental.star_reviews_due"
STAR_SITE_KINDS = tuple(SiteKind.values)
CRITERION_CODE = re.compile(r"^[0-9A-Za-z_-]{1,16}$")
CRITERION_NAME = re.compile(r"^(?=.*\S)[^\x00-\x1f\x7f]{1,100}$")


def star_score(criteria: list[dict[str, Any]], scores: dict[str, int]) -> tuple[Decimal, list[str]]:
    """Points over the criteria's weight, 0–100 with one decimal, and the codes of the required criteria
    (一票否决) not scored in full."""
    total = sum(int(c["weight"]) for c in criteria)
    got = sum(int(scores.get(c["code"], 0)) for c in criteria)
    unmet = [
        c["code"] for c in criteria if c.get("required") and int(scores.get(c["code"], 0)) < int(c["weight"])
    ]
    if not total:
        return Decimal("0.0"), unmet
    return (Decimal(100 * got) / Decimal(total)).quantize(Decimal("0.1"), ROUND_HALF_UP), unmet


def stars_for(thresholds: list[dict[str, Any]], score: Decimal, unmet: list[str]) -> int | None:
    """The stars of a score: the most stars whose minimum the score reaches; none (a refusal) below every
    threshold or when a required criterion is unmet."""
    if unmet:
        return None
    for t in sorted(thresholds, key=lambda t: -int(t["stars"])):
        if score >= Decimal(str(t["min_score"])):
            return int(t["stars"])
    return None


def criteria_for(rules: StarRules, kind: str) -> list[dict[str, Any]]:
    return [c for c in rules.criteria if c["applies"] in (kind, "both")]


def _check_star_rules(data: dict[str, Any], errors: FieldErrors) -> None:
    criteria = data.get("criteria") or []
    codes = [str(c.get("code") or "") for c in criteria if isinstance(c, dict)]
    if not criteria or len(codes) != len(criteria) or len(set(codes)) != len(codes):
        errors.add("criteria", _("Give at least one criterion, each with its own code."))
    for i, c in enumerate(criteria):
        if not (
            isinstance(c, dict)
            and CRITERION_CODE.match(str(c.get("code") or ""))
            and CRITERION_NAME.match(str(c.get("name") or ""))
            and CRITERION_NAME.match(str(c.get("name_en") or ""))
            and c.get("applies") in (*STAR_SITE_KINDS, "both")
            and isinstance(c.get("weight"), int)
            and 1 <= c["weight"] <= 100
            and isinstance(c.get("required", False), bool)
        ):
            errors.add(
                f"criteria.{i}",
                _(
                    "A criterion needs a code, a Chinese and an English name, where it applies and a weight of 1 to 100."
                ),
            )
    for kind in STAR_SITE_KINDS:
        if criteria and not any(isinstance(c, dict) and c.get("applies") in (kind, "both") for c in criteria):
            errors.add("criteria", _("Give buildings and compounds at least one criterion each."))
            break
    thresholds = data.get("thresholds") or []
    try:
        pairs = [(int(t["stars"]), float(t["min_score"])) for t in thresholds]
    except (KeyError, TypeError, ValueError):
        pairs = []
    stars = [p[0] for p in pairs]
    mins = [p[1] for p in sorted(pairs, reverse=True)]
    if (
        not pairs
        or len(pairs) != len(thresholds)
        or len(set(stars)) != len(stars)
        or not set(stars) <= {3, 4, 5}
        or any(not 0 < m <= 100 for m in mins)
        or mins != sorted(set(mins), reverse=True)
    ):
        errors.add(
            "thresholds", _("Give 3, 4 or 5 stars each a minimum score between 0 and 100, more stars higher.")
        )
    validity = data.get("validity_days")
    notice = data.get("review_notice_days")
    if not isinstance(validity, int) or not 30 <= validity <= 1095:
        errors.add("validity_days", _("Give a validity of 30 to 1095 days."))
    elif not isinstance(notice, int) or not 1 <= notice < validity:
        errors.add("review_notice_days", _("Give the review notice in days, shorter than the validity."))


@transaction.atomic
def publish_star_rules(*, actor, data: dict[str, Any], note: str = "") -> StarRules:
    """Publish a new version of the star criteria and thresholds; earlier assessments keep theirs."""
    require(actor, "rental.stars.rules")
    errors = FieldErrors()
    _check_star_rules(data, errors)
    errors.raise_if_any()
    last = StarRules.objects.select_for_update().order_by("-version").first()
    return StarRules.objects.create(
        version=(last.version + 1) if last else 1,
        criteria=[{**c, "required": bool(c.get("required", False))} for c in data["criteria"]],
        thresholds=sorted(data["thresholds"], key=lambda t: -int(t["stars"])),
        validity_days=data["validity_days"],
        review_notice_days=data["review_notice_days"],
        note=note,
        created_by=actor,
    )


@transaction.atomic
def create_compound(
    *, actor, name: str, type: str, community_code: str, building_codes: list[str]
) -> Compound:
    """Name a compound (小区 / 城中村) of a community in the user's area and the buildings it holds (each
    of that community, in no other compound)."""
    require(actor, "rental.stars.compound")
    community = (
        Area.objects.filter(code=community_code, level="community").first() if community_code else None
    )
    if community is None or not principal_for(actor).can_see_path(community.path):
        raise NotFound(_("Nothing here, or it is outside your area."))
    errors = FieldErrors()
    name = name.strip()
    if not name:
        errors.add("name", _("Give the compound a name."))
    elif Compound.objects.filter(community=community, name=name).exists():
        errors.add("name", _("The community already has a compound of this name."))
    codes = list(dict.fromkeys(building_codes))
    buildings = list(Building.objects.filter(code__in=codes, grid__path__startswith=community.path))
    if not codes or len(buildings) != len(codes):
        errors.add("building_codes", _("Choose one or more buildings of the community."))
    elif Compound.buildings.through.objects.filter(building__in=buildings).exists():
        errors.add("building_codes", _("A building chosen already belongs to another compound."))
    errors.raise_if_any()
    compound = Compound.objects.create(name=name, type=type, community=community, created_by=actor)
    compound.buildings.set(buildings)
    return compound


def _community_of(path: str) -> Area:
    return Area.objects.get(code=paths.codes(path)[paths.COMMUNITY_DEPTH - 1])


def _step(site: StarSite, application, action: str, actor, before, after, reason: str = "") -> None:
    StarStep.objects.create(
        site=site,
        application=application,
        action=action,
        actor=actor,
        stars_before=before,
        stars_after=after,
        reason=reason.strip(),
    )


def _star_site_of(actor, kind: str, building_code: str, compound_id: int | None) -> StarSite:
    """The star site of a building or compound in the user's area (made on its first application)."""
    if kind == SiteKind.BUILDING:
        q = registry_filter(actor, "grid__path")
        building = (
            Building.objects.filter(q, code=building_code).select_related("grid").first()
            if q is not None and building_code
            else None
        )
        if building is None:
            raise NotFound(_("Nothing here, or it is outside your area."))
        values = {"kind": kind, "community": _community_of(building.grid.path), "path": building.grid.path}
        lookup: dict[str, Any] = {"building": building}
    else:
        require(actor, "rental.stars.compound")  # a building head applies for their building only
        compound = (
            selectors.compounds_for(actor).filter(pk=compound_id).select_related("community").first()
            if compound_id
            else None
        )
        if compound is None:
            raise NotFound(_("Nothing here, or it is outside your area."))
        values = {"kind": kind, "community": compound.community, "path": compound.community.path}
        lookup = {"compound": compound}
    site = StarSite.objects.filter(**lookup).first()
    if site is None:
        try:
            with transaction.atomic():
                site = StarSite.objects.create(**lookup, **values)
        except IntegrityError:
            site = StarSite.objects.get(**lookup)
    return StarSite.objects.select_for_update(of=("self",)).get(pk=site.pk)


def _open_of(site: StarSite) -> StarApplication | None:
    return (
        StarApplication.objects.select_for_update(of=("self",))
        .filter(site=site, status__in=OPEN_APPLICATION)
        .first()
    )


def _holds_award(site: StarSite) -> bool:
    return site.status == SiteStatus.AWARDED and bool(
        site.valid_until and site.valid_until >= timezone.localdate()
    )


def _new_application(actor, site: StarSite, kind: str, note: str) -> StarApplication:
    if _open_of(site) is not None:
        raise BadRequest(_("This site already has an open application; finish it first."))
    try:
        with transaction.atomic():
            application = StarApplication.objects.create(
                site=site, kind=kind, applicant=actor, note=note.strip()
            )
    except IntegrityError as exc:  # another application was opened at the same moment
        raise BadRequest(_("This site already has an open application; finish it first.")) from exc
    action = StepAction.APPLY if kind == ApplicationKind.APPLICATION else StepAction.REVIEW
    _step(site, application, action, actor, site.stars, site.stars, note)
    return application


@transaction.atomic
def apply_for_stars(
    *, actor, kind: str, building_code: str = "", compound_id: int | None = None, note: str = ""
) -> StarApplication:
    """Apply for stars for a building or a compound of the user's area."""
    require(actor, "rental.stars.apply")
    if kind not in STAR_SITE_KINDS:
        raise field_error("kind", _("Choose one of the allowed values"))
    site = _star_site_of(actor, kind, building_code, compound_id)
    if _holds_award(site):
        raise BadRequest(
            _("This site holds %(stars)s stars until %(until)s; open a review instead of a new application.")
            % {"stars": site.stars, "until": site.valid_until}
        )
    return _new_application(actor, site, ApplicationKind.APPLICATION, note)


@transaction.atomic
def open_star_review(*, actor, site_id: int, note: str = "") -> StarApplication:
    """Open the review of an awarded site (due before its award ends): it is re-assessed, then the award
    keeps, raises or lowers its stars, or a failed assessment withdraws them."""
    site = selectors.star_site_detail(actor, site_id, lock=True)
    require(actor, "rental.stars.review", site)
    if site.status != SiteStatus.AWARDED:
        raise BadRequest(_("Only an awarded site is reviewed."))
    return _new_application(actor, site, ApplicationKind.REVIEW, note)


def _check_scores(criteria: list[dict[str, Any]], scores: dict[str, int]) -> None:
    errors = FieldErrors()
    weights = {c["code"]: int(c["weight"]) for c in criteria}
    for code, value in scores.items():
        if code not in weights:
            errors.add(f"scores.{code}", _("There is no such criterion for this site."))
        elif not 0 <= value <= weights[code]:
            errors.add(
                f"scores.{code}",
                _("Give %(code)s from 0 to %(max)s points.") % {"code": code, "max": weights[code]},
            )
    missing = [c for c in weights if c not in scores]
    if missing:
        errors.add("scores", _("Score every criterion: %(codes)s") % {"codes": ", ".join(missing)})
    errors.raise_if_any()


def _tell_applicant(
    application: StarApplication, site: StarSite, result: str, stars, reason: str = ""
) -> None:
    facts = {"site": site.name, "result": result, "stars": stars or 0, "reason": reason}
    notifications.notify([application.applicant_id], STAR_RESULT_KIND, facts, site)


@transaction.atomic
def assess_stars(*, actor, site_id: int, scores: dict[str, int], note: str = "") -> StarAssessment:
    """Score the open application of a site against the current criteria (copied into the assessment).
    Stars: the application waits for the award. A refusal closes it at once (a review's refusal withdraws
    the award) and tells the applicant."""
    site = selectors.star_site_detail(actor, site_id, lock=True)
    require(actor, "rental.stars.assess", site)
    application = _open_of(site)
    if application is None:
        raise BadRequest(_("This site has no open application to assess."))
    if application.status != ApplicationStatus.APPLIED:
        raise BadRequest(_("This application has already been assessed."))
    rules = selectors.star_rules_current()
    criteria = criteria_for(rules, site.kind)
    _check_scores(criteria, scores)
    score, unmet = star_score(criteria, scores)
    stars = stars_for(rules.thresholds, score, unmet)
    assessment = StarAssessment.objects.create(
        application=application,
        rules=rules,
        criteria=criteria,
        scores={c["code"]: scores[c["code"]] for c in criteria},
        score=score,
        stars=stars,
        unmet_required=unmet,
        assessor=actor,
        note=note.strip(),
    )
    now = timezone.now()
    if stars is not None:
        application.status = ApplicationStatus.ASSESSED
        application.save(update_fields=["status"])
        _step(site, application, StepAction.ASSESS, actor, site.stars, site.stars, note)
        return assessment
    application.status = ApplicationStatus.REFUSED
    application.decided_at = now
    application.save(update_fields=["status", "decided_at"])
    reason = (
        _("Required criteria not met: %(codes)s") % {"codes": ", ".join(unmet)}
        if unmet
        else _("Score %(score)s is below every star threshold.") % {"score": score}
    )
    _step(site, application, StepAction.ASSESS, actor, site.stars, site.stars, note)
    before = site.stars
    if application.kind == ApplicationKind.REVIEW and site.status == SiteStatus.AWARDED:
        _withdraw(site, reason)
        _step(site, application, StepAction.WITHDRAW, actor, before, None, reason)
    else:
        _step(site, application, StepAction.REFUSE, actor, before, before, reason)
    _tell_applicant(application, site, "refused", None, reason)
    return assessment


def _withdraw(site: StarSite, reason: str) -> None:
    site.status = SiteStatus.WITHDRAWN
    site.stars = None
    site.review_due_on = None
    site.withdrawn_on = timezone.localdate()
    site.withdrawn_reason = reason[:300]
    site.save(
        update_fields=["status", "stars", "review_due_on", "withdrawn_on", "withdrawn_reason", "updated_at"]
    )


@transaction.atomic
def award_stars(*, actor, site_id: int, note: str = "") -> StarSite:
    """Award the stars the assessment gave (a review keeps, raises or lowers them), valid for the rules'
    validity from today, the review due that many notice days before the end; the applicant is told."""
    site = selectors.star_site_detail(actor, site_id, lock=True)
    require(actor, "rental.stars.award", site)
    application = _open_of(site)
    if application is None:
        raise BadRequest(_("This site has no open application to award."))
    if application.status != ApplicationStatus.ASSESSED:
        raise BadRequest(_("The application has not been assessed yet."))
    assessment = application.assessment
    rules = assessment.rules
    today = timezone.localdate()
    before = site.stars
    site.status = SiteStatus.AWARDED
    site.stars = assessment.stars
    site.awarded_on = today
    site.valid_until = today + dt.timedelta(days=rules.validity_days)
    site.review_due_on = site.valid_until - dt.timedelta(days=rules.review_notice_days)
    site.withdrawn_on = None
    site.withdrawn_reason = ""
    site.save()
    application.status = ApplicationStatus.AWARDED
    application.decided_at = timezone.now()
    application.save(update_fields=["status", "decided_at"])
    _step(site, application, StepAction.AWARD, actor, before, site.stars, note)
    _tell_applicant(application, site, "awarded", site.stars)
    return site


@transaction.atomic
def withdraw_stars(*, actor, site_id: int, reason: str) -> StarSite:
    """Withdraw a site's stars (摘牌) with a reason; an open application or review is closed with it."""
    site = selectors.star_site_detail(actor, site_id, lock=True)
    require(actor, "rental.stars.withdraw", site)
    reason = (reason or "").strip()
    if not reason:
        raise field_error("reason", _("Give the reason."))
    if site.status != SiteStatus.AWARDED:
        raise BadRequest(_("This site holds no stars to withdraw."))
    open_application = _open_of(site)
    if open_application is not None:
        open_application.status = ApplicationStatus.CLOSED
        open_application.decided_at = timezone.now()
        open_application.save(update_fields=["status", "decided_at"])
    before = site.stars
    _withdraw(site, reason)
    _step(site, open_application, StepAction.WITHDRAW, actor, before, None, reason)
    last = site.applications.filter(status=ApplicationStatus.AWARDED).order_by("-id").first()
    if last is not None:
        _tell_applicant(last, site, "withdrawn", None, reason)
    return site


def remind_star_reviews(*, today: dt.date | None = None) -> dict[str, int]:
    """Tell each community's staff, once a day, how many of its awarded sites are due for review (the
    review day reached, no review open yet) and how many of those have run out (the daily task; a
    second run on the same day tells no one again)."""
    today = today or timezone.localdate()
    rows = (
        StarSite.objects.filter(status=SiteStatus.AWARDED, review_due_on__lte=today)
        .exclude(applications__status__in=OPEN_APPLICATION)
        .values("community_id")
        .annotate(
            due=Count("id", distinct=True),
            expired=Count("id", filter=Q(valid_until__lt=today), distinct=True),
        )
        .order_by()
    )
    per_community = {r["community_id"]: (r["due"], r["expired"]) for r in rows}
    if not per_community:
        return {"communities": 0, "notified": 0}
    names = dict(Area.objects.filter(pk__in=per_community).values_list("pk", "name"))
    told = set(
        Notification.objects.filter(kind=STAR_REVIEW_KIND, facts__day=today.isoformat()).values_list(
            "recipient_id", "facts__community"
        )
    )
    notices = []
    for area_id, user_id in Membership.objects.filter(
        role=Role.COMMUNITY_STAFF, area_id__in=per_community
    ).values_list("area_id", "user_id"):
        if (user_id, names[area_id]) in told:
            continue
        due, expired = per_community[area_id]
        facts = {"day": today.isoformat(), "community": names[area_id], "due": due, "expired": expired}
        notices.append(notifications.Notice(user_id, STAR_REVIEW_KIND, facts, None))
    with transaction.atomic():
        notifications.notify_many(notices)
    return {"communities": len(per_community), "notified": len(notices)}
