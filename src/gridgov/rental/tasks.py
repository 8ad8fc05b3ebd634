"""Background jobs of rental housing (thin: they call services)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from gridgov.rental import services


@db_periodic_task(crontab(hour="7", minute="30"))
def remind_due_inspections() -> dict[str, int]:
    """Every morning: tell grid workers how many rental houses of their grid are due or overdue."""
    return services.remind_due()


@db_periodic_task(crontab(hour="7", minute="40"))
def remind_star_reviews() -> dict[str, int]:
    """Every morning: tell community staff how many star sites of their community are due for review."""
    return services.remind_star_reviews()
