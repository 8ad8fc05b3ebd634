"""No endpoint shows or changes another community's data, for a user of every role.

The operations come from the Ninja API object (its OpenAPI document), not from a hand-made list: a new
endpoint is covered the moment it exists. Every read (GET, and the POSTs that only read) is called with
another community's objects in its path and query and must not show any of their markers; every write is
called with a VALID body (the table WRITES) naming another community's objects and must be refused
(403/404/422) with that community's rows unchanged. An operation that is neither probed nor listed in
EXEMPT (with the reason) fails test_every_operation_is_probed_or_exempt.

World: gridgov.testing.build_world(far=True). A user of each role sits in community A (subdistrict 民治);
"the other community" is B (same subdistrict) for everyone whose scope is community A or smaller, and C
(subdistrict 大浪) for the roles that see their whole subdistrict (subdistrict staff, leader)."""

from __future__ import annotations

import datetime as dt
import functools
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import shapely
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.db.models import Q
from django.test import Client
from django.utils import timezone

from gridgov.accounts.models import ApiToken, Backup, Leave, Membership, User
from gridgov.accounts.roles import Role
from gridgov.cases.models import Case, Step, WhistleItem
from gridgov.core import notifications
from gridgov.core.models import Notification
from gridgov.core.tabular.validators import make_id_number
from gridgov.fieldwork.models import PatrolFinding, PatrolPlan, PatrolSession, TrackPoint
from gridgov.registry.models import (
    CareMembership,
    Household,
    ImportJob,
    PiiGrant,
    Resident,
    Submission,
    Unit,
)
from gridgov.rental.models import (
    Compound,
    Inspection,
    RentalCase,
    RentalHouse,
    RentalRoom,
    StarApplication,
    StarAssessment,
    StarRules,
    StarSite,
    StarStep,
    Tenancy,
)
from gridgov.rental.seed import ITEMS as RENTAL_ITEMS
from gridgov.territory.models import Area, Building, DepartmentLayer, GridProposal, House
from gridgov.testing import (
    World,
    build_world,
    fresh_locator,
    immediate_tasks,
    make_token,
    make_user,
    snapshot,
    user_of_role,
)

pytestmark = pytest.mark.django_db

CASE_TEXT = {
    "a": "本社区的诉求：小区门口垃圾堆放多日无人清理",
    "b": "另一社区的诉求：楼道堆放杂物堵塞消防通道",
    "c": "远方社区的诉求：路灯损坏夜间漆黑",
}
ALL_ROLES = [r.value for r in Role]

# Operations that name no community's object, with the reason (anything else must be probed).
EXEMPT: dict[tuple[str, str], str] = {
    ("post", "/api/v1/auth/login"): "public: the login itself",
    ("post", "/api/v1/auth/logout"): "ends the caller's own session",
    ("post", "/api/v1/auth/password"): "changes the caller's own password",
    ("patch", "/api/v1/auth/me"): "the caller's own language",
    ("post", "/api/v1/auth/totp/setup"): "the caller's own second factor",
    ("post", "/api/v1/auth/totp/confirm"): "the caller's own second factor",
    ("post", "/api/v1/accounts/tokens"): "creates a token of the caller",
    (
        "post",
        "/api/v1/territory/layers",
    ): "department layers are district-wide; upload is the administrator's",
    ("post", "/api/v1/cases/cases"): "anyone may report a case where the problem is; intake scope is "
    "tested in cases/tests/test_intake_scope.py",
    ("post", "/api/v1/cases/attachments"): "uploads the caller's own photo, tied to no object yet",
    ("post", "/api/v1/attachments"): "uploads the caller's own file, tied to no object yet",
    ("post", "/api/v1/cases/suggest-category"): "reads the category catalogue only (district-wide)",
    (
        "post",
        "/api/v1/rental/rules",
    ): "the grading rules are district-wide configuration, the administrator's",
    (
        "post",
        "/api/v1/rental/stars/rules",
    ): "the star criteria are district-wide configuration, the administrator's",
}
# The public page of a rental house code carries no personal data by design (rental/tests/test_api.py).
# So does the public list of awarded star buildings and compounds (rental/tests/test_stars.py).
PUBLIC_READS = {
    "/api/v1/health",
    "/api/v1/auth/csrf",
    "/api/v1/rental/public/{code}",
    "/api/v1/rental/stars/public",
}

# Who may, by design, change another community's objects through an operation (their scope is the whole
# district or the accounts themselves): the probe does not expect a refusal from them there.
ACCOUNT_WRITES = {
    ("patch", "/api/v1/accounts/users/{user_id}"),
    ("post", "/api/v1/accounts/users/{user_id}/memberships"),
    ("delete", "/api/v1/accounts/memberships/{membership_id}"),
    ("post", "/api/v1/accounts/users/{user_id}/unlock"),
    ("post", "/api/v1/accounts/users/{user_id}/totp/reset"),
    ("delete", "/api/v1/accounts/tokens/{token_id}"),
    ("post", "/api/v1/accounts/users"),
    ("post", "/api/v1/accounts/posts/memberships/{membership_id}"),
}
PII_GRANT_WRITES = {
    ("post", "/api/v1/registry/pii-grants"),
    ("delete", "/api/v1/registry/pii-grants/{grant_id}"),
}
MAY_WRITE: dict[str, set[tuple[str, str]] | None] = {
    Role.ADMIN: None,  # everything: the system administrator's scope is the whole district
    Role.SECURITY_ADMIN: ACCOUNT_WRITES | PII_GRANT_WRITES,
}
# What each role may see of another community by design (三权分立): the system administrator sees all
# business data but never personal data in plaintext; the security administrator manages every account
# (usernames, memberships and the areas they name); the audit administrator reads the whole audit log.
SEES = {
    # Not "reporter": a case reporter's phone is personal data, masked for the administrator too
    # (test_administrator_never_sees_a_reporters_phone).
    Role.ADMIN: {"accounts", "territory", "business"},
    # A department is a district organisation: it sees the area tree it takes cases from.
    Role.DEPARTMENT_HANDLER: {"territory"},
    Role.SECURITY_ADMIN: {"accounts", "territory"},
    Role.AUDIT_ADMIN: {"accounts", "territory", "business"},
}


