"""The review of collected records (楼长采集) on the core engine: a submission waits (pending) until
community staff approve or reject it, once.

Who may review is checked first by the registry's permission `registry.review` (`core.principal.require`, which audits
a refusal); the table repeats the roles so that `allowed_actions` and the docs read from one place.
The submission is locked by `SUBMISSIONS.take`; a second review answers 409.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy

from gridgov.accounts.roles import Role
from gridgov.core.workflow import Rule, Workflow, transition
from gridgov.registry.models import Submission, SubmissionStatus

REVIEWERS = (Rule(Role.COMMUNITY_STAFF),)

SUBMISSIONS = Workflow(
    model=Submission,
    transitions=(
        transition(
            "approve",
            {SubmissionStatus.PENDING},
            SubmissionStatus.APPROVED,
            REVIEWERS,
            note="the record is created or changed; a change needs the record's version unchanged",
        ),
        transition("reject", {SubmissionStatus.PENDING}, SubmissionStatus.REJECTED, REVIEWERS, ("reason",)),
    ),  # fmt: skip
    version_field=None,
    select_related=("building__grid",),
    texts={"conflict": gettext_lazy("This submission has already been reviewed.")},
)
