"""The field-work part of the demo district: a quarter of patrols with tracks, gaps and flags, some
patrollers behind their plan, figures through the API, fast, and a reset removes it all."""

from __future__ import annotations

import datetime as dt
import json

from django.utils import timezone

from gridgov.accounts.models import User
from gridgov.fieldwork.models import PatrolPlan, PatrolSession
from gridgov.fieldwork.tests.conftest import Api


def test_demo_patrols(db, tmp_path, monkeypatch):
    from gridgov.demo.services import delete_demo, generate

    monkeypatch.setattr(timezone, "now", lambda: dt.datetime.now(dt.UTC))  # the demo runs in real time
    result = generate("small", reset=True, data_dir=tmp_path, history_days=0, log=lambda *a, **k: None)
    assert "fieldwork" in result.timings  # timed like the other parts (the demo prints its timings)
    sessions = PatrolSession.objects.all()
    n = sessions.count()
    assert n > 2000
    first = sessions.order_by("started_at").first()
    assert (timezone.localdate() - timezone.localtime(first.started_at).date()).days >= 85
    assert sessions.exclude(gaps=[]).exists() and sessions.exclude(flagged=[]).exists()
    sample = sessions.order_by("?")[:50]
    for s in sample:
        assert (
            json.loads(s.track)["type"] == "MultiLineString" and s.distance_m > 500 and s.inside_share > 0.5
        )
    assert PatrolPlan.objects.filter(cadence="per_week").count() == 1
    staff = next(u for u in User.objects.filter(memberships__role="community_staff").order_by("username"))
    today = timezone.localdate()
    monday = today - dt.timedelta(days=today.weekday() + 14)
    rows = (
        Api(staff)
        .get(
            "/plan-vs-done",
            {"date_from": monday.isoformat(), "date_to": (monday + dt.timedelta(days=13)).isoformat()},
        )
        .json()
    )
    assert rows and any(r["behind"] for r in rows) and any(not r["behind"] for r in rows)
    cover = Api(staff).get("/coverage", {"week": monday.isoformat()}).json()
    assert cover and all(0 < c["share"] <= 1 for c in cover if c["buildings"])
    delete_demo(log=lambda *a, **k: None)
    assert not PatrolSession.objects.exists() and not PatrolPlan.objects.exists()
