"""The one pagination of the API: ?page=N (50 per page) → {"items": [...], "count": total}."""

from __future__ import annotations

from ninja import Field, Schema
from ninja.pagination import PageNumberPagination

PAGE_SIZE = 50
MAX_PAGE = 1_000_000


class Pagination(PageNumberPagination):
    """Ninja's page-number pagination with bounded numbers: a page beyond any real list is empty
    (an unbounded page number overflows the database's OFFSET and fails)."""

    class Input(Schema):
        page: int = Field(1, ge=1, le=MAX_PAGE)
        page_size: int | None = Field(None, ge=1, le=1_000)
