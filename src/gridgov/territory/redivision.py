"""Re-division of grids (网格重划), from proposal to adoption.

    propose(area)  the buildings of a subdistrict, community or block → `partition.redivide` (grids never
                   cross a block, or a community where there are no blocks) → a draft `GridProposal`
                   with the new grids, the grids of today (before/after table) and the figures
    adopt(id)      administrators: a new grid version — grids that keep their code are updated in place,
                   the others archived (`is_active` off, an `AreaVersion` keeps what each grid was),
                   new grids get the next free codes of their community; buildings follow, and the
                   adoption announces `territory.signals.grids_redrawn`: accounts moves the memberships
                   of retired grids (grid workers, building heads …), registry the PII grants, cases the
                   open cases (each with a `regrid` timeline event); every move is audited
    discard(id)    the draft is set aside

Adopting a proposal whose buildings moved since it was made answers 409 (the fingerprint of the
building → grid assignment differs)."""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterator
from typing import Any, cast

import numpy as np
import shapely
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.accounts.audit import record_audit
from gridgov.accounts.models import AuditEventType
from gridgov.core.errors import Conflict, NotFound, field_error
from gridgov.core.principal import principal_for, require
from gridgov.territory import geo, partition
from gridgov.territory.health import grid_bounds, status_of
from gridgov.territory.models import Area, AreaVersion, Building, GridProposal, Level
from gridgov.territory.permissions import PROPOSE_ROLES
from gridgov.territory.selectors import visible_areas
from gridgov.territory.services import grids_changed
from gridgov.territory.signals import Redraw, announce_redraw
from gridgov.territory.workflow import PROPOSALS

LEVELS = (Level.SUBDISTRICT, Level.COMMUNITY, Level.BLOCK)


def _fingerprint(area: Area) -> str:
    rows = (
        Building.objects.filter(grid__path__startswith=area.path).order_by("pk").values_list("pk", "grid_id")
    )
    digest = hashlib.sha256()
    for pk, grid_id in rows.iterator():
        digest.update(f"{pk}:{grid_id};".encode())
    return digest.hexdigest()


def _pp(geoms) -> tuple[float | None, float | None]:
    if not len(geoms):
        return None, None
    values = partition.polsby_popper(geoms)
    return round(float(np.mean(values)), 4), round(float(np.min(values)), 4)


# --- propose ----------------------------------------------------------------------------------------------
def propose(*, actor, area_code: str, request=None) -> GridProposal:
    require(actor, "territory.proposal.propose", ("area", area_code), request=request)
    area = visible_areas(actor).filter(code=area_code, is_active=True).first()
    if area is None:
        raise NotFound(_("Nothing here, or it is outside your area."))
    if area.level not in LEVELS:
        raise field_error("area_code", _("Choose a subdistrict, a community or a block."))
    lo, hi = grid_bounds()
    grids = list(
        Area.objects.filter(path__startswith=area.path, level=Level.GRID, is_active=True).select_related(
            "parent"
        )
    )
    if not grids:
        raise field_error("area_code", _("There are no grids below this area."))
    group_level = (
        Level.BLOCK if any(cast(Area, g.parent).level == Level.BLOCK for g in grids) else Level.COMMUNITY
    )
    rows = list(
        Building.objects.filter(grid__in=grids)
        .order_by("code")
        .values_list(
            "pk",
            "code",
            "lng",
            "lat",
            "households",
            "grid__code",
            "grid__parent__code",
            "grid__parent__level",
        )
    )
    if not rows:
        raise field_error("area_code", _("There are no buildings below this area."))
    ids = np.array([r[0] for r in rows])
    lng = np.array([r[2] for r in rows])
    lat = np.array([r[3] for r in rows])
    households = np.array([r[4] for r in rows])
    codes = [r[5] for r in rows]
    groups = [r[6] if r[7] == group_level else r[6][:12] for r in rows]
    plane = partition.LocalPlane.around(lng, lat)
    x, y = plane.forward(lng, lat)
    polygons: dict[Hashable, Any] = {}
    for a in Area.objects.filter(code__in=set(groups)).exclude(geometry=""):
        polygons[a.code] = plane.to_local(geo.parse_geojson(a.geometry))
    result = partition.redivide(ids, x, y, households, groups, polygons, codes=codes, lo=lo, hi=hi)

    new_geoms = list(result.polygons)
    grids_out = []
    for k in range(result.grids):
        members = ids[result.labels == k]
        grids_out.append(
            {
                "key": f"N{k + 1:03d}",
                "code": result.grid_codes[k] or "",
                "group": result.grid_group[k],
                "households": int(result.grid_households[k]),
                "buildings": [int(b) for b in members],
                "status": status_of(int(result.grid_households[k]), (lo, hi)),
                "geometry": geo.to_geojson(plane.to_lnglat(new_geoms[k])) if new_geoms else "",
            }
        )
    before_geoms = [plane.to_local(geo.parse_geojson(g.geometry)) for g in grids if g.geometry]
    before = [
        {
            "code": g.code,
            "name": g.name,
            "households": g.households,
            "status": status_of(g.households, (lo, hi)),
        }
        for g in sorted(grids, key=lambda g: g.code)
    ]
    within_before = sum(1 for b in before if b["status"] == "within")
    within_after = sum(1 for g in grids_out if g["status"] == "within")
    pp_before, pp_after = _pp(before_geoms), _pp(new_geoms)
    kept = sum(1 for g in grids_out if g["code"])
    code_of = {r[0]: r[1] for r in rows}

    def building(pk) -> dict:
        return {"building": None if pk is None else int(pk), "building_code": code_of.get(pk, "")}

    result_doc: dict[str, Any] = {
        "grids": grids_out,
        "before": before,
        "oversize": [
            {
                **building(o.building),
                "group": o.group,
                "households": int(o.households),
                "grid": f"N{o.grid + 1:03d}",
            }
            for o in result.oversize
        ],
        "infeasible": [
            {
                "group": i.group,
                "reason": i.reason,
                "households": int(i.households),
                "buildings": int(i.buildings),
                "part_of_group": bool(i.part_of_group),
                "detail": i.detail,
                **building(i.building),
                "must_share": i.must_share,
                "behind": i.behind,
            }
            for i in result.infeasible
        ],
        "relaxed": [
            {
                "group": r.group,
                "usual_edge": partition.MAX_EDGE_M,
                "max_edge": round(r.max_edge, 1),
                "longest_link": round(r.longest_link, 1),
                "grids": int(r.grids),
                "proved": r.proved,
                **building(r.because.building),
                "must_share": r.because.must_share,
                "behind": r.because.behind,
                "detail": r.because.detail,
            }
            for r in result.relaxed
        ],
        "metrics": {
            "grids_before": len(before),
            "grids_after": len(grids_out),
            "within_before": within_before,
            "within_after": within_after,
            "mean_pp_before": pp_before[0],
            "min_pp_before": pp_before[1],
            "mean_pp_after": pp_after[0],
            "min_pp_after": pp_after[1],
            "codes_kept": kept,
            "buildings": len(rows),
            "households": int(households.sum()),
        },
    }
    proposal = GridProposal.objects.create(
        area=area,
        group_level=group_level,
        lo=lo,
        hi=hi,
        fingerprint=_fingerprint(area),
        result=result_doc,
        created_by=actor,
    )
    record_audit(
        AuditEventType.DATA_CHANGE,
        user=actor,
        request=request,
        object_type="grid_proposal",
        object_id=proposal.pk,
        detail={"action": "propose", "area": area.code, **result_doc["metrics"]},
    )
    return proposal


