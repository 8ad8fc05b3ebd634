"""Background jobs of the registry (thin: they call the job runner and services)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from gridgov.registry import jobs, services


@db_task()
def run_import(job_id: int) -> str:
    """Run (or resume) one import job; returns its final status."""
    return jobs.run(job_id).status


@db_periodic_task(crontab(minute="*/2"))
def resume_stalled_imports() -> int:
    """Every two minutes: imports whose worker died (no heartbeat) are queued again and resume."""
    return services.resume_stalled_jobs()
