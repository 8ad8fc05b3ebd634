"""`gridgov manage rebuild_rental_counts`: recompute every rental count row (houses and rooms per area,
grade and tenancy category) from the rental houses — after a bulk load that wrote houses directly, or to
check the kept counts (the figures read them)."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from gridgov.rental import counts


class Command(BaseCommand):
    help = "Recompute the rental counts kept per area from the rental houses."

    def handle(self, *args, **options) -> None:
        started = time.perf_counter()
        done = counts.rebuild()
        self.stdout.write(
            f"Rental counts rebuilt: {done['houses']:,} houses, {done['rows']:,} rows "
            f"in {time.perf_counter() - started:.1f} s."
        )
