"""Every write of the registry, one transaction each: residents and units entered by staff, collection
by building heads (submissions) and their review, care groups, PII grants, import jobs.

Each change of a record bumps its version (a stale version answers 409) and appends a `RecordHistory`
entry whose personal fields are masked. Refusals are recorded as `permission_denied` audit events.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.accounts.audit import record_audit
from gridgov.accounts.models import AuditEventType, User
from gridgov.accounts.roles import ADMIN_ROLES, Role
from gridgov.accounts.scope import scope_for
from gridgov.core import timeline
from gridgov.core.errors import Conflict, FieldErrors, NotFound, TooLarge, ValidationFailed
from gridgov.core.principal import Principal, principal_for, require
from gridgov.core.tabular.spec import E_REQUIRED, FORMULA_START
from gridgov.core.tabular.validators import (
    check_credit_code,
    check_id_number,
    check_phone,
    normalise_id,
    normalise_phone,
)
from gridgov.registry import jobs, vault
from gridgov.registry.models import (
    CareMembership,
    Household,
    ImportJob,
    ImportKind,
    ImportMode,
    ImportStatus,
    PiiAction,
    PiiGrant,
    RecordHistory,
    Relation,
    Resident,
    Source,
    Submission,
    SubmissionAction,
    SubmissionKind,
    SubmissionStatus,
    Unit,
)
from gridgov.registry.permissions import IMPORTER_ROLES, REVIEWER_ROLES
from gridgov.registry.pii import log_access, mask_id, mask_phone
from gridgov.registry.workflow import SUBMISSIONS
from gridgov.territory.models import Area, Building, House
from gridgov.territory.places import house_in

PII_FIELDS = ("id_number", "phone")


# --- helpers -----------------------------------------------------------------------------------------
def _not_found() -> NotFound:
    return NotFound(_("Nothing here, or it is outside your area."))


def _building_in_scope(actor, code: str | None, errors: FieldErrors, *, field: str = "building_code"):
    building = Building.objects.select_related("grid").filter(code=code or "").first()
    if building is None or not scope_for(actor).can_see_path(building.grid.path):
        errors.add(field, _("No building with this code in your area"))
        return None
    return building


def _house_of(building: Building, unit: str, room: str, errors: FieldErrors) -> House | None:
    """The house of a room (and unit) in a building; without a unit, a room number unique in the building."""
    if not room:
        return None
    house = house_in(building, unit, room)
    if house is not None:
        return house
    errors.add(
        "room", _("No house %(room)s (unit %(unit)s) in this building") % {"room": room, "unit": unit or "—"}
    )
    return None


def _history(obj, action: str, actor, changes: dict, *, submission=None, note: str = "") -> None:
    timeline.record(
        RecordHistory,
        object_type=obj._meta.model_name,
        object_id=obj.pk,
        version=obj.version,
        action=action,
        actor=actor if getattr(actor, "pk", None) else None,
        changes=changes,
        submission=submission,
        note=note[:500],
    )


def _masked(field: str, value) -> Any:
    if field == "id_number":
        return mask_id(value or "")
    if field in ("phone",):
        return mask_phone(value or "")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


# --- registering an ID number: the duplicate check, answered only where the actor may know ----------
def _already_in_area() -> str:
    return _("Already registered in your area: find the resident and change the record instead")


def _current_clashes(id_hash: str, exclude_pk: int | None = None):
    qs = Resident.objects.filter(id_hash=id_hash, moved_out__isnull=True)
    return qs.exclude(pk=exclude_pk) if exclude_pk else qs


def _in_scope(actor, clashes) -> list[int]:
    """The clashing residents the actor reads (their own area): the only duplicates they are told of."""
    from gridgov.registry import selectors

    q = selectors.registry_filter(actor) if getattr(actor, "pk", None) else None
    return list(clashes.filter(q).values_list("pk", flat=True)) if q is not None else []


def check_registration(
    actor, id_number: str | None, *, via: str, answer: bool, current_pk: int | None = None, request=None
) -> None:
    """Every attempt to register an ID number (a new resident, a changed number, a submission, an approval)
    is written to the personal-information access log with what the database held (`detail.outcome`:
    new, in_scope, elsewhere) — called outside the use case's transaction, so the row stays when the use
    case is refused.

    What the caller is told never depends on records outside their own area: a number registered only
    elsewhere is accepted like a new one (the person moved: the other record is marked as moved out when
    the registration is made, see `move_out_elsewhere`). Inside their area, staff who register records
    (`answer`: community staff entering a resident or approving a submission) are told of the duplicate;
    submitters (building heads, grid workers, residents) never are — their submission waits for review."""
    number = normalise_id(id_number)
    if not number or check_id_number(number):
        return  # refused by the validation, like any bad value
    clashes = _current_clashes(vault.blind_index(number), current_pk)
    found = list(clashes.values_list("pk", flat=True))
    mine = _in_scope(actor, clashes) if found else []
    outcome = "in_scope" if mine else "elsewhere" if found else "new"
    log_access(
        actor, PiiAction.REGISTER, object_type="resident", ids=found, count=len(found), fields=["id_number"],
        request=request, detail={"via": via, "outcome": outcome},
    )  # fmt: skip
    if mine and answer:
        errors = FieldErrors()
        errors.add("id_number", _already_in_area())
        errors.raise_if_any()


def move_out_elsewhere(resident_ids: list[int]) -> None:
    """A number registered again in another area: the person moved. Their record there is marked as moved
    out today, by the system (its history names neither the new area nor who registered it)."""
    today = timezone.localdate()
    for old in Resident.objects.select_for_update(of=("self",)).filter(
        pk__in=resident_ids, moved_out__isnull=True
    ):
        old.moved_out = today if old.moved_in is None or old.moved_in <= today else old.moved_in
        old.version += 1
        old.save(update_fields=["moved_out", "version", "updated_at"])
        _history(
            old, "move_out", None, {"moved_out": [None, old.moved_out.isoformat()]},
            note=_("Registered again in another area: marked as moved out"),
        )  # fmt: skip


# --- residents ---------------------------------------------------------------------------------------
RESIDENT_FIELDS = (
    "name", "gender", "id_number", "phone", "residence_type", "moved_in", "moved_out", "relation",
    "building_code", "unit", "room", "household_no",
)  # fmt: skip


def clean_resident(actor, data: dict, *, current: Resident | None = None, check_clash: bool = True) -> dict:
    """Validate resident fields (all of them for a new record, the given ones for a change) with the
    import's rules; returns the cleaned values. Raises ValidationFailed with field errors.

    The ID number is checked against the current (not moved-out) residents only with `check_clash` (the
    actor registers the record now; a submission is checked when it is approved): a clash inside the
    actor's own area is an error, a clash elsewhere is a person who moved (`moves_out`: the records the
    registration marks as moved out), answered like a new number (see `check_registration`)."""
    data = _dates(data)
    errors = FieldErrors()
    out: dict[str, Any] = {}
    if current is None or "name" in data:
        name = (data.get("name") or "").strip()
        if not name:
            errors.add("name", _("This cell is required"))
        elif name[0] in FORMULA_START:
            errors.add("name", _("The cell holds a formula; paste the values only"))
        out["name"] = name
    if current is None or "id_number" in data:
        number = normalise_id(data.get("id_number"))
        fault = check_id_number(number) if number else E_REQUIRED
        if fault:
            errors.add("id_number", _(fault))
        else:
            h = vault.blind_index(number)
            if check_clash:
                clash = _current_clashes(h, current.pk if current is not None else None)
                mine = _in_scope(actor, clash)
                if mine:
                    errors.add("id_number", _already_in_area())
                else:
                    out["moves_out"] = list(clash.values_list("pk", flat=True))
            out["id_number"], out["id_hash"] = number, h
            out["birth_date"] = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
            out["gender"] = "M" if int(number[16]) % 2 else "F"
    if "gender" in data and data.get("gender") and "gender" in out and data["gender"] != out["gender"]:
        errors.add("gender", _("The gender differs from the one in the ID number (%(expected)s)") % {
            "expected": "男" if out["gender"] == "M" else "女"})  # fmt: skip
    if "phone" in data:
        phone = normalise_phone(data.get("phone"))
        if phone and check_phone(phone):
            errors.add("phone", _(check_phone(phone)))
        out["phone"] = phone
    if current is None or "residence_type" in data:
        out["residence_type"] = data.get("residence_type") or ""
    for key in ("moved_in", "moved_out", "relation"):
        if key in data:
            out[key] = data[key] if data[key] not in ("",) else None if key != "relation" else ""
    moved_in = out.get("moved_in", current.moved_in if current else None)
    moved_out = out.get("moved_out", current.moved_out if current else None)
    today = timezone.localdate()
    for key, value in (("moved_in", moved_in), ("moved_out", moved_out)):
        if key in out and value is not None and value > today:
            errors.add(key, _("The date lies in the future"))
    if moved_in and moved_out and moved_out < moved_in:
        errors.add("moved_out", _("The move-out date lies before the move-in date"))
    if current is None or "building_code" in data or "room" in data or "unit" in data:
        code = data.get("building_code") or (current.building.code if current else "")
        building = _building_in_scope(actor, code, errors)
        if building is not None:
            unit = data.get("unit", None)
            room = data.get("room", None)
            if current is not None and current.house_id:
                unit = current.house.unit if unit is None else unit
                room = current.house.room if room is None else room
            house = _house_of(building, unit or "", room or "", errors)
            if house is None and not room:
                errors.add("room", _("This cell is required"))
            out["building"], out["house"] = building, house
    if "household_no" in data:
        out["household_no"] = (data.get("household_no") or "").strip()[:32]
    errors.raise_if_any()
    return out


def _apply_household(resident: Resident, cleaned: dict) -> None:
    house = cleaned.get("house") or resident.house
    if house is None:
        return
    number = cleaned.get("household_no")
    if number is None:
        if resident.household_id and resident.household.house_id == house.pk:
            return
        number = ""
    household, _created = Household.objects.get_or_create(house=house, number=number)
    resident.household = household


def _set_pii(resident, cleaned: dict) -> None:
    key = vault.current_key()
    id_number = cleaned.get("id_number")
    phone = cleaned.get("phone")
    if id_number is None or (phone is None and resident.phone_enc):
        # A change of one field: re-encrypt the other with the current key too (one key per row).
        if resident.pk:
            if id_number is None:
                id_number = vault.decrypt(resident.id_enc, resident.pii_key, "id_number")
            if phone is None:
                phone = (
                    vault.decrypt(resident.phone_enc, resident.pii_key, "phone") if resident.phone_enc else ""
                )
    resident.id_enc = vault.encrypt(id_number, "id_number", key)[0]
    resident.id_hash = vault.blind_index(id_number)
    resident.phone_enc = vault.encrypt(phone, "phone", key)[0] if phone else None
    resident.phone_hash = vault.blind_index(phone) if phone else ""
    resident.pii_key = key.id


def create_resident(*, actor, data: dict, request=None, submission=None, collected_by=None) -> Resident:
    if submission is None:
        require(actor, "registry.resident.create", request=request)
        check_registration(actor, data.get("id_number"), via="resident", answer=True, request=request)
    return _create_resident(actor=actor, data=data, submission=submission, collected_by=collected_by)


@transaction.atomic
def _create_resident(*, actor, data: dict, submission=None, collected_by=None) -> Resident:
    cleaned = clean_resident(actor, data)
    move_out_elsewhere(cleaned.get("moves_out") or [])
    resident = Resident(
        name=cleaned["name"],
        gender=cleaned["gender"],
        birth_date=cleaned["birth_date"],
        residence_type=cleaned["residence_type"],
        moved_in=cleaned.get("moved_in"),
        moved_out=cleaned.get("moved_out"),
        relation=cleaned.get("relation") or "",
        building=cleaned["building"],
        house=cleaned["house"],
        collected_by=collected_by or actor,
        source=Source.COLLECTION if submission else Source.MANUAL,
    )
    _set_pii(resident, cleaned)
    _apply_household(resident, cleaned)
    try:
        with transaction.atomic():
            resident.save()
    except IntegrityError as exc:  # a registration of the same number at the same moment
        raise Conflict(_("Already registered in the system")) from exc
    _claim_head(resident)
    changes = {
        k: [None, _masked(k, v)] for k, v in cleaned.items() if k in RESIDENT_FIELDS and k != "building_code"
    }
    changes["building_code"] = [None, resident.building.code]
    _history(resident, "create", actor, changes, submission=submission)
    return resident


def _claim_head(resident: Resident) -> None:
    if resident.relation == Relation.HEAD and resident.household_id:
        Household.objects.filter(pk=resident.household_id, head__isnull=True).update(
            head=resident, version=F("version") + 1
        )


def _resident_for_change(actor, resident_id: int, version: int | None) -> Resident:
    from gridgov.registry import selectors

    if not selectors.residents_visible(actor).filter(pk=resident_id).exists():
        raise _not_found()
    resident = (
        Resident.objects.select_for_update(of=("self",))
        .select_related("building", "house", "household")
        .get(pk=resident_id)
    )
    if version is not None and resident.version != version:
        raise Conflict()
    return resident


def update_resident(
    *, actor, resident_id: int, version: int | None, changes: dict, request=None, submission=None
) -> Resident:
    if submission is None:
        require(actor, "registry.resident.update", ("resident", resident_id), request=request)
        if changes.get("id_number") is not None:
            from gridgov.registry import selectors

            if not selectors.residents_visible(actor).filter(pk=resident_id).exists():
                raise _not_found()
            require(actor, "registry.resident.change_id", ("resident", resident_id), request=request)
            check_registration(
                actor,
                changes["id_number"],
                current_pk=resident_id,
                via="resident",
                answer=True,
                request=request,
            )
    return _update_resident(
        actor=actor, resident_id=resident_id, version=version, changes=changes, submission=submission
    )


@transaction.atomic
def _update_resident(
    *, actor, resident_id: int, version: int | None, changes: dict, submission=None
) -> Resident:
    resident = _resident_for_change(actor, resident_id, version)
    cleaned = clean_resident(actor, changes, current=resident)
    move_out_elsewhere(cleaned.get("moves_out") or [])
    before = {
        "name": resident.name, "residence_type": resident.residence_type, "moved_in": resident.moved_in,
        "moved_out": resident.moved_out, "relation": resident.relation, "building_code": resident.building.code,
        "room": resident.house.room if resident.house_id else "",
    }  # fmt: skip
    diff: dict[str, list] = {}
    for key in ("name", "residence_type", "moved_in", "moved_out", "relation"):
        if key in cleaned and cleaned[key] != before[key]:
            diff[key] = [_masked(key, before[key]), _masked(key, cleaned[key])]
            setattr(resident, key, cleaned[key])
    if "building" in cleaned:
        if cleaned["building"].pk != resident.building_id or (
            cleaned["house"] and cleaned["house"].pk != resident.house_id
        ):
            diff["building_code"] = [before["building_code"], cleaned["building"].code]
            diff["room"] = [before["room"], cleaned["house"].room if cleaned["house"] else ""]
        resident.building, resident.house = cleaned["building"], cleaned["house"]
    if "id_number" in cleaned or "phone" in cleaned:
        old_id = vault.decrypt(resident.id_enc, resident.pii_key, "id_number")
        old_phone = vault.decrypt(resident.phone_enc, resident.pii_key, "phone") if resident.phone_enc else ""
        if cleaned.get("id_number", old_id) != old_id:
            diff["id_number"] = [mask_id(old_id), mask_id(cleaned["id_number"])]
            resident.birth_date, resident.gender = cleaned["birth_date"], cleaned["gender"]
        if cleaned.get("phone", old_phone) != old_phone:
            diff["phone"] = [mask_phone(old_phone), mask_phone(cleaned["phone"])]
        _set_pii(
            resident,
            {"id_number": cleaned.get("id_number", old_id), "phone": cleaned.get("phone", old_phone)},
        )
    if "household_no" in cleaned or "house" in cleaned:
        old = resident.household_id
        _apply_household(resident, cleaned)
        if resident.household_id != old:
            diff["household"] = [old, resident.household_id]
    if not diff:
        return resident
    resident.version += 1
    try:
        with transaction.atomic():
            resident.save()
    except IntegrityError as exc:  # moved back in while the number is registered as current elsewhere
        raise Conflict(_("Already registered in the system")) from exc
    _claim_head(resident)
    action = "move_out" if "moved_out" in diff and resident.moved_out else "update"
    _history(resident, action, actor, diff, submission=submission)
    return resident


# --- units -------------------------------------------------------------------------------------------
def clean_unit(actor, data: dict, *, current: Unit | None = None) -> dict:
    errors = FieldErrors()
    out: dict[str, Any] = {}
    if current is None or "name" in data:
        name = (data.get("name") or "").strip()
        if not name:
            errors.add("name", _("This cell is required"))
        out["name"] = name
    if "credit_code" in data:
        code = (data.get("credit_code") or "").strip().upper()
        if code:
            fault = check_credit_code(code)
            if fault:
                errors.add("credit_code", _(fault))
            elif Unit.objects.filter(credit_code=code).exclude(pk=getattr(current, "pk", None)).exists():
                errors.add("credit_code", _("Already registered in the system"))
        out["credit_code"] = code or None
    for key in ("kind", "address", "contact_name", "employees"):
        if key in data and data[key] is not None:
            out[key] = data[key]
    if "phone" in data:
        phone = normalise_phone(data.get("phone"))
        if phone and check_phone(phone):
            errors.add("phone", _(check_phone(phone)))
        out["phone"] = phone
    if current is None or "building_code" in data:
        building = _building_in_scope(actor, data.get("building_code"), errors)
        if building is not None:
            out["building"] = building
            out["house"] = _house_of(building, data.get("unit") or "", data.get("room") or "", errors)
    errors.raise_if_any()
    return out


@transaction.atomic
def create_unit(*, actor, data: dict, request=None, submission=None, collected_by=None) -> Unit:
    if submission is None:
        require(actor, "registry.unit.create", request=request)
    cleaned = clean_unit(actor, data)
    phone = cleaned.pop("phone", "")
    unit = Unit(
        **{k: v for k, v in cleaned.items() if k not in ("building", "house")},
        building=cleaned["building"],
        house=cleaned.get("house"),
        collected_by=collected_by or actor,
        source=Source.COLLECTION if submission else Source.MANUAL,
    )
    if not unit.address:
        unit.address = unit.building.address
    if phone:
        unit.phone_enc, unit.pii_key = vault.encrypt(phone, "phone")
        unit.phone_hash = vault.blind_index(phone)
    try:
        with transaction.atomic():
            unit.save()
    except IntegrityError as exc:
        raise Conflict(_("Already registered in the system")) from exc
    changes = {k: [None, _masked(k, v)] for k, v in cleaned.items() if k not in ("building", "house")}
    if phone:
        changes["phone"] = [None, mask_phone(phone)]
    _history(unit, "create", actor, changes, submission=submission)
    return unit


@transaction.atomic
def update_unit(
    *, actor, unit_id: int, version: int | None, changes: dict, request=None, submission=None
) -> Unit:
    from gridgov.registry import selectors

    if submission is None:
        require(actor, "registry.unit.update", ("unit", unit_id), request=request)
    if not selectors.units_visible(actor).filter(pk=unit_id).exists():
        raise _not_found()
    unit = Unit.objects.select_for_update(of=("self",)).select_related("building").get(pk=unit_id)
    if version is not None and unit.version != version:
        raise Conflict()
    cleaned = clean_unit(actor, changes, current=unit)
    diff: dict[str, list] = {}
    for key in ("name", "credit_code", "kind", "address", "contact_name", "employees"):
        if key in cleaned and cleaned[key] != getattr(unit, key):
            diff[key] = [getattr(unit, key), cleaned[key]]
            setattr(unit, key, cleaned[key])
    if "building" in cleaned and cleaned["building"].pk != unit.building_id:
        diff["building_code"] = [unit.building.code, cleaned["building"].code]
        unit.building, unit.house = cleaned["building"], cleaned.get("house")
    if "phone" in cleaned:
        old = vault.decrypt(unit.phone_enc, unit.pii_key, "phone") if unit.phone_enc else ""
        if cleaned["phone"] != old:
            diff["phone"] = [mask_phone(old), mask_phone(cleaned["phone"])]
            if cleaned["phone"]:
                unit.phone_enc, unit.pii_key = vault.encrypt(cleaned["phone"], "phone")
                unit.phone_hash = vault.blind_index(cleaned["phone"])
            else:
                unit.phone_enc, unit.phone_hash, unit.pii_key = None, "", ""
    if not diff:
        return unit
    unit.version += 1
    unit.save()
    _history(unit, "update", actor, diff, submission=submission)
    return unit


# --- collection by building heads (楼长采集) ---------------------------------------------------------
def _seal_payload(payload: dict) -> tuple[bytes, str]:
    return vault.encrypt(json.dumps(payload, ensure_ascii=False, default=str), "submission")


def submission_payload(submission: Submission) -> dict:
    return json.loads(vault.decrypt(submission.payload_enc, submission.pii_key, "submission") or "{}")


def submit(
    *, actor, kind: str, action: str, data: dict, target_id: int | None = None,
    base_version: int | None = None, request=None,
) -> Submission:  # fmt: skip
    """A building head (or grid worker, or a resident about their own household) proposes a new record,
    a change or a move-out; community staff review it. An ID number is not checked against the register
    here (that would tell the submitter whether the number exists); the reviewer's approval checks it."""
    require(actor, "registry.submit", request=request)
    if kind == SubmissionKind.RESIDENT and data.get("id_number"):
        check_registration(
            actor, data["id_number"], via="submission", answer=False, request=request,
            current_pk=target_id if action != SubmissionAction.CREATE else None,
        )  # fmt: skip
    return _submit(
        actor=actor, kind=kind, action=action, data=data, target_id=target_id, base_version=base_version
    )


