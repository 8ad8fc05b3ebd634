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
    CaseFilters,
    CaseIn,
    CaseOut,
    CategoryTreeOut,
    NotificationOut,
    TimelineEventOut,
    WhistleItemOut,
)
from gridgov.core import attachments
from gridgov.core.pagination import PAGE_SIZE, Pagination

router = Router(tags=["cases"])

ACTION_PATTERN = r"^[a-z_]{1,32}$"
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
    filters: Query[CaseFilters],
    actions: bool = Query(
        False, description="true: each case with allowed_actions (a task list without a request per case)"
    ),
):
    return selectors.cases_for(request.auth, **filters.model_dump(), actions=actions, request=request)


@router.get(
    "/cases/export",
    summary="The whole filtered list, in the list's order, as Excel (.xlsx; masked by role; one access-log entry) 导出",
    response={200: None},
    openapi_extra={
        "responses": {200: {"content": {XLSX: {"schema": {"type": "string", "format": "binary"}}}}}
    },
)
def export_cases(request: HttpRequest, filters: Query[CaseFilters]):
    chosen = filters.model_dump()
    qs = selectors.cases_for(request.auth, **chosen, request=request)
    return exports.export_response(
        request.auth, qs, request=request, order=filters.order,
        filters={k: str(v) for k, v in chosen.items() if v and k != "order"},
    )  # fmt: skip


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
