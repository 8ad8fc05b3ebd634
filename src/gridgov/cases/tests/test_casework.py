"""Case search, the server-side Excel export of the whole filtered list, the printable 工单 / 督办单, the
remaining working time, names instead of codes, the reporter's contact for the staff who call back, and
the return visit (labels, method, 联系不上)."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import load_workbook

from gridgov.cases import printing
from gridgov.cases.exports import remaining_text
from gridgov.cases.models import Case, TimelineEvent
from gridgov.cases.schemas import remaining_work_seconds, work_day_seconds
from gridgov.cases.tests.conftest import A1, B1, Api, act, report
from gridgov.registry.models import PiiAccessLog

PHONE = "13912345678"


def _hotline(user, point=A1, phone=PHONE, description="楼道灯坏了一个星期", channel="hotline"):
    body = {
        "description": description, "channel": channel, "reporter_name": "王阿姨", "reporter_phone": phone,
        "lng": point[0], "lat": point[1],
    }  # fmt: skip
    r = Api(user).post("/cases", body)
    assert r.status_code == 201, r.content
    return Case.objects.get(pk=r.json()["id"])


def _numbers(r) -> set[str]:
    assert r.status_code == 200, r.content
    return {c["number"] for c in r.json()["items"]}


# --- 1. search ----------------------------------------------------------------------------------------
def test_search_by_number_keyword_and_phone(people, world):
    lamp = _hotline(people.staff_a)
    trash = report(people.resident, description="小区门口垃圾堆放多日无人清理")
    api = Api(people.staff_a)
    assert _numbers(api.get("/cases", {"q": lamp.number})) == {lamp.number}
    assert _numbers(api.get("/cases", {"q": lamp.number[:-2]})) >= {lamp.number}
    assert _numbers(api.get("/cases", {"q": "垃圾 清理"})) == {trash.number}
    assert _numbers(api.get("/cases", {"phone": PHONE})) == {lamp.number}
    assert _numbers(api.get("/cases", {"phone": "+86 139 1234 5678"})) == {lamp.number}
    assert _numbers(api.get("/cases", {"phone": "13900000000"})) == set()
    # the phone search is logged (personal data), the keyword search is not
    assert PiiAccessLog.objects.filter(action="search", object_type="case").count() == 3


def test_search_never_finds_another_communitys_case(people, world):
    other = _hotline(people.staff_b, point=B1, description="B 社区路灯不亮")
    api = Api(people.staff_a)
    assert _numbers(api.get("/cases", {"q": other.number})) == set()
    assert _numbers(api.get("/cases", {"q": "路灯不亮"})) == set()
    assert _numbers(api.get("/cases", {"phone": PHONE})) == set()
    assert _numbers(Api(people.staff_b).get("/cases", {"phone": PHONE})) == {other.number}


def test_search_rejects_control_characters(people, world):
    r = Api(people.staff_a).get("/cases", {"phone": "abc"})
    assert r.status_code == 422


# --- 2. export ----------------------------------------------------------------------------------------
def _sheet(r):
    assert r.status_code == 200, r.content[:500]
    assert r["Content-Type"].startswith("application/vnd.openxmlformats")
    ws = load_workbook(io.BytesIO(b"".join(r.streaming_content) if r.streaming else r.content)).active
    return [[c.value for c in row] for row in ws.iter_rows()]


def test_export_writes_every_case_of_the_filtered_list(people, world):
    for i in range(262):
        report(people.resident, description=f"共享单车乱停放 第{i}处")
    report(people.resident, description="别的事情")
    logs = PiiAccessLog.objects.filter(action="export").count()
    rows = _sheet(Api(people.staff_a, language="zh-hans").get("/cases/export", {"q": "共享单车"}))
    assert len(rows) == 1 + 262
    header = rows[0]
    assert header[:6] == ["案件编号", "标题", "问题类别", "状态", "是否超期", "所属网格"]
    assert {r[4] for r in rows[1:]} == {"否"}
    assert {r[5] for r in rows[1:]} == {world.grid_a1.name}  # the grid's name, not its code
    assert PiiAccessLog.objects.filter(action="export").count() == logs + 1  # one row per export
    log = PiiAccessLog.objects.filter(action="export").latest("id")
    assert log.count == 262 and log.object_type == "case"


def test_export_overdue_is_yes_no_and_departments_by_name(people, world):
    case = report(people.resident)
    act("accept", case, people.staff_a, category_code="E0101")
    act("whistle", case, people.staff_a, departments=["440309-CG"])
    Case.objects.filter(pk=case.pk).update(due_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC), warning_level="red")
    rows = _sheet(Api(people.staff_a, language="zh-hans").get("/cases/export"))
    row = next(r for r in rows if r[0] == case.number)
    assert row[4] == "是"
    assert row[6] == world.cg.name
    assert row[10].startswith("已超期")


def test_export_masks_by_role_and_never_leaks_another_community(people, world):
    mine = _hotline(people.staff_a)
    _hotline(people.staff_b, point=B1, phone="13600001111")
    staff = _sheet(Api(people.staff_a).get("/cases/export"))
    assert [r[0] for r in staff[1:]] == [mine.number]
    assert staff[1][-1] == PHONE  # the community's own dispatcher calls back
    leader = _sheet(Api(people.leader).get("/cases/export"))
    assert len(leader) == 3
    assert all("****" in r[-1] for r in leader[1:])  # a leader sees masked phones
    assert _sheet(Api(people.resident2).get("/cases/export"))[1:] == []


# --- 3. printing --------------------------------------------------------------------------------------
def _pdf_text(r) -> str:
    from pypdf import PdfReader

    assert r.status_code == 200, r.content[:500]
    assert r["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(r.content))
    return "\n".join(p.extract_text() for p in reader.pages)


def test_work_order_pdf_shows_the_case(people, world):
    case = _hotline(people.staff_a)
    act("accept", case, people.staff_a, category_code="E0101")
    act("whistle", case, people.staff_a, departments=["440309-CG"])
    text = _pdf_text(Api(people.leader, language="zh-hans").get(f"/cases/{case.pk}/print/work-order"))
    assert case.number in text
    assert "139****5678" in text  # the leader: masked


@pytest.mark.skipif(not printing._font_faces(), reason="the web app (with its Noto Sans SC) is not built")
def test_work_order_pdf_prints_chinese_with_the_shipped_font(people, world):
    case = _hotline(people.staff_a)
    r = Api(people.staff_a, language="zh-hans").get(f"/cases/{case.pk}/print/work-order")
    text = _pdf_text(r)
    assert "工单" in text and "楼道灯坏了一个星期" in text
    assert b"Noto" in r.content or "Noto" in str(_fonts(r.content))


def _fonts(data: bytes) -> set[str]:
    from pypdf import PdfReader

    names = set()
    for page in PdfReader(io.BytesIO(data)).pages:
        for font in (page["/Resources"].get("/Font") or {}).values():
            names.add(str(font.get_object()["/BaseFont"]))
    return names


def test_supervision_sheet_shows_the_card_and_reason(people, world):
    case = report(people.resident)
    act("accept", case, people.staff_a, category_code="E0101")
    act("whistle", case, people.staff_a, departments=["440309-CG"])
    Case.objects.filter(pk=case.pk).update(due_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    act("supervise", case, people.sub_staff, level="yellow", note="三天未处置")
    text = _pdf_text(Api(people.staff_a, language="zh-hans").get(f"/cases/{case.pk}/print/supervision"))
    assert case.number in text and "黄牌" in text and "三天未处置" in text


def test_printing_is_forbidden_outside_the_area_and_without_a_card(people, world):
    case = report(people.resident)
    assert Api(people.staff_b).get(f"/cases/{case.pk}/print/work-order").status_code == 404
    r = Api(people.staff_a).get(f"/cases/{case.pk}/print/supervision")
    assert r.status_code == 422 and r.json()["errors"][0]["field"].endswith("sheet")
    assert Api(people.staff_a).get(f"/cases/{case.pk}/print/other").status_code == 422


# --- 4. remaining working time ------------------------------------------------------------------------
def test_remaining_work_seconds_in_list_detail_and_steps(people, world):
    case = report(people.resident)
    act("accept", case, people.staff_a, category_code="E0101")
    act("whistle", case, people.staff_a, departments=["440309-CG"])
    detail = Api(people.staff_a).get(f"/cases/{case.pk}").json()
    case.refresh_from_db()
    assert detail["remaining_work_seconds"] == pytest.approx(remaining_work_seconds(case.due_at), abs=5)
    assert detail["work_day_seconds"] == work_day_seconds() > 0
    step = detail["steps"][0]
    assert step["current_due_at"] and step["remaining_work_seconds"] is not None
    # the department's to-do shows its own report-in deadline, not the case's deadline
    row = Api(people.dept_cg).get("/cases", {"todo": True}).json()["items"][0]
    assert row["own_step_kind"] == "report_in"
    assert row["own_step_due_at"] == step["report_in_due_at"] != row["due_at"]
    assert Api(people.staff_a).get("/cases").json()["items"][0]["own_step_due_at"] is None


def test_remaining_text_reads_days_hours_and_overdue(settings):
    day = 8 * 3600
    settings.LANGUAGE_CODE = "zh-hans"
    from django.utils import translation

    with translation.override("zh-hans"):
        assert remaining_text(3 * day, day) == "剩余 3 个工作日"
        assert remaining_text(5 * 3600, day) == "剩余 5 工时"
        assert remaining_text(-2 * day, day) == "已超期 2 个工作日"
        assert remaining_text(-1800, day) == "已超期 1 工时"


def test_closed_case_reports_no_remaining_time_but_closed_overdue(people, world):
    case = report(people.resident)
    act("accept", case, people.staff_a, category_code="E0101")
    act("community_handle", case, people.staff_a, note="已清理")
    Case.objects.filter(pk=case.pk).update(status="closed", closed_at=dt.datetime(2030, 1, 2, tzinfo=dt.UTC),
                                           due_at=dt.datetime(2030, 1, 1, tzinfo=dt.UTC), warning_level="red")  # fmt: skip
    body = Api(people.staff_a).get(f"/cases/{case.pk}").json()
    assert body["remaining_work_seconds"] is None and body["closed_overdue"] is True


# --- 6. names, not codes; the reporter's contact for the staff who call back ------------------------
def test_names_instead_of_codes(people, world):
    case = report(people.resident)
    act("accept", case, people.staff_a, category_code="E0101")
    act("whistle", case, people.staff_a, departments=["440309-CG"])
    body = Api(people.staff_a).get(f"/cases/{case.pk}").json()
    assert body["grid_name"] == world.grid_a1.name and body["holder_area_name"]
    whistle = next(e for e in body["timeline"] if e["action"] == "whistle")
    assert whistle["department_names"] == [world.cg.name]
    listed = Api(people.staff_a).get("/cases").json()["items"][0]
    assert listed["grid_name"] == world.grid_a1.name


def test_registering_staff_and_community_dispatchers_see_the_contact_others_do_not(people, world):
    case = _hotline(people.worker_a1, channel="patrol")  # registered on patrol by the grid worker
    before = PiiAccessLog.objects.filter(action="view", object_type="case").count()
    for who in (people.worker_a1, people.staff_a):
        body = Api(who).get(f"/cases/{case.pk}").json()
        assert (body["reporter_phone"], body["reporter_name"]) == (PHONE, "王阿姨")
        assert body["revealable"] == []
    assert PiiAccessLog.objects.filter(action="view", object_type="case").count() == before + 2
    for who in (people.leader, people.sub_staff, people.admin, people.worker_a2):
        r = Api(who).get(f"/cases/{case.pk}")
        if r.status_code == 200:
            assert r.json()["reporter_phone"] == "139****5678", who
            assert r.json()["reporter_name"] == "王**"
    # the list stays masked for everybody (no access-log row per listed case)
    assert Api(people.staff_a).get("/cases").json()["items"][0]["reporter_phone"] == "139****5678"


# --- 5. the return visit --------------------------------------------------------------------------------
def _closed(people):
    case = report(people.resident)
    act("accept", case, people.staff_a, category_code="E0101")
    act("whistle", case, people.staff_a, departments=["440309-CG"])
    act("report_in", case, people.dept_cg)
    act("handle", case, people.dept_cg, note="已清理")
    act("verify", case, people.worker_a1, passed=True)
    act("close", case, people.staff_a)
    return case


def test_return_visit_unreachable_is_recorded_and_the_case_waits(people, world):
    case = _closed(people)
    api = Api(people.staff_a)
    r = api.action(case, "return_visit", reached=False, visit_method="phone", note="无人接听")
    assert r.status_code == 200, r.content
    case.refresh_from_db()
    assert case.status == "closed" and case.satisfaction is None and case.visit_unreached == 1
    event = TimelineEvent.objects.filter(case=case, action="return_visit").latest("id")
    assert event.data["reached"] is False and event.data["method"] == "phone"
    r = api.action(case, "return_visit", satisfaction=4, visit_method="visit")  # 基本满意, on a home visit
    assert r.status_code == 200, r.content
    case.refresh_from_db()
    assert case.status == "rated" and case.satisfaction == 4 and case.visit_method == "visit"


def test_return_visit_unreachable_needs_a_method_and_takes_no_rating(people, world):
    case = _closed(people)
    api = Api(people.staff_a)
    r = api.action(case, "return_visit", reached=False)
    assert r.status_code == 422 and r.json()["errors"][0]["field"].endswith("visit_method")
    r = api.action(case, "return_visit", satisfaction=5, visit_method="app")
    assert r.status_code == 422 and r.json()["errors"][0]["field"].endswith("visit_method")
    r = api.action(case, "return_visit", reached=False, satisfaction=1, visit_method="phone")
    assert r.status_code == 422
    case.refresh_from_db()
    assert case.status == "closed" and case.visit_unreached == 0
