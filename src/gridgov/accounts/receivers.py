"""The accounts app's answers to what lower apps announce (connected in AccountsConfig.ready())."""

from __future__ import annotations

from gridgov.accounts import services


def grids_redrawn(sender, *, redraw, **kwargs) -> dict[str, int]:
    """Memberships of retired grids follow to their successor grid."""
    moved = services.follow_new_grids(
        actor=redraw.actor, retired=redraw.retired, successor=redraw.successor, request=redraw.request
    )
    return {"memberships_moved": moved}
