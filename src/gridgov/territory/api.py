"""The territory API, mounted at /api/v1/territory: areas, GeoJSON, buildings, houses, point → grid."""

from ninja import Path, Query, Router
from ninja.pagination import paginate

from gridgov.core.http import AuthedRequest
from gridgov.core.pagination import PAGE_SIZE, Pagination
from gridgov.territory import selectors, services
from gridgov.territory.schemas import (
    CODE_PATTERN,
    TEXT_PATTERN,
    AreaCreateIn,
    AreaDetailOut,
    AreaOut,
    AreaPatchIn,
    BuildingDetailOut,
    BuildingOut,
    FeatureCollection,
    HouseOut,
    HouseUseName,
    LevelName,
    LocateOut,
    LocateQuery,
    StaffOut,
)

router = Router(tags=["territory"])


# --- areas ----------------------------------------------------------------------------------------
@router.get("/areas", response=list[AreaOut], summary="Areas you may see")
@paginate(Pagination, page_size=PAGE_SIZE)
def list_areas(
    request: AuthedRequest,
    level: LevelName | None = None,
    parent: str | None = Query(None, pattern=CODE_PATTERN, description="children of this area code"),
    q: str | None = Query(None, max_length=100, pattern=TEXT_PATTERN, description="part of a name or code"),
    active: bool | None = Query(True, description="true: active only (default); false: retired only"),
):
    return selectors.areas_for(request.auth, level=level, parent_code=parent, q=q, active=active)


@router.get("/areas/mine", response=list[AreaOut], summary="The areas of your own memberships")
def my_areas(request: AuthedRequest):
    return selectors.my_areas(request.auth)


@router.get("/areas/{area_code}", response=AreaDetailOut, summary="One area, with its geometry")
def get_area(request: AuthedRequest, area_code: str = Path(..., pattern=CODE_PATTERN)):
    return selectors.area_detail(request.auth, area_code)


@router.get("/areas/{area_code}/children", response=list[AreaOut], summary="The areas directly below one")
def get_children(request: AuthedRequest, area_code: str = Path(..., pattern=CODE_PATTERN)):
    return selectors.children(request.auth, area_code)


@router.get(
    "/areas/{area_code}/staff",
    response=StaffOut,
    summary="Who serves an area: grid chief, grid workers, block chief, building heads 网格力量",
)
def get_staff(
    request: AuthedRequest,
    area_code: str = Path(..., pattern=CODE_PATTERN),
    reveal: bool = Query(False, description="unmask the phones (when your role allows; logged)"),
):
    return selectors.staff_of(request.auth, area_code, reveal=reveal, request=request)


@router.post("/areas", response={201: AreaDetailOut}, summary="Add an area (administrators)")
def create_area(request: AuthedRequest, payload: AreaCreateIn):
    return 201, services.create_area(actor=request.auth, request=request, **payload.model_dump())


@router.patch("/areas/{area_code}", response=AreaDetailOut, summary="Change an area (administrators)")
def update_area(
    request: AuthedRequest, payload: AreaPatchIn, area_code: str = Path(..., pattern=CODE_PATTERN)
):
    changes = {name: getattr(payload, name) for name in payload.model_fields_set}
    return services.update_area(actor=request.auth, area_code=area_code, request=request, **changes)


@router.get("/geojson", response=FeatureCollection, summary="Area polygons as a GeoJSON FeatureCollection")
def geojson(
    request: AuthedRequest,
    level: LevelName = "grid",
    parent: str | None = Query(None, pattern=CODE_PATTERN, description="only areas below this area code"),
):
    return selectors.geojson_for(request.auth, level, parent)


# --- point → grid ---------------------------------------------------------------------------------
@router.get("/locate", response=LocateOut, summary="The grid that contains a point")
def locate(request: AuthedRequest, point: Query[LocateQuery]):
    found = selectors.locate_for(request.auth, point.lng, point.lat, point.crs)
    return LocateOut.from_located(found)


# --- buildings and houses -------------------------------------------------------------------------
@router.get("/buildings", response=list[BuildingOut], summary="Buildings you may see")
@paginate(Pagination, page_size=PAGE_SIZE)
def list_buildings(
    request: AuthedRequest,
    grid: str | None = Query(None, pattern=CODE_PATTERN, description="grid code"),
    q: str | None = Query(
        None, max_length=100, pattern=TEXT_PATTERN, description="part of a code, name or address"
    ),
):
    return selectors.buildings_for(request.auth, grid_code=grid, q=q)


@router.get("/buildings/{building_code}", response=BuildingDetailOut, summary="One building")
def get_building(request: AuthedRequest, building_code: str = Path(..., pattern=CODE_PATTERN)):
    return selectors.building_detail(request.auth, building_code)


@router.get("/buildings/{building_code}/houses", response=list[HouseOut], summary="The houses of a building")
@paginate(Pagination, page_size=PAGE_SIZE)
def list_houses(
    request: AuthedRequest,
    building_code: str = Path(..., pattern=CODE_PATTERN),
    use: HouseUseName | None = None,
):
    return selectors.houses_of_building(request.auth, building_code, use=use)


# --- the grid engine: health, re-division, 多网合一 -----------------------------------------------------
from gridgov.territory.engine_api import router as engine_router  # noqa: E402

router.add_router("", engine_router)
