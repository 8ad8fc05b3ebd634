"""Registry objects of one community, for the endpoint × role leak test (tests/test_scope_leaks.py):
a value for every path parameter name of the registry API."""

from __future__ import annotations

from gridgov.accounts.models import Membership, User
from gridgov.accounts.roles import Role
from gridgov.registry.models import (
    CareMembership,
    Household,
    ImportJob,
    PiiGrant,
    Resident,
    Submission,
    Unit,
)
from gridgov.territory.models import Area, Building


def registry_values(other: Area) -> dict[str, list]:
    prefix = other.path
    resident = Resident.objects.filter(building__grid__path__startswith=prefix).order_by("id").first()
    staff = User.objects.filter(memberships__role=Role.COMMUNITY_STAFF, memberships__area=other).first()
    head = Membership.objects.filter(role=Role.BUILDING_HEAD, area__path__startswith=prefix).first()
    care = CareMembership.objects.filter(resident__building__grid__path__startswith=prefix).first()
    if care is None:
        care = CareMembership.objects.create(resident=resident, group="disabled")
    from gridgov.registry.services import _seal_payload

    building = Building.objects.filter(grid__path__startswith=prefix).order_by("code").first()
    enc, key = _seal_payload({"name": "另一社区的采集", "building_code": building.code})
    submission = Submission.objects.create(
        kind="resident", action="create", building=building, payload_enc=enc, pii_key=key,
        submitted_by_id=head.user_id,
    )  # fmt: skip
    job = ImportJob.objects.create(
        kind="residents", mode="valid_rows", file_name="另一社区.csv", file_format="csv", file_path="none",
        created_by=staff, area=other, status="done",
    )  # fmt: skip
    security = User.objects.filter(memberships__role=Role.SECURITY_ADMIN).first()
    grant = PiiGrant.objects.create(
        user=staff, field="phone", area=other, reason="另一社区", granted_by=security
    )
    return {
        "resident_id": [resident.id],
        "household_id": [Household.objects.filter(house__building__grid__path__startswith=prefix).first().id],
        "unit_id": [Unit.objects.filter(building__grid__path__startswith=prefix).order_by("id").first().id],
        "care_member_id": [care.id],
        "submission_id": [submission.id],
        "job_id": [job.id],
        "grant_id": [grant.id],
    }
