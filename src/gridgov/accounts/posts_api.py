"""AB岗 API, mounted at /api/v1/accounts/posts: a person's backup (B) and leave periods
(accounts/posts.py). Thin: parse → one function of posts.py → a schema."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from ninja import Field, Path, Router, Schema

from gridgov.accounts import posts
from gridgov.accounts.schemas import MAX_ID, Text
from gridgov.core.dates import AwareDateTime

router = Router(tags=["accounts"])
ObjectId = Annotated[int, Path(..., ge=1, le=MAX_ID)]


class PersonOut(Schema):
    id: int
    username: str
    name: str

    @staticmethod
    def resolve_name(obj) -> str:
        return obj.display_name or obj.username


class LeaveOut(Schema):
    id: int
    user: PersonOut
    backup: PersonOut
    starts_at: dt.datetime
    ends_at: dt.datetime
    note: str
    state: Literal["planned", "active", "over", "cancelled"] = Field(
        ..., description="planned, active (B stands in now), over, cancelled (ended before it began)"
    )
    ended_at: dt.datetime | None


class PostOut(Schema):
    user: PersonOut
    backup: PersonOut | None = Field(None, description="the standing backup (B)")
    on_leave: LeaveOut | None = Field(None, description="the leave in effect now")
    leaves: list[LeaveOut] = Field(..., description="current, planned and recent leaves")
    covering: list[LeaveOut] = Field(..., description="colleagues' leaves this user stands in for")
    candidates: list[PersonOut] = Field(..., description="who may be the backup")
    may_manage_others: bool = Field(..., description="may set the backup and leave of their workers")


class BackupIn(Schema):
    backup_id: int | None = Field(..., ge=1, le=MAX_ID, description="null: no standing backup")


class LeaveIn(Schema):
    starts_at: AwareDateTime
    ends_at: AwareDateTime
    backup_id: int | None = Field(None, ge=1, le=MAX_ID, description="empty: the standing backup")
    note: Text = Field("", max_length=200)


class LeaveBackupIn(Schema):
    backup_id: int = Field(..., ge=1, le=MAX_ID, description="the colleague who stands in from now on")


class MembershipPostIn(Schema):
    post: Literal["", "grid_chief"] = Field(
        ..., description="grid_chief (网格长) on a grid worker's membership"
    )
    building_code: Text | None = Field(
        None, max_length=24, description="a building head's building (in the membership's grid)"
    )


class MembershipPostOut(Schema):
    id: int
    user_id: int
    role: str
    area_code: str | None
    post: str
    building_code: str | None

    @staticmethod
    def resolve_area_code(obj) -> str | None:
        return obj.area.code if obj.area_id else None

    @staticmethod
    def resolve_building_code(obj) -> str | None:
        return obj.building.code if obj.building_id else None


@router.post(
    "/memberships/{membership_id}",
    response=MembershipPostOut,
    summary="Name a membership's post or building (security administrator) 设置网格长、楼栋",
)
def set_post(request, membership_id: ObjectId, payload: MembershipPostIn):
    return posts.set_post(request, actor=request.auth, membership_id=membership_id, **payload.model_dump())


@router.get("/{user_id}", response=PostOut, summary="A post's backup and leaves (self or manager) AB岗")
def get_post(request, user_id: ObjectId):
    return posts.post_of(request.auth, user_id, request=request)


@router.post("/{user_id}/backup", response=PostOut, summary="Set the standing backup (B) 设置B岗")
def set_backup(request, user_id: ObjectId, payload: BackupIn):
    return posts.set_backup(request, actor=request.auth, user_id=user_id, backup_id=payload.backup_id)


@router.post("/{user_id}/leaves", response={201: LeaveOut}, summary="Record a leave 登记请假")
def record_leave(request, user_id: ObjectId, payload: LeaveIn):
    return 201, posts.record_leave(request, actor=request.auth, user_id=user_id, **payload.model_dump())


@router.patch(
    "/leaves/{leave_id}",
    response=LeaveOut,
    summary="Change who stands in during a planned or ongoing leave 更换代班人",
)
def change_backup(request, leave_id: ObjectId, payload: LeaveBackupIn):
    return posts.change_backup(request, actor=request.auth, leave_id=leave_id, backup_id=payload.backup_id)


@router.post("/leaves/{leave_id}/end", response=LeaveOut, summary="End a leave now (back early) 销假")
def end_leave(request, leave_id: ObjectId):
    return posts.end_leave(request, actor=request.auth, leave_id=leave_id)