@transaction.atomic
def _submit(
    *,
    actor,
    kind: str,
    action: str,
    data: dict,
    target_id: int | None = None,
    base_version: int | None = None,
) -> Submission:
    from gridgov.registry import selectors

    errors = FieldErrors()
    scope = scope_for(actor)
    data = {k: v for k, v in data.items() if v is not None}
    if action == SubmissionAction.CREATE:
        code = data.get("building_code")
        building = Building.objects.select_related("grid").filter(code=code or "").first()
        # Residents may declare their own household anywhere; field collectors only in their area.
        if building is None or (
            not scope.has_role(Role.RESIDENT) and not scope.can_see_path(building.grid.path)
        ):
            errors.add("building_code", _("No building with this code in your area"))
            errors.raise_if_any()
        probe = _ProbeActor(building)
        if kind == SubmissionKind.RESIDENT:
            clean_resident(probe, data, check_clash=False)
        else:
            clean_unit(probe, data)
    else:
        if not target_id:
            errors.add("target_id", _("This field is required"))
            errors.raise_if_any()
        visible = (
            selectors.residents_visible(actor)
            if kind == SubmissionKind.RESIDENT
            else selectors.units_visible(actor)
        )
        target = visible.select_related("building").filter(pk=target_id).first()
        if target is None:
            raise _not_found()
        building = target.building
        if action == SubmissionAction.MOVE_OUT:
            if kind != SubmissionKind.RESIDENT:
                errors.add("action", _("Choose one of the allowed values"))
            data = {"moved_out": data.get("moved_out") or timezone.localdate().isoformat()}
        if kind == SubmissionKind.RESIDENT:
            clean_resident(_ProbeActor(building), _dates(data), current=target, check_clash=False)
        else:
            clean_unit(_ProbeActor(building), data, current=target)
        base_version = base_version or target.version
    errors.raise_if_any()
    enc, key = _seal_payload(data)
    return Submission.objects.create(
        kind=kind, action=action, building=building, target_id=target_id, base_version=base_version,
        payload_enc=enc, pii_key=key, submitted_by=actor,
    )  # fmt: skip


