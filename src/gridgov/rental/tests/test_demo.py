"""The rental part of the demo district: the issue's proportions, a consistent inspection history, the
figures answer through the API, and a reset removes it all."""

from __future__ import annotations

from collections import Counter

from gridgov.accounts.models import User
from gridgov.rental import services
from gridgov.rental.models import Inspection, ItemResult, RentalHouse, RentalRoom, Tenancy
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

    delete_demo(log=lambda *a, **k: None)
    assert RentalHouse.objects.count() == Inspection.objects.count() == ItemResult.objects.count() == 0
