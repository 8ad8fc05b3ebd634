"""Duplicate candidates of a case and category suggestions for a text, mounted under /api/v1/cases
(`GET /cases/{case_id}/duplicates`, `POST /suggest-category`). The work is in `suggest.py`."""

from __future__ import annotations

from typing import Literal

from django.http import HttpRequest
from ninja import Field, Path, Router, Schema

from gridgov.cases import selectors, suggest
from gridgov.core.principal import require

router = Router(tags=["cases"])

TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*$"


class DuplicateOut(Schema):
    case_id: int
    number: str
    score: float
    distance_m: float | None
    hours_apart: float | None
    text_similarity: float
    same_category: bool | None
    status: str
    description: str


class SuggestIn(Schema):
    text: str = Field(..., min_length=1, max_length=4000, pattern=TEXT_PATTERN)


class CategorySuggestionOut(Schema):
    code: str
    name: str
    score: float


@router.get(
    "/cases/{case_id}/duplicates",
    response=list[DuplicateOut],
    url_name="case_duplicates",
    summary="Possible duplicates of a case: nearby, recent, similar text",
)
def case_duplicates(request: HttpRequest, case_id: int = Path(..., ge=1, le=2**63 - 1)):
    case = selectors.visible_case(request.auth, case_id)
    return suggest.duplicates_for(case, within=selectors.visible_cases(request.auth))


@router.post(
    "/suggest-category",
    response=list[CategorySuggestionOut],
    url_name="suggest_category",
    summary="Top-3 category suggestions for a description",
)
def suggest_category(request: HttpRequest, payload: SuggestIn):
    require(request.auth, "cases.suggest", request=request)
    return suggest.suggest_categories(payload.text, k=3)


class DuplicatePreviewIn(Schema):
    description: str = Field(..., min_length=1, max_length=4000, pattern=TEXT_PATTERN)
    lng: float | None = Field(None, ge=-180, le=180, allow_inf_nan=False)
    lat: float | None = Field(None, ge=-90, le=90, allow_inf_nan=False)
    crs: Literal["wgs84", "gcj02", "bd09"] = "wgs84"
    area_code: str | None = Field(None, pattern=r"^[0-9A-Za-z_-]{1,32}$")
    category_code: str | None = Field(None, pattern=r"^[0-9A-Za-z_-]{1,32}$")


@router.post(
    "/duplicates-preview",
    response=list[DuplicateOut],
    url_name="duplicates_preview",
    summary="Possible duplicates of a report before it is submitted (intake form)",
)
def duplicates_preview(request: HttpRequest, payload: DuplicatePreviewIn):
    require(request.auth, "cases.suggest", request=request)
    draft = suggest.draft_case(**payload.model_dump())
    if draft is None:
        return []
    return suggest.duplicates_for(draft, within=selectors.visible_cases(request.auth))
