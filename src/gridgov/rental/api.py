"""The rental API, mounted at /api/v1/rental: rental houses in your area, recording an inspection, the due
and overdue list, the figures per grade and category with drill-down and their Excel export, the checklist
and grading rules, the QR label sheet of the houses (PDF), the public page of a house code (no login, no
personal data), the imports of rental lists and existing gradings (template, upload → job, progress,
errors, error workbook) and the export of the rental list. Thin: parse → one service or selector → a
schema."""

from ninja import File, Form, Path, Query, Router
from ninja.files import UploadedFile
from ninja.pagination import paginate

from gridgov.core import ratelimit
from gridgov.core.dates import FilterDate
from gridgov.core.http import AuthedRequest
from gridgov.core.pagination import PAGE_SIZE, Pagination
from gridgov.core.tabular.export import XLSX_TYPE
from gridgov.core.tabular.export import download as tabular_download
from gridgov.registry.schemas import ImportErrorOut, ImportJobOut
from gridgov.rental import exports, jobs, labels, selectors, services
from gridgov.rental.models import RentalImportJob
from gridgov.rental.schemas import (
    CODE,
    LINE,
    ChecklistItemOut,
    CompoundIn,
    CompoundOut,
    DueFilter,
    GradeFilter,
    GradingRulesIn,
    GradingRulesOut,
    ImportKindName,
    ImportModeName,
    InspectionIn,
    InspectionOut,
    RentalActivityOut,
    RentalFiguresOut,
    RentalHouseDetailOut,
    RentalHouseIn,
    RentalHouseOut,
    RentalPublicPageOut,
    SiteKindName,
    StarApplyIn,
    StarAssessIn,
    StarCountsOut,
    StarFilter,
    StarNoteIn,
    StarPublicOut,
    StarRulesIn,
    StarRulesOut,
    StarSiteDetailOut,
    StarSiteOut,
    StarWithdrawIn,
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


AREA = Query("", pattern=r"^[0-9A-Za-z_-]{0,32}$")


@router.get("/figures", response=RentalFiguresOut, summary="Houses and rooms per grade and category 分级统计")
def figures(request: AuthedRequest, area: str = AREA):
    return selectors.figures(request.auth, area)


@router.get(
    "/figures/activity",
    response=RentalActivityOut,
    summary="Inspections on time, hazards opened and closed, rectification open, per child area 工作统计",
)
def activity(
    request: AuthedRequest,
    area: str = AREA,
    date_from: FilterDate | None = Query(None, description="first day (default: 29 days before date_to)"),
    date_to: FilterDate | None = Query(None, description="last day (default: today); at most 366 days"),
):
    return selectors.activity(request.auth, area, date_from, date_to)


@router.get(
    "/figures.xlsx",
    summary="The figures as Excel: grades, categories, timeliness and hazards per child area 统计导出",
    response={200: None},
    openapi_extra={
        "responses": {200: {"content": {XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}}}}}
    },
)
def figures_xlsx(
    request: AuthedRequest,
    area: str = AREA,
    date_from: FilterDate | None = None,
    date_to: FilterDate | None = None,
):
    return exports.figures_response(request.auth, area, date_from, date_to)


@router.get("/categories", response=list[TenancyCategoryOut], summary="Tenancy categories 租住类别")
def categories(request: AuthedRequest):
    return selectors.categories()


@router.get("/checklist", response=list[ChecklistItemOut], summary="The inspection checklist 检查项")
def checklist(request: AuthedRequest):
    return selectors.checklist()


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


# --- import and export -----------------------------------------------------------------------------------
def _job_out(job: RentalImportJob) -> dict:
    return jobs.job_out(job, f"/api/v1/rental/imports/{job.pk}/error-workbook")


@router.get("/imports/template", summary="Download a rental import template 下载导入模板")
def import_template(
    request: AuthedRequest,
    kind: ImportKindName = "houses",
    format: str = Query("xlsx", pattern=r"^(xlsx|csv)$"),
):
    return tabular_download(jobs.template(kind, format), f"rental-{kind}-template.{format}", format)


