from __future__ import annotations

import datetime as dt
import time
import zoneinfo

import chinese_calendar
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridgov.core import worktime
from gridgov.core.models import Revision, WorkdayOverride
from gridgov.core.worktime import (
    add_working_time,
    elapsed_share,
    is_workday,
    warning_level,
    working_seconds_between,
)

pytestmark = pytest.mark.django_db

SH = zoneinfo.ZoneInfo("Asia/Shanghai")
UTC = dt.UTC
DAY = 7 * 3600  # working seconds of a full working day with the default periods


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, ss, tzinfo=SH)


@pytest.fixture(autouse=True)
def fresh_calendar():
    worktime.clear_cache()
    yield
    worktime.clear_cache()


# --- working hours on ordinary days -----------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "hours", "due"),
    [
        (at(2026, 3, 10, 9, 30), 2, at(2026, 3, 10, 11, 30)),
        (at(2026, 3, 10, 11), 1, at(2026, 3, 10, 12)),  # ends exactly at the lunch break
        (at(2026, 3, 10, 11), 2, at(2026, 3, 10, 15)),  # lunch skipped
        (at(2026, 3, 10, 7), 1, at(2026, 3, 10, 10)),  # before office hours
        (at(2026, 3, 10, 12, 30), 1, at(2026, 3, 10, 15)),  # during lunch
        (at(2026, 3, 10, 17), 2, at(2026, 3, 11, 10)),  # into the next morning
        (at(2026, 3, 10, 19), 1, at(2026, 3, 11, 10)),  # after office hours
        (at(2026, 3, 10, 9), 7, at(2026, 3, 10, 18)),  # one full working day
        (at(2026, 3, 10, 9), 7.5, at(2026, 3, 11, 9, 30)),
        (at(2026, 3, 10, 10), 0.25, at(2026, 3, 10, 10, 15)),
        (at(2026, 3, 10, 19), 0, at(2026, 3, 11, 9)),  # 0 → the rolled-forward start
        (at(2026, 3, 10, 10), 0, at(2026, 3, 10, 10)),
        (at(2026, 3, 13, 17), 2, at(2026, 3, 16, 10)),  # Friday → Monday over the weekend
        (at(2026, 3, 14, 10), 1, at(2026, 3, 16, 10)),  # starts on a Saturday
    ],
)
def test_add_working_hours(start, hours, due):
    assert add_working_time(start, hours, "hours") == due
    assert working_seconds_between(start, due) == hours * 3600


def test_default_unit_is_hours():
    assert add_working_time(at(2026, 3, 10, 9), 4) == at(2026, 3, 10, 15)


def test_working_seconds_between_basics():
    assert working_seconds_between(at(2026, 3, 10, 10), at(2026, 3, 10, 10)) == 0
    assert working_seconds_between(at(2026, 3, 10, 15), at(2026, 3, 10, 10)) == 0
    assert working_seconds_between(at(2026, 3, 10, 12), at(2026, 3, 10, 14)) == 0
    assert working_seconds_between(at(2026, 3, 10, 11, 30), at(2026, 3, 10, 14, 30)) == 3600
    assert working_seconds_between(at(2026, 3, 13, 17), at(2026, 3, 16, 10)) == 2 * 3600
    # Monday 00:00 → next Monday 00:00: five full working days
    assert working_seconds_between(at(2026, 3, 9), at(2026, 3, 16)) == 5 * DAY


def test_bad_arguments():
    with pytest.raises(ValueError):
        add_working_time(at(2026, 3, 10, 9), -1, "hours")
    with pytest.raises(ValueError):
        add_working_time(at(2026, 3, 10, 9), 1, "minutes")
    with pytest.raises(ValueError):
        add_working_time(dt.datetime(2026, 3, 10, 9), 1, "hours")
    with pytest.raises(ValueError):
        working_seconds_between(dt.datetime(2026, 3, 10, 9), at(2026, 3, 10, 10))


# --- the national calendar (chinese_calendar 1.11) --------------------------------------------


