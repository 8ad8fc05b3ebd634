"""Background jobs of the cases (thin: they call services)."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task

from gridgov.cases import sla, suggest


@db_periodic_task(crontab(minute="*/5"))
def sweep_deadlines() -> dict[str, int]:
    """Every five minutes: raise the yellow (80 %) and red (overdue) deadline warnings."""
    return sla.sweep()


@db_periodic_task(crontab(hour="3", minute="10"))
def train_category_classifier() -> dict:
    """Nightly: retrain the category suggestions on the closed cases."""
    return suggest.train_classifier_task()


@db_task()
def train_category_classifier_if_missing() -> dict:
    """Once, in the background: train the category suggestions when no model has been saved yet (a new
    install must not wait for the night)."""
    return suggest.train_if_missing()


@HUEY.on_startup()
def _train_when_no_model() -> None:
    """The worker starts (with `gridgov serve`): a server that finds no model queues its training."""
    try:
        if not suggest.model_path().exists():
            suggest.schedule_training()
    except Exception:  # noqa: BLE001 - never keep the worker from starting
        logging.getLogger(__name__).exception("cannot queue the category classifier training")