class _ProbeActor:
    """Validates a submission's building with the building's own scope (the reviewer's check comes later)."""

    def __init__(self, building: Building):
        self.pk = None
        self.is_authenticated = True
        path = building.grid.path
        from gridgov.accounts.scope import UserScope

        principal = Principal(self)
        principal.scope = UserScope(user_id=None, subtree_paths=(path,))
        self._gridgov_principal = principal


def _dates(data: dict) -> dict:
    out = dict(data)
    for key in ("moved_in", "moved_out"):
        if isinstance(out.get(key), str) and out[key]:
            try:
                out[key] = dt.date.fromisoformat(out[key])
            except ValueError as exc:
                raise ValidationFailed(
                    _("Please correct: %(fields)s") % {"fields": key},
                    errors=[{"field": key, "message": _("Enter a date as YYYY-MM-DD")}],
                ) from exc
    return out


def _submission_for_review(actor, submission_id: int, request, action: str) -> Submission:
    from gridgov.registry import selectors

    if not selectors.submissions_visible(actor).filter(pk=submission_id).exists():
        raise _not_found()
    require(actor, "registry.review", ("submission", submission_id), request=request)
    sub = SUBMISSIONS.take(submission_id)
    if not scope_for(actor).can_see_path(sub.building.grid.path):
        raise _not_found()
    SUBMISSIONS.require(sub, action, actor)
    return sub


