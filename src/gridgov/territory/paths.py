"""Materialised paths of the area tree, in one place.

An area's `path` is the codes from the district down to it, each followed by "/":
`440309/440309002/440309002001/` is a community (district / subdistrict / community / block / grid).
Data scope, PII grants, duplicates and figures all ask the same three questions of a path: which
community is it in, is it at or below another path, and which rows lie in a subtree.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q

COMMUNITY_DEPTH = 3  # district / subdistrict / community


def codes(path: str) -> list[str]:
    """The codes of a path, from the top down."""
    return [c for c in (path or "").split("/") if c]


def ancestor_paths(path: str) -> list[str]:
    """The path of every area from the top down to the area itself."""
    parts = codes(path)
    return ["/".join(parts[: i + 1]) + "/" for i in range(len(parts))]


def ancestor_codes(path: str) -> list[str]:
    """The codes of the areas above the area of `path` (not itself)."""
    return codes(path)[:-1]


def community_path(path: str) -> str:
    """The path of the community above (or at) an area; an area above community level is its own."""
    return "/".join(codes(path)[:COMMUNITY_DEPTH]) + "/"


def community_code(path: str) -> str | None:
    """The code of the community above (or at) an area; None above community level."""
    parts = codes(path)
    return parts[COMMUNITY_DEPTH - 1] if len(parts) >= COMMUNITY_DEPTH else None


def community_of(area):
    """The community Area above (or at) an area; the area itself when it lies at or above community level."""
    from gridgov.territory.models import Area

    parts = codes(area.path)
    if len(parts) <= COMMUNITY_DEPTH:
        return area
    return Area.objects.get(code=parts[COMMUNITY_DEPTH - 1])


def is_within(path: str, ancestor: str) -> bool:
    """Whether the area of `path` is `ancestor`'s area or lies below it."""
    return bool(ancestor) and (path or "").startswith(ancestor)


def within(path: str, ancestors: Iterable[str]) -> bool:
    """Whether the area of `path` is at or below one of `ancestors`."""
    return any(is_within(path, a) for a in ancestors)


def subtree(path: str, field: str = "path") -> Q:
    """Rows whose `field` (a path, e.g. "grid__path") is at or below `path`."""
    return Q(**{f"{field}__startswith": path})


def subtrees(paths: Iterable[str], field: str = "path") -> Q:
    """Rows at or below any of `paths` (no path: nothing)."""
    q = Q(pk__in=[])
    for p in paths:
        q |= subtree(p, field)
    return q
