"""Dates and times from requests, parsed and bounded in one place.

Python's dates run from 0001-01-01 to 9999-12-31; a filter at either end overflows as soon as a day or a
time-zone offset is added to it (`date_to + 1 day`, Asia/Shanghai midnight in UTC), which was a 500.
Every date or date-time a client sends as a filter or a deadline goes through the types below, so it
lies between MIN_DATE and MAX_DATE (wide enough for any record of a district, far from the edges), and a
date-time carries a time zone (a naive one is read in Asia/Shanghai, TIME_ZONE). Out of range → a 422
problem+json naming the field, in the user's language.

    from gridgov.core.dates import FilterDate, AwareDateTime
    def list_things(request, date_from: FilterDate | None = None): ...

`day_start(day)` / `day_end(day)` are the aware bounds of a whole local day for `at__gte` / `at__lt`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from django.utils import timezone
from django.utils.translation import gettext as _
from pydantic import AfterValidator

MIN_DATE = dt.date(1900, 1, 1)
MAX_DATE = dt.date(2199, 12, 31)


def _out_of_range() -> ValueError:
    return ValueError(
        _("Enter a date between %(min)s and %(max)s.")
        % {"min": MIN_DATE.isoformat(), "max": MAX_DATE.isoformat()}
    )


def bounded_date(value: dt.date) -> dt.date:
    """The date itself when it lies in [MIN_DATE, MAX_DATE]; ValueError (→ 422) otherwise."""
    if isinstance(value, dt.datetime):
        value = value.date()
    if not (MIN_DATE <= value <= MAX_DATE):
        raise _out_of_range()
    return value


def bounded_datetime(value: dt.datetime) -> dt.datetime:
    """An aware date-time in range: a naive one is taken as local time (TIME_ZONE)."""
    if not (MIN_DATE <= value.date() <= MAX_DATE):
        raise _out_of_range()
    if timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_default_timezone())
    if not (MIN_DATE <= value.astimezone(dt.UTC).date() <= MAX_DATE):
        raise _out_of_range()
    return value


FilterDate = Annotated[dt.date, AfterValidator(bounded_date)]
AwareDateTime = Annotated[dt.datetime, AfterValidator(bounded_datetime)]


def day_start(day: dt.date) -> dt.datetime:
    """The aware start (00:00 local time) of a day."""
    return timezone.make_aware(dt.datetime.combine(bounded_date(day), dt.time.min))


def day_end(day: dt.date) -> dt.datetime:
    """The aware start of the day after (an exclusive upper bound for a whole day)."""
    return timezone.make_aware(dt.datetime.combine(bounded_date(day) + dt.timedelta(days=1), dt.time.min))
