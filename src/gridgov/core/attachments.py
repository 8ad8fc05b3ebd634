"""Attachments: photos of any object, uploaded first and then claimed by the object that uses them.

An app declares, once in its AppConfig.ready():

    attachments.register_owner(Patrol, visible=selectors.patrols_for)   # who may read its photos
    attachments.register_purpose("fieldwork.photo", owner=Patrol, encrypted=False)

and then uses `upload(actor=, file=, purpose=)` (the content check, the size limit, a thumbnail, the
encryption of the purpose), `claim(obj, actor, ids)` (ties uploaded photos to the object) and
`readable(user, id)` + `file_response(attachment)` (the scoped download: the uploader, or someone who
sees the owner through the registered `visible(user)` queryset; anyone else gets 404).

The owner is a generic reference (the owner's content type + its integer key): one table for every
app, claimed photos found with one indexed filter, and `owner_id__in=visible(user).values("pk")` stays
a plain integer subquery on SQLite and PostgreSQL.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.db.models import Model, Q, QuerySet
from django.http import FileResponse, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from gridgov.core.errors import Forbidden, NotFound, TooLarge, ValidationFailed, field_error
from gridgov.core.models import Attachment

PHOTO_FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp")}
THUMBNAIL_PX = 320
THUMBNAIL_TYPE = "image/jpeg"


@dataclass(frozen=True)
class Purpose:
    """What an upload is for: the model that will own it, whether its bytes are encrypted at rest,
    and its size limit (None: settings.GRIDGOV_UPLOAD_MAX_BYTES)."""

    name: str
    owner: str  # model label, e.g. "cases.case"
    encrypted: bool = False
    max_bytes: int | None = None


_purposes: dict[str, Purpose] = {}
_readers: dict[str, Callable[..., QuerySet]] = {}


def _label(model: type[Model] | Model | str) -> str:
    return model.lower() if isinstance(model, str) else model._meta.label_lower


def register_owner(model: type[Model] | str, *, visible: Callable[..., QuerySet]) -> None:
    """Declare who may read the attachments of `model`'s objects: `visible(user)` returns the objects
    the user may see (the app's selector). Without a registration only the uploader may read them."""
    _readers[_label(model)] = visible


def register_purpose(
    name: str, *, owner: type[Model] | str, encrypted: bool = False, max_bytes: int | None = None
) -> Purpose:
    purpose = Purpose(name=name, owner=_label(owner), encrypted=encrypted, max_bytes=max_bytes)
    _purposes[name] = purpose
    return purpose


def purposes() -> dict[str, Purpose]:
    return dict(_purposes)


# --- encryption at rest ----------------------------------------------------------------------------
# One small, isolated piece: AES-256-GCM with a key derived from SECRET_KEY (HKDF-SHA256), the
# attachment id as associated data. Stored as MAGIC + nonce (12 bytes) + ciphertext with tag.
MAGIC = b"GGA1"


@functools.lru_cache(maxsize=4)
def _key(secret: str) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"gridgov.core.attachments.v1").derive(
        secret.encode()
    )


def _seal(data: bytes, name: str) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(12)
    return MAGIC + nonce + AESGCM(_key(settings.SECRET_KEY)).encrypt(nonce, data, name.encode())


def _unseal(blob: bytes, name: str) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if not blob.startswith(MAGIC):
        raise ValueError("not a sealed attachment")
    nonce, body = blob[len(MAGIC) : len(MAGIC) + 12], blob[len(MAGIC) + 12 :]
    return AESGCM(_key(settings.SECRET_KEY)).decrypt(nonce, body, name.encode())


# --- upload --------------------------------------------------------------------------------------------
def _too_large(limit: int) -> TooLarge:
    return TooLarge(_("A photo may be at most %(mb)s MB.") % {"mb": round(limit / 1024 / 1024, 1)})


def _thumbnail(image: Image.Image) -> bytes:
    small = ImageOps.exif_transpose(image) or image
    small = small.convert("RGB")
    small.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
    out = io.BytesIO()
    small.save(out, format="JPEG", quality=80)
    return out.getvalue()


