"""Reads of rental housing, already narrowed to what the user may see: the rental houses of buildings whose
grid lies in the user's area subtree (building heads: their grid), the registry's reader scope. The public
page of a house code is the only read without a login, and it carries nothing about a person."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.db.models import (
    Count,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    prefetch_related_objects,
)
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.cases.models import OPEN_STATUSES
from gridgov.cases.models import Status as CaseStatus
from gridgov.core.errors import BadRequest, FieldErrors, NotFound
from gridgov.core.principal import principal_for, require
from gridgov.registry.selectors import READER_ROLES, registry_filter
from gridgov.rental.models import (
    COLOUR,
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
    RentalCase,
    RentalCount,
    RentalHouse,
    RentalImportJob,
    SiteKind,
    SiteStatus,
    StarApplication,
    StarRules,
    StarSite,
    StarStep,
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


def categories() -> list[TenancyCategory]:
    """The active tenancy categories (the same for every user: configuration, not records)."""
    return list(TenancyCategory.objects.filter(is_active=True))


def checklist() -> list[ChecklistItem]:
    """The active items of the inspection checklist."""
    return list(ChecklistItem.objects.filter(is_active=True))


def current_rules() -> GradingRules:
    return GradingRules.objects.order_by("-version").first()  # type: ignore[return-value]


def open_cases(house: RentalHouse, kind: str | None = None) -> QuerySet[RentalCase]:
    """The links to the house's cases that are still open (of one kind, or all)."""
    qs = RentalCase.objects.filter(rental_house=house, case__status__in=OPEN_STATUSES)
    return qs.filter(kind=kind) if kind else qs


def figure_area(user, area_code: str = "") -> Area:
    """The area the figures are asked for: the given code (it must lie in the user's reader scope) or the
    user's first scope area."""
    principal = principal_for(user)
    roots = sorted(m.area_path for m in principal.memberships if m.role in READER_ROLES and m.area_id)
    if not roots:
        raise _nothing()
    area = (
        Area.objects.filter(code=area_code).first()
        if area_code
        else Area.objects.filter(path=roots[0]).first()
    )
    if area is None or not any(area.path.startswith(r) for r in roots):
        raise _nothing()
    return area


def _children(area: Area) -> list[Area]:
    return list(Area.objects.filter(parent=area, is_active=True).order_by("code"))


def figures(user, area_code: str = "") -> dict[str, Any]:
    """Rental houses and rooms per grade and per tenancy category in an area, one row per child area
    (drill down by asking for a child's code). The area must lie in the user's scope. Read from the counts
    kept per area (rental/counts.py): the rows of the area and of its children, whatever the number of
    houses below."""
    area = figure_area(user, area_code)
    children = _children(area)
    rows = RentalCount.objects.filter(area__in=[area, *children]).values_list(
        "area_id", "grade", "category__code", "houses", "rooms"
    )

    def blank() -> dict[str, Any]:
        return {
            "houses": 0,
            "rooms": 0,
            "grades": {g: {"houses": 0, "rooms": 0} for g in [*GRADE_ORDER, UNGRADED]},
            "categories": defaultdict(lambda: {"houses": 0, "rooms": 0}),
        }

    per_area = {a.pk: blank() for a in [area, *children]}
    for area_id, grade, category, houses, rooms in rows:
        if not houses and not rooms:
            continue
        t = per_area[area_id]
        t["houses"] += houses
        t["rooms"] += rooms
        g = t["grades"][grade or UNGRADED]
        g["houses"] += houses
        g["rooms"] += rooms
        c = t["categories"][category]
        c["houses"] += houses
        c["rooms"] += rooms

    def out(a: Area) -> dict[str, Any]:
        t = per_area[a.pk]
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
        "area": out(area),
        "children": [out(c) for c in children],
        "category_names": {c.code: c.local_name for c in TenancyCategory.objects.all()},
    }


PERIOD_DAYS = 30
# The counts of a period's figures (`activity`), per area.
ACTIVITY_FIELDS = (
    "inspections",
    "inspections_due",
    "on_time",
    "hazards_opened",
    "hazards_closed",
    "rectification_open",
)
MAX_PERIOD_DAYS = 366


