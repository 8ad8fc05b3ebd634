"""The rental API, mounted at /api/v1/rental: rental houses in your area, recording an inspection, the due
and overdue list, the figures per grade and category with drill-down, the checklist and grading rules, the
QR label sheet of the houses (PDF), and the public page of a house code (no login, no personal data).
Thin: parse → one service or selector → a schema."""

from ninja import Path, Query, Router
from ninja.pagination import paginate

from gridgov.core import ratelimit
from gridgov.core.http import AuthedRequest
from gridgov.core.pagination import PAGE_SIZE, Pagination
from gridgov.rental import labels, selectors, services
from gridgov.rental.models import ChecklistItem, TenancyCategory
from gridgov.rental.schemas import (
    CODE,
    ChecklistItemOut,
    DueFilter,
    GradeFilter,
    GradingRulesIn,
    GradingRulesOut,
    InspectionIn,
    InspectionOut,
    RentalFiguresOut,
    RentalHouseDetailOut,
    RentalHouseIn,
    RentalHouseOut,
    RentalPublicPageOut,
    TenancyCategoryOut,
)

router = Router(tags=["rental"])
ID = Path(..., ge=1, le=2**63 - 1)


@router.get("/houses", response=list[RentalHouseOut], summary="Rental houses in your area 出租屋")
@paginate(Pagination, page_size=PAGE_SIZE)
def list_houses(
    request: AuthedRequest,
    area: str = Query("", pattern=r"^[0-9A-Za-z_-]{0,32}$"),
    grade: GradeFilter | None = None,
    category: str = Query("", pattern=r"^[0-9A-Za-z_-]{0,32}$"),
    due: DueFilter | None = Query(None, description="due: due within 7 days or overdue (most overdue first)"),
):
    return selectors.house_list(
        request.auth, area_code=area, grade=grade or "", category=category, due=due or ""
    )


@router.get(
    "/labels.pdf",
    response={200: None},
    summary="QR label sheet of rental houses (PDF, A4, 3 × 7 labels) 一屋一码标签",
    openapi_extra={
        "responses": {
            200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}
        }
    },
)
def label_sheet(
    request: AuthedRequest,
    area: str = Query("", pattern=r"^[0-9A-Za-z_-]{0,32}$"),
    grade: GradeFilter | None = None,
    category: str = Query("", pattern=r"^[0-9A-Za-z_-]{0,32}$"),
    due: DueFilter | None = None,
    house: int | None = Query(
        None, ge=1, le=2**63 - 1, description="one rental house (its id) instead of the filters"
    ),
):
    houses = selectors.label_houses(
        request.auth,
        area_code=area,
        grade=grade or "",
        category=category,
        due=due or "",
        rental_house_id=house,
    )
    return labels.pdf_response(houses, request)


@router.post("/houses", response={201: RentalHouseDetailOut}, summary="Register a rental house 登记出租屋")
def create_house(request: AuthedRequest, payload: RentalHouseIn):
    rental = services.create_rental_house(actor=request.auth, **payload.model_dump())
    return 201, selectors.house_page(request.auth, rental.pk)


@router.get("/houses/{rental_house_id}", response=RentalHouseDetailOut, summary="One rental house 出租屋详情")
def get_house(request: AuthedRequest, rental_house_id: int = ID):
    return selectors.house_page(request.auth, rental_house_id)


@router.post(
    "/houses/{rental_house_id}/inspections",
    response={200: InspectionOut, 201: InspectionOut},
    summary="Record an inspection 录入检查",
)
def record_inspection(request: AuthedRequest, payload: InspectionIn, rental_house_id: int = ID):
    inspection, created = services.record_inspection(
        actor=request.auth, rental_house_id=rental_house_id, **payload.model_dump()
    )
    return (201 if created else 200), inspection


@router.get("/figures", response=RentalFiguresOut, summary="Houses and rooms per grade and category 分级统计")
def figures(request: AuthedRequest, area: str = Query("", pattern=r"^[0-9A-Za-z_-]{0,32}$")):
    return selectors.figures(request.auth, area)


@router.get("/categories", response=list[TenancyCategoryOut], summary="Tenancy categories 租住类别")
def categories(request: AuthedRequest):
    return list(TenancyCategory.objects.filter(is_active=True))


@router.get("/checklist", response=list[ChecklistItemOut], summary="The inspection checklist 检查项")
def checklist(request: AuthedRequest):
    return list(ChecklistItem.objects.filter(is_active=True))


@router.get("/rules", response=GradingRulesOut, summary="The current grading rules 分级规则")
def rules(request: AuthedRequest):
    return selectors.rules_table(selectors.current_rules())


@router.post(
    "/rules", response={201: GradingRulesOut}, summary="Publish new grading rules (admin) 发布分级规则"
)
def publish_rules(request: AuthedRequest, payload: GradingRulesIn):
    data = payload.model_dump()
    note = data.pop("note")
    return 201, selectors.rules_table(services.publish_rules(actor=request.auth, data=data, note=note))


@router.get(
    "/public/{code}",
    response=RentalPublicPageOut,
    auth=None,
    summary="Public page of a house code 一屋一码公示",
)
def public_page(request: AuthedRequest, code: str = Path(..., pattern=CODE)):
    ratelimit.enforce(request, "public")  # anonymous: limited per client address (429)
    return selectors.public_page(code)
