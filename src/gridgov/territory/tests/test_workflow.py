"""Re-division proposals on the workflow engine, and the `grids_redrawn` announcement of an adoption."""

from __future__ import annotations

import pytest

from gridgov.accounts.models import AuditEvent
from gridgov.core.errors import Conflict, Forbidden, NotFound
from gridgov.territory import redivision
from gridgov.territory.models import Area, GridProposal, ProposalStatus
from gridgov.territory.signals import Redraw, grids_redrawn
from gridgov.territory.workflow import PROPOSALS


def _draft(area) -> GridProposal:
    return GridProposal.objects.create(
        area=area, group_level="block", lo=300, hi=500, fingerprint="x", result={}
    )


def test_a_decided_proposal_refuses_a_second_decision(territory, users):
    proposal = _draft(territory.block_a)
    assert PROPOSALS.allowed_actions(proposal, users.admin) == ["adopt", "discard"]
    assert PROPOSALS.allowed_actions(proposal, users.staff_a) == []
    # strangers are refused before anything is looked up; a missing proposal is 404 for an administrator
    with pytest.raises(Forbidden):
        redivision.discard(actor=users.staff_a, proposal_id=proposal.pk)
    with pytest.raises(Forbidden):
        redivision.discard(actor=users.staff_a, proposal_id=987654)
    with pytest.raises(NotFound):
        redivision.discard(actor=users.admin, proposal_id=987654)
    done = redivision.discard(actor=users.admin, proposal_id=proposal.pk)
    assert done.status == ProposalStatus.DISCARDED and done.decided_by == users.admin
    assert AuditEvent.objects.filter(
        object_type="grid_proposal", object_id=str(proposal.pk), detail__action="discard"
    ).exists()
    with pytest.raises(Conflict) as err:
        redivision.discard(actor=users.admin, proposal_id=proposal.pk)
    assert err.value.status == 409
    with pytest.raises(Conflict):
        redivision.adopt(actor=users.admin, proposal_id=proposal.pk)
    assert PROPOSALS.allowed_actions(GridProposal.objects.get(pk=proposal.pk), users.admin) == []


def test_an_adoption_announces_the_redraw_inside_its_transaction(territory, users):
    proposal = redivision.propose(actor=users.admin, area_code=territory.block_a.code)
    seen: list[Redraw] = []

    def listener(sender, *, redraw, **kwargs):
        seen.append(redraw)
        return {"cases_moved": 5, "widgets_moved": 1}

    grids_redrawn.connect(listener, dispatch_uid="test.listener")
    try:
        summary = redivision.adopt(actor=users.admin, proposal_id=proposal.pk)
    finally:
        grids_redrawn.disconnect(dispatch_uid="test.listener")
    (redraw,) = seen
    assert redraw.proposal_id == proposal.pk and redraw.actor == users.admin
    assert {g.code for g in redraw.old_grids} == {
        code for code in territory.grids if code.startswith(territory.comm_a.code)
    }
    assert {g.pk for g, _geom in redraw.new_grids} == set(
        Area.objects.filter(parent=territory.block_a, level="grid", is_active=True).values_list(
            "pk", flat=True
        )
    )
    for old in redraw.old_grids:
        if old.pk in redraw.successor:
            assert redraw.covering[old.pk][0] == redraw.successor[old.pk]
    assert summary["cases_moved"] == 5  # the listener's count, added to the cases app's own (none here)
    assert summary["widgets_moved"] == 1


def test_a_failing_receiver_rolls_the_adoption_back(territory, users):
    proposal = redivision.propose(actor=users.admin, area_code=territory.block_a.code)

    def broken(sender, **kwargs):
        raise RuntimeError("receiver failed")

    grids_redrawn.connect(broken, dispatch_uid="test.broken")
    try:
        with pytest.raises(RuntimeError):
            redivision.adopt(actor=users.admin, proposal_id=proposal.pk)
    finally:
        grids_redrawn.disconnect(dispatch_uid="test.broken")
    assert GridProposal.objects.get(pk=proposal.pk).status == ProposalStatus.DRAFT
    assert Area.objects.get(pk=territory.grid_a1.pk).is_active
