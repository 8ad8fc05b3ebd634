"""The registry API, mounted at /api/v1/registry: residents, households, units, care groups, collection
by building heads, Excel import and export, PII grants and the PII access log. Thin: parse → one
service or selector → a schema. Personal fields are masked unless `reveal=true` is asked for and the
role may see them; every unmasked read and every export is logged."""

from django.http import HttpRequest
from ninja import File, Form, Path, Query, Router
from ninja.files import UploadedFile
from ninja.pagination import paginate

from gridgov.core import ratelimit
from gridgov.core.dates import FilterDate
from gridgov.core.pagination import MAX_PAGE, PAGE_SIZE, Pagination
from gridgov.core.tabular.export import download
from gridgov.core.tabular.jobs import error_list, job_out
from gridgov.registry import export, jobs, selectors, services
from gridgov.registry.models import ImportJob, PiiAction
from gridgov.registry.pii import log_access
from gridgov.registry.schemas import (
    CODE,
    LINE,
    AccessLogOut,
    CareGroupName,
    CareIn,
    CareMemberOut,
    CareSummaryOut,
    ExportIn,
    GrantIn,
    GrantOut,
    HistoryOut,
    HouseholdOut,
    ImportErrorOut,
    ImportJobOut,
    ImportKindName,
    ImportModeName,
    RejectIn,
    ResidenceTypeName,
    ResidentIn,
    ResidentOut,
    ResidentPage,
    ResidentPatch,
    SubmissionIn,
    SubmissionOut,
    SubmissionPage,
    UnitIn,
    UnitKindName,
    UnitOut,
    UnitPage,
    UnitPatch,
)

router = Router(tags=["registry"])

ID = Path(..., ge=1, le=2**63 - 1)
PURPOSE = Query("", max_length=200, pattern=LINE, description="why the values are revealed (logged)")


def _page(qs, page: int, page_size: int | None):
    size = page_size or PAGE_SIZE
    start = (page - 1) * size
    return list(qs[start : start + size]), qs.count()


def _limit_exact_search(request: HttpRequest, object_type: str, **values: str | None) -> None:
    """An exact search of a personal value (ID number, phone) counts against the user's limit
    (GRIDGOV_RATELIMITS["registry-exact-search"]: 429 with Retry-After) — after the permission to search
    for it (403, audited), before anything is looked up or written to the access log."""
    if any(values.values()):
        selectors.exact_search_policies(request.auth, object_type, **values, request=request)
        ratelimit.enforce(request, "registry-exact-search", key=f"user:{request.auth.pk}")


# --- residents ---------------------------------------------------------------------------------------
@router.get("/residents", response=ResidentPage, summary="Residents in your area 实有人口")
def list_residents(
    request: HttpRequest,
    q: str = Query("", max_length=50, pattern=LINE, description="part of the name"),
    area: str | None = Query(None, pattern=CODE),
    building: str | None = Query(None, pattern=CODE),
    residence_type: ResidenceTypeName | None = None,
    id_number: str | None = Query(None, max_length=32, pattern=LINE, description="exact ID number (logged)"),
    phone: str | None = Query(None, max_length=20, pattern=LINE, description="exact phone (logged)"),
    care_group: CareGroupName | None = None,
    household: int | None = Query(None, ge=1, le=2**63 - 1),
    current: bool | None = Query(None, description="true: not moved out"),
    reveal: bool = False,
    purpose: str = PURPOSE,
    page: int = Query(1, ge=1, le=MAX_PAGE),
    page_size: int | None = Query(None, ge=1, le=1000),
):
    _limit_exact_search(request, "resident", id_number=id_number, phone=phone)
    qs = selectors.residents_for(
        request.auth, q=q, area=area, building=building, residence_type=residence_type, id_number=id_number,
        phone=phone, care_group=care_group, household=household, current=current, request=request,
    )  # fmt: skip
    rows, count = _page(qs, page, page_size)
    items = selectors.present_residents(request.auth, rows, reveal=reveal, purpose=purpose, request=request)
    return {"items": items, "count": count}


@router.post("/residents", response={201: ResidentOut}, summary="Register a resident (staff) 登记人口")
def create_resident(request: HttpRequest, payload: ResidentIn):
    resident = services.create_resident(actor=request.auth, data=payload.model_dump(), request=request)
    return 201, _one_resident(request, resident.pk, reveal=False)


def _one_resident(request, resident_id: int, *, reveal: bool, purpose: str = ""):
    resident = selectors.resident_detail(request.auth, resident_id)
    return selectors.present_residents(
        request.auth, [resident], reveal=reveal, purpose=purpose, request=request
    )[0]


