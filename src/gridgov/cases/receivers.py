"""The cases app's answers to what lower apps announce (connected in CasesConfig.ready())."""

from __future__ import annotations

from gridgov.cases import services


def grids_redrawn(sender, *, redraw, **kwargs) -> dict[str, int]:
    """Open cases of the old grids follow their point (else the old grid's successor)."""
    moved = services.follow_new_grids(
        actor=redraw.actor,
        old_grids=redraw.old_grids,
        new_grids=redraw.new_grids,
        successor=redraw.successor,
        proposal_id=redraw.proposal_id,
    )
    return {"cases_moved": moved}