def upload(*, actor, file, purpose: str) -> Attachment:
    """Keep an uploaded photo (JPEG, PNG or WebP, read from its bytes) with its thumbnail, for a later
    claim. Too large → TooLarge (413); empty, not an image, another format, too many pixels, or
    truncated → ValidationFailed (field `file`); an unknown purpose → ValidationFailed (`purpose`)."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise Forbidden()
    spec = _purposes.get(purpose)
    if spec is None:
        raise field_error("purpose", _("Unknown purpose: %(name)s") % {"name": purpose})
    limit = spec.max_bytes or settings.GRIDGOV_UPLOAD_MAX_BYTES
    if file.size is not None and file.size > limit:
        raise _too_large(limit)
    data = file.read(limit + 1)
    if len(data) > limit:
        raise _too_large(limit)
    if not data:
        raise field_error("file", _("The file is empty."))
    not_a_photo = field_error("file", _("Upload a photo in JPEG, PNG or WebP format."))
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in PHOTO_FORMATS:
                raise not_a_photo
            width, height = image.size
            if width * height > settings.GRIDGOV_UPLOAD_MAX_PIXELS:
                raise field_error("file", _("The photo has too many pixels."))
            image.load()  # decodes everything: a truncated or corrupt file fails here
            content_type, extension = PHOTO_FORMATS[image.format]
            thumb = _thumbnail(image)
    except ValidationFailed:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError):
        raise not_a_photo from None
    attachment = Attachment(
        id=uuid.uuid4().hex,
        purpose=purpose,
        uploaded_by=actor,
        encrypted=spec.encrypted,
        original_name=(getattr(file, "name", "") or "")[:255],
        content_type=content_type,
        size=len(data),
        width=width,
        height=height,
        sha256=hashlib.sha256(data).hexdigest(),
    )
    folder = f"{spec.owner.split('.')[0]}/{timezone.now():%Y/%m}"
    if spec.encrypted:
        data, thumb = _seal(data, attachment.id), _seal(thumb, attachment.id + ".thumb")
        extension = "bin"
    attachment.file.save(f"{folder}/{attachment.id}.{extension}", ContentFile(data), save=False)
    attachment.thumbnail.save(
        f"{folder}/{attachment.id}.thumb.{'bin' if spec.encrypted else 'jpg'}", ContentFile(thumb), save=False
    )
    attachment.save()
    return attachment


# --- claim ----------------------------------------------------------------------------------------------
def claim(obj: Model, actor, ids: list[str], *, field: str = "attachments") -> list[str]:
    """Tie uploaded photos to `obj`. Each id must name a photo the actor uploaded for a purpose owned
    by `obj`'s model, not tied to another object (ValidationFailed on `field` otherwise). Returns the
    ids, deduplicated, in the order given."""
    ids = list(dict.fromkeys(ids))
    owner_type = ContentType.objects.get_for_model(obj)
    names = [p.name for p in _purposes.values() if p.owner == _label(obj)]
    usable = Attachment.objects.filter(
        pk__in=ids, uploaded_by_id=getattr(actor, "pk", None), purpose__in=names
    ).filter(Q(owner_type__isnull=True) | Q(owner_type=owner_type, owner_id=obj.pk))
    found = set(usable.values_list("pk", flat=True))
    missing = [i for i in ids if i not in found]
    if missing:
        raise ValidationFailed(
            _("Please correct: %(fields)s") % {"fields": field},
            errors=[
                {
                    "field": field,
                    "message": _("Upload the photo first; these ids are unknown: %(ids)s")
                    % {"ids": ", ".join(missing)},
                }
            ],
        )
    usable.filter(owner_type__isnull=True).update(owner_type=owner_type, owner_id=obj.pk)
    return ids


def of(obj: Model) -> QuerySet[Attachment]:
    """The attachments claimed by `obj`."""
    return Attachment.objects.filter(owner_type=ContentType.objects.get_for_model(obj), owner_id=obj.pk)


# --- scoped download -------------------------------------------------------------------------------------
def readable(user, attachment_id: str) -> Attachment:
    """An attachment the user may read: one they uploaded, or one whose owner they may see through the
    owner's registered `visible(user)`. Anything else, unknown ids included → NotFound (404)."""
    nothing = NotFound(_("Nothing here, or it is outside your area."))
    if user is None or not getattr(user, "is_authenticated", False):
        raise nothing
    found = Attachment.objects.filter(pk=attachment_id).first()
    if found is None:
        raise nothing
    if found.uploaded_by_id == user.pk:
        return found
    if found.owner_type_id is None:
        raise nothing
    owner = ContentType.objects.get_for_id(found.owner_type_id)
    visible = _readers.get(f"{owner.app_label}.{owner.model}")
    if visible is None or not visible(user).filter(pk=found.owner_id).exists():
        raise nothing
    return found


def read_bytes(attachment: Attachment, *, thumbnail: bool = False) -> bytes:
    """The plain bytes of the photo (or its thumbnail), decrypted when stored encrypted. A photo kept
    from before thumbnails existed gets its thumbnail made now."""
    if thumbnail and not attachment.thumbnail:
        with Image.open(io.BytesIO(read_bytes(attachment))) as image:
            thumb = _thumbnail(image)
        stored = _seal(thumb, attachment.id + ".thumb") if attachment.encrypted else thumb
        name = attachment.file.name
        assert name  # read_bytes(attachment) above has just read the file
        folder = os.path.dirname(name)
        ext = "bin" if attachment.encrypted else "jpg"
        attachment.thumbnail.save(f"{folder}/{attachment.id}.thumb.{ext}", ContentFile(stored), save=False)
        Attachment.objects.filter(pk=attachment.pk).update(thumbnail=attachment.thumbnail.name)
        return thumb
    f = attachment.thumbnail if thumbnail else attachment.file
    with f.open("rb") as fh:
        blob = fh.read()
    if attachment.encrypted:
        return _unseal(blob, attachment.id + (".thumb" if thumbnail else ""))
    return blob


def file_response(attachment: Attachment, *, thumbnail: bool = False) -> HttpResponse | FileResponse:
    """The photo (or its thumbnail) as a private, non-sniffable response."""
    content_type = THUMBNAIL_TYPE if thumbnail else attachment.content_type
    if attachment.encrypted or (thumbnail and not attachment.thumbnail):
        response: HttpResponse | FileResponse = HttpResponse(
            read_bytes(attachment, thumbnail=thumbnail), content_type=content_type
        )
    else:
        f = attachment.thumbnail if thumbnail else attachment.file
        response = FileResponse(f.open("rb"), content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=86400"
    response["Content-Security-Policy"] = "default-src 'none'"
    return response
