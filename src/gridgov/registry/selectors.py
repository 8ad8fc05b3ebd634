"""Reads of the registry, already narrowed to what the user may see, and their presentation with
personal information masked or (when asked for and allowed) unmasked and logged.

Scope: records of buildings whose grid lies in the user's area subtree (building heads: their grid).
Only the roles in READER_ROLES read registry records at all; residents see nothing but their own
submissions; the three administrators see no records (their work is the system, not the people).
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.accounts.roles import Role
from gridgov.accounts.scope import scope_for
from gridgov.core.errors import NotFound
from gridgov.core.principal import principal_for, require
from gridgov.core.tabular.validators import normalise_id, normalise_phone
from gridgov.registry import vault
from gridgov.registry.models import (
    CareMembership,
    Household,
    ImportJob,
    PiiAccessLog,
    PiiAction,
    PiiField,
    PiiGrant,
    RecordHistory,
    Resident,
    Submission,
    Unit,
)
from gridgov.registry.pii import PiiPolicy, log_access, mask_id, mask_phone, policy_for
from gridgov.territory.models import Area

READER_ROLES = (
    Role.GRID_WORKER,
    Role.BUILDING_HEAD,
    Role.BLOCK_CHIEF,
    Role.COMMUNITY_STAFF,
    Role.SUBDISTRICT_STAFF,
    Role.LEADER,
)
REVIEW_ROLES = (Role.COMMUNITY_STAFF, Role.GRID_WORKER, Role.BLOCK_CHIEF, Role.SUBDISTRICT_STAFF)
PATH = "building__grid__path"


def _nothing() -> NotFound:
    return NotFound(_("Nothing here, or it is outside your area."))


def registry_filter(user, path_field: str = PATH) -> Q | None:
    """The scope filter of registry records for a reader; None when the user reads no records (a view
    of the principal's memberships: no query of its own)."""
    principal = principal_for(user)
    if principal.user_id is None or not principal.has_role(*READER_ROLES):
        return None
    # Only the reader roles' own areas count (a volunteer's or a party member's area does not).
    q = Q(pk__in=[])
    for m in principal.memberships:
        if m.role not in READER_ROLES or not m.area_id:
            continue
        if m.role == Role.BUILDING_HEAD:
            q |= Q(**{path_field: m.area_path})
        else:
            q |= Q(**{f"{path_field}__startswith": m.area_path})
    return q


def residents_visible(user) -> QuerySet[Resident]:
    q = registry_filter(user)
    return Resident.objects.filter(q) if q is not None else Resident.objects.none()


def units_visible(user) -> QuerySet[Unit]:
    q = registry_filter(user)
    return Unit.objects.filter(q) if q is not None else Unit.objects.none()


def households_visible(user) -> QuerySet[Household]:
    q = registry_filter(user, "house__building__grid__path")
    return Household.objects.filter(q) if q is not None else Household.objects.none()


def _area_path(code: str | None) -> str | None:
    if not code:
        return None
    # An unknown code matches nothing: no materialised path starts with "#" (paths are digits and "/").
    return Area.objects.filter(code=code).values_list("path", flat=True).first() or "#"


def exact_search_policies(
    user, object_type: str, *, id_number: str | None = None, phone: str | None = None,
    request: HttpRequest | None = None,
) -> dict[str, PiiPolicy]:  # fmt: skip
    """The PII policy of each personal field an exact search names (ID number, phone), checked: a search
    for a field the user may not reveal is refused (403, audited) whatever the value."""
    policies: dict[str, PiiPolicy] = {}
    for field, value in ((PiiField.ID_NUMBER, id_number), (PiiField.PHONE, phone)):
        if value:
            policies[field] = require(
                user, f"registry.search.{field}", (object_type, ""), request=request
            ).pii
    return policies


def exact_search(
    user, qs: QuerySet, object_type: str, *, id_number: str | None = None, phone: str | None = None,
    request: HttpRequest | None = None,
) -> QuerySet:  # fmt: skip
    """Residents or units (`qs`, already scoped) with exactly this ID number and/or phone: the one place an
    exact personal value is looked up (the API limits it per user first: GRIDGOV_RATELIMITS
    ["registry-exact-search"], 429).

    A match confirms the whole value, so the search is a reveal: it needs the PII policy for the field
    (ID numbers: a `PiiGrant`; phones: community staff and grid workers of the area, or a grant), it looks
    only under the paths the policy covers (a grant for one grid confirms nothing in the others), it is
    refused (403, audited) for everybody else whatever the value, and every search, found or not, is
    written to the access log as an unmasked view."""
    policies = exact_search_policies(user, object_type, id_number=id_number, phone=phone, request=request)
    for field, policy in policies.items():
        qs = qs.filter(policy.path_filter(field, PATH))
        if field == PiiField.ID_NUMBER:
            qs = qs.filter(id_hash=vault.blind_index(normalise_id(id_number or "")))
        else:
            qs = qs.filter(phone_hash=vault.blind_index(normalise_phone(phone or "")))
    fields = list(policies)
    found = list(qs.values_list("pk", flat=True)[:1000])
    log_access(
        user, PiiAction.VIEW, object_type=object_type, ids=found, count=len(found), fields=fields,
        request=request, detail={"search": fields},
    )  # fmt: skip
    return qs


def residents_for(
    user,
    *,
    q: str = "",
    area: str | None = None,
    building: str | None = None,
    residence_type: str | None = None,
    id_number: str | None = None,
    phone: str | None = None,
    care_group: str | None = None,
    household: int | None = None,
    current: bool | None = None,
    request: HttpRequest | None = None,
) -> QuerySet[Resident]:
    qs = residents_visible(user)
    if q:
        qs = qs.filter(name__icontains=q.strip())
    path = _area_path(area)
    if path:
        qs = qs.filter(building__grid__path__startswith=path)
    if building:
        qs = qs.filter(building__code=building)
    if residence_type:
        qs = qs.filter(residence_type=residence_type)
    if household:
        qs = qs.filter(household_id=household)
    if current is not None:
        qs = qs.filter(moved_out__isnull=current)
    if care_group:
        policy = require(user, "registry.care.filter", ("care", ""), request=request).pii
        qs = qs.filter(
            pk__in=CareMembership.objects.filter(group=care_group)
            .filter(policy.care_filter("resident__building__grid__path"))
            .values("resident_id")
        )
    if id_number or phone:
        qs = exact_search(user, qs, "resident", id_number=id_number, phone=phone, request=request)
    return qs.select_related("building__grid", "house").order_by("id")


def resident_detail(user, resident_id: int) -> Resident:
    found = (
        residents_visible(user)
        .select_related("building__grid", "house", "household")
        .filter(pk=resident_id)
        .first()
    )
    if found is None:
        raise _nothing()
    return found


def units_for(
    user, *, q: str = "", area: str | None = None, building: str | None = None, kind: str | None = None,
    credit_code: str | None = None, phone: str | None = None, request: HttpRequest | None = None,
) -> QuerySet[Unit]:  # fmt: skip
    qs = units_visible(user)
    if q:
        qs = qs.filter(name__icontains=q.strip())
    path = _area_path(area)
    if path:
        qs = qs.filter(building__grid__path__startswith=path)
    if building:
        qs = qs.filter(building__code=building)
    if kind:
        qs = qs.filter(kind=kind)
    if credit_code:
        qs = qs.filter(credit_code=credit_code.strip().upper())
    if phone:
        qs = exact_search(user, qs, "unit", phone=phone, request=request)
    return qs.select_related("building__grid", "house").order_by("id")


def unit_detail(user, unit_id: int) -> Unit:
    found = units_visible(user).select_related("building__grid", "house").filter(pk=unit_id).first()
    if found is None:
        raise _nothing()
    return found


def households_for(user, *, area: str | None = None, building: str | None = None) -> QuerySet[Household]:
    qs = households_visible(user).annotate(member_count=Count("members"))
    path = _area_path(area)
    if path:
        qs = qs.filter(house__building__grid__path__startswith=path)
    if building:
        qs = qs.filter(house__building__code=building)
    return qs.select_related("house__building__grid", "head").order_by("id")


def household_detail(user, household_id: int) -> Household:
    found = (
        households_visible(user)
        .annotate(member_count=Count("members"))
        .select_related("house__building__grid", "head")
        .filter(pk=household_id)
        .first()
    )
    if found is None:
        raise _nothing()
    return found


def care_members_visible(user) -> QuerySet[CareMembership]:
    policy = policy_for(user)
    q = registry_filter(user, "resident__building__grid__path")
    if q is None or not policy.any_care:
        return CareMembership.objects.none()
    return CareMembership.objects.filter(q).filter(policy.care_filter("resident__building__grid__path"))


def care_members_for(
    user, *, group: str | None = None, area: str | None = None, request: HttpRequest | None = None
) -> QuerySet[CareMembership]:
    require(user, "registry.care.read", ("care", ""), request=request)
    qs = care_members_visible(user)
    if group:
        qs = qs.filter(group=group)
    path = _area_path(area)
    if path:
        qs = qs.filter(resident__building__grid__path__startswith=path)
    return qs.select_related("resident__building__grid", "resident__house").order_by("id")


def care_summary(user, *, request: HttpRequest | None = None) -> list[dict]:
    qs = care_members_for(user, request=request)
    counts = dict(qs.values_list("group").annotate(n=Count("id")).order_by())
    from gridgov.registry.models import CareGroup

    return [{"group": g.value, "label": str(g.label), "count": counts.get(g.value, 0)} for g in CareGroup]


def submissions_visible(user) -> QuerySet[Submission]:
    scope = scope_for(user)
    if scope.user_id is None:
        return Submission.objects.none()
    q = Q(submitted_by_id=scope.user_id)
    if scope.has_role(*REVIEW_ROLES):
        reviewers = registry_filter(user)
        if reviewers is not None:
            q |= reviewers
    return Submission.objects.filter(q)


def submissions_for(user, *, status: str | None = None, kind: str | None = None) -> QuerySet[Submission]:
    qs = submissions_visible(user)
    if status:
        qs = qs.filter(status=status)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.select_related("building", "submitted_by", "reviewed_by").order_by("-submitted_at", "-id")


def submission_detail(user, submission_id: int) -> Submission:
    found = (
        submissions_visible(user)
        .select_related("building__grid", "submitted_by", "reviewed_by")
        .filter(pk=submission_id)
        .first()
    )
    if found is None:
        raise _nothing()
    return found


def history_for(user, object_type: str, object_id: int) -> QuerySet[RecordHistory]:
    visible = residents_visible(user) if object_type == "resident" else units_visible(user)
    if not visible.filter(pk=object_id).exists():
        raise _nothing()
    return (
        RecordHistory.objects.filter(object_type=object_type, object_id=object_id)
        .select_related("actor")
        .order_by("version", "id")
    )


def import_jobs_for(user) -> QuerySet[ImportJob]:
    if not getattr(user, "is_authenticated", False):
        return ImportJob.objects.none()
    return ImportJob.objects.filter(created_by_id=user.pk).order_by("-created_at", "-id")


def import_job_detail(user, job_id: int) -> ImportJob:
    found = import_jobs_for(user).filter(pk=job_id).first()
    if found is None:
        raise _nothing()
    return found


def error_workbook_job(user, job_id: int, *, request: HttpRequest | None = None) -> ImportJob:
    """The job whose error workbook the user downloads: their own import, while they hold the import right
    (the workbook holds their rows as uploaded, ID numbers and phones unmasked); the download is logged."""
    job = import_job_detail(user, job_id)
    require(user, "registry.import", request=request)
    if not job.error_file_path:
        raise _nothing()
    log_access(user, PiiAction.ERROR_FILE, object_type="import", ids=[job.pk], count=job.error_rows,
               fields=[PiiField.ID_NUMBER, PiiField.PHONE], request=request)  # fmt: skip
    return job


def grants_for(user) -> QuerySet[PiiGrant]:
    scope = scope_for(user)
    if scope.user_id is None:
        return PiiGrant.objects.none()
    qs = (
        PiiGrant.objects.all()
        if scope.has_role(Role.SECURITY_ADMIN)
        else PiiGrant.objects.filter(user_id=user.pk)
    )
    return qs.select_related("user", "area", "granted_by", "revoked_by").order_by("-created_at", "-id")


def access_log(
    actor, *, request: HttpRequest | None = None, username: str | None = None, action: str | None = None,
    object_type: str | None = None, object_id: int | None = None, date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> QuerySet[PiiAccessLog]:  # fmt: skip
    """The personal-information access log, for the audit administrator only (三权分立)."""
    require(actor, "registry.access_log.read", ("pii_access_log", ""), request=request)
    qs = PiiAccessLog.objects.all()
    if username:
        qs = qs.filter(username=username.strip())
    if action:
        qs = qs.filter(action=action)
    if object_type:
        qs = qs.filter(object_type=object_type)
    if object_id:
        qs = qs.filter(object_refs__contains=f",{object_id},")
    tz = timezone.get_current_timezone()
    if date_from:
        qs = qs.filter(at__gte=dt.datetime.combine(date_from, dt.time.min, tzinfo=tz))
    if date_to:
        qs = qs.filter(at__lt=dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time.min, tzinfo=tz))
    return qs.order_by("-at", "-id")


# --- presentation: masking, revealing, logging -------------------------------------------------------
def _care_groups_of(resident_ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for rid, group in CareMembership.objects.filter(resident_id__in=resident_ids).values_list(
        "resident_id", "group"
    ):
        out.setdefault(rid, []).append(group)
    return out


def present_residents(
    user, residents: list[Resident], *, reveal: bool = False, purpose: str = "",
    request: HttpRequest | None = None, log_action: str = PiiAction.VIEW,
) -> list[dict]:  # fmt: skip
    """Residents as dicts for the API: ID numbers and phones masked, unless `reveal` is asked for and the
    policy allows it for the record; the birth date (part of the ID number) only beside an unmasked ID
    number; care groups only for care readers. Logs what was unmasked."""
    policy = policy_for(user)
    ids = [r.pk for r in residents]
    care = _care_groups_of(ids) if ids else {}
    out: list[dict] = []
    shown_ids: list[int] = []
    shown_fields: set[str] = set()
    care_seen: list[int] = []
    for r in residents:
        path = r.building.grid.path
        groups = care.get(r.pk, [])
        may_care = policy.may(PiiField.CARE, path)
        id_number = vault.decrypt(r.id_enc, r.pii_key, "id_number")
        phone = vault.decrypt(r.phone_enc, r.pii_key, "phone") if r.phone_enc else ""
        may_id = policy.may(PiiField.ID_NUMBER, path)
        # Nothing a reader without the care permission gets differs by care-group membership: the phone
        # rule is the same for every resident of the area (a care-dependent rule showed who is in one).
        may_phone = bool(phone) and policy.may(PiiField.PHONE, path)
        show_id, show_phone = reveal and may_id, reveal and may_phone
        masked = []
        if not show_id:
            masked.append("id_number")
        if phone and not show_phone:
            masked.append("phone")
        revealable = [f for f, may, shown in (("id_number", may_id, show_id), ("phone", may_phone, show_phone))
                      if may and not shown]  # fmt: skip
        if show_id or (show_phone and phone):
            shown_ids.append(r.pk)
            shown_fields.update(
                f for f, on in (("id_number", show_id), ("phone", show_phone and phone)) if on
            )
        if may_care and groups:
            care_seen.append(r.pk)
        out.append(
            {
                "id": r.pk,
                "name": r.name,
                "gender": r.gender,
                # The birth date is eight digits of the ID number: shown only with the number itself.
                "birth_date": r.birth_date if show_id else None,
                "id_number": id_number if show_id else mask_id(id_number),
                "phone": phone if show_phone else mask_phone(phone),
                "residence_type": r.residence_type,
                "moved_in": r.moved_in,
                "moved_out": r.moved_out,
                "relation": r.relation,
                "building_code": r.building.code,
                "grid_name": r.building.grid.name,
                "address": r.building.address,
                "unit": r.house.unit if r.house_id else "",
                "room": r.house.room if r.house_id else "",
                "household_id": r.household_id,
                "care_groups": groups if may_care else None,
                "source": r.source,
                "version": r.version,
                "created_at": r.created_at,
                "updated_at": r.updated_at,
                "masked": masked,
                "revealable": revealable,
            }
        )
    if shown_ids:
        log_access(user, log_action, object_type="resident", ids=shown_ids, fields=sorted(shown_fields),
                   purpose=purpose, request=request)  # fmt: skip
    if care_seen:
        log_access(user, PiiAction.CARE_VIEW, object_type="resident", ids=care_seen, fields=[PiiField.CARE],
                   purpose=purpose, request=request)  # fmt: skip
    return out


def present_units(
    user, units: list[Unit], *, reveal: bool = False, purpose: str = "", request: HttpRequest | None = None
) -> list[dict]:
    policy = policy_for(user)
    out: list[dict] = []
    shown: list[int] = []
    for u in units:
        phone = vault.decrypt(u.phone_enc, u.pii_key, "phone") if u.phone_enc else ""
        may = bool(phone) and policy.may(PiiField.PHONE, u.building.grid.path)
        show = reveal and may
        if show:
            shown.append(u.pk)
        out.append(
            {
                "id": u.pk, "name": u.name, "credit_code": u.credit_code, "kind": u.kind, "address": u.address,
                "building_code": u.building.code, "grid_name": u.building.grid.name, "room": u.house.room if u.house_id else "",
                "contact_name": u.contact_name, "phone": phone if show else mask_phone(phone),
                "employees": u.employees, "source": u.source, "version": u.version, "created_at": u.created_at,
                "updated_at": u.updated_at, "masked": ["phone"] if phone and not show else [],
                "revealable": ["phone"] if may and not show else [],
            }
        )  # fmt: skip
    if shown:
        log_access(user, PiiAction.VIEW, object_type="unit", ids=shown, fields=[PiiField.PHONE], purpose=purpose,
                   request=request)  # fmt: skip
    return out


def _person(user) -> str:
    """A person as people know them: the display name, the username only when there is none."""
    return (user.display_name or user.username) if user is not None else ""


def present_submission(
    user, submission: Submission, *, reveal: bool = False, request: HttpRequest | None = None
) -> dict:
    """A submission with its proposed values, by the one masking rule: ID numbers and phones masked for
    everybody (the collector too), shown only when `reveal` is asked for and the reader's policy allows
    the field for the building's area; a reveal writes one access-log row (a masked read writes none)."""
    from gridgov.registry.services import submission_payload

    payload = submission_payload(submission)
    policy: PiiPolicy = policy_for(user)
    path = submission.building.grid.path if hasattr(submission.building, "grid") else ""
    shown: list[str] = []
    masked: list[str] = []
    revealable: list[str] = []
    for field, pii_field, mask in (
        ("id_number", PiiField.ID_NUMBER, lambda v: mask_id(normalise_id(v))),
        ("phone", PiiField.PHONE, lambda v: mask_phone(normalise_phone(v))),
    ):
        if not payload.get(field):
            continue
        may = policy.may(pii_field, path)
        if reveal and may:
            shown.append(field)
            continue
        payload[field] = mask(payload[field])
        masked.append(field)
        if may:
            revealable.append(field)
    if "id_number" in masked:
        payload.pop("birth_date", None)  # eight digits of the ID number: never beside a masked one
    if shown:
        log_access(
            user, PiiAction.VIEW, object_type="submission", ids=[submission.pk], fields=shown, request=request
        )
    building = submission.building
    return {
        "id": submission.pk, "kind": submission.kind, "action": submission.action, "status": submission.status,
        "building_code": building.code, "building_address": building.address,
        "grid_name": building.grid.name if hasattr(building, "grid") else "",
        "target_id": submission.target_id, "base_version": submission.base_version, "data": payload,
        "submitted_by": submission.submitted_by.username, "submitted_by_name": _person(submission.submitted_by),
        "submitted_at": submission.submitted_at,
        "reviewed_by": submission.reviewed_by.username if submission.reviewed_by_id else None,
        "reviewed_by_name": _person(submission.reviewed_by) if submission.reviewed_by_id else None,
        "reviewed_at": submission.reviewed_at, "reason": submission.reason, "result_id": submission.result_id,
        "masked": masked, "revealable": revealable,
    }  # fmt: skip


def require_export(user, request: HttpRequest | None = None) -> None:
    require(user, "registry.export", ("export", ""), request=request)


def population(path: str) -> dict[str, int]:
    """Current residents and households below an area path (figures, no personal data: the staffing
    page of territory shows them; registered in RegistryConfig.ready)."""
    return {
        "residents": Resident.objects.filter(
            moved_out__isnull=True, building__grid__path__startswith=path
        ).count(),
        "households": Household.objects.filter(house__building__grid__path__startswith=path).count(),
    }