def approve(*, actor, submission_id: int, request=None) -> Submission:
    from gridgov.registry import selectors

    sub = selectors.submissions_visible(actor).filter(pk=submission_id, kind=SubmissionKind.RESIDENT).first()
    if (
        sub is not None
        and sub.status == SubmissionStatus.PENDING
        and principal_for(actor).has_role(*REVIEWER_ROLES)
    ):
        number = submission_payload(sub).get("id_number")
        if number:
            current = sub.target_id if sub.action != SubmissionAction.CREATE else None
            check_registration(actor, number, via="approve", answer=True, current_pk=current, request=request)
    return _approve(actor=actor, submission_id=submission_id, request=request)


@transaction.atomic
def _approve(*, actor, submission_id: int, request=None) -> Submission:
    sub = _submission_for_review(actor, submission_id, request, "approve")
    data = _dates(submission_payload(sub))
    collector = sub.submitted_by
    if sub.action == SubmissionAction.CREATE:
        if sub.kind == SubmissionKind.RESIDENT:
            obj = create_resident(actor=actor, data=data, submission=sub, collected_by=collector)
        else:
            obj = create_unit(actor=actor, data=data, submission=sub, collected_by=collector)
    else:
        model = Resident if sub.kind == SubmissionKind.RESIDENT else Unit
        current = model.objects.filter(pk=sub.target_id).values_list("version", flat=True).first()
        if current is None:
            raise _not_found()
        if sub.base_version and current != sub.base_version:
            raise Conflict(_("The record changed after this was submitted; reject it and collect again."))
        if sub.kind == SubmissionKind.RESIDENT:
            obj = update_resident(
                actor=actor, resident_id=sub.target_id, version=current, changes=data, submission=sub
            )
        else:
            obj = update_unit(
                actor=actor, unit_id=sub.target_id, version=current, changes=data, submission=sub
            )
    sub.reviewed_by, sub.reviewed_at, sub.result_id = actor, timezone.now(), obj.pk
    return SUBMISSIONS.move(sub, "approve", actor, update_fields=["reviewed_by", "reviewed_at", "result_id"])