# ── the other community's objects ──────────────────────────────────────────────────────────────────


@dataclass
class Other:
    """Objects of one community, and the markers that must not show outside it."""

    key: str
    area: Area
    values: dict[str, list[Any]] = field(default_factory=dict)
    markers: dict[str, list[str]] = field(default_factory=dict)
    objects: dict[str, Any] = field(default_factory=dict)

    def state(self) -> dict[str, Any]:
        """The rows of this community as they are now (new rows included)."""
        p = self.area.path
        return snapshot(
            Area.objects.filter(path__startswith=p),
            Building.objects.filter(grid__path__startswith=p),
            House.objects.filter(building__grid__path__startswith=p),
            Resident.objects.filter(building__grid__path__startswith=p),
            Household.objects.filter(house__building__grid__path__startswith=p),
            Unit.objects.filter(building__grid__path__startswith=p),
            CareMembership.objects.filter(resident__building__grid__path__startswith=p),
            Submission.objects.filter(building__grid__path__startswith=p),
            ImportJob.objects.filter(area__path__startswith=p),
            PiiGrant.objects.filter(area__path__startswith=p),
            Case.objects.filter(area__path__startswith=p),
            Step.objects.filter(case__area__path__startswith=p),
            Notification.objects.filter(
                owner_type=ContentType.objects.get_for_model(Case),
                owner_id__in=Case.objects.filter(area__path__startswith=p).values("id"),
            ),
            GridProposal.objects.filter(area__path__startswith=p),
            Membership.objects.filter(
                Q(area__path__startswith=p) | Q(organisation__area__path__startswith=p)
            ),
            User.objects.filter(memberships__area__path__startswith=p),
            Backup.objects.filter(user__memberships__area__path__startswith=p),
            Leave.objects.filter(user__memberships__area__path__startswith=p),
            ApiToken.objects.filter(user__memberships__area__path__startswith=p),
            RentalHouse.objects.filter(house__building__grid__path__startswith=p),
            RentalRoom.objects.filter(rental_house__house__building__grid__path__startswith=p),
            Tenancy.objects.filter(rental_house__house__building__grid__path__startswith=p),
            Inspection.objects.filter(rental_house__house__building__grid__path__startswith=p),
            RentalCase.objects.filter(rental_house__house__building__grid__path__startswith=p),
            PatrolSession.objects.filter(area__path__startswith=p),
            TrackPoint.objects.filter(session__area__path__startswith=p),
            PatrolFinding.objects.filter(session__area__path__startswith=p),
            PatrolPlan.objects.filter(area__path__startswith=p),
            Compound.objects.filter(community__path__startswith=p),
            StarSite.objects.filter(path__startswith=p),
            StarApplication.objects.filter(site__path__startswith=p),
            StarAssessment.objects.filter(application__site__path__startswith=p),
            StarStep.objects.filter(site__path__startswith=p),
        )


def _point(grid: Area) -> tuple[float, float]:
    p = shapely.from_geojson(grid.geometry).representative_point()
    return p.x, p.y


def _photo(case: Case) -> str:
    from PIL import Image

    from gridgov.cases import services, workflow

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 200, 10)).save(buffer, format="PNG")
    upload = SimpleUploadedFile("p.png", buffer.getvalue(), content_type="image/png")
    photo = services.upload_attachment(actor=case.created_by, file=upload)
    workflow.claim_attachments(case, case.created_by, [photo.id])
    return str(photo.id)


def _star_sites(staff: User, community: Area, grid: Area, b: Building) -> dict[str, Any]:
    """The community's star sites, one in each state a write acts on: building b awarded (review,
    withdraw), the grid's other building assessed (award), a compound applied for (assess)."""
    today = dt.date.today()
    compound = Compound.objects.create(name=f"{community.name}花园", community=community, created_by=staff)
    second = Building.objects.filter(grid=grid).exclude(pk=b.pk).order_by("code").first()
    compound.buildings.set([second])
    awarded = StarSite.objects.create(
        kind="building", building=b, community=community, path=grid.path, status="awarded", stars=4,
        awarded_on=today, valid_until=today + dt.timedelta(days=365), review_due_on=today + dt.timedelta(days=335),
    )  # fmt: skip
    assessed = StarSite.objects.create(kind="building", building=second, community=community, path=grid.path)
    applied = StarSite.objects.create(
        kind="compound", compound=compound, community=community, path=community.path
    )
    for site in (awarded, assessed, applied):
        StarStep.objects.create(site=site, action="apply", actor=staff)
    app = StarApplication.objects.create(
        site=assessed, kind="application", status="assessed", applicant=staff
    )
    rules = StarRules.objects.order_by("-version").first()
    StarAssessment.objects.create(
        application=app, rules=rules, criteria=rules.criteria, scores={}, score=90, stars=4, assessor=staff
    )
    StarApplication.objects.create(site=applied, kind="application", status="applied", applicant=staff)
    return {"compound": compound, "star_awarded": awarded, "star_assessed": assessed, "star_applied": applied}


