"""Every write of field work, one transaction each: starting a patrol, uploading a batch of fixes (the
session is locked, the batch stored, the track and summary rebuilt from all raw fixes — batches may come
in any order and twice), reporting a finding (a case of channel patrol in the same step), ending a patrol,
patrol plans, and the daily purge of old raw fixes. Every phone write is idempotent on a client id."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.accounts.models import User
from gridgov.cases import services as case_services
from gridgov.cases.models import CaseKind, Channel
from gridgov.core.errors import FieldErrors, field_error
from gridgov.core.principal import principal_for, require
from gridgov.fieldwork import selectors, tracks
from gridgov.fieldwork.models import (
    Cadence,
    PatrolFinding,
    PatrolPlan,
    PatrolSession,
    SessionStatus,
    TrackBatch,
    TrackPoint,
)
from gridgov.fieldwork.permissions import PATROLLER_ROLES
from gridgov.territory import geo
from gridgov.territory.models import Area, Level

MAX_BATCH = 5000
CLOCK_SLACK = dt.timedelta(minutes=5)
BREAK_REASONS = ("pause", "background")


def _clean_id(value: str, field: str, errors: FieldErrors) -> str:
    value = (value or "").strip()
    if not value:
        errors.add(field, _("Give the client id of this record."))
    return value


def _own_session(actor, session_id: int, *, lock: bool = False) -> PatrolSession:
    qs = PatrolSession.objects.filter(pk=session_id, patroller=actor)
    session = (qs.select_for_update() if lock else qs).select_related("area").first()
    if session is None:
        raise selectors.nothing()
    return session


# --- sessions -------------------------------------------------------------------------------------------
@transaction.atomic
def start_session(
    *, actor, client_id: str, area_code: str = "", started_at: dt.datetime | None = None
) -> tuple[PatrolSession, bool]:
    """Start a patrol of one of the actor's own patrol areas (default: the first). A retry with the same
    client id returns the first session."""
    errors = FieldErrors()
    client_id = _clean_id(client_id, "client_id", errors)
    errors.raise_if_any()
    done = PatrolSession.objects.filter(patroller=actor, client_id=client_id).first()
    if done is not None:
        return done, False
    require(actor, "fieldwork.patrol")
    own = [
        m
        for m in principal_for(actor).memberships
        if m.role in PATROLLER_ROLES and m.area_id and m.on_behalf_of is None
    ]
    areas = {a.code: a for a in Area.objects.filter(pk__in=[m.area_id for m in own])}
    now = timezone.now()
    started_at = started_at or now
    if area_code and area_code not in areas:
        errors.add("area_code", _("You do not patrol this area."))
    elif not areas:
        errors.add("area_code", _("You have no patrol area."))
    if started_at > now + CLOCK_SLACK:
        errors.add("started_at", _("The time lies in the future."))
    elif started_at < now - dt.timedelta(days=settings.FIELDWORK_RAW_DAYS):
        errors.add("started_at", _("The time lies too far in the past."))
    errors.raise_if_any()
    area = areas[area_code] if area_code else sorted(areas.values(), key=lambda a: a.path)[0]
    plan = selectors.plan_for(actor, area, timezone.localtime(started_at).date())
    try:
        with transaction.atomic():
            session = PatrolSession.objects.create(
                patroller=actor,
                area=area,
                plan_id=plan.plan_id if plan else None,
                client_id=client_id,
                started_at=started_at,
            )
    except IntegrityError:
        return PatrolSession.objects.get(patroller=actor, client_id=client_id), False
    return session, True


def _check_points(
    session: PatrolSession, points: list[dict[str, Any]], breaks: list[dict[str, Any]]
) -> list[TrackPoint]:
    errors = FieldErrors()
    if not points and not breaks:
        errors.add("points", _("Send at least one point."))
    if len(points) > MAX_BATCH:
        errors.add("points", _("Send at most %(n)s points in one batch.") % {"n": MAX_BATCH})
    earliest = session.started_at - CLOCK_SLACK
    latest = (session.ended_at or timezone.now()) + CLOCK_SLACK
    made = []
    for i, p in enumerate(points):
        crs = p.get("crs") or geo.CRS_WGS84
        if crs not in (geo.CRS_WGS84, geo.CRS_GCJ02):
            errors.add(f"points.{i}.crs", _("Choose one of the allowed values"))
            continue
        if not (earliest <= p["t"] <= latest):
            errors.add(f"points.{i}.t", _("The time lies outside the patrol."))
            continue
        lng, lat = geo.to_wgs84(p["lng"], p["lat"], crs)
        made.append(
            TrackPoint(
                session=session, t=p["t"], lng=float(lng), lat=float(lat), accuracy=p.get("accuracy"),
                mock=bool(p.get("mock")), crs=crs,
            )
        )  # fmt: skip
    for i, b in enumerate(breaks):
        if b["end"] <= b["start"]:
            errors.add(f"breaks.{i}.end", _("The end lies before the start."))
    errors.raise_if_any()
    return made


@transaction.atomic
def add_points(
    *,
    actor,
    session_id: int,
    client_id: str,
    points: list[dict[str, Any]],
    breaks: list[dict[str, Any]] | None = None,
) -> tuple[TrackBatch, bool]:
    """Store one batch of fixes (and the pause / background intervals the phone saw) and rebuild the
    session's track and summary from all its raw fixes. The session row is locked, so concurrent batches
    wait for each other; a batch resent with the same client id changes nothing."""
    errors = FieldErrors()
    client_id = _clean_id(client_id, "client_id", errors)
    errors.raise_if_any()
    session = _own_session(actor, session_id, lock=True)
    done = TrackBatch.objects.filter(session=session, client_id=client_id).first()
    if done is not None:
        return done, False
    if session.raw_purged:
        raise field_error("points", _("The raw points of this patrol were already purged."))
    breaks = breaks or []
    made = _check_points(session, points, breaks)
    batch = TrackBatch.objects.create(session=session, client_id=client_id, point_count=len(made))
    for p in made:
        p.batch = batch
    TrackPoint.objects.bulk_create(made, batch_size=1000)
    if breaks:
        session.breaks = sorted(
            session.breaks + [[b["start"].timestamp(), b["end"].timestamp(), b["reason"]] for b in breaks]
        )
    rebuild(session)
    return batch, True


def rebuild(session: PatrolSession) -> None:
    """Recompute the stored track, gaps, flagged fixes and summary from the session's raw fixes."""
    fixes = [
        tracks.Fix(t.timestamp(), lng, lat, acc, mock)
        for t, lng, lat, acc, mock in TrackPoint.objects.filter(session=session)
        .order_by("t", "id")
        .values_list("t", "lng", "lat", "accuracy", "mock")
    ]
    area = geo.parse_geojson(session.area.geometry) if session.area.geometry else None
    s = tracks.summarise(fixes, [tuple(b) for b in session.breaks], area)

    def iso(epoch: float) -> str:
        return dt.datetime.fromtimestamp(epoch, tz=dt.UTC).isoformat()

    session.track = tracks.geojson(s.lines) if s.lines else ""
    session.gaps = [
        {"start": iso(g.start), "end": iso(g.end), "seconds": round(g.seconds), "reason": g.reason}
        for g in s.gaps
    ]
    session.flagged = [
        {"t": iso(f.t), "lng": f.lng, "lat": f.lat, "accuracy": f.accuracy, "flags": flags}
        for f, flags in s.flagged
    ]
    session.flag_counts = s.flag_counts()
    session.distance_m = s.distance_m
    session.tracked_s = s.tracked_s
    session.inside_share = s.inside_share
    session.raw_count = s.raw_count
    session.stored_count = s.stored_count
    session.save()