def test_national_day_2026_calendar():
    # 2026-09-25 (Fri) 中秋节 off; 2026-09-20 (Sun) and 2026-10-10 (Sat) are 调休 working days;
    # 国庆节 2026-10-01 … 10-07 off.
    assert not is_workday(dt.date(2026, 9, 25))
    assert is_workday(dt.date(2026, 9, 20))
    assert is_workday(dt.date(2026, 9, 30))
    for d in range(1, 8):
        assert not is_workday(dt.date(2026, 10, d))
    assert is_workday(dt.date(2026, 10, 8))
    assert is_workday(dt.date(2026, 10, 10))
    assert not is_workday(dt.date(2026, 10, 11))


def test_spring_festival_2026_calendar():
    # 2026-02-14 (Sat) and 02-28 (Sat) are 调休 working days; 春节 02-15 … 02-23 off.
    assert is_workday(dt.date(2026, 2, 14))
    for d in range(15, 24):
        assert not is_workday(dt.date(2026, 2, d))
    assert is_workday(dt.date(2026, 2, 24))
    assert is_workday(dt.date(2026, 2, 28))
    assert not is_workday(dt.date(2026, 3, 1))


def test_hours_over_national_day():
    assert add_working_time(at(2026, 9, 30, 17), 2, "hours") == at(2026, 10, 8, 10)
    assert working_seconds_between(at(2026, 9, 30, 9), at(2026, 10, 9, 9)) == 2 * DAY


def test_hours_over_spring_festival_and_tiaoxiu_saturday():
    # Friday 02-13 evening → the 调休 Saturday 02-14 counts as a working day
    assert add_working_time(at(2026, 2, 13, 17), 2, "hours") == at(2026, 2, 14, 10)
    assert add_working_time(at(2026, 2, 14, 17), 2, "hours") == at(2026, 2, 24, 10)
    # 02-13, 02-14, 02-24 … 02-27 and the 调休 Saturday 02-28: seven working days
    assert working_seconds_between(at(2026, 2, 13, 9), at(2026, 3, 2, 9)) == 7 * DAY


def test_mid_autumn_and_tiaoxiu_sunday():
    # 09-19 (Sat) off, 09-20 (Sun) working; 09-24 (Thu) working, 09-25 (Fri) off
    assert add_working_time(at(2026, 9, 18, 17), 2, "hours") == at(2026, 9, 20, 10)
    assert add_working_time(at(2026, 9, 24, 17), 2, "hours") == at(2026, 9, 28, 10)


# --- working days -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        (at(2026, 3, 10, 10), 1, at(2026, 3, 11, 18)),  # the start day does not count
        (at(2026, 3, 10, 8), 1, at(2026, 3, 11, 18)),  # even when work had not begun yet
        (at(2026, 3, 10, 10), 7, at(2026, 3, 19, 18)),  # 7 工作日 over a weekend
        (at(2026, 3, 13, 10), 1, at(2026, 3, 16, 18)),  # Friday → Monday
        (at(2026, 3, 14, 10), 1, at(2026, 3, 16, 18)),  # Saturday start → Monday is day 1
        (at(2026, 3, 10, 10), 0.5, at(2026, 3, 11, 18)),  # fractions round up
        (at(2026, 3, 10, 10), 1.5, at(2026, 3, 12, 18)),
        (at(2026, 3, 10, 19), 0, at(2026, 3, 11, 9)),  # 0 → the rolled-forward start
        # 国庆节 2026: 09-30 is day 1, then 10-08, 10-09, and the 调休 Saturday 10-10
        (at(2026, 9, 29, 10), 1, at(2026, 9, 30, 18)),
        (at(2026, 9, 29, 10), 2, at(2026, 10, 8, 18)),
        (at(2026, 9, 29, 10), 3, at(2026, 10, 9, 18)),
        (at(2026, 9, 29, 10), 4, at(2026, 10, 10, 18)),
        (at(2026, 10, 3, 10), 1, at(2026, 10, 8, 18)),  # start inside the holiday
        # 春节 2026: 02-13 (Fri) → the 调休 Saturday 02-14, then 02-24
        (at(2026, 2, 13, 10), 1, at(2026, 2, 14, 18)),
        (at(2026, 2, 13, 10), 2, at(2026, 2, 24, 18)),
        (at(2026, 2, 13, 10), 7, at(2026, 3, 2, 18)),
    ],
)
def test_add_working_days(start, days, due):
    assert add_working_time(start, days, "days") == due


