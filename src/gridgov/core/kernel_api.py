"""The kernel's own endpoints: attachments of any object (upload for a registered purpose, the scoped
download and its thumbnail) at /api/v1/attachments, and the user's notifications of every kind at
/api/v1/notifications. Apps keep their own paths where their clients use them (cases:
/api/v1/cases/attachments, /api/v1/cases/notifications) and call the same kernel functions."""

from __future__ import annotations

import datetime as dt

from ninja import File, Form, Path, Router, Schema
from ninja.files import UploadedFile
from ninja.pagination import paginate

from gridgov.core import attachments, notifications
from gridgov.core.http import AuthedRequest
from gridgov.core.pagination import PAGE_SIZE, Pagination

ATTACHMENT_PATTERN = r"^[0-9a-f]{32}$"
PURPOSE_PATTERN = r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$"


attachments_router = Router(tags=["attachments"])
notifications_router = Router(tags=["notifications"])


class AttachmentOut(Schema):
    """An uploaded photo, for every app (cases returns it from its own upload path too)."""

    id: str
    purpose: str
    content_type: str
    size: int
    width: int
    height: int
    encrypted: bool
    url: str
    thumbnail_url: str
    created_at: dt.datetime

    @staticmethod
    def resolve_url(obj) -> str:
        return attachments.url_of(obj)

    @staticmethod
    def resolve_thumbnail_url(obj) -> str:
        return f"/api/v1/attachments/{obj.id}/thumbnail"


class KernelNotificationOut(Schema):
    id: int
    kind: str
    message: str
    facts: dict
    object_type: str | None
    object_id: int | None
    created_at: dt.datetime
    read_at: dt.datetime | None

    @staticmethod
    def resolve_message(obj) -> str:
        return notifications.text_of(obj)

    @staticmethod
    def resolve_object_type(obj) -> str | None:
        if obj.owner_type_id is None:
            return None
        from django.contrib.contenttypes.models import ContentType

        ct = ContentType.objects.get_for_id(obj.owner_type_id)
        return f"{ct.app_label}.{ct.model}"

    @staticmethod
    def resolve_object_id(obj) -> int | None:
        return obj.owner_id


@attachments_router.post(
    "/attachments",
    response={201: AttachmentOut},
    summary="Upload a photo (JPEG, PNG or WebP) for a purpose; the owning object claims it by id",
)
def upload(
    request: AuthedRequest,
    file: UploadedFile = File(...),
    purpose: str = Form(..., pattern=PURPOSE_PATTERN, max_length=64),
):
    return 201, attachments.upload(actor=request.auth, file=file, purpose=purpose)


@attachments_router.get("/attachments/{attachment_id}", summary="A photo: yours, or of an object you may see")
def download(request: AuthedRequest, attachment_id: str = Path(..., pattern=ATTACHMENT_PATTERN)):
    return attachments.file_response(attachments.readable(request.auth, attachment_id))


@attachments_router.get(
    "/attachments/{attachment_id}/thumbnail", summary="The thumbnail of a photo (JPEG, at most 320 px)"
)
def thumbnail(request: AuthedRequest, attachment_id: str = Path(..., pattern=ATTACHMENT_PATTERN)):
    return attachments.file_response(attachments.readable(request.auth, attachment_id), thumbnail=True)


@notifications_router.get(
    "/notifications", response=list[KernelNotificationOut], summary="Your notifications, newest first"
)
@paginate(Pagination, page_size=PAGE_SIZE)
def list_notifications(request: AuthedRequest, unread: bool | None = None):
    return notifications.for_user(request.auth, unread=unread)


@notifications_router.post(
    "/notifications/{notification_id}/read", response={204: None}, summary="Mark a notification read"
)
def read_notification(request: AuthedRequest, notification_id: int = Path(..., ge=1, le=2**63 - 1)):
    notifications.mark_read(actor=request.auth, notification_id=notification_id)
    return 204, None