def period_of(start: dt.date | None, end: dt.date | None) -> tuple[dt.date, dt.date]:
    """The period of the figures: `start`–`end` inclusive; by default the last PERIOD_DAYS days up to
    today. A start after the end, or more than MAX_PERIOD_DAYS days, is refused (400)."""
    end = end or (timezone.localdate() if start is None else start + dt.timedelta(days=PERIOD_DAYS - 1))
    start = start or end - dt.timedelta(days=PERIOD_DAYS - 1)
    errors = FieldErrors()
    if start > end:
        errors.add("date_from", _("The start of the period lies after its end."))
    elif (end - start).days + 1 > MAX_PERIOD_DAYS:
        errors.add("date_to", _("The period is longer than %(n)d days.") % {"n": MAX_PERIOD_DAYS})
    if errors.items:
        raise BadRequest(str(errors.items[0]["message"]), errors=errors.items)
    return start, end


def _due_day() -> Subquery:
    """The due day of an inspection: the next due day its house had after the inspection before it."""
    earlier = Inspection.objects.filter(rental_house=OuterRef("rental_house")).filter(
        Q(inspected_on__lt=OuterRef("inspected_on"))
        | Q(inspected_on=OuterRef("inspected_on"), id__lt=OuterRef("id"))
    )
    return Subquery(earlier.order_by("-inspected_on", "-id").values("next_due_on")[:1])