@transaction.atomic
def report_finding(
    *,
    actor,
    session_id: int,
    client_id: str,
    description: str,
    lng: float | None = None,
    lat: float | None = None,
    crs: str = geo.CRS_WGS84,
    attachments: list[str] | None = None,
    category_code: str | None = None,
) -> tuple[PatrolFinding, bool]:
    """A finding of the patrol becomes a case of channel patrol (巡查上报) in the same step, linked to
    the session; a retry with the same client id returns the first finding."""
    errors = FieldErrors()
    client_id = _clean_id(client_id, "client_id", errors)
    errors.raise_if_any()
    session = _own_session(actor, session_id, lock=True)
    done = PatrolFinding.objects.filter(session=session, client_id=client_id).select_related("case").first()
    if done is not None:
        return done, False
    case, _created = case_services.intake(
        actor=actor,
        description=description,
        kind=CaseKind.HAZARD,
        channel=Channel.PATROL,
        lng=lng,
        lat=lat,
        crs=crs,
        area_code=session.area.code,
        category_code=category_code or None,
        attachments=attachments or [],
        idempotency_key=f"patrol-{session.pk}-{client_id}",
    )
    finding = PatrolFinding.objects.create(
        session=session, case=case, client_id=client_id, lng=case.lng, lat=case.lat
    )
    session.findings_count = PatrolFinding.objects.filter(session=session).count()
    session.save(update_fields=["findings_count", "updated_at"])
    return finding, True