def _full_star_scores(kind: str) -> dict[str, int]:
    rules = StarRules.objects.order_by("-version").first()
    return {c["code"]: c["weight"] for c in rules.criteria if c["applies"] in (kind, "both")}


def populate(world: World, key: str, admin: User, security: User) -> Other:
    """People, residents, units, cases, a proposal … in one community, made through the services."""
    from gridgov.cases import services as cases
    from gridgov.registry import services as registry
    from gridgov.registry.services import _seal_payload
    from gridgov.territory.models import DepartmentGrid
    from gridgov.territory.redivision import propose

    c = world.community(key)
    staff = user_of_role(
        Role.COMMUNITY_STAFF, world, key, username=f"staff_{key}", phone=f"1370000000{ord(key) % 10}"
    )
    head = user_of_role(Role.BUILDING_HEAD, world, key, username=f"head_{key}")
    worker = user_of_role(Role.GRID_WORKER, world, key, username=f"worker_{key}")
    soon = timezone.now() + dt.timedelta(days=1)
    leave = Leave.objects.create(
        user=staff, backup=worker, starts_at=soon, ends_at=soon + dt.timedelta(days=2)
    )
    partner = user_of_role(Role.PARTNER_ORG, world, key, username=f"partner_{key}")
    make_token(staff, f"gg_other-{key}")
    token_id = ApiToken.objects.get(user=staff).pk
    b = c.building
    phones = [f"1590000{ord(key):02d}{i:02d}" for i in range(2)]
    id_numbers = [
        make_id_number("110105", dt.date(1970 + i, 3, 4), 2 * ord(key) + 2 * i + 1, "M") for i in range(2)
    ]
    people = [
        registry.create_resident(
            actor=staff,
            data={
                "name": f"{c.area.name}居民{i}",
                "id_number": id_numbers[i],
                "gender": "M",
                "phone": phones[i],
                "residence_type": "tenant",
                "building_code": b.code,
                "unit": "1",
                "room": "0101",
                "household_no": f"H{key}{i}",
                "relation": "户主" if i == 0 else "子女",
            },
        )
        for i in range(2)
    ]
    unit = registry.create_unit(
        actor=staff,
        data={
            "name": f"{c.area.name}便利店",
            "building_code": b.code,
            "kind": "shop",
            "phone": "075512345678",
        },
    )
    care = registry.add_care(actor=staff, resident_id=people[0].pk, group="disabled", since=None)
    enc, pii_key = _seal_payload({"name": f"{c.area.name}采集", "building_code": b.code})
    submission = Submission.objects.create(
        kind="resident", action="create", building=b, payload_enc=enc, pii_key=pii_key, submitted_by=head
    )
    job = ImportJob.objects.create(
        kind="residents", mode="valid_rows", file_name=f"{c.area.name}.csv", file_format="csv",
        file_path="none", created_by=staff, area=c.area, status="done",
    )  # fmt: skip
    grant = PiiGrant.objects.create(
        user=staff, field="phone", area=c.area, reason=c.area.name, granted_by=security
    )
    lng, lat = _point(c.grid)
    new_case, _ = cases.intake(
        actor=staff, description=CASE_TEXT[key], channel="window", reporter_name="李四",
        reporter_phone=f"1380013800{ord(key) % 10}", lng=lng, lat=lat,
    )  # fmt: skip
    open_case, _ = cases.intake(
        actor=staff,
        description=CASE_TEXT[key] + "（已受理）",
        channel="window",
        reporter_name="王五",
        lng=lng,
        lat=lat,
    )
    open_case = cases.perform(
        "accept",
        case_id=open_case.pk,
        version=open_case.version,
        actor=staff,
        fields={"category_code": _category()},
    )
    facts = {"level": "red", "deadline": "resolution", "step_id": None, "number": new_case.number, "due": ""}
    notification = notifications.notify([staff], "deadline_red", facts, new_case)[0]
    proposal = propose(actor=admin, area_code=c.area.code)
    layer = DepartmentLayer.objects.create(name=f"城管网格{key}", source_crs="wgs84")
    minx, miny, maxx, maxy = shapely.from_geojson(c.area.geometry).bounds
    DepartmentGrid.objects.create(
        layer=layer, code=f"CG-{key}", geometry=shapely.to_geojson(shapely.box(minx, miny, maxx, maxy)),
        min_lng=minx, min_lat=miny, max_lng=maxx, max_lat=maxy,
    )  # fmt: skip
    from gridgov.rental import services as rental_services

    rental = rental_services.create_rental_house(
        actor=staff, house_id=House.objects.filter(building=b).order_by("id")[1].pk, category_code="shared",
        landlord_resident_id=people[0].pk, filing_number=f"BA-{key}-0001", rooms=["A", "B"],
    )  # fmt: skip
    rental_services.add_tenant(
        actor=staff, rental_house_id=rental.pk, resident_id=people[1].pk, since=dt.date.today()
    )
    rental_services.record_inspection(
        actor=staff,
        rental_house_id=rental.pk,
        results={code: "pass" for code, *_ in RENTAL_ITEMS} | {"H02": "fail"},
    )
    from gridgov.fieldwork import services as fieldwork_services

    patrol, _ = fieldwork_services.start_session(actor=worker, client_id=f"probe-{key}")
    fieldwork_services.add_points(
        actor=worker, session_id=patrol.pk, client_id="b1",
        points=[{"t": timezone.now(), "lng": lng, "lat": lat, "accuracy": 5.0}],
    )  # fmt: skip
    patrol_plan = fieldwork_services.create_plan(
        actor=staff, data={"area_code": c.grid.code, "role": "grid_worker", "cadence": "daily",
                           "valid_from": dt.date.today()},
    )  # fmt: skip
    stars = _star_sites(staff, c.area, c.grid, b)
    for obj in (*people, unit):
        obj.refresh_from_db()
    other = Other(key, c.area)
    other.objects = {
        "staff": staff, "head": head, "partner": partner, "residents": people, "unit": unit, "care": care,
        "submission": submission, "job": job, "grant": grant, "new_case": new_case, "open_case": open_case,
        "proposal": proposal, "worker": worker, "leave": leave, "rental": rental, **stars,
    }  # fmt: skip
    membership = Membership.objects.get(user=staff)
    other.values = {
        "area_code": [c.area.code, c.block.code, c.grid.code],
        "building_code": [b.code],
        "house_id": [House.objects.filter(building=b).order_by("id").first().pk],
        "site_id": [stars["star_awarded"].pk, stars["star_applied"].pk],
        "user_id": [staff.pk],
        "membership_id": [membership.pk],
        "organisation_code": [c.committee.code, c.partner.code],
        "token_id": [token_id],
        "leave_id": [leave.pk],
        "case_id": [new_case.pk, open_case.pk],
        "notification_id": [notification.pk],
        "attachment_id": [_photo(new_case)],
        "action": ["accept", "whistle"],
        "sheet": ["work-order"],
        "resident_id": [people[0].pk],
        "household_id": [people[0].household_id],
        "unit_id": [unit.pk],
        "care_member_id": [care.pk],
        "submission_id": [submission.pk],
        "job_id": [job.pk],
        "grant_id": [grant.pk],
        "proposal_id": [proposal.pk],
        "layer_id": [layer.pk],
        "category_code": [_category()],
        "rental_house_id": [rental.pk],
        "session_id": [patrol.pk],
        "plan_id": [patrol_plan.pk],
        "house": [rental.pk],  # the QR label sheet of one rental house
        "whistle_item_id": [WhistleItem.objects.get_or_create(group="市容", name="占道经营")[0].pk],
        # query parameters
        "parent": [c.area.code, c.grid.code],
        "parent_code": [c.area.code],
        "area": [c.area.code],
        "community": [c.area.code],
        "grid": [c.grid.code],
        "grid_code": [c.grid.code],
        "building": [b.code],
        "q": [c.area.name, c.area.code, people[0].name],
        "lng": [lng],
        "lat": [lat],
        "crs": ["wgs84"],
        "level": ["grid"],
        "reveal": ["true"],
        "purpose": ["核查"],
        "date_from": [(dt.date.today() - dt.timedelta(days=365)).isoformat()],
        "date_to": [(dt.date.today() + dt.timedelta(days=1)).isoformat()],
    }
    p = c.area.path
    other.markers = {
        "territory": [
            c.area.code,
            c.area.name,
            *(g.name for g in c.grids),
            *(x.address for x in c.buildings),
        ],
        "accounts": [u.username for u in User.objects.filter(memberships__area__path__startswith=p)]
        + [partner.username],
        "business": [
            CASE_TEXT[key],
            new_case.number,
            open_case.number,
            unit.name,
            f"{c.area.name}采集",
            rental.code,
            f"BA-{key}-0001",
        ],  # fmt: skip
        "reporter": [f"1380013800{ord(key) % 10}"],
        "personal": [
            *(r.name for r in people),
            *phones,
            *id_numbers,
            "075512345678",
        ],
    }
    return other


