"""The one pagination of the API: ?page=N (50 per page) → {"items": [...], "count": total}.

A selector may name what is computed for the rows of one page only (from data fetched for the whole page
at once, never one query per row): `on_page(qs, hook)`; the pagination calls `hook(items)` on the page's
objects before they are serialised.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Schema
from ninja.pagination import PageNumberPagination

PAGE_SIZE = 50
MAX_PAGE = 1_000_000
PAGE_HOOK = "_gridgov_page_hook"


def on_page(qs: QuerySet, hook: Callable[[list], None]) -> QuerySet:
    """Mark `qs` (the last queryset a selector returns) so that the page cut from it goes through
    `hook(items)` before it is serialised."""
    setattr(qs, PAGE_HOOK, hook)
    return qs


class Pagination(PageNumberPagination):
    """Ninja's page-number pagination with bounded numbers: a page beyond any real list is empty
    (an unbounded page number overflows the database's OFFSET and fails)."""

    class Input(Schema):
        page: int = Field(1, ge=1, le=MAX_PAGE)
        page_size: int | None = Field(None, ge=1, le=1_000)

    def paginate_queryset(self, queryset: QuerySet, pagination: Any, request: HttpRequest, **params: Any):
        page = super().paginate_queryset(queryset, pagination, request, **params)
        hook = getattr(queryset, PAGE_HOOK, None)
        if hook is not None:
            items = list(page[self.items_attribute])
            hook(items)
            page[self.items_attribute] = items
        return page