@transaction.atomic
def reject(*, actor, submission_id: int, reason: str, request=None) -> Submission:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(
            _("Please correct: %(fields)s") % {"fields": "reason"},
            errors=[{"field": "reason", "message": _("Give the reason for the rejection")}],
        )
    sub = _submission_for_review(actor, submission_id, request, "reject")
    sub.reason = reason[:500]
    sub.reviewed_by, sub.reviewed_at = actor, timezone.now()
    return SUBMISSIONS.move(sub, "reject", actor, update_fields=["reason", "reviewed_by", "reviewed_at"])


# --- care groups -------------------------------------------------------------------------------------
@transaction.atomic
def add_care(
    *, actor, resident_id: int, group: str, since: dt.date | None, note: str = "", request=None
) -> CareMembership:
    from gridgov.registry import selectors

    resident = (
        selectors.residents_visible(actor).select_related("building__grid").filter(pk=resident_id).first()
    )
    if resident is None:
        raise _not_found()
    require(actor, "registry.care.add", resident, request=request)
    care, created = CareMembership.objects.get_or_create(
        resident=resident, group=group, defaults={"since": since, "note": note[:200], "created_by": actor}
    )
    if not created:
        raise Conflict(_("The resident is already in this care group."))
    return care


@transaction.atomic
def remove_care(*, actor, care_member_id: int, request=None) -> None:
    from gridgov.registry import selectors

    care = selectors.care_members_visible(actor).filter(pk=care_member_id).first()
    if care is None:
        raise _not_found()
    require(actor, "registry.care.remove", ("care", care_member_id), request=request)
    care.delete()


