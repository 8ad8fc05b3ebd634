"""Background jobs of rental housing (thin: they call services)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from gridgov.rental import jobs, services


@db_periodic_task(crontab(hour="7", minute="30"))
def remind_due_inspections() -> dict[str, int]:
    """Every morning: tell grid workers how many rental houses of their grid are due or overdue."""
    return services.remind_due()


@db_task()
def run_import(job_id: int) -> str:
    """Run (or resume) one rental import job; returns its final status."""
    return jobs.run(job_id).status


@db_periodic_task(crontab(minute="*/2"))
def resume_stalled_imports() -> int:
    """Every two minutes: rental imports whose worker died (no heartbeat) are queued again and resume."""
    return services.resume_stalled_imports()


@db_periodic_task(crontab(hour="7", minute="40"))
def remind_star_reviews() -> dict[str, int]:
    """Every morning: tell community staff how many star sites of their community are due for review."""
    return services.remind_star_reviews()