def _category() -> str:
    from gridgov.cases.models import Category

    return (
        Category.objects.filter(is_active=True, parent__isnull=False)
        .order_by("code")
        .values_list("code", flat=True)
        .first()
    )


# ── the writes, with valid bodies ──────────────────────────────────────────────────────────────────

Body = dict[str, Any]
Probe = tuple[dict[str, Any], Any]  # (path values, body)


def _csv_naming(building: Building) -> bytes:
    rows = [
        "姓名,性别,公民身份号码,联系电话,人员类型,楼栋编码,单元,房号,户号,与户主关系,迁入日期",
        f"外来人,男,{make_id_number('110105', dt.date(1980, 1, 1), 7, 'M')},13911112222,租住,{building.code},1,0102,HX,户主,2021-03-04",
    ]
    return "\n".join(rows).encode()


def _rental_csv_naming(o: Other) -> tuple[bytes, bytes]:
    """A rental list naming the other community's house 0102, and gradings naming its rental house's code."""
    house = o.objects["rental"].house
    rows = ["楼栋编码,单元,房号,租住类别,出租房间", f"{house.building.code},1,0102,整租,A、B"]
    gradings = ["一屋一码,分级,分级日期", f"{o.objects['rental'].code},禁止,{dt.date.today().isoformat()}"]
    return "\n".join(rows).encode(), "\n".join(gradings).encode()


def _case_actions(o: Other, w: World) -> list[Probe]:
    from gridgov.cases.workflow import TRANSITIONS

    new, open_ = o.objects["new_case"], o.objects["open_case"]
    fields = {
        "category_code": _category(), "reason": "不属于本社区", "departments": ["440309-CG"], "note": "跨社区操作",
        "level": "yellow", "satisfaction": 5, "comment": "好", "passed": True,
    }  # fmt: skip
    probes = []
    for action, t in TRANSITIONS.items():
        case = new if "submitted" in {str(s) for s in t.sources} else open_
        case.refresh_from_db()
        body = {
            "version": case.version,
            **{k: v for k, v in fields.items() if k in t.required or k == "note"},
        }
        if action == "whistle":
            body["departments"] = ["440309-CG"]
        probes.append(({"case_id": case.pk, "action": action}, body))
    return probes


