"""Re-division proposals on the core engine: a draft is adopted (a new grid version) or discarded, once,
by a system administrator. Each decision is written to the security audit log by the table's hook."""

from __future__ import annotations

from django.utils.translation import gettext_lazy

from gridgov.accounts.audit import record_audit
from gridgov.accounts.models import AuditEventType
from gridgov.accounts.roles import Role
from gridgov.core.workflow import Rule, Workflow, transition
from gridgov.territory.models import GridProposal, ProposalStatus

ADMINS = (Rule(Role.ADMIN),)


def _record(proposal, action, actor, *, from_status, note="", data=None, request=None) -> None:
    record_audit(
        AuditEventType.DATA_CHANGE,
        user=actor,
        request=request,
        object_type="grid_proposal",
        object_id=proposal.pk,
        detail={"action": action, **(data or {})},
    )


PROPOSALS = Workflow(
    model=GridProposal,
    transitions=(
        transition(
            "adopt",
            {ProposalStatus.DRAFT},
            ProposalStatus.ADOPTED,
            ADMINS,
            note="409 when the buildings moved since the proposal was made (fingerprint)",
        ),
        transition("discard", {ProposalStatus.DRAFT}, ProposalStatus.DISCARDED, ADMINS),
    ),  # fmt: skip
    version_field=None,
    record=_record,
    select_related=("area",),
    texts={
        "conflict": gettext_lazy("This proposal has been decided already."),
        "forbidden": gettext_lazy("Only a system administrator may change the territory."),
    },
)
