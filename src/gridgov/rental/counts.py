"""Counts of rental houses and rooms maintained per area (per grid, rolled up the area tree), so the
district-scale grade table reads a few rows instead of grouping every rental house."""

from __future__ import annotations

from collections.abc import Iterable


def refresh(grid_ids: Iterable[int]) -> None:
    """Recompute the maintained counts of these grids from their rental houses (called after every write
    that adds rental houses or changes their grades in bulk, e.g. each committed batch of an import)."""