WRITES: dict[tuple[str, str], Callable[[Other, World], list[Probe]]] = {
    ("post", "/api/v1/fieldwork/sessions"): lambda o, w: [
        ({}, {"client_id": "probe-start", "area_code": code}) for code in o.values["area_code"]
    ],
    ("post", "/api/v1/fieldwork/sessions/{session_id}/points"): lambda o, w: [
        (
            {"session_id": o.values["session_id"][0]},
            {
                "client_id": "probe-batch",
                "points": [
                    {"t": timezone.now().isoformat(), "lng": o.values["lng"][0], "lat": o.values["lat"][0]}
                ],
            },
        )  # fmt: skip
    ],
    ("post", "/api/v1/fieldwork/sessions/{session_id}/findings"): lambda o, w: [
        (
            {"session_id": o.values["session_id"][0]},
            {"client_id": "probe-finding", "description": "跨社区上报"},
        )
    ],
    ("post", "/api/v1/fieldwork/sessions/{session_id}/end"): lambda o, w: [
        ({"session_id": o.values["session_id"][0]}, {})
    ],
    ("post", "/api/v1/fieldwork/plans"): lambda o, w: [
        ({}, {"area_code": code, "role": "grid_worker", "cadence": "daily", "valid_from": "2026-01-01"})
        for code in o.values["area_code"][1:]
    ],
    ("patch", "/api/v1/fieldwork/plans/{plan_id}"): lambda o, w: [
        ({"plan_id": o.values["plan_id"][0]}, {"cadence": "weekly", "min_minutes": 5})
    ],
    ("delete", "/api/v1/fieldwork/plans/{plan_id}"): lambda o, w: [
        ({"plan_id": o.values["plan_id"][0]}, None)
    ],
    ("post", "/api/v1/rental/houses"): lambda o, w: [
        ({}, {"house_id": o.values["house_id"][0], "category_code": "whole", "rooms": ["1"]})
    ],
    ("post", "/api/v1/rental/houses/{rental_house_id}/inspections"): lambda o, w: [
        (
            {"rental_house_id": o.objects["rental"].pk},
            {"results": {code: "pass" for code, *_ in RENTAL_ITEMS}},
        )
    ],
    ("post", "/api/v1/rental/stars"): lambda o, w: [
        ({}, {"kind": "building", "building_code": o.objects["star_assessed"].building.code}),
        ({}, {"kind": "building", "building_code": o.values["building_code"][0]}),
        ({}, {"kind": "compound", "compound_id": o.objects["compound"].pk}),
    ],
    ("post", "/api/v1/rental/stars/compounds"): lambda o, w: [
        (
            {},
            {
                "name": "跨社区小区",
                "community_code": o.area.code,
                "building_codes": [o.values["building_code"][0]],
            },
        )
    ],
    ("post", "/api/v1/rental/stars/{site_id}/assess"): lambda o, w: [
        ({"site_id": o.objects["star_applied"].pk}, {"scores": _full_star_scores("compound")})
    ],
    ("post", "/api/v1/rental/stars/{site_id}/award"): lambda o, w: [
        ({"site_id": o.objects["star_assessed"].pk}, {"note": ""})
    ],
    ("post", "/api/v1/rental/stars/{site_id}/review"): lambda o, w: [
        ({"site_id": o.objects["star_awarded"].pk}, {"note": ""})
    ],
    ("post", "/api/v1/rental/stars/{site_id}/withdraw"): lambda o, w: [
        ({"site_id": o.objects["star_awarded"].pk}, {"reason": "跨社区摘牌"})
    ],
    ("get", "/api/v1/auth/me"): lambda o, w: [],
    ("patch", "/api/v1/accounts/users/{user_id}"): lambda o, w: [
        (
            {"user_id": o.objects["staff"].pk},
            {"display_name": "被改名", "phone": "13100000000", "is_active": False},
        )
    ],
    ("post", "/api/v1/accounts/users"): lambda o, w: [],
    ("post", "/api/v1/accounts/organisations"): lambda o, w: [
        (
            {},
            {
                "code": f"{o.key.upper()}-PROBE",
                "name": "跨社区单位",
                "kind": "committee",
                "area_code": w.community(o.key).area.code,
            },
        )
    ],  # fmt: skip
    ("patch", "/api/v1/accounts/organisations/{organisation_code}"): lambda o, w: [
        ({"organisation_code": w.community(o.key).committee.code}, {"name": "被改名的居委会"})
    ],
    ("post", "/api/v1/accounts/users/{user_id}/memberships"): lambda o, w: [
        (
            {"user_id": o.objects["staff"].pk},
            {"role": "grid_worker", "area_code": w.community(o.key).grid.code},
        )
    ],
    ("delete", "/api/v1/accounts/memberships/{membership_id}"): lambda o, w: [
        ({"membership_id": o.values["membership_id"][0]}, None)
    ],
    ("post", "/api/v1/accounts/users/{user_id}/unlock"): lambda o, w: [
        ({"user_id": o.objects["staff"].pk}, None)
    ],
    ("post", "/api/v1/accounts/users/{user_id}/totp/reset"): lambda o, w: [
        ({"user_id": o.objects["staff"].pk}, None)
    ],
    ("delete", "/api/v1/accounts/tokens/{token_id}"): lambda o, w: [
        ({"token_id": o.values["token_id"][0]}, None)
    ],
    # AB岗: another community's backup and leave (a valid colleague, a valid period).
    ("post", "/api/v1/accounts/posts/{user_id}/backup"): lambda o, w: [
        ({"user_id": o.objects["staff"].pk}, {"backup_id": o.objects["worker"].pk})
    ],
    ("post", "/api/v1/accounts/posts/{user_id}/leaves"): lambda o, w: [
        (
            {"user_id": o.objects["staff"].pk},
            {
                "starts_at": (timezone.now() + dt.timedelta(days=10)).isoformat(),
                "ends_at": (timezone.now() + dt.timedelta(days=12)).isoformat(),
                "backup_id": o.objects["worker"].pk,
            },
        )
    ],
    ("post", "/api/v1/accounts/posts/memberships/{membership_id}"): lambda o, w: [
        ({"membership_id": o.values["membership_id"][0]}, {"post": "", "building_code": None})
    ],
    ("post", "/api/v1/accounts/posts/leaves/{leave_id}/end"): lambda o, w: [
        ({"leave_id": o.objects["leave"].pk}, None)
    ],
    ("patch", "/api/v1/accounts/posts/leaves/{leave_id}"): lambda o, w: [
        ({"leave_id": o.objects["leave"].pk}, {"backup_id": o.objects["worker"].pk})
    ],
    ("post", "/api/v1/territory/areas"): lambda o, w: [
        (
            {},
            {
                "level": "grid",
                "code": w.community(o.key).block.code + "9",
                "name": "插入的网格",
                "parent_code": w.community(o.key).block.code,
            },
        )
    ],  # fmt: skip
    ("patch", "/api/v1/territory/areas/{area_code}"): lambda o, w: [
        ({"area_code": code}, {"name": "被改名的区域"}) for code in o.values["area_code"]
    ],
    ("post", "/api/v1/territory/proposals"): lambda o, w: [({}, {"area_code": o.area.code})],
    ("post", "/api/v1/territory/proposals/{proposal_id}/adopt"): lambda o, w: [
        ({"proposal_id": o.objects["proposal"].pk}, None)
    ],
    ("post", "/api/v1/territory/proposals/{proposal_id}/discard"): lambda o, w: [
        ({"proposal_id": o.objects["proposal"].pk}, None)
    ],
    ("post", "/api/v1/cases/cases/{case_id}/actions/{action}"): _case_actions,
    ("post", "/api/v1/cases/notifications/{notification_id}/read"): lambda o, w: [
        ({"notification_id": o.values["notification_id"][0]}, None)
    ],
    ("post", "/api/v1/notifications/{notification_id}/read"): lambda o, w: [
        ({"notification_id": o.values["notification_id"][0]}, None)
    ],
    ("post", "/api/v1/registry/residents"): lambda o, w: [
        (
            {},
            {
                "name": "插入的居民",
                "id_number": make_id_number("110105", dt.date(1990, 5, 6), 9, "F"),
                "gender": "F",
                "phone": "13922223333",
                "residence_type": "tenant",
                "building_code": w.community(o.key).building.code,
                "unit": "1",
                "room": "0201",
            },
        )
    ],  # fmt: skip
    ("patch", "/api/v1/registry/residents/{resident_id}"): lambda o, w: [
        ({"resident_id": r.pk}, {"version": r.version, "name": "被改名", "phone": "13100000001"})
        for r in o.objects["residents"][:1]
    ],
    ("post", "/api/v1/registry/units"): lambda o, w: [
        ({}, {"name": "插入的单位", "building_code": w.community(o.key).building.code, "kind": "shop"})
    ],
    ("patch", "/api/v1/registry/units/{unit_id}"): lambda o, w: [
        ({"unit_id": o.objects["unit"].pk}, {"version": o.objects["unit"].version, "name": "被改名的单位"})
    ],
    ("post", "/api/v1/registry/care-members"): lambda o, w: [
        ({}, {"resident_id": o.objects["residents"][1].pk, "group": "elderly_alone", "note": "跨社区"})
    ],
    ("delete", "/api/v1/registry/care-members/{care_member_id}"): lambda o, w: [
        ({"care_member_id": o.objects["care"].pk}, None)
    ],
    ("post", "/api/v1/registry/submissions"): lambda o, w: [
        (
            {},
            {
                "kind": "resident",
                "action": "update",
                "target_id": o.objects["residents"][0].pk,
                "base_version": o.objects["residents"][0].version,
                "data": {"phone": "13100000002"},
            },
        ),
        (
            {},
            {
                "_by_design": [Role.RESIDENT],  # a resident declares their own household anywhere
                "kind": "resident",
                "action": "create",
                "data": {
                    "name": "插入的采集",
                    "id_number": make_id_number("110105", dt.date(1991, 5, 6), 11, "M"),
                    "residence_type": "tenant",
                    "building_code": w.community(o.key).building.code,
                    "unit": "1",
                    "room": "0301",
                },
            },
        ),
    ],  # fmt: skip
    ("post", "/api/v1/registry/submissions/{submission_id}/approve"): lambda o, w: [
        ({"submission_id": o.objects["submission"].pk}, None)
    ],
    ("post", "/api/v1/registry/submissions/{submission_id}/reject"): lambda o, w: [
        ({"submission_id": o.objects["submission"].pk}, {"reason": "跨社区驳回"})
    ],
    ("post", "/api/v1/registry/imports"): lambda o, w: [
        (
            {},
            {
                "multipart": {
                    "file": _csv_naming(w.community(o.key).building),
                    "kind": "residents",
                    "mode": "valid_rows",
                }
            },
        )
    ],
    ("post", "/api/v1/rental/imports"): lambda o, w: [
        ({}, {"multipart": {"file": _rental_csv_naming(o)[0], "kind": "houses", "mode": "valid_rows"}}),
        ({}, {"multipart": {"file": _rental_csv_naming(o)[1], "kind": "gradings", "mode": "valid_rows"}}),
    ],
    ("post", "/api/v1/registry/imports/{job_id}/resume"): lambda o, w: [
        ({"job_id": o.objects["job"].pk}, None)
    ],
    ("post", "/api/v1/registry/pii-grants"): lambda o, w: [
        (
            {},
            {
                "user_id": o.objects["head"].pk,
                "field": "phone",
                "area_code": o.area.code,
                "reason": "跨社区授权",
            },
        )
    ],
    ("delete", "/api/v1/registry/pii-grants/{grant_id}"): lambda o, w: [
        ({"grant_id": o.objects["grant"].pk}, None)
    ],
}
# POSTs that only read: called with a body naming the other community; the answer must not show it.
READ_POSTS: dict[tuple[str, str], Callable[[Other, World], list[Probe]]] = {
    ("post", "/api/v1/registry/exports"): lambda o, w: (
        [
            ({}, {"kind": kind, "format": "csv", "area": code, "reveal": True, "purpose": "核查"})
            for kind in ("residents", "units")
            for code in (o.area.code, w.community(o.key).grid.code)
        ]
        + [({}, {"kind": "residents", "format": "xlsx", "building": w.community(o.key).building.code})]
    ),
    ("post", "/api/v1/cases/duplicates-preview"): lambda o, w: [
        ({}, {"description": CASE_TEXT[o.key], "area_code": o.area.code}),
        ({}, {"description": CASE_TEXT[o.key], "lng": o.values["lng"][0], "lat": o.values["lat"][0]}),
    ],
}


