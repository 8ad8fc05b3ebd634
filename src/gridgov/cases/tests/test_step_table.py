"""The step lifecycle of a case on the workflow engine: its own table, refusals, and the docs copy."""

from __future__ import annotations

from pathlib import Path

import pytest

from gridgov.cases import workflow
from gridgov.cases.models import Case, Step
from gridgov.cases.tests.conftest import Api, act, report, step_of
from gridgov.core.errors import Conflict, Forbidden


def _whistled(people, *depts):
    case = report(people.resident, category_code="E0102")
    act("accept", case, people.staff_a)
    return act("whistle", case, people.staff_a, departments=list(depts))


def test_the_step_table_refuses_an_illegal_step_move(people, world):
    case = _whistled(people, "440309-CG", "440309-GA")
    cg = step_of(case, world.cg)
    # pending_report_in → handled skips the report-in: the step table refuses it (409), whoever asks
    with pytest.raises(Conflict) as err:
        workflow.move_step(cg, "handle", people.dept_cg)
    assert err.value.status == 409
    # another department's step: the table's rules refuse it (403)
    with pytest.raises(Forbidden):
        workflow.move_step(cg, "report_in", people.dept_ga)
    assert Step.objects.get(pk=cg.pk).status == "pending_report_in"  # nothing moved
    workflow.move_step(cg, "report_in", people.dept_cg)
    assert Step.objects.get(pk=cg.pk).status == "reported_in"
    with pytest.raises(Conflict):
        workflow.move_step(Step.objects.get(pk=cg.pk), "report_in", people.dept_cg)  # once only


def test_a_department_moves_only_its_own_steps_through_the_api(people, world):
    case = _whistled(people, "440309-CG", "440309-GA")
    ga = step_of(case, world.ga)
    r = Api(people.dept_cg).post(
        f"/cases/{case.pk}/actions/report_in", {"version": case.version, "step_id": ga.pk}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "step_id"
    assert Step.objects.get(pk=ga.pk).status == "pending_report_in"
    case = act("report_in", Case.objects.get(pk=case.pk), people.dept_cg)
    assert {s.target_id: s.status for s in Step.objects.filter(case=case)} == {
        world.cg.pk: "reported_in",
        world.ga.pk: "pending_report_in",
    }


def test_docs_carry_the_step_table():
    docs = Path(__file__).resolve().parents[4] / "docs" / "cases.md"
    text = docs.read_text(encoding="utf-8")
    block = text.split("<!-- step-table -->\n", 1)[1].split("\n<!-- /step-table -->", 1)[0]
    assert block == workflow.step_markdown_table()
