"""Working time: deadlines in working hours and working days on the Chinese holiday calendar.

Interface (stable):
    is_workday(day: date) -> bool
    add_working_time(start: datetime, amount: float, unit: "hours" | "days") -> datetime
    working_seconds_between(start: datetime, end: datetime) -> float
    elapsed_share(start: datetime, due: datetime, now: datetime) -> float
    warning_level(start, due, now, yellow_at=0.8) -> "none" | "yellow" | "red"

All datetimes are timezone-aware; computation happens in settings.TIME_ZONE (Asia/Shanghai) and
the results are aware datetimes in that zone. The rules are written up in docs/worktime.md.

A working day is decided by, in order: a `core.WorkdayOverride` row for that day; the national
calendar of `chinese_calendar` (法定节假日 and 调休 working weekends); Monday–Friday for the years
that calendar does not cover yet. Working hours are the office periods of
`settings.GRIDGOV_WORK_PERIODS` on working days.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import threading
import time
import zoneinfo
from typing import Literal

import chinese_calendar
from django.conf import settings

DEFAULT_WORK_PERIODS: tuple[tuple[str, str], ...] = (("09:00", "12:00"), ("14:00", "18:00"))
WORKDAY_REVISION = "core.workdays"  # core.Revision bumped on every change of a WorkdayOverride
CHECK_INTERVAL = 5.0  # seconds between checks of the override revision

WarningLevel = Literal["none", "yellow", "red"]

_ONE_DAY = dt.timedelta(days=1)
_DAY_SECONDS = 86400.0


# --- working days -----------------------------------------------------------------------------


class _Calendar:
    """The working-day answers of this process, kept in step with the override revision."""

    def __init__(self, check_interval: float = CHECK_INTERVAL):
        self.check_interval = check_interval
        self._revision: int | None = None
        self._overrides: dict[dt.date, bool] = {}
        self._days: dict[dt.date, bool] = {}
        self._checked_at = float("-inf")
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        """Re-read the revision (and the overrides if it moved) on the next question."""
        self._checked_at = float("-inf")

    def clear(self) -> None:
        """Forget everything: overrides, revision and per-day answers."""
        with self._lock:
            self._revision = None
            self._overrides = {}
            self._days = {}
            self._checked_at = float("-inf")

    def refresh(self) -> None:
        if time.monotonic() - self._checked_at < self.check_interval:
            return
        with self._lock:
            if time.monotonic() - self._checked_at < self.check_interval:
                return
            from gridgov.core.models import Revision, WorkdayOverride

            # The revision is read before the rows: a change in between leaves the cache labelled
            # older than what it holds, which only costs one extra reload.
            revision = Revision.current(WORKDAY_REVISION)
            if revision != self._revision:
                self._overrides = dict(WorkdayOverride.objects.values_list("day", "is_workday"))
                self._days = {}
                self._revision = revision
            self._checked_at = time.monotonic()

    def is_workday(self, day: dt.date) -> bool:
        """The answer for `day`, assuming refresh() was called for this operation."""
        answer = self._days.get(day)
        if answer is None:
            answer = self._overrides.get(day)
            if answer is None:
                answer = _national_workday(day)
            self._days[day] = answer
        return answer


def _national_workday(day: dt.date) -> bool:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:  # a year the installed calendar does not cover yet
        return day.weekday() < 5


_calendar = _Calendar()


def invalidate_cache() -> None:
    """Make this process re-check the overrides on the next call (done on every override change)."""
    _calendar.invalidate()


def clear_cache() -> None:
    """Drop every cached answer of this process (for tests)."""
    _calendar.clear()


def is_workday(day: dt.date) -> bool:
    """Whether `day` is a working day (工作日): override, else the national calendar, else Mon–Fri."""
    if isinstance(day, dt.datetime):
        day = _local(day).date()
    _calendar.refresh()
    return _calendar.is_workday(day)


# --- working periods --------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _parse_periods(raw: tuple[tuple[str, str], ...]) -> tuple[tuple[float, float], ...]:
    periods: list[tuple[float, float]] = []
    for begin, end in raw:
        a, b = _seconds_of(begin), _seconds_of(end)
        if not a < b:
            raise ValueError(f"working period {begin}–{end} is empty")
        if periods and a < periods[-1][1]:
            raise ValueError("working periods must be in order and must not overlap")
        periods.append((a, b))
    if not periods:
        raise ValueError("GRIDGOV_WORK_PERIODS is empty")
    return tuple(periods)


def _seconds_of(text: str) -> float:
    hours, _, minutes = str(text).partition(":")
    value = int(hours) * 3600 + int(minutes or 0) * 60
    if not 0 <= value <= _DAY_SECONDS:
        raise ValueError(f"working period bound {text!r} is not a time of day")
    return float(value)


def work_periods() -> tuple[tuple[float, float], ...]:
    """The working periods of a working day as (start, end) seconds after local midnight."""
    raw = getattr(settings, "GRIDGOV_WORK_PERIODS", DEFAULT_WORK_PERIODS)
    return _parse_periods(tuple((str(a), str(b)) for a, b in raw))


# --- time zone helpers ------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def _tz() -> zoneinfo.ZoneInfo:
    return _zone(settings.TIME_ZONE)


def _local(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("working-time arithmetic needs timezone-aware datetimes")
    return value.astimezone(_tz())


def _split(value: dt.datetime) -> tuple[dt.date, float]:
    """(local date, seconds after local midnight) of an aware datetime."""
    local = _local(value)
    seconds = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
    return local.date(), seconds


def _at(day: dt.date, seconds: float) -> dt.datetime:
    """The aware local datetime `seconds` after midnight of `day`."""
    midnight = dt.datetime.combine(day, dt.time(), tzinfo=_tz())
    return midnight + dt.timedelta(seconds=seconds)


# --- arithmetic -------------------------------------------------------------------------------


def add_working_time(
    start: dt.datetime, amount: float, unit: Literal["hours", "days"] | str = "hours"
) -> dt.datetime:
    """The deadline `amount` working hours or working days after `start`.

    hours: the moment at which `amount` hours of working periods have elapsed since `start`; a start
    outside working hours rolls forward to the next working moment (amount 0 → that moment).
    days: the end of the last working period of the N-th working day after the day of `start`, with
    N = ceil(amount); the day of `start` never counts (amount 0 → the rolled-forward start).
    """
    if amount < 0 or not math.isfinite(amount):
        raise ValueError("amount must be a finite number ≥ 0")
    if unit not in ("hours", "days"):
        raise ValueError(f"unit must be 'hours' or 'days', not {unit!r}")
    periods = work_periods()
    _calendar.refresh()
    workday = _calendar.is_workday
    day, t = _split(start)

    if unit == "days":
        count = math.ceil(amount - 1e-9)
        if count > 0:
            while count:
                day += _ONE_DAY
                if workday(day):
                    count -= 1
            return _at(day, periods[-1][1])
        remaining = 0.0
    else:
        remaining = amount * 3600.0

    day_total = sum(b - a for a, b in periods)
    first_begin = periods[0][0]
    while True:
        if workday(day):
            if t <= first_begin and remaining > day_total:
                remaining -= day_total  # the whole day is used up
            else:
                for a, b in periods:
                    if t >= b:
                        continue
                    begin = max(t, a)
                    available = b - begin
                    if remaining <= available:
                        return _at(day, begin + remaining)
                    remaining -= available
                    t = b
        day += _ONE_DAY
        t = 0.0


def end_of_working_day(day: dt.date) -> dt.datetime:
    """The end of the last working period of `day`, or of the next working day when `day` is not one."""
    _calendar.refresh()
    while not _calendar.is_workday(day):
        day += _ONE_DAY
    return _at(day, work_periods()[-1][1])


def working_seconds_between(start: dt.datetime, end: dt.datetime) -> float:
    """Working seconds in [start, end): the overlap with working periods of working days; 0 if end ≤ start."""
    if _local(end) <= _local(start):
        return 0.0
    periods = work_periods()
    _calendar.refresh()
    workday = _calendar.is_workday
    day, t0 = _split(start)
    last_day, t_end = _split(end)
    day_total = sum(b - a for a, b in periods)

    total = 0.0
    while True:
        t1 = t_end if day == last_day else _DAY_SECONDS
        if workday(day):
            if t0 == 0.0 and t1 == _DAY_SECONDS:
                total += day_total
            else:
                for a, b in periods:
                    lo, hi = max(a, t0), min(b, t1)
                    if hi > lo:
                        total += hi - lo
        if day == last_day:
            return total
        day += _ONE_DAY
        t0 = 0.0


def elapsed_share(start: dt.datetime, due: dt.datetime, now: dt.datetime) -> float:
    """Share of the working time between `start` and `due` used by `now` (≥ 1.0 once due).

    When there is no working time between start and due, the share is 0.0 before `due` and 1.0 from it.
    """
    allowed = working_seconds_between(start, due)
    if allowed <= 0:
        return 1.0 if now >= due else 0.0
    return working_seconds_between(start, now) / allowed


def warning_level(
    start: dt.datetime, due: dt.datetime, now: dt.datetime, yellow_at: float = 0.8
) -> WarningLevel:
    """ "red" once `now` is past `due`; "yellow" once `yellow_at` of the working time is used; else "none"."""
    if now > due:
        return "red"
    if elapsed_share(start, due, now) >= yellow_at:
        return "yellow"
    return "none"
