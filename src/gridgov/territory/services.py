"""Every write on the territory: areas, buildings, houses, cached household counts."""

from __future__ import annotations

from gridgov.core.models import Revision

GRID_REVISION = "territory.grids"


def grids_changed() -> None:
    """Tell every process that grid geometry changed, so point → grid locators rebuild their index."""
    Revision.bump(GRID_REVISION)