@router.post(
    "/imports",
    response={201: ImportJobOut},
    summary="Upload a rental list or gradings (runs in the background) 导入",
)
def create_import(
    request: AuthedRequest,
    file: UploadedFile = File(...),
    kind: ImportKindName = Form("houses"),
    mode: ImportModeName = Form("valid_rows"),
):
    job = services.create_import_job(
        actor=request.auth, stream=file, file_name=file.name or "", size=file.size or 0, kind=kind, mode=mode,
        request=request,
    )  # fmt: skip
    job.refresh_from_db()
    return 201, _job_out(job)


@router.get("/imports", response=list[ImportJobOut], summary="Your rental imports 我的导入")
@paginate(Pagination, page_size=PAGE_SIZE)
def list_imports(request: AuthedRequest):
    return [_job_out(j) for j in selectors.import_jobs_for(request.auth)[:500]]


@router.get("/imports/{job_id}", response=ImportJobOut, summary="Progress of a rental import 导入进度")
def get_import(request: AuthedRequest, job_id: int = ID):
    return _job_out(selectors.import_job_detail(request.auth, job_id))


@router.get(
    "/imports/{job_id}/errors", response=list[ImportErrorOut], summary="Row errors of an import 错误明细"
)
@paginate(Pagination, page_size=PAGE_SIZE)
def import_errors(request: AuthedRequest, job_id: int = ID):
    job = selectors.import_job_detail(request.auth, job_id)
    return jobs.error_rows(job)


@router.get("/imports/{job_id}/error-workbook", summary="The error workbook (.xlsx) 错误报告")
def import_error_workbook(request: AuthedRequest, job_id: int = ID):
    job = selectors.error_workbook_job(request.auth, job_id, request=request)
    response = tabular_download(jobs.error_workbook_bytes(job), f"rental-import-{job.pk}-errors.xlsx", "xlsx")
    response["Cache-Control"] = "no-store"
    return response


@router.get("/houses.xlsx", summary="Export the rental list (.xlsx) 导出出租屋清单")
def export_houses(
    request: AuthedRequest,
    area: str = Query("", pattern=r"^[0-9A-Za-z_-]{0,32}$"),
    grade: GradeFilter | None = None,
    category: str = Query("", pattern=r"^[0-9A-Za-z_-]{0,32}$"),
    due: DueFilter | None = None,
    reveal: bool = Query(False, description="landlords' ID numbers unmasked where an ID-number grant allows"),
    purpose: str = Query(
        "", max_length=200, pattern=LINE, description="why the values are revealed (logged)"
    ),
):
    filters = {"area": area, "grade": grade or "", "category": category, "due": due or ""}
    qs = selectors.export_houses(
        request.auth, area_code=area, grade=grade or "", category=category, due=due or "", request=request
    )
    return exports.houses_response(
        request.auth,
        qs,
        reveal=reveal,
        purpose=purpose,
        request=request,
        filters={**filters, "reveal": reveal},
    )


# --- star safe buildings and compounds (星级安全楼栋 / 星级安全小区) ---------------------------------------
STAR_CODE = Query("", pattern=r"^[0-9A-Za-z_-]{0,32}$")


def _star_page(request: AuthedRequest, site_id: int):
    site = selectors.star_site_page(request.auth, site_id)
    site.actions = selectors.star_actions(request.auth, site)  # type: ignore[attr-defined]
    site.criteria = services.criteria_for(selectors.star_rules_current(), site.kind)  # type: ignore[attr-defined]
    return site


@router.get("/stars", response=list[StarSiteOut], summary="Star sites in your area 星级安全楼栋与小区")
@paginate(Pagination, page_size=PAGE_SIZE)
def list_star_sites(
    request: AuthedRequest,
    area: str = STAR_CODE,
    stars: int | None = Query(None, ge=3, le=5),
    status: StarFilter | None = None,
    kind: SiteKindName | None = None,
):
    return selectors.star_site_list(
        request.auth, area_code=area, stars=stars, status=status or "", kind=kind or ""
    )


