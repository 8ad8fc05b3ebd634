"""缓办 (defer), photos of cases, and telling every reporter of a merged case the outcome."""

from __future__ import annotations

import datetime as dt
import io
import random

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.utils import timezone
from PIL import Image

from gridgov.cases import figures
from gridgov.cases.models import Case, Step, TimelineEvent
from gridgov.cases.tests.conftest import A2, Api, act, report
from gridgov.core import worktime
from gridgov.core.models import Attachment, Notification


def _in_days(days: int) -> dt.date:
    return timezone.localdate() + dt.timedelta(days=days)


def _whistled(people):
    case = report(people.resident, category_code="E0102")
    act("accept", case, people.staff_a)
    return act("whistle", case, people.staff_a, departments=["440309-CG"])


# --- defer (缓办) ---------------------------------------------------------------------------------------
def test_defer_moves_the_deadline_and_leaves_the_rates(people, world):
    case = _whistled(people)
    until = _in_days(45)
    r = Api(people.sub_staff).action(case, "defer", reason="需纳入年度维修计划", until=until.isoformat())
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["deferred"] is True and body["deferred_until"] == until.isoformat()
    case.refresh_from_db()
    assert case.due_at == worktime.end_of_working_day(until)
    assert timezone.localtime(case.due_at).hour == 18
    assert all(s.due_at == case.due_at for s in Step.objects.filter(case=case))
    event = TimelineEvent.objects.filter(case=case).last()
    assert event.action == "defer" and event.data["until"] == until.isoformat()
    # Deferred once is enough: a second deferral is not offered.
    assert "defer" not in Api(people.sub_staff).get(f"/cases/{case.pk}").json()["allowed_actions"]
    assert (
        Api(people.sub_staff).action(case, "defer", reason="再缓", until=_in_days(90).isoformat()).status_code
        == 409
    )


def test_a_deferred_case_is_out_of_numerator_and_denominator(people, world):
    on_time = _whistled(people)
    deferred = _whistled(people)
    act("defer", deferred, people.sub_staff, reason="等待资金审批", until=_in_days(30))
    for case in (on_time, deferred):
        act("report_in", case, people.dept_cg)
        act("handle", case, people.dept_cg, note="已清理")
        act("verify", case, people.worker_a1, passed=True)
        act("close", case, people.staff_a)
    today = timezone.localdate()
    got = figures.figures_for(people.admin, date_from=today, date_to=today)
    assert got["counts"]["due"] == 2
    assert got["counts"]["deferred"] == 1
    assert got["counts"]["closed"] == 1
    assert got["rates"]["close_rate"] == 1.0  # 1 ÷ (2 − 1)
    assert got["rates"]["on_time_close_rate"] == 1.0


@pytest.mark.parametrize(
    "until, field",
    [(None, "until"), ("2020-01-01", "until"), ("today", "until"), ("far", "until")],
)
def test_defer_needs_a_future_date_within_a_year(until, field, people, world):
    case = _whistled(people)
    value = {"today": _in_days(0).isoformat(), "far": _in_days(400).isoformat()}.get(until, until)
    body = {"reason": "等待资金审批"}
    if value is not None:
        body["until"] = value
    version = Case.objects.get(pk=case.pk).version
    r = Api(people.sub_staff, language="zh-hans").action(case, "defer", **body)
    assert r.status_code == 422, r.content
    assert [e["field"] for e in r.json()["errors"]] == [field]
    case.refresh_from_db()
    assert case.version == version and not case.deferred


def test_community_staff_may_not_defer(people, world):
    case = _whistled(people)
    r = Api(people.staff_a).action(case, "defer", reason="等待", until=_in_days(10).isoformat())
    assert r.status_code == 403


