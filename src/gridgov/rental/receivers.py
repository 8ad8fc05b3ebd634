"""The rental app's answers to what lower apps announce (connected in RentalConfig.ready())."""

from __future__ import annotations

from gridgov.rental import counts


def grids_redrawn(sender, *, redraw, **kwargs) -> dict[str, int]:
    """Buildings moved between grids and grids to other parents: the counts of every old and new grid
    follow their houses, then the areas of the redrawn area are summed again from their grids."""
    grid_ids = [g.pk for g in redraw.old_grids] + [g.pk for g, _geom in redraw.new_grids]
    counts.refresh(grid_ids)
    counts.rollup(redraw.area)
    return {}