@router.post("/stars", response={201: StarSiteDetailOut}, summary="Apply for stars 申报星级")
def apply_for_stars(request: AuthedRequest, payload: StarApplyIn):
    application = services.apply_for_stars(actor=request.auth, **payload.model_dump())
    return 201, _star_page(request, application.site_id)


@router.get("/stars/counts", response=StarCountsOut, summary="Star sites per star and area 星级统计")
def star_counts(request: AuthedRequest, area: str = STAR_CODE):
    return selectors.star_counts(request.auth, area)


@router.get(
    "/stars/public",
    response=list[StarPublicOut],
    auth=None,
    summary="Awarded star buildings and compounds (public) 星级公示",
)
@paginate(Pagination, page_size=PAGE_SIZE)
def star_public(
    request: AuthedRequest, community: str = STAR_CODE, stars: int | None = Query(None, ge=3, le=5)
):
    ratelimit.enforce(request, "public")  # anonymous: limited per client address (429)
    return selectors.star_public_list(community=community, stars=stars)


@router.get("/stars/rules", response=StarRulesOut, summary="The current star criteria 星级标准")
def star_rules(request: AuthedRequest):
    return selectors.star_rules_current()


@router.post(
    "/stars/rules", response={201: StarRulesOut}, summary="Publish new star criteria (admin) 发布星级标准"
)
def publish_star_rules(request: AuthedRequest, payload: StarRulesIn):
    data = payload.model_dump()
    note = data.pop("note")
    return 201, services.publish_star_rules(actor=request.auth, data=data, note=note)


@router.get("/stars/compounds", response=list[CompoundOut], summary="Compounds in your area 小区")
@paginate(Pagination, page_size=PAGE_SIZE)
def list_compounds(request: AuthedRequest, community: str = STAR_CODE):
    qs = (
        selectors.compounds_for(request.auth)
        .select_related("community", "star_site")
        .prefetch_related("buildings")
    )
    return qs.filter(community__code=community) if community else qs


@router.post("/stars/compounds", response={201: CompoundOut}, summary="Name a compound 登记小区")
def create_compound(request: AuthedRequest, payload: CompoundIn):
    return 201, services.create_compound(actor=request.auth, **payload.model_dump())


@router.get("/stars/{site_id}", response=StarSiteDetailOut, summary="One star site with its history 星级详情")
def get_star_site(request: AuthedRequest, site_id: int = ID):
    return _star_page(request, site_id)


@router.post(
    "/stars/{site_id}/assess", response=StarSiteDetailOut, summary="Assess the open application 评定"
)
def assess_stars(request: AuthedRequest, payload: StarAssessIn, site_id: int = ID):
    services.assess_stars(actor=request.auth, site_id=site_id, **payload.model_dump())
    return _star_page(request, site_id)


@router.post("/stars/{site_id}/award", response=StarSiteDetailOut, summary="Award the assessed stars 授星")
def award_stars(request: AuthedRequest, payload: StarNoteIn, site_id: int = ID):
    services.award_stars(actor=request.auth, site_id=site_id, note=payload.note)
    return _star_page(request, site_id)


@router.post("/stars/{site_id}/review", response=StarSiteDetailOut, summary="Open the review 复核")
def review_stars(request: AuthedRequest, payload: StarNoteIn, site_id: int = ID):
    services.open_star_review(actor=request.auth, site_id=site_id, note=payload.note)
    return _star_page(request, site_id)


@router.post("/stars/{site_id}/withdraw", response=StarSiteDetailOut, summary="Withdraw the stars 摘牌")
def withdraw_stars(request: AuthedRequest, payload: StarWithdrawIn, site_id: int = ID):
    services.withdraw_stars(actor=request.auth, site_id=site_id, reason=payload.reason)
    return _star_page(request, site_id)
