"""Data scope on users and organisations: one community never sees another's accounts."""

from __future__ import annotations

import pytest

from gridgov.accounts.models import Membership
from gridgov.accounts.roles import Role

pytestmark = pytest.mark.django_db


def usernames(api, **params) -> list[str]:
    response = api.get("/accounts/users", params)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == len(body["items"])
    return sorted(u["username"] for u in body["items"])


def test_community_staff_see_their_community_only(as_user, people):
    api = as_user(people.staff_a)
    assert usernames(api) == ["partner_a", "resident_a", "staff_a", "worker_a"]
    assert api.get(f"/accounts/users/{people.worker_a.pk}").status_code == 200
    for other in (people.staff_b, people.resident_b, people.partner_b, people.handler, people.admin):
        response = api.get(f"/accounts/users/{other.pk}")
        assert response.status_code == 404, other.username
        assert response.json()["type"].endswith("/not-found")
    assert api.get("/accounts/users/999999").status_code == 404


def test_the_other_community_sees_the_mirror_image(as_user, people):
    assert usernames(as_user(people.staff_b)) == ["partner_b", "resident_b", "staff_b"]


def test_subdistrict_staff_see_both_communities(as_user, people):
    names = usernames(as_user(people.sub_staff))
    assert {"staff_a", "staff_b", "worker_a", "resident_b", "sub_staff"} <= set(names)
    assert "handler" not in names and "sysadmin" not in names


def test_department_handlers_see_their_department(as_user, people, orgs):
    colleague = Membership.objects.create(
        user=people.resident_b, role=Role.DEPARTMENT_HANDLER, organisation=orgs.dept
    )
    names = usernames(as_user(people.handler))
    assert names == ["handler", "resident_b"]
    # Of a colleague only the memberships the reader may see are shown (not their home grid).
    detail = as_user(people.handler).get(f"/accounts/users/{people.resident_b.pk}").json()
    assert [m["id"] for m in detail["memberships"]] == [colleague.pk]


def test_residents_see_only_themselves(as_user, people):
    api = as_user(people.resident_a)
    assert usernames(api) == ["resident_a"]
    assert api.get(f"/accounts/users/{people.worker_a.pk}").status_code == 404


@pytest.mark.parametrize("actor", ["admin", "secadmin"])
def test_system_and_security_administrators_see_everyone(as_user, people, actor):
    assert len(usernames(as_user(getattr(people, actor)))) == 12


def test_the_audit_administrator_sees_only_themselves(as_user, people):
    assert usernames(as_user(people.auditor)) == ["auditor"]


def test_memberships_in_another_community_are_not_shown(as_user, people, areas):
    Membership.objects.create(user=people.worker_a, role=Role.RESIDENT, area=areas.grid_b)
    detail = as_user(people.staff_a).get(f"/accounts/users/{people.worker_a.pk}").json()
    assert [m["area_code"] for m in detail["memberships"]] == [areas.grid_a.code]
    assert areas.comm_b.code not in str(detail) and areas.grid_b.code not in str(detail)
    listed = as_user(people.staff_a).get("/accounts/users", {"q": "worker"}).json()
    assert areas.grid_b.code not in str(listed)


def test_search_and_phone_masking(as_user, people):
    api = as_user(people.admin)
    assert usernames(api, q="staff_") == ["staff_a", "staff_b"]
    detail = api.get(f"/accounts/users/{people.staff_a.pk}").json()
    assert detail["phone"] == "138****5678"
    assert "13812345678" not in str(api.get("/accounts/users").content)


def test_the_user_list_is_paginated(as_user, people):
    body = as_user(people.admin).get("/accounts/users", {"page": 2, "page_size": 5}).json()
    assert body["count"] == 12 and len(body["items"]) == 5


def codes(api, **params) -> list[str]:
    response = api.get("/accounts/organisations", params)
    assert response.status_code == 200, response.content
    return sorted(o["code"] for o in response.json()["items"])


def test_organisations_departments_for_all_staff_local_units_in_scope(as_user, people, orgs):
    api = as_user(people.staff_a)
    assert codes(api) == ["C-A", "D-GA", "P-A"]
    assert api.get("/accounts/organisations/C-A").json()["kind"] == "committee"
    assert api.get("/accounts/organisations/D-GA").json()["area_code"] == "440309"
    for other in ("C-B", "P-B", "NOPE"):
        response = api.get(f"/accounts/organisations/{other}")
        assert response.status_code == 404
        assert other not in response.content.decode()
    assert codes(as_user(people.staff_b)) == ["C-B", "D-GA", "P-B"]
    assert codes(as_user(people.sub_staff)) == ["C-A", "C-B", "D-GA", "P-A", "P-B"]
    assert codes(api, kind="department") == ["D-GA"]
    assert codes(api, q="小学") == ["P-A"]


def test_organisations_for_other_roles(as_user, people):
    assert codes(as_user(people.handler)) == ["D-GA"]
    assert codes(as_user(people.partner_b)) == ["P-B"]
    assert codes(as_user(people.resident_a)) == []
    assert codes(as_user(people.secadmin)) == ["C-A", "C-B", "D-GA", "P-A", "P-B"]
    assert as_user(people.resident_a).get("/accounts/organisations/D-GA").status_code == 404


def test_lists_need_a_login(api, people):
    for path in ("/accounts/users", "/accounts/organisations", "/accounts/tokens", "/accounts/audit"):
        assert api.get(path).status_code == 401
