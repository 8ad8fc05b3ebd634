"""The field-work API, mounted at /api/v1/fieldwork: a patrol started, its fixes uploaded in batches, its
findings reported and the patrol ended from the phone (each idempotent on a client id); sessions with
their track; patrol plans; coverage, plan vs done (and its Excel export) and the overdue list. Thin:
parse → one service or selector → a schema."""

import datetime as dt

from django.utils import timezone
from ninja import Path, Query, Router
from ninja.pagination import paginate

from gridgov.core.dates import FilterDate
from gridgov.core.http import AuthedRequest
from gridgov.core.pagination import PAGE_SIZE, Pagination
from gridgov.fieldwork import exports, selectors, services
from gridgov.fieldwork.schemas import (
    BatchOut,
    CoverageOut,
    FindingIn,
    FindingOut,
    OverdueOut,
    PlanIn,
    PlanOut,
    PlanPatchIn,
    PlanVsDoneOut,
    PointsIn,
    SessionDetailOut,
    SessionEndIn,
    SessionOut,
    SessionStartIn,
)

router = Router(tags=["fieldwork"])
ID = Path(..., ge=1, le=2**63 - 1)
AREA = Query("", pattern=r"^[0-9A-Za-z_-]{0,32}$")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _period(date_from: dt.date | None, date_to: dt.date | None) -> tuple[dt.date, dt.date]:
    today = timezone.localdate()
    date_to = date_to or today
    return date_from or date_to - dt.timedelta(days=date_to.weekday()), date_to


@router.post("/sessions", response={200: SessionOut, 201: SessionOut}, summary="Start a patrol 开始巡查")
def start(request: AuthedRequest, payload: SessionStartIn):
    session, created = services.start_session(actor=request.auth, **payload.model_dump())
    return (201 if created else 200), session


@router.get("/sessions", response=list[SessionOut], summary="Patrols in your area 巡查记录")
@paginate(Pagination, page_size=PAGE_SIZE)
def list_sessions(
    request: AuthedRequest,
    mine: bool = False,
    area: str = AREA,
    date_from: FilterDate | None = None,
    date_to: FilterDate | None = None,
):
    return selectors.session_list(
        request.auth, mine=mine, area_code=area, date_from=date_from, date_to=date_to
    )


@router.get("/sessions/{session_id}", response=SessionDetailOut, summary="One patrol with its track 轨迹")
def get_session(request: AuthedRequest, session_id: int = ID):
    return selectors.session_detail(request.auth, session_id)


@router.post(
    "/sessions/{session_id}/points",
    response={200: BatchOut, 201: BatchOut},
    summary="Upload track points 上传轨迹点",
)
def add_points(request: AuthedRequest, payload: PointsIn, session_id: int = ID):
    data = payload.model_dump()
    batch, created = services.add_points(actor=request.auth, session_id=session_id, **data)
    return (201 if created else 200), batch


@router.post(
    "/sessions/{session_id}/findings",
    response={200: FindingOut, 201: FindingOut},
    summary="Report a finding as a case 巡查上报",
)
def report_finding(request: AuthedRequest, payload: FindingIn, session_id: int = ID):
    finding, created = services.report_finding(
        actor=request.auth, session_id=session_id, **payload.model_dump()
    )
    return (201 if created else 200), finding


@router.post("/sessions/{session_id}/end", response=SessionOut, summary="End a patrol 结束巡查")
def end(request: AuthedRequest, payload: SessionEndIn, session_id: int = ID):
    return services.end_session(actor=request.auth, session_id=session_id, ended_at=payload.ended_at)


@router.get("/plans", response=list[PlanOut], summary="Patrol plans in your area 巡查计划")
def list_plans(request: AuthedRequest):
    return list(selectors.plans_for(request.auth))


@router.post("/plans", response={201: PlanOut}, summary="Add a patrol plan 新增巡查计划")
def create_plan(request: AuthedRequest, payload: PlanIn):
    return 201, services.create_plan(actor=request.auth, data=payload.model_dump())


@router.patch("/plans/{plan_id}", response=PlanOut, summary="Change a patrol plan 修改巡查计划")
def update_plan(request: AuthedRequest, payload: PlanPatchIn, plan_id: int = ID):
    return services.update_plan(
        actor=request.auth, plan_id=plan_id, data=payload.model_dump(exclude_unset=True)
    )


@router.delete("/plans/{plan_id}", response={204: None}, summary="Retire a patrol plan 停用巡查计划")
def retire_plan(request: AuthedRequest, plan_id: int = ID):
    services.retire_plan(actor=request.auth, plan_id=plan_id)
    return 204, None


@router.get(
    "/coverage",
    response=list[CoverageOut],
    summary="Buildings within 30 m of a track, per grid and week 覆盖率",
)
def coverage(request: AuthedRequest, area: str = AREA, week: FilterDate | None = None):
    return selectors.coverage(request.auth, area_code=area, week=week or timezone.localdate())


@router.get("/plan-vs-done", response=list[PlanVsDoneOut], summary="Patrols planned vs done 计划完成情况")
def plan_vs_done(
    request: AuthedRequest,
    area: str = AREA,
    date_from: FilterDate | None = None,
    date_to: FilterDate | None = None,
):
    lo, hi = _period(date_from, date_to)
    return selectors.plan_vs_done(request.auth, area_code=area, date_from=lo, date_to=hi)


@router.get(
    "/plan-vs-done/export",
    response={200: None},
    summary="Plan vs done as Excel 导出计划完成情况",
    openapi_extra={
        "responses": {200: {"content": {XLSX: {"schema": {"type": "string", "format": "binary"}}}}}
    },
)
def export_plan_vs_done(
    request: AuthedRequest,
    area: str = AREA,
    date_from: FilterDate | None = None,
    date_to: FilterDate | None = None,
):
    lo, hi = _period(date_from, date_to)
    return exports.plan_vs_done_xlsx(request.auth, area_code=area, date_from=lo, date_to=hi)


@router.get("/overdue", response=list[OverdueOut], summary="Who is behind their patrol plan 逾期未巡")
def overdue(request: AuthedRequest, area: str = AREA):
    return selectors.overdue(request.auth, area_code=area)