# --- PII grants (security administrator) -------------------------------------------------------------
@transaction.atomic
def grant_pii(
    *, actor, user_id: int, field: str, area_code: str, reason: str,
    expires_at: dt.datetime | None = None, request: HttpRequest | None = None,
) -> PiiGrant:  # fmt: skip
    require(actor, "registry.pii_grant", request=request)
    errors = FieldErrors()
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise NotFound(_("No such user."))
    if user.pk == actor.pk:
        errors.add("user_id", _("You cannot grant yourself access to personal information."))
    if scope_for(user).has_role(*ADMIN_ROLES):
        errors.add("user_id", _("Administrators never see personal information (三权分立)."))
    area = Area.objects.filter(code=area_code).first()
    if area is None:
        errors.add("area_code", _("No area with this code."))
    if not (reason or "").strip():
        errors.add("reason", _("Give the reason for the grant"))
    if expires_at is not None and expires_at <= timezone.now():
        errors.add("expires_at", _("The date lies in the past"))
    errors.raise_if_any()
    grant = PiiGrant.objects.create(
        user=user,
        field=field,
        area=area,
        reason=reason.strip()[:300],
        granted_by=actor,
        expires_at=expires_at,
    )
    record_audit(
        AuditEventType.ROLE_GRANT, user=actor, request=request, object_type="pii_grant", object_id=grant.pk,
        detail={"username": user.username, "field": field, "area": area.code, "reason": grant.reason,
                "expires_at": expires_at.isoformat() if expires_at else None},
    )  # fmt: skip
    return grant


