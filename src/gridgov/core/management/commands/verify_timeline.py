"""`gridgov verify-timeline` (also `gridgov manage verify_timeline`): walk every hash chain of every event
table and name the first event of each chain that was edited, deleted or inserted out of order. Exit
code 1 when anything is found."""

from __future__ import annotations

import sys
from typing import TextIO

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, OutputWrapper

from gridgov.core import timeline


def run(tables: list[str] | None, out: TextIO | OutputWrapper) -> int:
    """Verify (only `tables`, labels like "cases.TimelineEvent", when given), print the report; 0 when
    every chain is intact, 1 otherwise."""
    models = None
    if tables:
        chained = {m._meta.label_lower: m for m in timeline.chained_models()}
        unknown = [t for t in tables if t.lower() not in chained]
        if unknown:
            names = ", ".join(sorted(m._meta.label for m in chained.values()))
            raise CommandError(f"not a timeline table: {', '.join(unknown)} (tables: {names})")
        models = [chained[t.lower()] for t in tables]
    report = timeline.verify(models)
    for line in report.lines():
        print(line, file=out)
    return 0 if report.ok else 1


class Command(BaseCommand):
    help = "Verify the hash chains of every timeline and audit log; exit 1 when an event was tampered with."

    def add_arguments(self, parser):
        parser.add_argument("--table", action="append", help="only this table (app.Model)")

    def handle(self, *args, **options):
        apps.check_apps_ready()
        code = run(options["table"], self.stdout)
        if code:
            sys.exit(code)