@router.get("/residents/{resident_id}", response=ResidentOut, summary="One resident 人口详情")
def get_resident(request: HttpRequest, resident_id: int = ID, reveal: bool = False, purpose: str = PURPOSE):
    return _one_resident(request, resident_id, reveal=reveal, purpose=purpose)


@router.patch(
    "/residents/{resident_id}", response=ResidentOut, summary="Change a resident (staff) 修改人口信息"
)
def update_resident(request: HttpRequest, payload: ResidentPatch, resident_id: int = ID):
    changes = payload.model_dump(exclude_unset=True, exclude={"version"})
    services.update_resident(
        actor=request.auth, resident_id=resident_id, version=payload.version, changes=changes, request=request
    )
    return _one_resident(request, resident_id, reveal=False)


@router.get(
    "/residents/{resident_id}/history", response=list[HistoryOut], summary="Changes of a resident 变更记录"
)
def resident_history(request: HttpRequest, resident_id: int = ID):
    return selectors.history_for(request.auth, "resident", resident_id)


# --- households ----------------------------------------------------------------------------------------
@router.get("/households", response=list[HouseholdOut], summary="Households in your area 户")
@paginate(Pagination, page_size=PAGE_SIZE)
def list_households(
    request: HttpRequest,
    area: str | None = Query(None, pattern=CODE),
    building: str | None = Query(None, pattern=CODE),
):
    return selectors.households_for(request.auth, area=area, building=building)


@router.get("/households/{household_id}", response=HouseholdOut, summary="One household 户详情")
def get_household(request: HttpRequest, household_id: int = ID):
    return selectors.household_detail(request.auth, household_id)


# --- units -------------------------------------------------------------------------------------------
@router.get("/units", response=UnitPage, summary="Units in your area 实有单位")
def list_units(
    request: HttpRequest,
    q: str = Query("", max_length=100, pattern=LINE),
    area: str | None = Query(None, pattern=CODE),
    building: str | None = Query(None, pattern=CODE),
    kind: UnitKindName | None = None,
    credit_code: str | None = Query(None, max_length=18, pattern=r"^[0-9A-Za-z]*$"),
    phone: str | None = Query(None, max_length=20, pattern=LINE),
    reveal: bool = False,
    purpose: str = PURPOSE,
    page: int = Query(1, ge=1, le=MAX_PAGE),
    page_size: int | None = Query(None, ge=1, le=1000),
):
    _limit_exact_search(request, "unit", phone=phone)
    qs = selectors.units_for(
        request.auth, q=q, area=area, building=building, kind=kind, credit_code=credit_code, phone=phone,
        request=request,
    )  # fmt: skip
    rows, count = _page(qs, page, page_size)
    return {"items": selectors.present_units(request.auth, rows, reveal=reveal, purpose=purpose, request=request),
            "count": count}  # fmt: skip


@router.post("/units", response={201: UnitOut}, summary="Register a unit (staff) 登记单位")
def create_unit(request: HttpRequest, payload: UnitIn):
    unit = services.create_unit(actor=request.auth, data=payload.model_dump(), request=request)
    return 201, selectors.present_units(request.auth, [selectors.unit_detail(request.auth, unit.pk)])[0]


@router.get("/units/{unit_id}", response=UnitOut, summary="One unit 单位详情")
def get_unit(request: HttpRequest, unit_id: int = ID, reveal: bool = False, purpose: str = PURPOSE):
    unit = selectors.unit_detail(request.auth, unit_id)
    return selectors.present_units(request.auth, [unit], reveal=reveal, purpose=purpose, request=request)[0]


@router.patch("/units/{unit_id}", response=UnitOut, summary="Change a unit (staff) 修改单位信息")
def update_unit(request: HttpRequest, payload: UnitPatch, unit_id: int = ID):
    changes = payload.model_dump(exclude_unset=True, exclude={"version"})
    services.update_unit(
        actor=request.auth, unit_id=unit_id, version=payload.version, changes=changes, request=request
    )
    return selectors.present_units(request.auth, [selectors.unit_detail(request.auth, unit_id)])[0]


@router.get("/units/{unit_id}/history", response=list[HistoryOut], summary="Changes of a unit 单位变更记录")
def unit_history(request: HttpRequest, unit_id: int = ID):
    return selectors.history_for(request.auth, "unit", unit_id)


# --- care groups ---------------------------------------------------------------------------------------
@router.get("/care-groups", response=list[CareSummaryOut], summary="Care groups and their sizes 关爱对象分类")
def care_groups(request: HttpRequest):
    result = selectors.care_summary(request.auth, request=request)
    log_access(request.auth, PiiAction.CARE_VIEW, object_type="care", count=sum(g["count"] for g in result),
               fields=["care"], request=request)  # fmt: skip
    return result


