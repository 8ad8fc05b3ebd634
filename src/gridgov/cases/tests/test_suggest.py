"""Duplicate candidates of a case and category suggestions (cases/suggest.py, cases/suggest_api.py)."""

from __future__ import annotations

import datetime as dt
import itertools
import math

import pytest
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from gridgov.cases import suggest
from gridgov.cases.classifier import MODEL_FILENAME
from gridgov.cases.models import Case, Category, Status
from gridgov.cases.selectors import visible_cases
from gridgov.cases.tests.conftest import A1, Api, report

pytestmark = pytest.mark.django_db

GARBAGE = "锦绣花园3栋门口垃圾堆放多日无人清理，气味很大"
GARBAGE_AGAIN = "锦绣花园三栋楼下垃圾堆了好几天没人清理，臭味很大"
M_PER_DEG_LAT = 111_320.0


def east(point: tuple[float, float], metres: float) -> tuple[float, float]:
    lng, lat = point
    return lng + metres / (M_PER_DEG_LAT * math.cos(math.radians(lat))), lat


def age(case: Case, hours: float) -> None:
    Case.objects.filter(pk=case.pk).update(created_at=timezone.now() - dt.timedelta(hours=hours))
    case.refresh_from_db()


def ids(candidates) -> set[int]:
    return {c["case_id"] for c in candidates}


# --- duplicates ---------------------------------------------------------------------------------
def test_re_report_nearby_is_a_candidate(people):
    first = report(people.resident, A1, description=GARBAGE, category_code="E0102")
    age(first, 20)
    again = report(people.resident2, east(A1, 30), description=GARBAGE_AGAIN, category_code="E0102")
    found = suggest.duplicates_for(again)
    assert ids(found) == {first.pk}
    c = found[0]
    assert c["score"] > suggest.MIN_SCORE
    assert c["number"] == first.number and c["status"] == Status.SUBMITTED
    assert 25 <= c["distance_m"] <= 35
    assert 19.5 <= c["hours_apart"] <= 20.5
    assert c["same_category"] is True and c["text_similarity"] > 0.3
    assert c["description"] == GARBAGE
    # and the other way round: the older case sees the newer one
    assert ids(suggest.duplicates_for(first)) == {again.pk}


def test_related_category_counts(people):
    first = report(people.resident, A1, description=GARBAGE, category_code="E0104")
    again = report(people.resident2, east(A1, 30), description=GARBAGE_AGAIN, category_code="E0102")
    (c,) = suggest.duplicates_for(again)
    assert c["case_id"] == first.pk and c["same_category"] is False


def test_far_old_other_community_or_finished_are_not_candidates(people, world):
    new_point = east((114.0199, 22.605), 0)  # community A, grid A2, 10 m from community B
    new = report(people.resident, new_point, description=GARBAGE_AGAIN, category_code="E0102")
    far = report(people.resident2, east(new_point, -300), description=GARBAGE)
    old = report(people.resident2, east(new_point, -20), description=GARBAGE)
    age(old, 4 * 24)
    other_community = report(people.resident2, east(new_point, 20), description=GARBAGE)
    assert other_community.area.path.startswith(world.comm_b.path)
    rejected = report(people.resident2, east(new_point, -10), description=GARBAGE)
    Case.objects.filter(pk=rejected.pk).update(status=Status.REJECTED)
    closed = report(people.resident2, east(new_point, -15), description=GARBAGE)
    Case.objects.filter(pk=closed.pk).update(status=Status.CLOSED)
    near = report(people.resident2, east(new_point, -30), description=GARBAGE)
    merged = report(people.resident2, east(new_point, -25), description=GARBAGE)
    Case.objects.filter(pk=merged.pk).update(merged_into=near)

    found = ids(suggest.duplicates_for(new))
    assert near.pk in found
    for case in (far, old, other_community, rejected, closed, merged):
        assert case.pk not in found


def test_different_problem_at_the_same_place_is_not_a_candidate(people):
    report(people.resident, A1, description="5栋电梯故障停运，老人上下楼困难", category_code="G0801")
    again = report(people.resident2, east(A1, 10), description=GARBAGE, category_code="E0102")
    assert suggest.duplicates_for(again) == []


