"""The registry's answers to what lower apps announce (connected in RegistryConfig.ready())."""

from __future__ import annotations

from gridgov.registry import services


def grids_redrawn(sender, *, redraw, **kwargs) -> dict[str, int]:
    """PII grants naming a retired grid follow its buildings to the new grids."""
    moved = services.follow_new_grids(
        actor=redraw.actor, retired=redraw.retired, covering=redraw.covering, request=redraw.request
    )
    return {"pii_grants_moved": moved}