@router.get("/care-members", response=list[CareMemberOut], summary="Residents in care groups 关爱对象")
@paginate(Pagination, page_size=PAGE_SIZE)
def list_care_members(
    request: HttpRequest, group: CareGroupName | None = None, area: str | None = Query(None, pattern=CODE)
):
    qs = selectors.care_members_for(request.auth, group=group, area=area, request=request)
    log_access(request.auth, PiiAction.CARE_VIEW, object_type="care", count=qs.count(), fields=["care"],
               request=request, detail={"group": group, "area": area})  # fmt: skip
    return qs


@router.post(
    "/care-members", response={201: CareMemberOut}, summary="Add a resident to a care group 添加关爱对象"
)
def add_care_member(request: HttpRequest, payload: CareIn):
    care = services.add_care(actor=request.auth, request=request, **payload.model_dump())
    return 201, selectors.care_members_visible(request.auth).select_related(
        "resident__building", "resident__house"
    ).get(pk=care.pk)


@router.delete(
    "/care-members/{care_member_id}", response={204: None}, summary="Remove from a care group 移出关爱对象"
)
def remove_care_member(request: HttpRequest, care_member_id: int = ID):
    services.remove_care(actor=request.auth, care_member_id=care_member_id, request=request)
    return 204, None


# --- collection by building heads ----------------------------------------------------------------------
@router.post(
    "/submissions", response={201: SubmissionOut}, summary="Submit collected data (楼长采集) 提交采集"
)
def create_submission(request: HttpRequest, payload: SubmissionIn):
    sub = services.submit(
        actor=request.auth, kind=payload.kind, action=payload.action, target_id=payload.target_id,
        base_version=payload.base_version, data=payload.data.model_dump(exclude_unset=True, mode="json"),
        request=request,
    )  # fmt: skip
    return 201, selectors.present_submission(request.auth, selectors.submission_detail(request.auth, sub.pk))


@router.get(
    "/submissions", response=SubmissionPage, summary="Submissions: yours, and those to review 采集审核"
)
def list_submissions(
    request: HttpRequest,
    status: str | None = Query(None, pattern=r"^(pending|approved|rejected)$"),
    kind: str | None = Query(None, pattern=r"^(resident|unit)$"),
    page: int = Query(1, ge=1, le=MAX_PAGE),
    page_size: int | None = Query(None, ge=1, le=1000),
):
    qs = selectors.submissions_for(request.auth, status=status, kind=kind).select_related("building__grid")
    rows, count = _page(qs, page, page_size)
    return {
        # masked, so a list view writes nothing to the access log (a reveal of one submission does)
        "items": [selectors.present_submission(request.auth, s, request=request) for s in rows],
        "count": count,
    }


@router.get("/submissions/{submission_id}", response=SubmissionOut, summary="One submission 采集详情")
def get_submission(request: HttpRequest, submission_id: int = ID, reveal: bool = False):
    """Masked; `reveal=true` shows the ID number and phone to a reader whose policy allows them (logged)."""
    sub = selectors.submission_detail(request.auth, submission_id)
    return selectors.present_submission(request.auth, sub, reveal=reveal, request=request)


@router.post(
    "/submissions/{submission_id}/approve",
    response=SubmissionOut,
    summary="Approve (community staff) 审核通过",
)
def approve_submission(request: HttpRequest, submission_id: int = ID):
    services.approve(actor=request.auth, submission_id=submission_id, request=request)
    return selectors.present_submission(
        request.auth, selectors.submission_detail(request.auth, submission_id)
    )


@router.post(
    "/submissions/{submission_id}/reject", response=SubmissionOut, summary="Reject with a reason 退回"
)
def reject_submission(request: HttpRequest, payload: RejectIn, submission_id: int = ID):
    services.reject(actor=request.auth, submission_id=submission_id, reason=payload.reason, request=request)
    return selectors.present_submission(
        request.auth, selectors.submission_detail(request.auth, submission_id)
    )


# --- import --------------------------------------------------------------------------------------------
def _job_out(job: ImportJob) -> dict:
    return job_out(job, f"/api/v1/registry/imports/{job.pk}/error-workbook")


@router.get("/imports/template", summary="Download an import template 下载导入模板")
def import_template(
    request: HttpRequest,
    kind: ImportKindName = "residents",
    format: str = Query("csv", pattern=r"^(xlsx|csv)$"),
):
    return download(jobs.template(kind, format), f"{kind}-template.{format}", format)


@router.post(
    "/imports", response={201: ImportJobOut}, summary="Upload a file to import (runs in the background) 导入"
)
def create_import(
    request: HttpRequest,
    file: UploadedFile = File(...),
    kind: ImportKindName = Form("residents"),
    mode: ImportModeName = Form("valid_rows"),
):
    job = services.create_import_job(
        actor=request.auth, stream=file, file_name=file.name or "", size=file.size or 0, kind=kind, mode=mode,
        request=request,
    )  # fmt: skip
    job.refresh_from_db()
    return 201, _job_out(job)


