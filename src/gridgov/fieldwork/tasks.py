"""Background jobs of field work (thin: they call services)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from gridgov.fieldwork import services


@db_periodic_task(crontab(hour="3", minute="40"))
def purge_raw_points() -> dict[str, int]:
    """Every night: delete raw GPS fixes older than FIELDWORK_RAW_DAYS (tracks and summaries stay)."""
    return services.purge_raw()
