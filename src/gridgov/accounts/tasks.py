"""Background jobs of the accounts (thin: they call services)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from gridgov.accounts import posts


@db_periodic_task(crontab(minute="*"))
def hand_back_notices() -> int:
    """Every minute: when a leave has run out, the notices its backup has not read yet for the absent
    colleague and that still need action go back to them (AB岗)."""
    return posts.hand_back_due()