def test_days_follow_configured_periods(settings):
    settings.GRIDGOV_WORK_PERIODS = (("08:30", "12:00"), ("13:30", "17:30"))
    assert add_working_time(at(2026, 3, 10, 10), 1, "days") == at(2026, 3, 11, 17, 30)
    assert add_working_time(at(2026, 3, 10, 11), 2, "hours") == at(2026, 3, 10, 14, 30)
    assert working_seconds_between(at(2026, 3, 10), at(2026, 3, 11)) == 7.5 * 3600


# --- overrides and the fallback for years the calendar does not cover -------------------------


def test_uncovered_year_falls_back_to_monday_to_friday():
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(dt.date(2031, 1, 6))
    assert is_workday(dt.date(2031, 1, 6))  # Monday
    assert not is_workday(dt.date(2031, 1, 4))  # Saturday
    assert add_working_time(at(2031, 1, 3, 17), 2, "hours") == at(2031, 1, 6, 10)


def test_overrides_take_effect_at_once_and_are_undone_on_delete():
    saturday, monday = dt.date(2031, 1, 4), dt.date(2031, 1, 6)
    assert not is_workday(saturday) and is_workday(monday)  # primes the cache
    start = at(2031, 1, 3, 17)
    assert add_working_time(start, 2, "hours") == at(2031, 1, 6, 10)

    work = WorkdayOverride.objects.create(day=saturday, is_workday=True, name="调休上班")
    off = WorkdayOverride.objects.create(day=monday, is_workday=False, name="元旦")
    assert is_workday(saturday) and not is_workday(monday)
    assert add_working_time(start, 2, "hours") == at(2031, 1, 4, 10)
    assert add_working_time(start, 2, "days") == at(2031, 1, 7, 18)
    assert Revision.current(worktime.WORKDAY_REVISION) == 2

    off.delete()
    assert is_workday(monday)
    assert add_working_time(start, 2, "days") == at(2031, 1, 6, 18)
    work.is_workday = False
    work.save()
    assert not is_workday(saturday)
    assert Revision.current(worktime.WORKDAY_REVISION) == 4


def test_override_beats_the_national_calendar():
    assert is_workday(dt.date(2026, 10, 10))  # 调休 Saturday
    WorkdayOverride.objects.create(day=dt.date(2026, 10, 10), is_workday=False, name="local")
    WorkdayOverride.objects.create(day=dt.date(2026, 10, 5), is_workday=True, name="on duty")
    assert not is_workday(dt.date(2026, 10, 10))
    assert is_workday(dt.date(2026, 10, 5))


def test_other_processes_see_changes_through_the_revision(monkeypatch):
    day = dt.date(2031, 2, 3)
    assert is_workday(day)
    # a change made elsewhere: no signal reaches this process, only the revision moves
    WorkdayOverride.objects.bulk_create([WorkdayOverride(day=day, is_workday=False)])
    assert is_workday(day)  # still cached until the next revision check
    Revision.bump(worktime.WORKDAY_REVISION)
    assert is_workday(day)  # the check interval has not passed
    monkeypatch.setattr(worktime._calendar, "check_interval", 0.0)
    assert not is_workday(day)


def test_cached_calendar_needs_no_queries(django_assert_num_queries):
    start, end = at(2025, 1, 1, 10), at(2026, 12, 31, 10)
    with django_assert_num_queries(2):  # the revision, then the overrides
        working_seconds_between(start, end)
    with django_assert_num_queries(0):
        working_seconds_between(start, end)
        add_working_time(start, 500, "days")
        is_workday(dt.date(2030, 5, 1))


# --- properties -------------------------------------------------------------------------------

starts = st.datetimes(
    min_value=dt.datetime(2025, 1, 1),
    max_value=dt.datetime(2027, 12, 31),
    timezones=st.just(SH),
).map(lambda d: d.replace(microsecond=0))
amounts = st.floats(min_value=0, max_value=2000, allow_nan=False, allow_infinity=False)
fast = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@fast
@given(starts, amounts)
def test_round_trip(start, hours):
    due = add_working_time(start, hours, "hours")
    assert due >= start
    assert abs(working_seconds_between(start, due) - hours * 3600) < 1


