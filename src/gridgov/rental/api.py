"""The rental API, mounted at /api/v1/rental: rental houses in your area, recording an inspection, the due
and overdue list, the figures per grade and category with drill-down, the checklist and grading rules,
and the public page of a house code (no login, no personal data). Thin: parse → one service or selector
→ a schema."""

from django.utils import timezone
from ninja import Path, Query, Router
from ninja.pagination import paginate

from gridgov.core import pii, ratelimit
from gridgov.core.http import AuthedRequest
from gridgov.core.pagination import PAGE_SIZE, Pagination
from gridgov.rental import selectors, services
from gridgov.rental.models import COLOUR, ChecklistItem, Grade, RentalCase, RentalHouse, TenancyCategory
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
    qs = selectors.house_list(
        request.auth, area_code=area, grade=grade or "", category=category, due=due or ""
    )
    return _Presented(qs)


@router.post("/houses", response={201: RentalHouseDetailOut}, summary="Register a rental house 登记出租屋")
def create_house(request: AuthedRequest, payload: RentalHouseIn):
    rental = services.create_rental_house(actor=request.auth, **payload.model_dump())
    return 201, present_detail(selectors.house_detail(request.auth, rental.pk))


@router.get("/houses/{rental_house_id}", response=RentalHouseDetailOut, summary="One rental house 出租屋详情")
def get_house(request: AuthedRequest, rental_house_id: int = ID):
    return present_detail(selectors.house_detail(request.auth, rental_house_id))


@router.post(
    "/houses/{rental_house_id}/inspections",
    response={200: InspectionOut, 201: InspectionOut},
    summary="Record an inspection 录入检查",
)
def record_inspection(request: AuthedRequest, payload: InspectionIn, rental_house_id: int = ID):
    inspection, created = services.record_inspection(
        actor=request.auth, rental_house_id=rental_house_id, **payload.model_dump()
    )
    return (201 if created else 200), present_inspection(inspection)


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


# --- presentation ----------------------------------------------------------------------------------------
class _Presented:
    """A queryset that the paginator slices and counts; each slice is presented as rows."""

    def __init__(self, qs):
        self.qs = qs

    def count(self) -> int:
        return self.qs.count()

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, key):
        return [present(h) for h in self.qs[key]]


def present(h: RentalHouse) -> dict:
    return {
        "id": h.pk,
        "code": h.code,
        "address": str(h.house),
        "grid": h.house.building.grid.code,
        "category": h.category.code,
        "category_name": h.category.name,
        "grade": h.grade,
        "colour": COLOUR[Grade(h.grade)] if h.grade else None,
        "rooms_count": h.rooms_count,
        "tenants_count": h.tenants_count,
        "capacity_limit": h.capacity_limit,
        "last_inspected_on": h.last_inspected_on,
        "next_due_on": h.next_due_on,
        "overdue": bool(h.next_due_on and h.next_due_on < timezone.localdate()),
        "red_streak": h.red_streak,
    }


def present_inspection(i) -> dict:
    return {
        "id": i.pk,
        "inspected_on": i.inspected_on,
        "score": float(i.score),
        "grade": i.grade,
        "rules_version": i.rules.version,
        "overrides_applied": i.overrides_applied,
        "flags": i.flags,
        "next_due_on": i.next_due_on,
        "failed": [r.item.code for r in i.results.all() if r.result == "fail"],
        "cases": [present_case(link) for link in i.cases.all()],
    }


def present_detail(h: RentalHouse) -> dict:
    inspections = h.inspections.select_related("rules").prefetch_related("results__item", "cases__case")
    return {
        **present(h),
        "filing_number": h.filing_number,
        "pledge_signed": h.pledge_signed,
        "pledge_date": h.pledge_date,
        "landlord_kind": "person" if h.landlord_resident else ("unit" if h.landlord_unit else ""),
        # A person's name masked like every list of people (the registry shows it to whoever may read the
        # resident); a unit's name is not personal data.
        "landlord_name": (
            pii.mask_name(h.landlord_resident.name)
            if h.landlord_resident
            else (h.landlord_unit.name if h.landlord_unit else "")
        ),
        "rooms": list(h.rooms.values_list("number", flat=True)),
        "inspections": [present_inspection(i) for i in inspections.order_by("-inspected_on", "-id")[:20]],
        "open_cases": [present_case(link) for link in selectors.open_cases(h).select_related("case")],
    }


def present_case(link: RentalCase) -> dict:
    return {"id": link.case_id, "number": link.case.number, "kind": link.kind, "status": link.case.status}
