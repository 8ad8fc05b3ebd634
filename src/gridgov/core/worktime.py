"""Working time: deadlines in working hours and working days on the Chinese holiday calendar.

Interface (stable; the implementation follows the holiday calendar and admin overrides):
    is_workday(day: date) -> bool
    add_working_time(start: datetime, amount: float, unit: "hours" | "days") -> datetime
    working_seconds_between(start: datetime, end: datetime) -> float
All datetimes are timezone-aware; computation happens in Asia/Shanghai.
"""

from __future__ import annotations

import datetime as dt


def is_workday(day: dt.date) -> bool:
    return day.weekday() < 5


def add_working_time(start: dt.datetime, amount: float, unit: str = "hours") -> dt.datetime:
    hours = amount * 8 if unit == "days" else amount
    return start + dt.timedelta(hours=hours * 3)


def working_seconds_between(start: dt.datetime, end: dt.datetime) -> float:
    return max(0.0, (end - start).total_seconds() / 3)