@transaction.atomic
def revoke_pii_grant(*, actor, grant_id: int, request: HttpRequest | None = None) -> PiiGrant:
    require(actor, "registry.pii_revoke", request=request)
    grant = (
        PiiGrant.objects.select_for_update(of=("self",))
        .select_related("user", "area")
        .filter(pk=grant_id)
        .first()
    )
    if grant is None:
        raise _not_found()
    if grant.revoked_at is None:
        grant.revoked_at, grant.revoked_by = timezone.now(), actor
        grant.save(update_fields=["revoked_at", "revoked_by"])
        record_audit(
            AuditEventType.ROLE_REVOKE, user=actor, request=request, object_type="pii_grant", object_id=grant.pk,
            detail={"username": grant.user.username, "field": grant.field, "area": grant.area.code},
        )  # fmt: skip
    return grant


def follow_new_grids(*, actor, retired, covering: dict, request=None) -> int:
    """After a re-division is adopted (territory.signals.grids_redrawn, registry/receivers.py): an active
    PII grant naming a retired grid follows its buildings — the grant now names the grid that received
    most of them, and a grant for the same user, field, reason and expiry is added for every other new
    grid that received some. Each is a `role_grant` audit event. Revoked and expired grants keep naming
    the archived grid (they are history). Returns how many grants were moved or added."""
    now = timezone.now()
    changed = 0
    for g in retired:
        targets = covering.get(g.pk) or []
        if not targets:
            continue
        grants = (
            PiiGrant.objects.select_for_update(of=("self",))
            .filter(area=g, revoked_at__isnull=True)
            .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
            .select_related("user")
        )
        for grant in grants:
            first, *others = targets
            grant.area = first
            grant.save(update_fields=["area"])
            made = [(grant, first)]
            for t in others:
                if PiiGrant.objects.filter(
                    user=grant.user, field=grant.field, area=t, revoked_at__isnull=True
                ).exists():
                    continue
                extra = PiiGrant.objects.create(
                    user=grant.user, field=grant.field, area=t, reason=grant.reason,
                    granted_by=grant.granted_by, expires_at=grant.expires_at,
                )  # fmt: skip
                made.append((extra, t))
            for obj, t in made:
                record_audit(
                    AuditEventType.ROLE_GRANT, user=actor, request=request, object_type="pii_grant", object_id=obj.pk,
                    detail={"action": "regrid", "username": grant.user.username, "field": grant.field,
                            "from": g.code, "to": t.code, "grant": grant.pk},
                )  # fmt: skip
                changed += 1
    return changed