def activity(
    user, area_code: str = "", start: dt.date | None = None, end: dt.date | None = None
) -> dict[str, Any]:
    """The work of a period in an area, one row per child area: inspections done (those with a due day,
    i.e. not a house's first, and how many of them on or before it), hazard cases opened and closed in
    the period (a hazard case is closed when its case's status is closed), and the rectification cases
    open today."""
    area = figure_area(user, area_code)
    start, end = period_of(start, end)
    children = _children(area)
    houses = RentalHouse.objects.filter(**{"house__building__grid__path__startswith": area.path})
    grid_path = "rental_house__house__building__grid__path"
    inspections = (
        Inspection.objects.filter(rental_house__in=houses, inspected_on__range=(start, end))
        .annotate(due_on=_due_day())
        .values(grid_path)
        .annotate(
            done=Count("id"),
            with_due=Count("id", filter=Q(due_on__isnull=False)),
            on_time=Count("id", filter=Q(inspected_on__lte=F("due_on"))),
        )
        .order_by()
    )
    links = RentalCase.objects.filter(rental_house__in=houses)
    opened = (
        links.filter(kind=CaseKind.HAZARD, case__created_at__date__range=(start, end))
        .values(grid_path)
        .annotate(n=Count("id"))
        .order_by()
    )
    closed = (
        links.filter(
            kind=CaseKind.HAZARD, case__status=CaseStatus.CLOSED, case__closed_at__date__range=(start, end)
        )
        .values(grid_path)
        .annotate(n=Count("id"))
        .order_by()
    )
    rectification = (
        links.filter(kind=CaseKind.RECTIFICATION, case__status__in=OPEN_STATUSES)
        .values(grid_path)
        .annotate(n=Count("id"))
        .order_by()
    )
    total = dict.fromkeys(ACTIVITY_FIELDS, 0)
    per_child = {c.path: dict.fromkeys(ACTIVITY_FIELDS, 0) for c in children}

    def add(path: str, name: str, n: int) -> None:
        total[name] += n
        for c in children:
            if path.startswith(c.path):
                per_child[c.path][name] += n
                break

    for r in inspections:
        add(r[grid_path], "inspections", r["done"])
        add(r[grid_path], "inspections_due", r["with_due"])
        add(r[grid_path], "on_time", r["on_time"])
    for qs, name in (
        (opened, "hazards_opened"),
        (closed, "hazards_closed"),
        (rectification, "rectification_open"),
    ):
        for r in qs:
            add(r[grid_path], name, r["n"])

    def out(a: Area, t: dict[str, int]) -> dict[str, Any]:
        share = round(t["on_time"] / t["inspections_due"], 4) if t["inspections_due"] else None
        return {"code": a.code, "name": a.name, "level": a.level, **t, "on_time_share": share}

    return {
        "area": out(area, total),
        "children": [out(c, per_child[c.path]) for c in children],
        "date_from": start,
        "date_to": end,
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


# --- imports ---------------------------------------------------------------------------------------------
def import_jobs_for(user) -> QuerySet[RentalImportJob]:
    """The user's own rental imports."""
    if not getattr(user, "is_authenticated", False):
        return RentalImportJob.objects.none()
    return RentalImportJob.objects.filter(created_by_id=user.pk).order_by("-created_at", "-id")


def import_job_detail(user, job_id: int) -> RentalImportJob:
    found = import_jobs_for(user).filter(pk=job_id).first()
    if found is None:
        raise _nothing()
    return found


def error_workbook_job(user, job_id: int, *, request: HttpRequest | None = None) -> RentalImportJob:
    """The job whose error workbook the user downloads: their own import, while they hold the import right
    (the workbook holds their rows as uploaded, landlords' ID numbers unmasked); the download is logged."""
    from gridgov.registry.models import PiiAction, PiiField
    from gridgov.registry.pii import log_access

    job = import_job_detail(user, job_id)
    require(user, "rental.import", request=request)
    if not job.error_file_path:
        raise _nothing()
    log_access(user, PiiAction.ERROR_FILE, object_type="rental_import", ids=[job.pk], count=job.error_rows,
               fields=[PiiField.ID_NUMBER], request=request)  # fmt: skip
    return job


def export_houses(user, *, area_code: str = "", grade: str = "", category: str = "", due: str = "",
                  request: HttpRequest | None = None) -> QuerySet[RentalHouse]:  # fmt: skip
    """The rental houses of an export: the list's filters in the user's scope, for whoever may export."""
    require(user, "rental.export", ("export", ""), request=request)
    return house_list(user, area_code=area_code, grade=grade, category=category, due=due)


# --- star safe buildings and compounds (星级安全楼栋 / 星级安全小区) ---------------------------------------
# A star site is read by its `path` (a building's grid, a compound's community) with the registry's reader
# scope: building heads see the sites of their grid, everyone else the sites below their areas.
STAR_FILTERS = ("applied", "assessed", "awarded", "refused", "withdrawn", "expired", "unrated", "review_due")


def star_rules_current() -> StarRules:
    return StarRules.objects.order_by("-version").first()  # type: ignore[return-value]


def star_sites_for(user) -> QuerySet[StarSite]:
    q = registry_filter(user, "path")
    if q is None:
        return StarSite.objects.none()
    return StarSite.objects.filter(q)


def compounds_for(user) -> QuerySet[Compound]:
    q = registry_filter(user, "community__path")
    if q is None:
        return Compound.objects.none()
    return Compound.objects.filter(q)


def _open_application() -> Prefetch:
    return Prefetch(
        "applications",
        queryset=StarApplication.objects.filter(status__in=OPEN_APPLICATION).select_related("assessment"),
        to_attr="open_applications",
    )


def star_site_list(
    user, *, area_code: str = "", stars: int | None = None, status: str = "", kind: str = ""
) -> QuerySet[StarSite]:
    """The user's star sites, narrowed by area (its subtree), stars, kind and status: the site's own status
    (unrated / awarded / withdrawn), `expired` (an award past its end), `review_due` (an award whose review
    is due), or the status of its open application (applied / assessed) or latest one (refused)."""
    qs = (
        star_sites_for(user)
        .select_related("building", "compound", "community")
        .prefetch_related(_open_application())
    )
    if area_code:
        area = Area.objects.filter(code=area_code).first()
        qs = qs.filter(path__startswith=area.path) if area else qs.none()
    if stars:
        qs = qs.filter(stars=stars)
    if kind:
        qs = qs.filter(kind=kind)
    today = timezone.localdate()
    if status == "awarded":
        qs = qs.filter(status=SiteStatus.AWARDED, valid_until__gte=today)
    elif status == "expired":
        qs = qs.filter(status=SiteStatus.AWARDED, valid_until__lt=today)
    elif status == "review_due":
        qs = qs.filter(status=SiteStatus.AWARDED, review_due_on__lte=today)
    elif status in (SiteStatus.WITHDRAWN, SiteStatus.UNRATED):
        qs = qs.filter(status=status)
    elif status in (ApplicationStatus.APPLIED, ApplicationStatus.ASSESSED):
        qs = qs.filter(applications__status=status)
    elif status == ApplicationStatus.REFUSED:
        latest = StarApplication.objects.filter(site=OuterRef("pk")).order_by("-id").values("status")[:1]
        qs = qs.annotate(latest_status=Subquery(latest)).filter(latest_status=ApplicationStatus.REFUSED)
    return qs.order_by("id")


def star_site_detail(user, site_id: int, *, lock: bool = False) -> StarSite:
    qs = star_sites_for(user).filter(pk=site_id)
    if lock:
        qs = qs.select_for_update(of=("self",))
    site = qs.select_related("building", "compound", "community").first()
    if site is None:
        raise _nothing()
    return site


def star_site_page(user, site_id: int) -> StarSite:
    """One star site with its applications (assessment, applicant), its history and the compound's
    buildings, in a fixed number of queries."""
    site = star_site_detail(user, site_id)
    prefetch_related_objects(
        [site],
        _open_application(),
        Prefetch(
            "applications",
            queryset=StarApplication.objects.select_related(
                "applicant", "assessment__rules", "assessment__assessor"
            ).order_by("-id"),
            to_attr="all_applications",
        ),
        Prefetch(
            "steps",
            queryset=StarStep.objects.select_related("actor").order_by("-at", "-id"),
            to_attr="history",
        ),
    )
    if site.compound is not None:
        prefetch_related_objects([site.compound], "buildings")
    return site


STAR_LEVELS = (3, 4, 5)


def star_counts(user, area_code: str = "") -> dict[str, Any]:
    """Buildings and compounds per star (current awards, still valid), the sites that ever applied, the
    open applications and the reviews due, for an area and each child area (drill down by asking for a
    child's code). Compounds sit at their community, so below a community they count in no child."""
    area = figure_area(user, area_code)
    today = timezone.localdate()
    children = _children(area)
    rows = (
        star_sites_for(user)
        .filter(path__startswith=area.path)
        .values("path", "kind")
        .annotate(
            applied=Count("id", filter=Q(applications__kind=ApplicationKind.APPLICATION), distinct=True),
            open=Count("id", filter=Q(applications__status__in=OPEN_APPLICATION), distinct=True),
        )
        .order_by()
    )
    awarded = (
        star_sites_for(user)
        .filter(path__startswith=area.path, status=SiteStatus.AWARDED, valid_until__gte=today)
        .values("path", "kind", "stars")
        .annotate(n=Count("id"), due=Count("id", filter=Q(review_due_on__lte=today)))
        .order_by()
    )

    def blank() -> dict[str, Any]:
        return {
            k: {
                "stars": {str(s): 0 for s in STAR_LEVELS},
                "awarded": 0,
                "applied": 0,
                "open": 0,
                "review_due": 0,
            }
            for k in SiteKind.values
        }

    total = blank()
    per_child = {c.path: blank() for c in children}

    def targets(path: str) -> list[dict[str, Any]]:
        return [total] + [per_child[c.path] for c in children if path.startswith(c.path)]

    for row in rows:
        for t in targets(row["path"]):
            t[row["kind"]]["applied"] += row["applied"]
            t[row["kind"]]["open"] += row["open"]
    for award in awarded:
        for t in targets(award["path"]):
            k = t[award["kind"]]
            k["stars"][str(award["stars"])] += award["n"]
            k["awarded"] += award["n"]
            k["review_due"] += award["due"]

    def out(a: Area, t: dict[str, Any]) -> dict[str, Any]:
        return {"code": a.code, "name": a.name, "level": a.level, **t}

    return {"area": out(area, total), "children": [out(c, per_child[c.path]) for c in children]}


def star_public_list(*, community: str = "", stars: int | None = None) -> QuerySet[StarSite]:
    """The currently awarded buildings and compounds (valid today), for anyone: name, stars, community,
    valid until. Nothing about a person."""
    qs = StarSite.objects.filter(status=SiteStatus.AWARDED, valid_until__gte=timezone.localdate())
    if community:
        qs = qs.filter(community__code=community)
    if stars:
        qs = qs.filter(stars=stars)
    return qs.select_related("building", "compound", "community").order_by("-stars", "community__code", "id")


def star_actions(user, site: StarSite) -> list[str]:
    """What the user may do next on a site (the screen offers only these): apply, assess, award, review,
    withdraw. The services check again."""
    from gridgov.core.principal import allows

    opened = getattr(site, "open_applications", None)
    open_app = opened[0] if opened else None
    holds = (
        site.status == SiteStatus.AWARDED
        and site.valid_until is not None
        and site.valid_until >= timezone.localdate()
    )
    out = []
    can_apply = allows(user, "rental.stars.apply") and (
        site.kind == SiteKind.BUILDING or allows(user, "rental.stars.compound")
    )
    if open_app is None and not holds and can_apply:
        out.append("apply")
    if (
        open_app is not None
        and open_app.status == ApplicationStatus.APPLIED
        and allows(user, "rental.stars.assess")
    ):
        out.append("assess")
    if (
        open_app is not None
        and open_app.status == ApplicationStatus.ASSESSED
        and allows(user, "rental.stars.award")
    ):
        out.append("award")
    if open_app is None and site.status == SiteStatus.AWARDED and allows(user, "rental.stars.review"):
        out.append("review")
    if site.status == SiteStatus.AWARDED and allows(user, "rental.stars.withdraw"):
        out.append("withdraw")
    return out