# --- reads -------------------------------------------------------------------------------------------------
def proposals_for(user):
    if not principal_for(user).has_role(*PROPOSE_ROLES):
        return GridProposal.objects.none()
    paths = visible_areas(user).filter(level__in=LEVELS).values("pk")
    return GridProposal.objects.filter(area__in=paths).select_related("area", "created_by", "decided_by")


def proposal_for(user, proposal_id: int) -> GridProposal:
    proposal = proposals_for(user).filter(pk=proposal_id).first()
    if proposal is None:
        raise NotFound(_("Nothing here, or it is outside your area."))
    return proposal


def proposal_geojson(user, proposal_id: int) -> dict:
    """The proposed grids (`layer` proposed) and today's grids (`layer` current) as one FeatureCollection."""
    proposal = proposal_for(user, proposal_id)
    features = [
        {
            "type": "Feature",
            "geometry": geo.read_geojson(g["geometry"]).__geo_interface__ if g["geometry"] else None,
            "properties": {
                "layer": "proposed",
                "key": g["key"],
                "code": g["code"],
                "households": g["households"],
                "status": g["status"],
            },
        }
        for g in proposal.result.get("grids", [])
    ]
    for g in Area.objects.filter(
        path__startswith=proposal.area.path, level=Level.GRID, is_active=True
    ).exclude(geometry=""):
        features.append(
            {
                "type": "Feature",
                "geometry": geo.read_geojson(g.geometry).__geo_interface__,
                "properties": {"layer": "current", "code": g.code, "households": g.households},
            }
        )
    return {"type": "FeatureCollection", "features": features}


# --- decide ------------------------------------------------------------------------------------------------
def _draft(actor, proposal_id: int, action: str) -> GridProposal:
    """The draft, locked; a stranger is refused before anything is looked up (403), a missing one is
    404, a decided one 409."""
    PROPOSALS.require_role(action, actor)
    proposal = PROPOSALS.take(proposal_id)
    PROPOSALS.require(proposal, action, actor)
    return proposal


@transaction.atomic
def discard(*, actor, proposal_id: int, request=None) -> GridProposal:
    proposal = _draft(actor, proposal_id, "discard")
    proposal.decided_by, proposal.decided_at = actor, timezone.now()
    return PROPOSALS.move(
        proposal, "discard", actor, update_fields=["decided_by", "decided_at"], request=request
    )