# --- imports -----------------------------------------------------------------------------------------
def _importer_area(actor) -> Area | None:
    for m in principal_for(actor).memberships:
        if m.role in IMPORTER_ROLES and m.area_id:
            return Area.objects.get(pk=m.area_id)
    return None


def create_import_job(
    *, actor, stream, file_name: str, size: int, kind: str = ImportKind.RESIDENTS,
    mode: str = ImportMode.VALID_ROWS, request=None, enqueue: bool = True,
) -> ImportJob:  # fmt: skip
    """Store the upload encrypted, create the job, queue it (the work runs in a Huey task).
    `actor=None` is the system (the bench, the command line): scope everything."""
    from django.conf import settings

    if actor is not None:
        require(actor, "registry.import", request=request)
    if size > settings.GRIDGOV_REGISTRY_IMPORT_MAX_BYTES:
        raise TooLarge(
            _("The file is too large: at most %(mb)s MB.")
            % {"mb": settings.GRIDGOV_REGISTRY_IMPORT_MAX_BYTES // 2**20}
        )
    job = ImportJob.objects.create(
        kind=kind, mode=mode, file_name=(file_name or "upload")[-200:], file_format=_format_of(file_name),
        file_size=size, created_by=actor, area=_importer_area(actor) if actor is not None else None,
    )  # fmt: skip
    jobs.store_upload(job, stream)
    if enqueue:
        from gridgov.registry.tasks import run_import

        transaction.on_commit(lambda: run_import(job.pk))
    return job


def _format_of(name: str) -> str:
    lower = (name or "").lower()
    return "xlsx" if lower.endswith((".xlsx", ".xlsm")) else "xls" if lower.endswith(".xls") else "csv"


def resume_import_job(*, actor, job_id: int, request=None) -> ImportJob:
    from gridgov.registry import selectors

    job = selectors.import_job_detail(actor, job_id)
    if job.status == ImportStatus.RUNNING and not _stale(job):
        raise Conflict(_("The import is still running."))
    if job.status not in (ImportStatus.RUNNING, ImportStatus.FAILED, ImportStatus.QUEUED):
        raise Conflict(_("The import has finished; there is nothing to resume."))
    if job.reader_crashes >= jobs.runner.MAX_READER_CRASHES or job.attempts >= jobs.runner.MAX_ATTEMPTS:
        raise Conflict(_("This file is not tried again; import it again after correcting or splitting it."))
    from gridgov.registry.tasks import run_import

    run_import(job.pk)
    job.refresh_from_db()
    return job


def _stale(job: ImportJob) -> bool:
    return job.heartbeat_at is None or job.heartbeat_at < timezone.now() - dt.timedelta(
        seconds=jobs.STALE_SECONDS
    )


def resume_stalled_jobs() -> int:
    """Jobs whose worker died (no heartbeat for STALE_SECONDS): queue them again."""
    from gridgov.registry.tasks import run_import

    stale = timezone.now() - dt.timedelta(seconds=jobs.STALE_SECONDS)
    ids = list(
        ImportJob.objects.filter(status=ImportStatus.RUNNING, heartbeat_at__lt=stale).values_list(
            "pk", flat=True
        )
    )
    for job_id in ids:
        run_import(job_id)
    return len(ids)
