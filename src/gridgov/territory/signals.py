"""What the territory announces. Higher apps listen (receivers connected in their AppConfig.ready());
territory never calls into them.

`grids_redrawn`: a re-division was adopted (territory/redivision.py). Sent inside the adoption's
transaction, so every receiver's writes commit or roll back with it. Keyword `redraw`: a `Redraw`.
Each receiver moves its own rows (open cases, memberships, PII grants …) and returns a dict of counts
({"cases_moved": 3}); the adoption adds them to the summary it answers with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import django.dispatch


@dataclass(frozen=True)
class Redraw:
    """One adopted re-division: the grids before, the grids after, and where each old grid went."""

    proposal_id: int
    area: Any  # the subdistrict, community or block redrawn
    actor: Any
    request: Any
    old_grids: list  # every grid of the area before (kept ones included)
    new_grids: list  # (grid Area, shapely geometry in WGS-84) of every grid after
    retired: list  # old grids archived (no longer active)
    successor: dict  # old grid pk → the new grid that received most of its households
    # old grid pk → every new grid that received some of its buildings, the successor first
    covering: dict = field(default_factory=dict)


grids_redrawn = django.dispatch.Signal()


def announce_redraw(redraw: Redraw) -> dict[str, int]:
    """Send `grids_redrawn` and add up the counts the receivers return. A receiver's error is not
    swallowed: the adoption rolls back."""
    totals: dict[str, int] = {}
    for _receiver, counts in grids_redrawn.send(sender=Redraw, redraw=redraw):
        for key, n in cast(dict[str, int], counts or {}).items():
            totals[key] = totals.get(key, 0) + int(n)
    return totals
