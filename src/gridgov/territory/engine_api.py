"""The grid engine API under /api/v1/territory: grid health, re-division proposals (review, adopt,
discard) and 多网合一 department layers with their overlay (JSON and Excel)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpResponse
from ninja import File, Form, Path, Query, Router, Schema
from ninja.files import UploadedFile
from ninja.pagination import paginate
from pydantic import Field

from gridgov.core.http import AuthedRequest
from gridgov.core.pagination import PAGE_SIZE, Pagination
from gridgov.territory import health, multinet, redivision
from gridgov.territory.schemas import CODE_PATTERN

router = Router(tags=["grid engine"])

ID = Path(..., ge=1, le=2**63 - 1)


class Feature(Schema):
    type: Literal["Feature"]
    geometry: dict[str, Any] | None
    properties: dict[str, Any]


class FeatureCollection(Schema):
    type: Literal["FeatureCollection"]
    features: list[Feature]


# --- health -------------------------------------------------------------------------------------------
class HealthRowOut(Schema):
    code: str
    name: str
    households: int
    status: Literal["below", "within", "above"]
    parent_code: str | None


class HealthSummaryOut(Schema):
    code: str
    name: str
    grids: int
    grids_below: int
    grids_within: int
    grids_above: int
    communities: int
    communities_below: int
    communities_within: int
    communities_above: int


class GridHealthOut(Schema):
    grid_bounds: list[int]
    community_bounds: list[int]
    by_subdistrict: list[HealthSummaryOut]
    grids: list[HealthRowOut]
    communities: list[HealthRowOut]


@router.get("/health", response=GridHealthOut, summary="Grid health: grids and communities out of bounds")
def grid_health(
    request: AuthedRequest,
    area: str | None = Query(None, pattern=CODE_PATTERN, description="only below this area code"),
    all: bool = Query(False, description="true: list every grid and community, not only those out of bounds"),
):
    return health.health_for(request.auth, area_code=area, only_out=not all)


@router.get("/health/geojson", response=FeatureCollection, summary="Grid health as a map layer")
def grid_health_geojson(
    request: AuthedRequest,
    area: str | None = Query(None, pattern=CODE_PATTERN),
    only_out: bool = False,
):
    return health.health_geojson(request.auth, area_code=area, only_out=only_out)


# --- re-division proposals -----------------------------------------------------------------------------
class ProposalIn(Schema):
    area_code: str = Field(..., pattern=CODE_PATTERN)


class ProposalOut(Schema):
    id: int
    area_code: str
    group_level: str
    lo: int
    hi: int
    status: str
    metrics: dict[str, Any]
    created_by: str | None
    created_by_name: str | None = Field(None, description="the author's name as shown (not the username)")
    created_at: dt.datetime
    decided_at: dt.datetime | None

    @staticmethod
    def resolve_area_code(obj) -> str:
        return obj.area.code

    @staticmethod
    def resolve_metrics(obj) -> dict:
        return obj.result.get("metrics", {})

    @staticmethod
    def resolve_created_by(obj) -> str | None:
        return obj.created_by.username if obj.created_by_id else None

    @staticmethod
    def resolve_created_by_name(obj) -> str | None:
        return (obj.created_by.display_name or obj.created_by.username) if obj.created_by_id else None


class ProposalDetailOut(ProposalOut):
    grids: list[dict[str, Any]]
    before: list[dict[str, Any]]
    oversize: list[dict[str, Any]]
    infeasible: list[dict[str, Any]]
    relaxed: list[dict[str, Any]]

    @staticmethod
    def resolve_grids(obj) -> list:
        return [{k: v for k, v in g.items() if k != "geometry"} for g in obj.result.get("grids", [])]

    @staticmethod
    def resolve_before(obj) -> list:
        return obj.result.get("before", [])

    @staticmethod
    def resolve_oversize(obj) -> list:
        return obj.result.get("oversize", [])

    @staticmethod
    def resolve_infeasible(obj) -> list:
        return obj.result.get("infeasible", [])

    @staticmethod
    def resolve_relaxed(obj) -> list:
        return obj.result.get("relaxed", [])


class AdoptedOut(Schema):
    grids_before: int
    grids_after: int
    codes_kept: int
    grids_archived: int
    grids_created: int
    memberships_moved: int
    cases_moved: int


@router.post("/proposals", response={201: ProposalDetailOut}, summary="Propose a re-division of grids")
def create_proposal(request: AuthedRequest, payload: ProposalIn):
    return 201, redivision.propose(actor=request.auth, area_code=payload.area_code, request=request)


@router.get("/proposals", response=list[ProposalOut], summary="Re-division proposals you may see")
@paginate(Pagination, page_size=PAGE_SIZE)
def list_proposals(request: AuthedRequest):
    return redivision.proposals_for(request.auth)


@router.get("/proposals/{proposal_id}", response=ProposalDetailOut, summary="One proposal, with before/after")
def get_proposal(request: AuthedRequest, proposal_id: int = ID):
    return redivision.proposal_for(request.auth, proposal_id)


@router.get(
    "/proposals/{proposal_id}/geojson",
    response=FeatureCollection,
    summary="The proposed grids beside today's grids (property `layer`)",
)
def proposal_geojson(request: AuthedRequest, proposal_id: int = ID):
    return redivision.proposal_geojson(request.auth, proposal_id)


@router.post(
    "/proposals/{proposal_id}/adopt", response=AdoptedOut, summary="Adopt a proposal (administrators)"
)
def adopt_proposal(request: AuthedRequest, proposal_id: int = ID):
    redivision.proposal_for(request.auth, proposal_id)
    return redivision.adopt(actor=request.auth, proposal_id=proposal_id, request=request)


@router.post(
    "/proposals/{proposal_id}/discard", response=ProposalOut, summary="Discard a proposal (administrators)"
)
def discard_proposal(request: AuthedRequest, proposal_id: int = ID):
    redivision.proposal_for(request.auth, proposal_id)
    return redivision.discard(actor=request.auth, proposal_id=proposal_id, request=request)


# --- 多网合一 -------------------------------------------------------------------------------------------
class LayerOut(Schema):
    id: int
    name: str
    organisation_code: str | None
    source_crs: str
    source_name: str
    features: int
    created_at: dt.datetime

    @staticmethod
    def resolve_organisation_code(obj) -> str | None:
        return obj.organisation.code if obj.organisation_id else None

    @staticmethod
    def resolve_features(obj) -> int:
        count = getattr(obj, "feature_count", None)
        return count if count is not None else obj.grids.count()


class OverlayOut(Schema):
    layer: dict[str, Any] | None
    summary: dict[str, int]
    grids: list[dict[str, Any]]
    pairs: list[dict[str, Any]]
    issues: list[dict[str, Any]]


@router.post("/layers", response={201: LayerOut}, summary="Import a department's grid layer (多网合一)")
def import_layer(
    request: AuthedRequest,
    file: UploadedFile = File(..., description="GeoJSON or a zipped Shapefile"),
    name: str = Form(..., min_length=1, max_length=100),
    crs: Literal["wgs84", "cgcs2000", "gcj02", "bd09"] = Form(...),
    organisation_code: str | None = Form(None, pattern=CODE_PATTERN),
    code_field: str | None = Form(None, max_length=64),
    name_field: str | None = Form(None, max_length=64),
):
    data = file.read(multinet.MAX_BYTES + 1)
    layer = multinet.import_layer(
        actor=request.auth,
        data=data,
        name=name,
        crs=crs,
        organisation_code=organisation_code,
        source_name=file.name or "",
        code_field=code_field,
        name_field=name_field,
        request=request,
    )
    return 201, layer


@router.get("/layers", response=list[LayerOut], summary="Department grid layers")
@paginate(Pagination, page_size=PAGE_SIZE)
def list_layers(request: AuthedRequest):
    return multinet.layers_for(request.auth)


@router.get("/layers/{layer_id}", response=LayerOut, summary="One department grid layer")
def get_layer(request: AuthedRequest, layer_id: int = ID):
    return multinet.layer_for(request.auth, layer_id)


@router.get("/layers/{layer_id}/geojson", response=FeatureCollection, summary="A layer's department grids")
def layer_geojson(request: AuthedRequest, layer_id: int = ID):
    return multinet.layer_geojson(request.auth, layer_id)


@router.get(
    "/layers/{layer_id}/overlay",
    response=OverlayOut,
    summary="Which department grid covers which unified grid",
)
def layer_overlay(
    request: AuthedRequest, layer_id: int = ID, area: str | None = Query(None, pattern=CODE_PATTERN)
):
    return multinet.overlay(request.auth, layer_id, area_code=area)


@router.get("/layers/{layer_id}/overlay.xlsx", summary="The overlay as an Excel workbook")
def layer_overlay_xlsx(
    request: AuthedRequest, layer_id: int = ID, area: str | None = Query(None, pattern=CODE_PATTERN)
):
    report = multinet.overlay(request.auth, layer_id, area_code=area)
    response = HttpResponse(
        multinet.overlay_workbook(report),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="overlay-{layer_id}.xlsx"'
    return response
