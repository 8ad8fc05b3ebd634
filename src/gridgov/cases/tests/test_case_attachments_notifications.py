"""Cases on the kernel's attachments and notifications: the scoped download (also of the thumbnail,
also at the kernel's own path), thumbnails, the size limit in the user's language, and notifications
written in the recipient's language and read in the reader's."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings
from PIL import Image

from gridgov.cases import sla
from gridgov.cases.tests.conftest import Api, act, report
from gridgov.core import attachments, notifications
from gridgov.core.models import Attachment, OutboxMessage


@pytest.fixture
def media(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def _photo(size=(1200, 800), fmt="JPEG") -> bytes:
    buffer = io.BytesIO()
    Image.linear_gradient("L").resize(size).convert("RGB").save(buffer, format=fmt)
    return buffer.getvalue()


def _client(user, language="zh-hans") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def _case_with_photo(people):
    r = _client(people.resident).post(
        "/api/v1/cases/attachments",
        {"file": SimpleUploadedFile("p.jpg", _photo(), content_type="image/jpeg")},
    )
    assert r.status_code == 201, r.content
    photo = r.json()
    case = report(people.resident, category_code="E0102", attachments=[photo["id"]])
    return case, photo


def test_another_communitys_staff_gets_404_for_a_case_photo_and_its_thumbnail(people, world, media):
    case, photo = _case_with_photo(people)
    paths = [photo["url"], f"/api/v1/attachments/{photo['id']}", photo["thumbnail_url"]]
    assert photo["url"] == f"/api/v1/cases/attachments/{photo['id']}"  # the path the web app uses
    for user in (people.staff_b, people.dept_ga, people.resident2):
        for path in paths:
            r = _client(user).get(path)
            assert r.status_code == 404, (user, path)
            assert r.json()["detail"] == "内容不存在，或不在您的管辖范围内。"
    for user in (people.staff_a, people.worker_a1, people.resident, people.admin):
        for path in paths:
            assert _client(user).get(path).status_code == 200, (user, path)
    assert Client().get(paths[1]).status_code == 401


def test_a_thumbnail_is_made_at_upload_and_served_by_the_same_scoped_download(people, world, media):
    case, photo = _case_with_photo(people)
    stored = Attachment.objects.get(pk=photo["id"])
    assert stored.thumbnail.name and stored.purpose == "cases.photo" and not stored.encrypted
    r = _client(people.staff_a).get(photo["thumbnail_url"])
    assert r.status_code == 200 and r["Content-Type"] == "image/jpeg"
    assert r["X-Content-Type-Options"] == "nosniff"
    with Image.open(io.BytesIO(_body(r))) as thumb:
        assert thumb.format == "JPEG" and thumb.size == (320, 213)  # the shape kept, at most 320 px
    full = _client(people.staff_a).get(photo["url"])
    with Image.open(io.BytesIO(_body(full))) as image:
        assert image.size == (1200, 800)


def test_a_photo_kept_without_a_thumbnail_gets_one_when_asked(people, world, media):
    case, photo = _case_with_photo(people)
    Attachment.objects.filter(pk=photo["id"]).update(thumbnail="")  # as copied from before thumbnails
    r = _client(people.staff_a).get(photo["thumbnail_url"])
    assert r.status_code == 200
    with Image.open(io.BytesIO(_body(r))) as thumb:
        assert max(thumb.size) == 320
    assert Attachment.objects.get(pk=photo["id"]).thumbnail.name


def test_an_oversize_upload_gets_413_in_chinese(people, world, media):
    with override_settings(GRIDGOV_UPLOAD_MAX_BYTES=2048):
        for path, data in (
            ("/api/v1/cases/attachments", {}),
            ("/api/v1/attachments", {"purpose": "cases.photo"}),
        ):
            file = SimpleUploadedFile("big.png", _photo(fmt="PNG"), content_type="image/png")
            r = _client(people.resident).post(path, {**data, "file": file})
            assert r.status_code == 413, (path, r.content)
            assert r["Content-Type"].startswith("application/problem+json")
            assert r.json()["detail"] == "照片不能超过 0.0 MB。"
    assert not Attachment.objects.exists()


def test_the_kernel_upload_names_an_unknown_purpose(people, world, media):
    file = SimpleUploadedFile("p.jpg", _photo(), content_type="image/jpeg")
    r = _client(people.resident).post("/api/v1/attachments", {"purpose": "nobody.photo", "file": file})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "purpose"


def test_a_photo_uploaded_for_another_kind_of_object_cannot_be_claimed_by_a_case(people, world, media):
    attachments.register_purpose("accounts_test.avatar", owner="accounts.user")
    file = SimpleUploadedFile("p.jpg", _photo(), content_type="image/jpeg")
    r = _client(people.resident).post(
        "/api/v1/attachments", {"purpose": "accounts_test.avatar", "file": file}
    )
    assert r.status_code == 201, r.content
    r = Api(people.resident).post(
        "/cases", {"description": "路灯不亮", "lng": 114.005, "lat": 22.605, "attachments": [r.json()["id"]]}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "attachments"


# --- notifications -------------------------------------------------------------------------------------
def test_notifications_are_written_in_the_recipients_language_and_read_in_the_readers(
    people, world, settings
):
    settings.GRIDGOV_NOTIFY_CHANNELS = ["log"]
    people.resident2.language = "en"
    people.resident2.save(update_fields=["language"])
    first = report(people.resident, category_code="E0102")
    second = report(people.resident2, category_code="E0102")
    act("reject", first, people.staff_a, reason="不属于本辖区")
    act("reject", second, people.staff_a, reason="不属于本辖区")

    zh = notifications.about(first).get()
    en = notifications.about(second).get()
    assert zh.message == f"您反映的问题（{first.number}）未予受理：不属于本辖区"
    assert en.message == f"Your report {second.number} was not taken up: 不属于本辖区"
    # The external channels send what was written for the recipient.
    assert set(OutboxMessage.objects.values_list("recipient_id", "message")) == {
        (people.resident.pk, zh.message),
        (people.resident2.pk, en.message),
    }
    # In the app, each reads in the language the interface is in.
    item = Api(people.resident, language="en").get("/notifications").json()["items"][0]
    assert item["message"] == f"Your report {first.number} was not taken up: 不属于本辖区"
    assert (item["case_id"], item["case_number"], item["kind"]) == (first.pk, first.number, "outcome")
    assert item["data"]["case"] == first.number and item["data"]["outcome_case"] == first.number
    item = Api(people.resident2, language="zh-hans").get("/notifications").json()["items"][0]
    assert item["message"] == f"您反映的问题（{second.number}）未予受理：不属于本辖区"


def test_the_kernel_lists_and_marks_a_users_notifications_of_every_kind(people, world):
    case = report(people.resident, category_code="E0102")
    act("reject", case, people.staff_a, reason="重复")
    mine = _client(people.resident, "en").get("/api/v1/notifications").json()
    assert mine["count"] == 1
    item = mine["items"][0]
    assert (item["kind"], item["object_type"], item["object_id"]) == ("outcome", "cases.case", case.pk)
    assert item["message"].startswith(f"Your report {case.number} was not taken up")
    assert _client(people.resident2).get("/api/v1/notifications").json() == {"items": [], "count": 0}
    assert _client(people.resident2).post(f"/api/v1/notifications/{item['id']}/read").status_code == 404
    assert _client(people.resident).post(f"/api/v1/notifications/{item['id']}/read").status_code == 204
    assert _client(people.resident).get("/api/v1/notifications?unread=true").json()["count"] == 0


def test_deadline_warnings_render_from_their_facts_in_both_languages(people, world):
    case = report(people.resident, category_code="E0102")
    act("accept", case, people.staff_a)
    act("whistle", case, people.staff_a, departments=["440309-CG"])
    case.refresh_from_db()
    sla.sweep(case.due_at)
    note = notifications.about(case).filter(kind="deadline_red").first()
    assert note is not None
    english = notifications.render(note.kind, note.facts, "en")
    chinese = notifications.render(note.kind, note.facts, "zh-hans")
    assert case.number in english and case.number in chinese and english != chinese
    assert chinese == note.message  # the recipient has no language set: the default, 简体中文