# ── the probe ──────────────────────────────────────────────────────────────────────────────────────


@functools.cache
def operations() -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, operation) of every operation of the API object (read once)."""
    from gridgov.api import api

    spec = api.get_openapi_schema()
    return [
        (method, path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def _params(op: dict[str, Any], where: str) -> list[str]:
    return [p["name"] for p in op.get("parameters", []) if p["in"] == where]


def _fill(path: str, values: dict[str, Any]) -> str:
    for name, value in values.items():
        path = path.replace("{" + name + "}", str(value))
    assert "{" not in path, (
        f"{path}: a path parameter has no value in tests/test_scope_leaks.py (Other.values)"
    )
    return path


def _text(response) -> str:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    ctype = response.get("Content-Type", "")
    if "spreadsheetml" in ctype:
        import openpyxl

        book = openpyxl.load_workbook(io.BytesIO(body), read_only=True)
        return "\n".join(
            str(v) for ws in book.worksheets for row in ws.iter_rows(values_only=True) for v in row if v
        )
    if ctype.startswith("image/"):
        return ""
    if ctype.startswith("application/pdf"):
        from pypdf import PdfReader

        return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(body)).pages)
    return body.decode("utf-8-sig", errors="replace")


class Prober:
    def __init__(self, client: Client, other: Other, role: str, world: World):
        self.client, self.other, self.role, self.world = client, other, role, world
        self.csrf = client.get("/api/v1/auth/csrf").json()["csrf_token"]
        sees = SEES.get(role, set())
        markers = [m for kind, ms in other.markers.items() if kind not in sees for m in ms if m]
        self.marker_re = re.compile(
            "|".join(re.escape(m) for m in sorted(set(markers), key=len, reverse=True))
        )
        self.calls = 0
        self.found: list[str] = []

    def call(self, method: str, url: str, body: Any = None, params: dict | None = None):
        self.calls += 1
        headers = {"HTTP_X_CSRFTOKEN": self.csrf, "HTTP_ACCEPT_LANGUAGE": "en"}
        if method == "get":
            return self.client.get(url, params or {}, **headers)
        if isinstance(body, dict) and "multipart" in body:
            form = dict(body["multipart"])
            form["file"] = SimpleUploadedFile("other.csv", form["file"])
            return self.client.post(url, form, **headers)
        return getattr(self.client, method)(
            url, json.dumps(body or {}), content_type="application/json", **headers
        )

    def read(
        self, method: str, url: str, body: Any = None, params: dict | None = None, *, strict: bool = True
    ):
        r = self.call(method, url, body, params)
        where = f"{self.role} {method.upper()} {url} {params or ''} {body or ''}"
        assert r.status_code < 500, f"{where} → {r.status_code}"
        assert r.status_code in (200, 201, 400, 403, 404, 409, 422), f"{where} → {r.status_code}"
        hit = self.marker_re.search(_text(r))
        if hit:
            self.found.append(f"{where} shows {hit.group(0)!r}")
            if strict:
                raise AssertionError(self.found[-1])
        return r

    def write(self, method: str, url: str, body: Any):
        if isinstance(body, dict) and "_by_design" in body:
            body = dict(body)
            if self.role in body.pop("_by_design"):
                return
        before = self.other.state()
        r = self.call(method, url, body)
        where = f"{self.role} {method.upper()} {url} {body!r:.200}"
        if url.endswith("/imports") and r.status_code == 201:
            # An import is accepted as a job; its rows are checked when it runs: none may land in the
            # other community.
            from gridgov.registry import jobs
            from gridgov.rental import jobs as rental_jobs

            job = (rental_jobs if "/rental/" in url else jobs).run(r.json()["id"])
            assert job.inserted == 0 and job.error_rows >= 1, f"{where} → imported {job.inserted} rows"
            assert self.other.state() == before, f"{where} → the other community's rows changed"
            if "/rental/" in url:
                # The prober's own upload (naming the other community) is not the other community's data:
                # its job goes, so that a later read of another table's id does not find it.
                job.delete()
            return
        assert r.status_code in (403, 404, 422), f"{where} → {r.status_code}: {r.content[:300]!r}"
        assert self.other.state() == before, (
            f"{where} → {r.status_code} but the other community's rows changed"
        )
        assert not self.marker_re.search(_text(r)), f"{where} answered with the other community's data"


def probe_all(prober: Prober, *, strict: bool = True) -> set[tuple[str, str]]:
    """Call every operation as the prober's user; returns the (method, path) probed."""
    o, w = prober.other, prober.world
    may_write = MAY_WRITE.get(prober.role, set())
    probed: set[tuple[str, str]] = set()
    for method, path, op in operations():
        key = (method, path)
        if key in EXEMPT or path in PUBLIC_READS or path in ("/api/openapi.json", "/api/docs"):
            continue
        path_names, query_names = _params(op, "path"), _params(op, "query")
        if method == "get":
            rounds = max([len(o.values[n]) for n in path_names if n in o.values] + [1])
            for i in range(rounds):
                url = _fill(path, {n: o.values[n][i % len(o.values[n])] for n in path_names if n in o.values})
                query = {n: o.values[n][i % len(o.values[n])] for n in query_names if n in o.values}
                for params in ({}, query) if query else ({},):
                    prober.read("get", url, params=params, strict=strict)
            probed.add(key)
        elif key in READ_POSTS:
            for values, body in READ_POSTS[key](o, w):
                prober.read(method, _fill(path, values), body, strict=strict)
            probed.add(key)
        else:
            assert key in WRITES, f"{method.upper()} {path} is neither probed (WRITES) nor EXEMPT"
            if may_write is None or key in may_write:
                probed.add(key)
                continue
            for values, body in WRITES[key](o, w):
                prober.write(method, _fill(path, values), body)
            probed.add(key)
    return probed