@router.get("/imports", response=list[ImportJobOut], summary="Your imports 我的导入")
@paginate(Pagination, page_size=PAGE_SIZE)
def list_imports(request: HttpRequest):
    return [_job_out(j) for j in selectors.import_jobs_for(request.auth)[:500]]


@router.get("/imports/{job_id}", response=ImportJobOut, summary="Progress of an import 导入进度")
def get_import(request: HttpRequest, job_id: int = ID):
    return _job_out(selectors.import_job_detail(request.auth, job_id))


@router.post(
    "/imports/{job_id}/resume", response=ImportJobOut, summary="Resume an interrupted import 继续导入"
)
def resume_import(request: HttpRequest, job_id: int = ID):
    return _job_out(services.resume_import_job(actor=request.auth, job_id=job_id, request=request))


@router.get(
    "/imports/{job_id}/errors", response=list[ImportErrorOut], summary="Row errors of an import 错误明细"
)
@paginate(Pagination, page_size=PAGE_SIZE)
def import_errors(request: HttpRequest, job_id: int = ID):
    job = selectors.import_job_detail(request.auth, job_id)
    return error_list(job, lambda key: jobs.column_label(job, key))


@router.get("/imports/{job_id}/error-workbook", summary="The error workbook (.xlsx) 错误报告")
def import_error_workbook(request: HttpRequest, job_id: int = ID):
    job = selectors.error_workbook_job(request.auth, job_id, request=request)
    response = download(jobs.error_workbook_bytes(job), f"import-{job.pk}-errors.xlsx", "xlsx")
    response["Cache-Control"] = "no-store"
    return response


# --- export --------------------------------------------------------------------------------------------
@router.post("/exports", summary="Export residents, units or households (.xlsx or .csv, streamed) 导出")
def export_records(request: HttpRequest, payload: ExportIn):
    """A POST: every export writes an access-log row. The file is streamed (xlsx from a constant-memory
    temporary file, csv row by row)."""
    selectors.require_export(request.auth, request)
    p = payload
    if p.kind == "residents":
        qs = selectors.residents_for(
            request.auth, area=p.area, building=p.building, residence_type=p.residence_type, request=request
        )
    elif p.kind == "units":
        qs = selectors.units_for(request.auth, area=p.area, building=p.building, request=request)
    else:
        qs = selectors.households_for(request.auth, area=p.area, building=p.building)
    return export.export_response(
        request.auth, p.kind, qs, file_format=p.format, reveal=p.reveal, purpose=p.purpose, request=request,
        filters={"area": p.area, "building": p.building, "residence_type": p.residence_type, "reveal": p.reveal},
    )  # fmt: skip


# --- PII grants and the access log ---------------------------------------------------------------------
@router.get(
    "/pii-grants", response=list[GrantOut], summary="PII grants (security administrator: all) 敏感信息授权"
)
@paginate(Pagination, page_size=PAGE_SIZE)
def list_grants(request: HttpRequest):
    return selectors.grants_for(request.auth)


@router.post(
    "/pii-grants", response={201: GrantOut}, summary="Grant access to PII (security administrator) 授权"
)
def create_grant(request: HttpRequest, payload: GrantIn):
    grant = services.grant_pii(actor=request.auth, request=request, **payload.model_dump())
    return 201, selectors.grants_for(request.auth).get(pk=grant.pk)


@router.delete(
    "/pii-grants/{grant_id}", response={204: None}, summary="Revoke a PII grant (security administrator)"
)
def revoke_grant(request: HttpRequest, grant_id: int = ID):
    services.revoke_pii_grant(actor=request.auth, grant_id=grant_id, request=request)
    return 204, None


@router.get(
    "/access-log",
    response=list[AccessLogOut],
    summary="PII access log (audit administrator) 敏感信息访问日志",
)
@paginate(Pagination, page_size=PAGE_SIZE)
def access_log(
    request: HttpRequest,
    username: str | None = Query(None, max_length=150, pattern=LINE),
    action: str | None = Query(None, pattern=r"^[a-z_]{1,16}$"),
    object_type: str | None = Query(None, pattern=r"^[a-z_]{1,16}$"),
    object_id: int | None = Query(None, ge=1, le=2**63 - 1),
    date_from: FilterDate | None = None,
    date_to: FilterDate | None = None,
):
    return selectors.access_log(
        request.auth, request=request, username=username, action=action, object_type=object_type,
        object_id=object_id, date_from=date_from, date_to=date_to,
    )  # fmt: skip