def test_candidates_stay_inside_the_viewer_scope(people, world):
    # grid A1 ends at lng 114.01: the two cases are 20 m apart, in two grids of community A
    in_a1 = report(people.resident, (114.0099, 22.605), description=GARBAGE, category_code="E0102")
    in_a2 = report(people.resident2, (114.0101, 22.605), description=GARBAGE_AGAIN, category_code="E0102")
    assert in_a1.grid == world.grid_a1 and in_a2.grid == world.grid_a2
    assert ids(suggest.duplicates_for(in_a1, within=visible_cases(people.staff_a))) == {in_a2.pk}
    assert suggest.duplicates_for(in_a1, within=visible_cases(people.worker_a1)) == []
    assert suggest.duplicates_for(in_a1, within=visible_cases(people.resident)) == []


# --- category suggestions -----------------------------------------------------------------------
PLACES = ["锦绣花园", "阳光小区", "民乐新村", "北站公寓", "龙华花园"]
PHRASES = {
    "E0102": ["{p}{n}栋门口垃圾堆放无人清理", "{p}路边暴露垃圾很多，臭气熏天", "{p}{n}号楼下垃圾成堆"],
    "G0402": ["{p}{n}栋楼上深夜噪音很大影响休息", "{p}附近工地夜间施工噪声扰民", "{p}广场舞音响太吵"],
    "G0801": ["{p}{n}栋电梯故障停运", "{p}{n}号楼电梯经常坏困人", "{p}电梯异响运行不稳"],
    "C0104": ["{p}{n}栋旁边路灯不亮", "{p}门口路灯坏了晚上很黑", "{p}小路照明灯损坏不亮"],
}


def make_history(user, per_category: int = 15) -> int:
    categories = {c.code: c for c in Category.objects.filter(code__in=PHRASES)}
    n = 0
    for code, phrases in PHRASES.items():
        combos = itertools.islice(itertools.cycle(itertools.product(phrases, PLACES)), per_category)
        pks = []
        for i, (phrase, place) in enumerate(combos):
            case = report(user, A1, description=phrase.format(p=place, n=i % 9 + 1))
            pks.append(case.pk)
        Case.objects.filter(pk__in=pks).update(
            status=Status.CLOSED, category=categories[code], closed_at=timezone.now()
        )
        n += len(pks)
    return n


@pytest.fixture
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    return tmp_path


def test_no_model_no_suggestions(data_dir, people):
    assert suggest.suggest_categories("5栋电梯坏了") == []


def test_too_few_cases_trains_nothing(data_dir, people):
    make_history(people.resident, per_category=5)
    result = suggest.train_classifier(min_cases=30)
    assert result["trained"] is False and result["cases"] == 20 and result["reason"]
    assert not (data_dir / "models").exists()
    assert suggest.suggest_categories("5栋电梯坏了") == []


def test_train_and_suggest(data_dir, people):
    assert make_history(people.resident) == 60
    # open cases and cases without a category are not learnt from
    report(people.resident, A1, description="电梯故障")
    result = suggest.train_classifier()
    assert result == {
        "trained": True,
        "cases": 60,
        "categories": 4,
        "path": str(data_dir / "models" / MODEL_FILENAME),
    }
    assert (data_dir / "models" / MODEL_FILENAME).is_file()

    top = suggest.suggest_categories("幸福里8栋的电梯又坏了，停运两天")
    assert len(top) == 3
    assert top[0]["code"] == "G0801" and top[0]["name"] == "电梯故障"
    assert top[0]["score"] >= top[1]["score"] >= top[2]["score"]
    assert suggest.suggest_categories("小区门口的路灯晚上不亮")[0]["code"] == "C0104"

    Category.objects.filter(code="G0801").update(is_active=False)
    codes = [s["code"] for s in suggest.suggest_categories("幸福里8栋的电梯又坏了，停运两天")]
    assert "G0801" not in codes and len(codes) == 3

    (data_dir / "models" / MODEL_FILENAME).unlink()
    assert suggest.suggest_categories("电梯又坏了") == []


def test_model_is_reloaded_when_the_file_changes(data_dir, people):
    make_history(people.resident)
    suggest.train_classifier()
    assert suggest.suggest_categories("电梯坏了")[0]["code"] == "G0801"
    # relabel the lift cases as street lamps and train again: the new file is picked up
    lamp = Category.objects.get(code="C0104")
    Case.objects.filter(category__code="G0801").update(category=lamp)
    result = suggest.train_classifier()
    assert result["categories"] == 3
    assert all(s["code"] != "G0801" for s in suggest.suggest_categories("电梯坏了"))


def test_task_trains(data_dir, people):
    make_history(people.resident)
    assert suggest.train_classifier_task()["trained"] is True