# --- photos -----------------------------------------------------------------------------------------
def _image(fmt="PNG", size=(64, 48)) -> bytes:
    """A noisy picture (noise does not compress, so the size in bytes grows with the pixels)."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", size, random.Random(7).randbytes(size[0] * size[1] * 3)).save(buffer, format=fmt)
    return buffer.getvalue()


def _upload(user, content: bytes, name="photo.png", content_type="image/png", language="en"):
    client = Api(user, language=language).client
    return client.post(
        "/api/v1/cases/attachments",
        {"file": SimpleUploadedFile(name, content, content_type=content_type)},
        HTTP_ACCEPT_LANGUAGE=language,
    )


@pytest.fixture
def media(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.mark.parametrize(
    "fmt, content_type", [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")]
)
def test_a_photo_goes_up_into_a_case_and_only_those_who_see_the_case_see_it(
    fmt, content_type, people, world, media
):
    content = _image(fmt)
    r = _upload(people.resident, content, name="x.bin", content_type="application/octet-stream")
    assert r.status_code == 201, r.content
    photo = r.json()
    assert photo["content_type"] == content_type and (photo["width"], photo["height"]) == (64, 48)
    assert photo["size"] == len(content)

    case = report(people.resident, category_code="E0102", attachments=[photo["id"]])
    assert case.attachments == [photo["id"]]
    assert Attachment.objects.get(pk=photo["id"]).owner_id == case.pk

    for user in (people.resident, people.staff_a, people.worker_a1, people.admin):
        got = Api(user).client.get(photo["url"])
        assert got.status_code == 200, user
        assert b"".join(got.streaming_content) == content
        assert got["Content-Type"] == content_type and got["X-Content-Type-Options"] == "nosniff"
    for user in (people.resident2, people.staff_b, people.dept_ga):
        assert Api(user).client.get(photo["url"]).status_code == 404, user


def test_photos_go_with_actions_and_onto_the_timeline(people, world, media):
    case = _whistled(people)
    act("report_in", case, people.dept_cg)
    photo = _upload(people.dept_cg, _image()).json()
    r = Api(people.dept_cg).action(case, "handle", note="已清理", attachments=[photo["id"]])
    assert r.status_code == 200, r.content
    assert r.json()["timeline"][-1]["attachments"] == [photo["id"]]
    assert photo["id"] in r.json()["attachments"]
    assert Api(people.staff_a).client.get(photo["url"]).status_code == 200


def test_what_is_not_a_photo_is_refused_in_the_users_language(people, world, media):
    text = b"<script>alert(1)</script>" * 10
    r = _upload(people.resident, text, name="evil.jpg", content_type="image/jpeg", language="zh-hans")
    assert r.status_code == 422
    assert r.json()["errors"] == [{"field": "file", "message": "请上传 JPEG、PNG 或 WebP 格式的照片。"}]
    truncated = _image("JPEG", (400, 300))[:300]
    assert _upload(people.resident, truncated, name="cut.jpg").status_code == 422
    gif = io.BytesIO()
    Image.new("RGB", (8, 8)).save(gif, format="GIF")
    assert _upload(people.resident, gif.getvalue(), name="a.gif").status_code == 422
    assert _upload(people.resident, b"", name="empty.png").status_code == 422
    assert Attachment.objects.count() == 0


def test_too_large_a_photo_is_413(people, world, media):
    with override_settings(GRIDGOV_UPLOAD_MAX_BYTES=1000):
        r = _upload(people.resident, _image(size=(300, 300)), language="zh-hans")
    assert r.status_code == 413
    assert r["Content-Type"].startswith("application/problem+json")
    assert r.json()["detail"] == "照片不能超过 0.0 MB。"
    assert Attachment.objects.count() == 0


def test_too_many_pixels_is_refused(people, world, media):
    with override_settings(GRIDGOV_UPLOAD_MAX_PIXELS=100):
        r = _upload(people.resident, _image(size=(20, 20)))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "file"


def test_an_unknown_or_anothers_photo_cannot_be_named(people, world, media):
    mine = _upload(people.resident2, _image()).json()
    before = Case.objects.count()
    for ids in (["0" * 32], [mine["id"]]):
        r = Api(people.resident, language="zh-hans").post(
            "/cases", {"description": "路灯不亮", "lng": 114.005, "lat": 22.605, "attachments": ids}
        )
        assert r.status_code == 422, r.content
        assert r.json()["errors"][0]["field"] == "attachments"
    assert Case.objects.count() == before
    # Once tied to one case, a photo cannot be tied to another.
    first = report(people.resident2, attachments=[mine["id"]])
    r = Api(people.resident2).post(
        "/cases", {"description": "路灯不亮", "lng": 114.005, "lat": 22.605, "attachments": [mine["id"]]}
    )
    assert r.status_code == 422
    assert Attachment.objects.get(pk=mine["id"]).owner_id == first.pk


def test_uploading_needs_a_login(world, media):
    r = Api().client.post(
        "/api/v1/cases/attachments", {"file": SimpleUploadedFile("a.png", _image(), content_type="image/png")}
    )
    assert r.status_code == 401


# --- every reporter hears the outcome -----------------------------------------------------------------
def test_every_reporter_of_a_merged_case_is_told_the_outcome(people, world):
    main = report(people.resident, category_code="E0102", description="北站路口垃圾堆积")
    dup = report(people.resident2, point=A2, category_code="E0102", description="北站路口垃圾没人清")
    hotline = report(
        people.staff_a,
        channel="hotline",
        reporter_name="王芳",
        reporter_phone="13700001111",
        description="垃圾",
    )
    act("accept", main, people.staff_a)
    act("merge", dup, people.staff_a, target_case_number=main.number)
    act("merge", hotline, people.staff_a, target_case_number=main.number)
    merged_note = Notification.objects.get(recipient=people.resident2)
    assert main.number in merged_note.message and dup.number in merged_note.message
    assert merged_note.owner_id == dup.pk

    # The merged reporter follows the case the report went into.
    assert Api(people.resident2).get(f"/cases/{main.pk}").status_code == 200
    assert Api(people.resident2).get(f"/cases/{main.pk}").json()["allowed_actions"] == []

    act("whistle", main, people.staff_a, departments=["440309-CG"])
    act("report_in", main, people.dept_cg)
    act("handle", main, people.dept_cg, note="已安排保洁清运，路口恢复整洁。")
    act("verify", main, people.worker_a1, passed=True)
    act("close", main, people.staff_a)

    outcomes = Notification.objects.filter(kind="outcome", message__contains="已安排保洁清运")
    assert sorted(outcomes.values_list("recipient__username", flat=True)) == ["resident", "resident2"]
    mine = outcomes.get(recipient=people.resident)
    assert mine.owner_id == main.pk and main.number in mine.message and "办结" in mine.message
    theirs = outcomes.get(recipient=people.resident2)
    assert theirs.owner_id == dup.pk and dup.number in theirs.message
    close_event = TimelineEvent.objects.filter(case=main, action="close").get()
    assert close_event.data["informed"] == {"in_app": 2, "by_phone": 1}
    # Each sees it in their own list.
    listed = Api(people.resident2).get("/notifications").json()["items"]
    assert {n["kind"] for n in listed} == {"outcome"} and len(listed) == 2


def test_a_rejected_reporter_is_told_why(people, world):
    case = report(people.resident, category_code="E0102")
    act("reject", case, people.staff_a, reason="不属于本辖区受理范围")
    note = Notification.objects.get(recipient=people.resident)
    assert note.kind == "outcome" and "不属于本辖区受理范围" in note.message and case.number in note.message
