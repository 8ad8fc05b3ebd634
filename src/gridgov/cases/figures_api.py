"""Evaluation figures of the cases the user may see, mounted under /api/v1/cases (`GET /figures`).
The work is in `figures.py`; the formulas are in docs/cases.md."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema

from gridgov.cases import figures
from gridgov.cases.schemas import CODE_PATTERN
from gridgov.core.dates import FilterDate
from gridgov.core.errors import ValidationFailed

router = Router(tags=["cases"])

MAX_SPAN_YEARS = 3


def _years_after(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _invalid(message: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[{"field": "date_to", "message": message}])


class PeriodOut(Schema):
    date_from: dt.date
    date_to: dt.date


class CountsOut(Schema):
    reported: int
    accepted: int
    rejected: int
    closed: int
    closed_on_time: int
    due: int
    deferred: int
    reworked: int
    rated: int
    satisfied: int
    solved_in_community: int
    merged: int = Field(..., description="merged into another case (closed as special): in no figure")
    closed_listed: int = Field(
        ..., description="shown as closed in the case list: closed + merged + deferred"
    )
    reported_in: int
    reported_in_on_time: int
    handled: int
    handled_on_time: int


class RatesOut(Schema):
    on_time_close_rate: float | None
    close_rate: float | None
    rework_rate: float | None
    on_time_report_in_rate: float | None
    on_time_handling_rate: float | None
    satisfaction_rate: float | None
    community_share: float | None


class ChangeOut(Schema):
    current: float | None
    previous: float | None
    year_ago: float | None


class FiguresOut(Schema):
    date_from: dt.date
    date_to: dt.date
    counts: CountsOut
    rates: RatesOut
    mean_report_in_hours: float | None
    mean_resolution_hours: float | None
    change: dict[str, ChangeOut]
    previous_period: PeriodOut
    year_ago_period: PeriodOut


@router.get(
    "/figures",
    response=FiguresOut,
    url_name="case_figures",
    summary="Evaluation figures of the cases you may see, with period-on-period and year-on-year change",
)
def case_figures(
    request: HttpRequest,
    date_from: FilterDate,
    date_to: FilterDate,
    area: str | None = Query(None, pattern=CODE_PATTERN, description="area code: cases in its subtree"),
    department: str | None = Query(None, pattern=CODE_PATTERN, description="organisation code of a step"),
    category: str | None = Query(None, pattern=CODE_PATTERN, description="category code or 大类 prefix"),
):
    _check_period(date_from, date_to)
    return figures.figures_for(
        request.auth,
        date_from=date_from,
        date_to=date_to,
        area_code=area,
        department_code=department,
        category_code=category,
    )


class FiguresRowOut(Schema):
    code: str
    name: str
    level: str
    date_from: dt.date
    date_to: dt.date
    counts: CountsOut
    rates: RatesOut
    mean_report_in_hours: float | None
    mean_resolution_hours: float | None


def _check_period(date_from: dt.date, date_to: dt.date) -> None:
    if date_to < date_from:
        raise _invalid(_("The end date is before the start date."))
    if date_to > _years_after(date_from, MAX_SPAN_YEARS):
        raise _invalid(_("The period may be at most three years long."))


@router.get(
    "/figures/by-area",
    response=list[FiguresRowOut],
    url_name="case_figures_by_area",
    summary="The figures of every area directly below one (drill-down and rankings)",
)
def case_figures_by_area(
    request: HttpRequest,
    date_from: FilterDate,
    date_to: FilterDate,
    parent: str = Query(..., pattern=CODE_PATTERN, description="the area whose children are compared"),
    category: str | None = Query(None, pattern=CODE_PATTERN),
):
    _check_period(date_from, date_to)
    return figures.figures_by_area(
        request.auth, date_from=date_from, date_to=date_to, parent_code=parent, category_code=category
    )


@router.get(
    "/figures/by-department",
    response=list[FiguresRowOut],
    url_name="case_figures_by_department",
    summary="The figures of every department with steps on your cases (rankings)",
)
def case_figures_by_department(
    request: HttpRequest,
    date_from: FilterDate,
    date_to: FilterDate,
    area: str | None = Query(None, pattern=CODE_PATTERN),
    category: str | None = Query(None, pattern=CODE_PATTERN),
):
    _check_period(date_from, date_to)
    return figures.figures_by_department(
        request.auth, date_from=date_from, date_to=date_to, area_code=area, category_code=category
    )


class DayOut(Schema):
    date: dt.date
    reported: int
    closed: int


@router.get(
    "/figures/by-day",
    response=list[DayOut],
    url_name="case_figures_by_day",
    summary="Cases reported and closed on every day of the period (the trend)",
)
def case_figures_by_day(
    request: HttpRequest,
    date_from: FilterDate,
    date_to: FilterDate,
    area: str | None = Query(None, pattern=CODE_PATTERN),
    department: str | None = Query(None, pattern=CODE_PATTERN),
    category: str | None = Query(None, pattern=CODE_PATTERN),
):
    _check_period(date_from, date_to)
    return figures.figures_by_day(
        request.auth,
        date_from=date_from,
        date_to=date_to,
        area_code=area,
        department_code=department,
        category_code=category,
    )


class CategoryRowOut(Schema):
    code: str
    name: str
    reported: int
    closed: int


@router.get(
    "/figures/by-category",
    response=list[CategoryRowOut],
    url_name="case_figures_by_category",
    summary="Cases reported and closed per main category (大类), most reported first",
)
def case_figures_by_category(
    request: HttpRequest,
    date_from: FilterDate,
    date_to: FilterDate,
    area: str | None = Query(None, pattern=CODE_PATTERN),
    department: str | None = Query(None, pattern=CODE_PATTERN),
):
    _check_period(date_from, date_to)
    return figures.figures_by_category(
        request.auth, date_from=date_from, date_to=date_to, area_code=area, department_code=department
    )