# --- HTTP (once the router is mounted under /api/v1/cases) ----------------------------------------
@pytest.fixture
def mounted():
    try:
        reverse("api:case_duplicates", kwargs={"case_id": 1})
        reverse("api:suggest_category")
    except NoReverseMatch:
        pytest.skip(
            "cases.suggest_api.router is not mounted yet: "
            'add router.add_router("", suggest_router) to cases/api.py'
        )


def test_http_duplicates(mounted, people):
    in_a1 = report(people.resident, (114.0099, 22.605), description=GARBAGE, category_code="E0102")
    in_a2 = report(people.resident2, (114.0101, 22.605), description=GARBAGE_AGAIN, category_code="E0102")
    r = Api(people.staff_a).get(f"/cases/{in_a1.pk}/duplicates")
    assert r.status_code == 200, r.content
    (c,) = r.json()
    assert c["case_id"] == in_a2.pk and c["score"] > suggest.MIN_SCORE
    assert set(c) == {
        "case_id",
        "number",
        "score",
        "distance_m",
        "hours_apart",
        "text_similarity",
        "same_category",
        "status",
        "description",
    }
    # the grid worker of A1 sees the case but not its neighbour in A2
    r = Api(people.worker_a1).get(f"/cases/{in_a1.pk}/duplicates")
    assert r.status_code == 200 and r.json() == []
    # staff of community B cannot see the case at all
    assert Api(people.staff_b).get(f"/cases/{in_a1.pk}/duplicates").status_code == 404
    assert Api().get(f"/cases/{in_a1.pk}/duplicates").status_code == 401


def test_http_suggest_category(mounted, data_dir, people):
    r = Api(people.staff_a).post("/suggest-category", {"text": "电梯坏了"})
    assert r.status_code == 200 and r.json() == []
    make_history(people.resident)
    suggest.train_classifier()
    r = Api(people.staff_a).post("/suggest-category", {"text": "幸福里8栋的电梯又坏了"})
    assert r.status_code == 200
    body = r.json()
    assert len(body) == 3 and body[0]["code"] == "G0801" and set(body[0]) == {"code", "name", "score"}
    assert Api(people.worker_a1).post("/suggest-category", {"text": "电梯坏了"}).status_code == 200
    assert Api(people.resident).post("/suggest-category", {"text": "电梯坏了"}).status_code == 403
    assert Api().post("/suggest-category", {"text": "电梯坏了"}).status_code == 401
    assert Api(people.staff_a).post("/suggest-category", {"text": ""}).status_code == 422


# --- a new install: no waiting for the nightly run (issue 13, finding 2) -------------------------------
@pytest.fixture
def fresh_schedule(monkeypatch):
    monkeypatch.setitem(suggest._scheduled, "at", -math.inf)


def test_a_request_that_finds_no_model_queues_its_training_once(data_dir, people, fresh_schedule):
    from gridgov.testing import immediate_tasks

    make_history(people.resident)
    with immediate_tasks():
        # the request answers at once (no model yet) and the training is queued in the background
        assert suggest.suggest_categories("幸福里8栋的电梯又坏了") == []
    assert (data_dir / "models" / MODEL_FILENAME).is_file()
    assert suggest.suggest_categories("幸福里8栋的电梯又坏了，停运两天")[0]["code"] == "G0801"
    # not queued again and again while the queue works: at most once per SCHEDULE_RETRY_SECONDS
    (data_dir / "models" / MODEL_FILENAME).unlink()
    with immediate_tasks():
        assert suggest.suggest_categories("电梯") == []
    assert not (data_dir / "models" / MODEL_FILENAME).exists()


def test_the_worker_starting_without_a_model_trains_one(data_dir, people, fresh_schedule):
    from huey.contrib.djhuey import HUEY

    from gridgov.cases import tasks
    from gridgov.testing import immediate_tasks

    make_history(people.resident)
    assert "_train_when_no_model" in HUEY._startup
    with immediate_tasks():
        HUEY._startup["_train_when_no_model"]()
    assert (data_dir / "models" / MODEL_FILENAME).is_file()
    # an existing model is kept: train_if_missing does nothing
    assert tasks.suggest.train_if_missing()["trained"] is False


def test_the_demo_trains_the_suggestions(tmp_path, people):
    from gridgov.demo.services import _train_suggestions

    make_history(people.resident)
    timings: dict[str, float] = {}
    _train_suggestions(retrain=True, data_dir=tmp_path, log=lambda m: None, timings=timings)
    assert (tmp_path / "models" / MODEL_FILENAME).is_file() and "suggestions" in timings