@transaction.atomic
def end_session(*, actor, session_id: int, ended_at: dt.datetime | None = None) -> PatrolSession:
    """End the patrol (again: unchanged)."""
    session = _own_session(actor, session_id, lock=True)
    if session.status == SessionStatus.ENDED:
        return session
    now = timezone.now()
    ended_at = ended_at or now
    errors = FieldErrors()
    if ended_at < session.started_at:
        errors.add("ended_at", _("The end lies before the start."))
    elif ended_at > now + CLOCK_SLACK:
        errors.add("ended_at", _("The time lies in the future."))
    errors.raise_if_any()
    session.status = SessionStatus.ENDED
    session.ended_at = ended_at
    session.save(update_fields=["status", "ended_at", "updated_at"])
    return session


# --- plans ----------------------------------------------------------------------------------------------
def _check_plan(actor, data: dict[str, Any], errors: FieldErrors) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "area_code" in data:
        area = selectors.scope_area_or_none(actor, data["area_code"])
        if area is None or area.level not in (Level.GRID, Level.BLOCK):
            errors.add("area_code", _("Choose a grid or a block in your area."))
        out["area"] = area
    if "assignee_id" in data:
        assignee = None
        if data["assignee_id"] is not None:
            assignee = User.objects.filter(pk=data["assignee_id"], is_active=True).first()
            area = out.get("area")
            if (
                assignee is None
                or area is None
                or not assignee.memberships.filter(
                    area__path__startswith=area.path, role__in=list(selectors.DEFAULT_PLANS)
                ).exists()
            ):
                errors.add("assignee_id", _("This person does not patrol in this area."))
        out["assignee"] = assignee
    if "role" in data:
        if data["role"] not in ("", *selectors.DEFAULT_PLANS):
            errors.add("role", _("Choose one of the allowed values"))
        out["role"] = data["role"]
    for key in ("cadence", "per_week", "min_minutes", "valid_from", "valid_to"):
        if key in data:
            out[key] = data[key]
    if out.get("cadence") == Cadence.PER_WEEK and not 1 <= out.get("per_week", 1) <= 7:
        errors.add("per_week", _("Give between 1 and 7 patrols a week."))
    if out.get("valid_to") and out.get("valid_from") and out["valid_to"] < out["valid_from"]:
        errors.add("valid_to", _("The end lies before the start."))
    return out


@transaction.atomic
def create_plan(*, actor, data: dict[str, Any]) -> PatrolPlan:
    require(actor, "fieldwork.plan.manage")
    errors = FieldErrors()
    fields = _check_plan(actor, data, errors)
    if not fields.get("role") and fields.get("assignee") is None and not errors.items:
        errors.add("role", _("Give a role or a person."))
    errors.raise_if_any()
    return PatrolPlan.objects.create(created_by=actor, **fields)


@transaction.atomic
def update_plan(*, actor, plan_id: int, data: dict[str, Any]) -> PatrolPlan:
    require(actor, "fieldwork.plan.manage")
    plan = selectors.plans_for(actor).select_for_update(of=("self",)).filter(pk=plan_id).first()
    if plan is None:
        raise selectors.nothing()
    errors = FieldErrors()
    data = {k: v for k, v in data.items() if v is not None or k == "valid_to"}
    data = {"area_code": plan.area.code, **data}
    if "assignee_id" not in data and plan.assignee_id:
        data["assignee_id"] = plan.assignee_id
    fields = _check_plan(actor, data, errors)
    errors.raise_if_any()
    for k, v in fields.items():
        setattr(plan, k, v)
    if not plan.role and plan.assignee_id is None:
        errors.add("role", _("Give a role or a person."))
    if plan.valid_to and plan.valid_to < plan.valid_from:
        errors.add("valid_to", _("The end lies before the start."))
    if plan.cadence == Cadence.PER_WEEK and not 1 <= plan.per_week <= 7:
        errors.add("per_week", _("Give between 1 and 7 patrols a week."))
    errors.raise_if_any()
    plan.save()
    return plan


@transaction.atomic
def retire_plan(*, actor, plan_id: int) -> None:
    require(actor, "fieldwork.plan.manage")
    plan = selectors.plans_for(actor).filter(pk=plan_id).first()
    if plan is None:
        raise selectors.nothing()
    plan.is_active = False
    plan.save(update_fields=["is_active", "updated_at"])


# --- retention ------------------------------------------------------------------------------------------
def purge_raw(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Delete the raw fixes of sessions that ended more than FIELDWORK_RAW_DAYS days ago (the track,
    gaps, flags and summary stay)."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.FIELDWORK_RAW_DAYS)
    ids = list(
        PatrolSession.objects.filter(
            status=SessionStatus.ENDED, ended_at__lt=cutoff, raw_purged=False
        ).values_list("pk", flat=True)
    )
    with transaction.atomic():
        points, _by_model = TrackPoint.objects.filter(session_id__in=ids).delete()
        PatrolSession.objects.filter(pk__in=ids).update(raw_purged=True)
    return {"sessions": len(ids), "points": points}
