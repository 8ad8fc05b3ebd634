"""Background jobs of the cases (thin: they call services)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from gridgov.cases import sla, suggest


@db_periodic_task(crontab(minute="*/5"))
def sweep_deadlines() -> dict[str, int]:
    """Every five minutes: raise the yellow (80 %) and red (overdue) deadline warnings."""
    return sla.sweep()


@db_periodic_task(crontab(hour="3", minute="10"))
def train_category_classifier() -> dict:
    """Nightly: retrain the category suggestions on the closed cases."""
    return suggest.train_classifier_task()
