"""Every accounts endpoint, aimed at community B's objects by users of community A: nothing leaks.

The endpoints come from the OpenAPI document, so a new accounts endpoint is covered as soon as it exists."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from gridgov.accounts.models import ApiToken, Leave, Membership
from gridgov.accounts.services import hash_token

pytestmark = pytest.mark.django_db

PREFIXES = ("/api/v1/auth/", "/api/v1/accounts/")


@pytest.mark.parametrize("viewer", ["staff_a", "worker_a", "resident_a", "partner_a"])
def test_accounts_endpoints_show_nothing_of_another_community(as_user, people, areas, orgs, viewer):
    api = as_user(getattr(people, viewer))
    token = ApiToken.objects.create(user=people.staff_b, name="b", prefix="gg_b", token_hash=hash_token("b"))
    now = timezone.now()
    leave = Leave.objects.create(  # AB岗: community B's leave cannot be read or ended from community A
        user=people.staff_b, backup=people.partner_b, starts_at=now, ends_at=now + dt.timedelta(days=2)
    )
    values = {
        "user_id": [people.staff_b.pk, people.resident_b.pk, people.partner_b.pk],
        "membership_id": list(
            Membership.objects.filter(user__in=[people.staff_b, people.resident_b]).values_list(
                "pk", flat=True
            )
        ),
        "organisation_code": [orgs.cmt_b.code, orgs.ptn_b.code],
        "token_id": [token.pk],
        "leave_id": [leave.pk],
    }
    queries = {"q": ["staff_b", areas.comm_b.name, "民乐"], "username": ["staff_b"], "kind": ["committee"]}
    markers = [
        areas.comm_b.code,
        areas.comm_b.name,
        areas.grid_b.name,
        "staff_b",
        "resident_b",
        "partner_b",
        orgs.cmt_b.name,
        orgs.ptn_b.name,
        orgs.cmt_b.code,
        orgs.ptn_b.code,
    ]
    marker_re = re.compile("|".join(re.escape(m) for m in markers))
    spec = api.client.get("/api/openapi.json").json()
    checked = 0
    for path, item in spec["paths"].items():
        if not path.startswith(PREFIXES) or path.endswith(("/login", "/logout")):
            continue
        for method, op in item.items():
            params = op.get("parameters", [])
            path_names = [p["name"] for p in params if p["in"] == "path"]
            query_names = [p["name"] for p in params if p["in"] == "query" and p["name"] in queries]
            if method != "get" and not path_names:
                continue
            rounds = max([len(values[n]) for n in path_names] + [len(queries[n]) for n in query_names] + [1])
            for i in range(rounds):
                url = path.removeprefix("/api/v1")
                for name in path_names:
                    url = url.replace("{" + name + "}", str(values[name][i % len(values[name])]))
                query = {n: queries[n][i % len(queries[n])] for n in query_names}
                if method == "get":
                    for params in ({}, query):
                        response = api.get(url, params)
                        assert response.status_code in (200, 403, 404), (viewer, url, response.status_code)
                        found = marker_re.search(response.content.decode())
                        assert found is None, f"{viewer} GET {url} {params} leaked {found.group(0)!r}"
                else:
                    response = api.send(method, url, {})
                    assert response.status_code in (403, 404, 405, 422), (
                        viewer,
                        method,
                        url,
                        response.status_code,
                    )
                checked += 1
    assert checked >= 15
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None
    assert Membership.objects.filter(user=people.staff_b).exists()
    assert Leave.objects.get(pk=leave.pk).ended_at is None
