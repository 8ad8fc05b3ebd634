"""The review of collected records on the workflow engine: one decision per submission."""

from __future__ import annotations

from gridgov.registry.models import Submission
from gridgov.registry.tests.conftest import Api
from gridgov.registry.tests.test_collection import collect_one
from gridgov.registry.workflow import SUBMISSIONS


def test_a_reviewed_submission_cannot_be_reviewed_again(people):
    body = collect_one(people)
    sub = Submission.objects.get(pk=body["id"])
    assert SUBMISSIONS.allowed_actions(sub, people.staff_a) == ["approve", "reject"]
    assert SUBMISSIONS.allowed_actions(sub, people.head_a1) == []
    staff = Api(people.staff_a)
    r = staff.post(f"/submissions/{body['id']}/reject", {"reason": "房号不对"})
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    # rejected is final: neither approve nor a second reject
    r = staff.post(f"/submissions/{body['id']}/approve")
    assert r.status_code == 409, r.content
    assert staff.post(f"/submissions/{body['id']}/reject", {"reason": "再拒"}).status_code == 409
    sub.refresh_from_db()
    assert (sub.status, sub.reason) == ("rejected", "房号不对")
    assert SUBMISSIONS.allowed_actions(sub, people.staff_a) == []
    # a stranger to the review is refused (403), whatever the status
    assert Api(people.worker_a1).post(f"/submissions/{body['id']}/approve").status_code == 403
