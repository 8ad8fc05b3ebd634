"""Background jobs of the territory (thin: they call services)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from gridgov.territory import services
from gridgov.territory.models import Area


@db_task()
def recount_households(area_code: str | None = None) -> None:
    """Recount cached households below one area (or everywhere) after an import or a re-division."""
    area = Area.objects.filter(code=area_code).first() if area_code else None
    services.recount_households(area)


@db_periodic_task(crontab(hour="2", minute="30"))
def nightly_recount_households() -> None:
    """A nightly safety net: the cached household counts follow the houses."""
    services.recount_households()
