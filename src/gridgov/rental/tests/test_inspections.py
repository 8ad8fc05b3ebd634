"""Recording inspections: failed items become hazard cases (linked, once while open, again after closing),
the third red grade in a row opens exactly one rectification case, retries change nothing, other
communities see nothing, bad input is refused in Chinese with nothing changed."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.utils import timezone

from gridgov.cases.models import Case, Status
from gridgov.cases.selectors import visible_cases
from gridgov.rental.models import Inspection, RentalCase, RentalHouse
from gridgov.rental.tests.conftest import Api, all_pass, inspect, make_rental
from gridgov.testing import assert_problem, make_user, snapshot


def test_failed_items_open_hazard_cases_for_the_community(rental, people, world, today):
    body = Api(people.worker_a1).ok(
        Api(people.worker_a1).post(
            f"/houses/{rental.pk}/inspections",
            {"results": all_pass(H02="fail", H04="fail"), "client_id": "c-1"},
        ),
        201,
    )
    assert body["failed"] == ["H02", "H04"] and body["grade"] == "watch" and len(body["cases"]) == 2
    cases = Case.objects.filter(pk__in=[c["id"] for c in body["cases"]])
    assert {(c["number"], c["kind"], c["status"]) for c in body["cases"]} == {
        (c.number, "hazard", c.status) for c in cases
    }  # each case as an object the screen links to directly
    assert sorted(c.category.code for c in cases) == ["G0202", "G0301"]
    assert {(c.kind, c.holder_area_id, c.area_id) for c in cases} == {
        ("hazard", world.comm_a.pk, world.grid_a1.pk)
    }
    links = RentalCase.objects.filter(rental_house=rental, kind="hazard")
    assert sorted(link.item.code for link in links) == ["H02", "H04"]
    assert set(visible_cases(people.staff_a).filter(pk__in=cases)) == set(cases)  # in community staff's list
    assert not visible_cases(people.staff_b).filter(pk__in=cases).exists()
    detail = Api(people.staff_a).get(f"/houses/{rental.pk}").json()
    assert sorted(detail["open_cases"], key=str) == sorted(body["cases"], key=str)
    assert detail["inspections"][0]["cases"] == body["cases"]

    # A retry of the same request (a phone in a basement) records nothing more.
    again = Api(people.worker_a1).post(
        f"/houses/{rental.pk}/inspections", {"results": all_pass(H02="fail", H04="fail"), "client_id": "c-1"}
    )
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert Inspection.objects.count() == 1 and Case.objects.count() == 2


def test_a_hazard_case_is_opened_once_while_open_and_again_after_closing(rental, people, today):
    inspect(people.worker_a1, rental, today - dt.timedelta(days=14), results=all_pass(H02="fail"))
    inspect(people.worker_a1, rental, today - dt.timedelta(days=7), results=all_pass(H02="fail"))
    assert Case.objects.count() == 1  # still open: the same case
    public = Client().get(f"/api/v1/rental/public/{rental.code}").json()
    assert public["open_hazards"] == ["疏散通道、安全出口畅通"]

    Case.objects.update(status=Status.CLOSED)  # the community closed it
    assert Client().get(f"/api/v1/rental/public/{rental.code}").json()["open_hazards"] == []
    inspect(people.worker_a1, rental, today, results=all_pass())
    assert Case.objects.count() == 1 and rental.grade == "relaxed"  # cleared at the next inspection
    inspect(people.worker_a1, rental, today, results=all_pass(H02="fail"))
    assert Case.objects.count() == 2  # failing again later is a new hazard


def test_the_third_red_in_a_row_opens_exactly_one_rectification_case(rental, people, world, today):
    def red(days_ago: int, client_id: str = ""):
        return inspect(
            people.worker_a1, rental, today - dt.timedelta(days=days_ago), results=all_pass(C01="fail"),
            client_id=client_id,
        )  # fmt: skip

    def rectifications():
        return RentalCase.objects.filter(rental_house=rental, kind="rectification")

    red(42)
    red(35)
    assert rental.red_streak == 2 and not rectifications().exists()
    third = red(28, "third")
    assert rental.red_streak == 3 and rectifications().count() == 1
    link = rectifications().get()
    case = link.case
    # A rectification case of the subcategory 出租屋整治, on the house's community (not its grid): the
    # community holds it, and it is in community staff's case list — not in another community's.
    assert link.inspection == third and case.category.code == "G0503" and case.category.name == "出租屋整治"
    assert case.category.parent.code == "G05"
    assert case.area == world.comm_a and case.holder_area == world.comm_a and case.grid_id is None
    assert case.address == str(rental.house)
    assert "3" in case.description and rental.code in case.description
    assert visible_cases(people.staff_a).filter(pk=case.pk).exists()
    assert not visible_cases(people.staff_b).filter(pk=case.pk).exists()
    detail = Api(people.staff_a).get(f"/houses/{rental.pk}").json()
    assert {(c["id"], c["kind"]) for c in detail["open_cases"]} == {(case.pk, "rectification")}

    red(28, "third")  # a retry of the third
    red(21)  # a fourth red while the rectification is open
    assert rectifications().count() == 1 and rental.red_streak == 4
    assert Case.objects.count() == 1  # the rectification only: a failed C01 is no hazard case

    Case.objects.filter(pk=case.pk).update(status=Status.CLOSED, closed_at=timezone.now())  # closed
    red(14)
    red(7)
    assert rectifications().count() == 1 and rental.red_streak == 6  # two more reds: not yet
    red(0)  # the third red since the first rectification
    assert rectifications().count() == 2 and rental.red_streak == 7
    second = rectifications().order_by("-id").first()
    assert second.case.status != Status.CLOSED and second.case.category.code == "G0503"
    assert second.case.holder_area == world.comm_a


def test_a_milder_grade_breaks_the_streak(rental, people, today):
    for days_ago, results in ((21, all_pass(C05="fail")), (14, all_pass(C05="fail")), (7, all_pass())):
        inspect(people.worker_a1, rental, today - dt.timedelta(days=days_ago), results=results)
    assert rental.red_streak == 0
    inspect(people.worker_a1, rental, today, results=all_pass(C05="fail"))
    assert rental.red_streak == 1 and not RentalCase.objects.filter(kind="rectification").exists()


def test_other_communities_see_and_change_nothing(rental, people, world):
    before = snapshot(rental)
    for user in (people.staff_b, people.head_b1, people.resident):
        api = Api(user)
        assert_problem(api.get(f"/houses/{rental.pk}"), 404)
        assert_problem(api.post(f"/houses/{rental.pk}/inspections", {"results": all_pass()}), 404)
        assert api.get("/houses").json()["count"] == 0
        assert api.get("/houses", {"due": "due"}).json()["count"] == 0
    assert snapshot(rental) == before and not Inspection.objects.exists()
    assert Api(people.staff_a).get("/houses").json()["count"] == 1
    assert Api(people.leader).get(f"/houses/{rental.pk}").status_code == 200


def test_readers_who_do_not_inspect_are_refused(rental, people, world):
    head = make_user("head_a1", "building_head", area=world.grid_a1)
    assert Api(head).get(f"/houses/{rental.pk}").status_code == 200
    assert_problem(Api(head).post(f"/houses/{rental.pk}/inspections", {"results": all_pass()}), 403)
    assert not Inspection.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"results": {"H01": "pass"}}, "results"),  # items missing
        ({"results": all_pass(X99="pass")}, "results.X99"),
        ({"results": all_pass(), "inspected_on": "2026-12-05"}, "inspected_on"),  # tomorrow
        ({"results": all_pass(), "inspected_on": "2026-11-01"}, "inspected_on"),  # before the last one
        ({"results": all_pass(H01="maybe")}, "H01"),
        ({"results": all_pass(), "flags": ["noisy"]}, "flags.0"),
    ],
)
def test_bad_inspections_are_refused_in_chinese_and_change_nothing(rental, people, today, payload, field):
    inspect(people.worker_a1, rental, dt.date(2026, 11, 13))
    before = snapshot(rental, Inspection.objects.all())
    cases = Case.objects.count()
    response = Api(people.worker_a1, language="zh-hans").post(f"/houses/{rental.pk}/inspections", payload)
    problem = assert_problem(response, 422, field=field, language="zh")
    assert all(re.search("[\u4e00-\u9fff]", e["message"]) for e in problem["errors"]), problem
    assert snapshot(rental, Inspection.objects.all()) == before and Case.objects.count() == cases


def test_grid_workers_are_reminded_of_due_and_overdue_houses_once_a_day(rental, people, world, today):
    from gridgov.core.models import Notification
    from gridgov.rental import services

    other = make_rental(people.staff_a, world.a1, "0201")
    RentalHouse.objects.filter(pk=rental.pk).update(next_due_on=today - dt.timedelta(days=1))
    RentalHouse.objects.filter(pk=other.pk).update(next_due_on=today + dt.timedelta(days=2))
    assert services.remind_due(today=today) == {"grids": 1, "notified": 1}
    note = Notification.objects.get(kind="rental.inspections_due")
    assert note.recipient == people.worker_a1 and note.facts["due"] == 1 and note.facts["overdue"] == 1
    assert "已逾期" in note.message and world.grid_a1.name in note.message
    assert services.remind_due(today=today)["notified"] == 0  # once a day
    assert not Notification.objects.filter(recipient=people.worker_a2).exists()
    assert services.remind_due(today=today + dt.timedelta(days=1))["notified"] == 1