def _next_codes(community_code: str):
    """The free grid codes of a community, in order (codes of archived grids are never reused)."""
    used = {
        int(c[12:])
        for c in Area.objects.filter(level=Level.GRID, code__startswith=community_code).values_list(
            "code", flat=True
        )
        if len(c) == 15
    }
    n = 0
    while True:
        n += 1
        if n not in used:
            yield f"{community_code}{n:03d}"


@transaction.atomic
def adopt(*, actor, proposal_id: int, request=None) -> dict:
    """Adopt a draft proposal: the new grid version. Returns a summary of what moved."""
    from gridgov.territory.services import recount_households

    proposal = _draft(actor, proposal_id, "adopt")
    area = proposal.area
    if _fingerprint(area) != proposal.fingerprint:
        raise Conflict(_("The grids changed since this proposal was made; make a new one."))
    now = timezone.now()
    old = {
        g.code: g for g in Area.objects.filter(path__startswith=area.path, level=Level.GRID, is_active=True)
    }
    old_buildings: dict[int, list[int]] = defaultdict(list)
    building_hh: dict[int, int] = {}
    building_code: dict[int, str] = {}
    for pk, code, grid_id, hh in Building.objects.filter(grid__in=old.values()).values_list(
        "pk", "code", "grid_id", "households"
    ):
        old_buildings[grid_id].append(pk)
        building_hh[pk] = hh
        building_code[pk] = code
    for g in old.values():
        AreaVersion.objects.create(
            area=g,
            proposal=proposal,
            name=g.name,
            parent_code=cast(Area, g.parent).code if g.parent_id else "",
            geometry=g.geometry,
            households=g.households,
            buildings=sorted(building_code[b] for b in old_buildings.get(g.pk, [])),
            valid_to=now,
        )
    groups = {a.code: a for a in Area.objects.filter(code__in={g["group"] for g in proposal.result["grids"]})}
    free: dict[str, Iterator[str]] = {}
    new_area_of_building: dict[int, Area] = {}
    new_grids: list[tuple[Area, shapely.Geometry]] = []
    for g in proposal.result["grids"]:
        group = groups[g["group"]]
        geom = geo.read_geojson(g["geometry"])
        bbox = geo.bbox_of(geom)
        if g["code"] and g["code"] in old:
            grid = old[g["code"]]
            grid.parent = group
        else:
            community = group.code[:12]
            codes = free.setdefault(community, _next_codes(community))
            code = next(codes)
            community_area = Area.objects.get(code=community)
            grid = Area(
                level=Level.GRID,
                parent=group,
                code=code,
                name=f"{community_area.name}第{int(code[12:]):02d}网格",
            )
        grid.geometry = geo.to_geojson(geom)
        grid.min_lng, grid.min_lat, grid.max_lng, grid.max_lat = cast(tuple[float, float, float, float], bbox)
        grid.households = g["households"]
        grid.is_active = True
        grid.save()
        new_grids.append((grid, geom))
        Building.objects.filter(pk__in=g["buildings"]).update(grid=grid)
        for b in g["buildings"]:
            new_area_of_building[b] = grid
    kept = {grid.code for grid, _geom in new_grids}
    retired = [g for code, g in old.items() if code not in kept]
    successor: dict[int, Area] = {}
    for g in old.values():
        votes: Counter[int] = Counter()
        for b in old_buildings.get(g.pk, []):
            votes[new_area_of_building[b].pk] += building_hh[b]
        if votes:
            best = max(votes.items(), key=lambda kv: (kv[1], -kv[0]))[0]
            successor[g.pk] = next(a for a, _geom in new_grids if a.pk == best)
    for g in retired:
        g.is_active = False
        g.save(update_fields=["is_active", "updated_at"])
    covering: dict[int, list[Area]] = {}
    grid_by_pk = {grid.pk: grid for grid, _geom in new_grids}
    for g in old.values():
        received = {new_area_of_building[b].pk for b in old_buildings.get(g.pk, [])}
        first = successor.get(g.pk)
        ordered = ([first.pk] if first is not None else []) + sorted(received - {getattr(first, "pk", None)})
        covering[g.pk] = [grid_by_pk[pk] for pk in ordered]
    moved = announce_redraw(
        Redraw(
            proposal_id=proposal.pk,
            area=area,
            actor=actor,
            request=request,
            old_grids=list(old.values()),
            new_grids=new_grids,
            retired=retired,
            successor=successor,
            covering=covering,
        )
    )
    recount_households(area)
    proposal.decided_by, proposal.decided_at = actor, now
    summary = {
        "grids_before": len(old),
        "grids_after": len(new_grids),
        "codes_kept": len(kept & set(old)),
        "grids_archived": len(retired),
        "grids_created": len(kept - set(old)),
        "memberships_moved": moved.get("memberships_moved", 0),
        "cases_moved": moved.get("cases_moved", 0),
        **{k: v for k, v in moved.items() if k not in ("memberships_moved", "cases_moved")},
    }
    PROPOSALS.move(
        proposal,
        "adopt",
        actor,
        update_fields=["decided_by", "decided_at"],
        data={"area": area.code, **summary},
        request=request,
    )
    grids_changed()
    return summary
