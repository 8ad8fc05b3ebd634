"""The cases API, mounted at /api/v1/cases: categories, the whistle catalogue, intake, lists, detail,
timeline and the workflow actions (`POST /cases/{case_id}/actions/{action}` with the case version)."""

from typing import Literal

from django.http import HttpRequest
from ninja import File, Header, Path, Query, Router
from ninja.files import UploadedFile
from ninja.pagination import paginate

from gridgov.cases import exports, printing, selectors, services
from gridgov.cases.schemas import (
    ATTACHMENT_PATTERN,
    CODE_PATTERN,
    ActionIn,
    AttachmentOut,
    CaseDetailOut,
    CaseIn,
    CaseOut,
    CategoryTreeOut,
    ChannelName,
    NotificationOut,
    StatusName,
    TimelineEventOut,
    WhistleItemOut,
)
from gridgov.core import attachments
from gridgov.core.dates import FilterDate
from gridgov.core.pagination import PAGE_SIZE, Pagination

router = Router(tags=["cases"])

ACTION_PATTERN = r"^[a-z_]{1,32}$"
LINE = r"^[^\x00-\x1f]*$"
PHONE = r"^[0-9+\- ]*$"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
KEY_PATTERN = r"^[\x21-\x7e]{1,64}$"


# --- categories and the whistle catalogue ----------------------------------------------------------
@router.get("/categories", response=list[CategoryTreeOut], summary="The category tree (大类 → 小类)")
def list_categories(request: HttpRequest):
    return selectors.category_tree()


@router.get("/categories/{category_code}", response=CategoryTreeOut, summary="One category")
def get_category(request: HttpRequest, category_code: str = Path(..., pattern=CODE_PATTERN)):
    return selectors.category_detail(category_code)


@router.get("/whistle-items", response=list[WhistleItemOut], summary="The whistle catalogue (吹哨事项)")
def list_whistle_items(request: HttpRequest, group: str | None = Query(None, max_length=50)):
    return selectors.whistle_items(group)


@router.get("/whistle-items/{whistle_item_id}", response=WhistleItemOut, summary="One whistle item")
def get_whistle_item(request: HttpRequest, whistle_item_id: int = Path(..., ge=1, le=2**31 - 1)):
    return selectors.whistle_item_detail(whistle_item_id)


# --- cases ------------------------------------------------------------------------------------------
@router.post(
    "/cases",
    response={200: CaseDetailOut, 201: CaseDetailOut},
    summary="Report a case (idempotent with the Idempotency-Key header)",
)
def create_case(
    request: HttpRequest,
    payload: CaseIn,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key", pattern=KEY_PATTERN),
):
    via_token = request.headers.get("Authorization", "").lower().startswith("bearer ")
    case, created = services.intake(
        actor=request.auth, idempotency_key=idempotency_key or "", via_token=via_token, **payload.model_dump()
    )
    return (201 if created else 200), selectors.case_detail(request.auth, case.pk)


@router.get("/cases", response=list[CaseOut], summary="Cases you may see")
@paginate(Pagination, page_size=PAGE_SIZE)
def list_cases(
    request: HttpRequest,
    status: list[StatusName] | None = Query(None),
    category: str | None = Query(None, pattern=CODE_PATTERN, description="category code or 大类 prefix"),
    area: str | None = Query(None, pattern=CODE_PATTERN, description="area code: cases in its subtree"),
    department: str | None = Query(None, pattern=CODE_PATTERN, description="organisation code of a step"),
    overdue: bool | None = None,
    channel: ChannelName | None = None,
    created_from: FilterDate | None = None,
    created_to: FilterDate | None = None,
    todo: bool | None = Query(None, description="true: only cases waiting on you (your to-dos)"),
    mine: bool | None = Query(None, description="true: only cases you reported or registered (我的上报)"),
    order: Literal["created", "due"] = Query(
        "created", description="created: newest first; due: deadline first"
    ),
    q: str | None = Query(None, max_length=100, pattern=LINE, description="case number or words of the text"),
    phone: str | None = Query(
        None, max_length=20, pattern=PHONE, description="reporter's phone (keyed hash)"
    ),
):
    return selectors.cases_for(
        request.auth,
        todo=todo,
        mine=mine,
        order=order,
        status=status,
        category=category,
        area=area,
        department=department,
        overdue=overdue,
        channel=channel,
        created_from=created_from,
        created_to=created_to,
        q=q,
        phone=phone,
        request=request,
    )