@fast
@given(starts, amounts, amounts)
def test_monotonic(start, a, b):
    lo, hi = sorted((a, b))
    assert add_working_time(start, lo, "hours") <= add_working_time(start, hi, "hours")
    assert add_working_time(start, lo, "days") <= add_working_time(start, hi, "days")
    end_lo, end_hi = start + dt.timedelta(hours=lo), start + dt.timedelta(hours=hi)
    assert working_seconds_between(start, end_lo) <= working_seconds_between(start, end_hi)


@fast
@given(starts, amounts, st.floats(min_value=0.001, max_value=500))
def test_hours_compose(start, a, b):
    once = add_working_time(start, a + b, "hours")
    twice = add_working_time(add_working_time(start, a, "hours"), b, "hours")
    assert abs((once - twice).total_seconds()) < 0.01


@fast
@given(starts, starts)
def test_between_is_additive(a, b):
    lo, hi = sorted((a, b))
    mid = lo + (hi - lo) / 3
    whole = working_seconds_between(lo, hi)
    assert whole == pytest.approx(
        working_seconds_between(lo, mid) + working_seconds_between(mid, hi), abs=1e-6
    )


# --- warnings ---------------------------------------------------------------------------------


def test_warning_levels():
    start = at(2026, 3, 10, 9)
    due = add_working_time(start, 10, "hours")
    assert due == at(2026, 3, 11, 12)
    # 80 % of 10 working hours = 8 h → Wednesday 10:00
    assert warning_level(start, due, at(2026, 3, 10, 9)) == "none"
    assert warning_level(start, due, at(2026, 3, 11, 9, 59)) == "none"
    assert warning_level(start, due, at(2026, 3, 11, 10)) == "yellow"
    assert warning_level(start, due, due) == "yellow"
    assert warning_level(start, due, due + dt.timedelta(seconds=1)) == "red"
    assert warning_level(start, due, at(2026, 3, 11, 9, 30), yellow_at=0.75) == "yellow"

    assert elapsed_share(start, due, at(2026, 3, 10, 14)) == pytest.approx(0.3)
    assert elapsed_share(start, due, due) == 1.0
    assert elapsed_share(start, due, at(2026, 3, 11, 13)) == 1.0  # lunch after due: no working time passed
    assert elapsed_share(start, due, at(2026, 3, 11, 15)) == pytest.approx(1.1)
    assert elapsed_share(start, due, at(2026, 3, 9, 15)) == 0.0  # before the start


def test_warning_with_no_working_time_between():
    start = due = at(2026, 3, 14, 10)  # a Saturday
    assert elapsed_share(start, due, start) == 1.0
    assert elapsed_share(start, due, start - dt.timedelta(hours=1)) == 0.0
    assert warning_level(start, due, start) == "yellow"
    assert warning_level(start, due, start + dt.timedelta(hours=1)) == "red"


# --- time zones -------------------------------------------------------------------------------


def test_utc_input_gives_the_same_instant():
    local = at(2026, 9, 30, 17)
    utc = local.astimezone(UTC)
    assert utc.hour == 9
    for amount, unit in [(2, "hours"), (3, "days"), (0, "hours")]:
        from_local = add_working_time(local, amount, unit)
        from_utc = add_working_time(utc, amount, unit)
        assert from_utc == from_local
        assert from_utc.utcoffset() == dt.timedelta(hours=8)
    assert working_seconds_between(utc, at(2026, 10, 8, 10).astimezone(UTC)) == 2 * 3600
    # 2026-03-10 17:00 UTC is Wednesday 01:00 in Shanghai: the day counted is Shanghai's
    late = dt.datetime(2026, 3, 10, 17, tzinfo=UTC)
    assert add_working_time(late, 1, "days") == at(2026, 3, 12, 18)
    assert add_working_time(late, 1, "hours") == at(2026, 3, 11, 10)


# --- speed ------------------------------------------------------------------------------------


def test_two_year_span_is_fast():
    start = at(2025, 1, 2, 10)
    end = at(2027, 1, 5, 10)  # a Tuesday
    working_seconds_between(start, end)  # load the calendar
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        seconds = working_seconds_between(start, end)
        due = add_working_time(start, seconds / 3600, "hours")
        add_working_time(start, 480, "days")
        best = min(best, time.perf_counter() - t0)
    assert abs((due - end).total_seconds()) < 1
    assert best < 0.010