# ── the tests ──────────────────────────────────────────────────────────────────────────────────────


@pytest.fixture(scope="module")
def made(django_db_setup, django_db_blocker):
    """The world and the other communities' objects, made once for the module inside a transaction that
    is rolled back at its end (each test runs in a savepoint inside it)."""
    with django_db_blocker.unblock(), fresh_locator(), immediate_tasks(), transaction.atomic():
        world = build_world(far=True)
        admin = make_user("sysadmin", Role.ADMIN)
        security = make_user("secadmin", Role.SECURITY_ADMIN)
        others = {key: populate(world, key, admin, security) for key in ("b", "c")}
        yield world, others
        transaction.set_rollback(True)


@pytest.fixture
def setting(db, made, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    with fresh_locator(), immediate_tasks():
        yield made


def _other_for(role: str) -> str:
    return "c" if role in (Role.SUBDISTRICT_STAFF, Role.LEADER) else "b"


def test_every_operation_is_probed_or_exempt():
    """A new operation must get a probe (GET: automatic; a write: a valid body in WRITES) or a reason."""
    known = set(WRITES) | set(READ_POSTS) | set(EXEMPT)
    missing = [
        f"{m.upper()} {p}"
        for m, p, _ in operations()
        if m != "get" and (m, p) not in known and p not in PUBLIC_READS
    ]
    assert not missing, f"add a valid body to WRITES (or a reason to EXEMPT) in {__file__}: {missing}"
    every = {(m, p) for m, p, _ in operations()}
    stale = [k for k in known if k not in every and k[0] != "get"]
    assert not stale, f"entries for operations that no longer exist: {stale}"


@pytest.mark.parametrize("role", ALL_ROLES)
def test_no_endpoint_shows_or_changes_another_communitys_data(setting, role):
    world, others = setting
    user = user_of_role(role, world, "a", username=f"probe_{role}")
    client = Client()
    client.force_login(user)
    prober = Prober(client, others[_other_for(role)], role, world)
    probed = probe_all(prober)
    every = {(m, p) for m, p, _ in operations()}
    assert every - probed <= set(EXEMPT) | {
        (m, p) for m, p in every if p in PUBLIC_READS | {"/api/openapi.json", "/api/docs"}
    }
    assert prober.calls >= 80


def test_the_probe_finds_a_communitys_own_data(setting):
    """The markers work: the same reads made by community B's own staff show B's data in many answers."""
    world, others = setting
    staff_b = others["b"].objects["staff"]
    client = Client()
    client.force_login(staff_b)
    prober = Prober(client, others["b"], Role.COMMUNITY_STAFF, world)
    probe_reads_only(prober)
    shown = {f.split(" ")[2] for f in prober.found}
    assert len(shown) >= 15, shown


def probe_reads_only(prober: Prober) -> None:
    o = prober.other
    for method, path, op in operations():
        if method != "get" or path in PUBLIC_READS or path in ("/api/openapi.json", "/api/docs"):
            continue
        path_names, query_names = _params(op, "path"), _params(op, "query")
        url = _fill(path, {n: o.values[n][0] for n in path_names})
        query = {n: o.values[n][0] for n in query_names if n in o.values}
        prober.read("get", url, params=query, strict=False)


def test_administrator_never_sees_a_reporters_phone(setting):
    world, others = setting
    client = Client()
    client.force_login(User.objects.get(username="sysadmin"))
    case = others["b"].objects["new_case"]
    for url in ("/api/v1/cases/cases", f"/api/v1/cases/cases/{case.pk}"):
        assert others["b"].markers["reporter"][0] not in client.get(url).content.decode()