@router.get(
    "/cases/export",
    summary="The whole filtered list as Excel (.xlsx; masked by role; one access-log entry) 导出",
    response={200: None},
    openapi_extra={
        "responses": {200: {"content": {XLSX: {"schema": {"type": "string", "format": "binary"}}}}}
    },
)
def export_cases(
    request: HttpRequest,
    status: list[StatusName] | None = Query(None),
    category: str | None = Query(None, pattern=CODE_PATTERN),
    area: str | None = Query(None, pattern=CODE_PATTERN),
    department: str | None = Query(None, pattern=CODE_PATTERN),
    overdue: bool | None = None,
    channel: ChannelName | None = None,
    created_from: FilterDate | None = None,
    created_to: FilterDate | None = None,
    todo: bool | None = None,
    q: str | None = Query(None, max_length=100, pattern=LINE),
    phone: str | None = Query(None, max_length=20, pattern=PHONE),
):
    filters = {
        "status": status, "category": category, "area": area, "department": department, "overdue": overdue,
        "channel": channel, "created_from": created_from, "created_to": created_to, "todo": todo, "q": q,
        "phone": phone,
    }  # fmt: skip
    qs = selectors.cases_for(request.auth, request=request, **filters)
    return exports.export_response(
        request.auth, qs, request=request, filters={k: str(v) for k, v in filters.items() if v}
    )


@router.get(
    "/cases/{case_id}", response=CaseDetailOut, summary="One case with steps, timeline and your actions"
)
def get_case(
    request: HttpRequest,
    case_id: int = Path(..., ge=1, le=2**63 - 1),
    reveal: bool = Query(False, description="unmask the reporter's name and phone (when allowed; logged)"),
    purpose: str = Query("", max_length=200, pattern=r"^[^\x00-\x1f]*$", description="why (logged)"),
):
    return selectors.case_detail(
        request.auth, case_id, reveal=reveal, purpose=purpose, request=request, call_back=True
    )


@router.get(
    "/cases/{case_id}/print/{sheet}",
    summary="The printable 工单 (work order) or 督办单 (supervision sheet) as PDF",
    response={200: None},
    openapi_extra={
        "responses": {
            200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}
        }
    },
)
def print_case(
    request: HttpRequest,
    case_id: int = Path(..., ge=1, le=2**63 - 1),
    sheet: Literal["work-order", "supervision"] = Path(...),
):
    case = selectors.case_detail(request.auth, case_id, request=request, call_back=True)
    return printing.pdf_response(request.auth, case, sheet)


@router.get("/cases/{case_id}/timeline", response=list[TimelineEventOut], summary="The timeline of a case")
def get_timeline(request: HttpRequest, case_id: int = Path(..., ge=1, le=2**63 - 1)):
    return selectors.timeline(request.auth, case_id)


@router.post(
    "/cases/{case_id}/actions/{action}",
    response=CaseDetailOut,
    summary="Move a case: accept, whistle, report_in, handle, verify, close, return_visit, …",
)
def act(
    request: HttpRequest,
    payload: ActionIn,
    case_id: int = Path(..., ge=1, le=2**63 - 1),
    action: str = Path(..., pattern=ACTION_PATTERN),
):
    fields = payload.model_dump(exclude={"version"})
    case = services.perform(
        action, case_id=case_id, version=payload.version, actor=request.auth, fields=fields
    )
    return selectors.case_detail(request.auth, case.pk)


# --- photos -------------------------------------------------------------------------------------------
@router.post(
    "/attachments",
    response={201: AttachmentOut},
    summary="Upload a photo (JPEG, PNG or WebP); name its id in an intake or action",
)
def upload_attachment(request: HttpRequest, file: UploadedFile = File(...)):
    return 201, services.upload_attachment(actor=request.auth, file=file)


@router.get("/attachments/{attachment_id}", summary="A photo: yours, or of a case you may see")
def get_attachment(request: HttpRequest, attachment_id: str = Path(..., pattern=ATTACHMENT_PATTERN)):
    return attachments.file_response(selectors.attachment_for(request.auth, attachment_id))


# --- notifications ------------------------------------------------------------------------------------
@router.get("/notifications", response=list[NotificationOut], summary="Your notifications, newest first")
@paginate(Pagination, page_size=PAGE_SIZE)
def list_notifications(request: HttpRequest, unread: bool | None = None):
    return selectors.notifications_for(request.auth, unread=unread)


@router.post(
    "/notifications/{notification_id}/read", response={204: None}, summary="Mark a notification read"
)
def read_notification(request: HttpRequest, notification_id: int = Path(..., ge=1, le=2**63 - 1)):
    services.mark_notification_read(actor=request.auth, notification_id=notification_id)
    return 204, None


# --- duplicates and category suggestions -----------------------------------------------------------
from gridgov.cases.suggest_api import router as suggest_router  # noqa: E402

router.add_router("", suggest_router)

from gridgov.cases.figures_api import router as figures_router  # noqa: E402

router.add_router("", figures_router)
