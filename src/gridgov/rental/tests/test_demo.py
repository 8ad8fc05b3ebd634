"""The rental part of the demo district: the issue's proportions, a consistent inspection history, the
figures answer through the API, and a reset removes it all."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from gridgov.accounts.models import User
from gridgov.rental import services
from gridgov.rental.models import Compound, Inspection, ItemResult, RentalHouse, RentalRoom, StarSite, Tenancy
from gridgov.rental.tests.conftest import Api
from gridgov.territory.models import House


def test_demo_rental_houses_follow_the_figures_and_reset_removes_them(db, tmp_path):
    from gridgov.demo.services import delete_demo, generate

    generate("small", reset=True, data_dir=tmp_path, history_days=0, log=lambda *a, **k: None)
    houses = list(RentalHouse.objects.select_related("category"))
    assert len(houses) == House.objects.filter(use="rented").count() > 1000
    share = Counter(h.grade for h in houses)
    assert abs(share["strict"] / len(houses) - 0.686) < 0.05
    assert abs(share["relaxed"] / len(houses) - 0.297) < 0.05
    assert 0 < share["prohibited"] / len(houses) < 0.04
    assert {h.category.code for h in houses} == {"whole", "shared", "group", "family_hotel", "dormitory"}
    assert Inspection.objects.count() == 3 * len(houses)
    assert RentalRoom.objects.count() == sum(h.rooms_count for h in houses)
    assert Tenancy.objects.count() == sum(h.tenants_count for h in houses) > 0
    for h in houses[:300]:  # the house's derived fields are its latest inspection's
        history = list(h.inspections.order_by("inspected_on", "id"))
        latest = history[-1]
        assert (h.grade, h.last_inspected_on, h.next_due_on) == (
            latest.grade,
            latest.inspected_on,
            latest.next_due_on,
        )
        streak = 0
        for i in history:
            streak = streak + 1 if i.grade in ("strict", "prohibited") else 0
        assert h.red_streak == streak
        results = dict(ItemResult.objects.filter(inspection=latest).values_list("item__code", "result"))
        assert len(results) == 14
        weights = dict(ItemResult.objects.filter(inspection=latest).values_list("item__code", "item__weight"))
        assert services.score_of(results, weights) == latest.score

    leader = User.objects.get(username="leader-440309")
    figures = Api(leader).get("/figures").json()
    assert figures["area"]["houses"] == len(houses)
    assert sum(c["houses"] for c in figures["children"]) == len(houses)
    assert figures["area"]["rooms"] == RentalRoom.objects.count()

    # Star buildings 3 / 4 / 5 in Longhua's proportions 505 : 70 : 18, compounds applied and awarded
    # 55 : 35, some reviews due, one withdrawn with its reason; the counts answer the same.
    awarded = StarSite.objects.filter(status="awarded", kind="building")
    per_star = Counter(awarded.values_list("stars", flat=True))
    assert per_star[3] > per_star[4] >= per_star[5] >= 1
    assert abs(per_star[3] / per_star[4] - 505 / 70) < 1.5
    compounds = StarSite.objects.filter(kind="compound")
    applied, won = compounds.count(), compounds.filter(status="awarded").count()
    assert applied > won > 0 and abs(won / applied - 35 / 55) < 0.15
    assert StarSite.objects.filter(status="awarded", review_due_on__lte=dt.date.today()).exists()
    withdrawn = StarSite.objects.get(status="withdrawn")
    assert withdrawn.withdrawn_reason and withdrawn.steps.filter(action="withdraw").exists()
    counts = Api(leader).get("/stars/counts").json()["area"]
    assert counts["building"]["stars"] == {str(k): per_star[k] for k in (3, 4, 5)}
    assert counts["compound"]["applied"] == applied

    delete_demo(log=lambda *a, **k: None)
    assert RentalHouse.objects.count() == Inspection.objects.count() == ItemResult.objects.count() == 0
    assert StarSite.objects.count() == Compound.objects.count() == 0
