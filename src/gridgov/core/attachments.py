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

import dataclasses
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
from django.db import transaction
from django.db.models import Model, Q, QuerySet
from django.http import FileResponse, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from gridgov.core import pii
from gridgov.core.errors import Forbidden, NotFound, TooLarge, ValidationFailed, field_error
from gridgov.core.models import Attachment

PHOTO_FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp")}
THUMBNAIL_PX = 320
THUMBNAIL_TYPE = "image/jpeg"


@dataclass(frozen=True)
class Purpose:
    """What an upload is for: the model that will own it, whether its bytes are encrypted at rest,
    its size limit (None: settings.GRIDGOV_UPLOAD_MAX_BYTES) and, when the app keeps a download path of
    its own for its clients, that path with `{id}` (default: the kernel's /api/v1/attachments/{id})."""

    name: str
    owner: str  # model label, e.g. "cases.case"
    encrypted: bool = False
    max_bytes: int | None = None
    path: str = "/api/v1/attachments/{id}"


_purposes: dict[str, Purpose] = {}
_readers: dict[str, Callable[..., QuerySet]] = {}


def _label(model: type[Model] | Model | str) -> str:
    return model.lower() if isinstance(model, str) else model._meta.label_lower


def register_owner(model: type[Model] | str, *, visible: Callable[..., QuerySet]) -> None:
    """Declare who may read the attachments of `model`'s objects: `visible(user)` returns the objects
    the user may see (the app's selector). Without a registration only the uploader may read them."""
    _readers[_label(model)] = visible


def register_purpose(
    name: str,
    *,
    owner: type[Model] | str,
    encrypted: bool = False,
    max_bytes: int | None = None,
    path: str | None = None,
) -> Purpose:
    purpose = Purpose(name=name, owner=_label(owner), encrypted=encrypted, max_bytes=max_bytes)
    if path:
        purpose = dataclasses.replace(purpose, path=path)
    _purposes[name] = purpose
    return purpose


def url_of(attachment: Attachment) -> str:
    """Where the photo is downloaded: its purpose's path (the kernel's unless the app keeps its own)."""
    spec = _purposes.get(attachment.purpose)
    return (spec.path if spec else Purpose.path).format(id=attachment.id)


def purposes() -> dict[str, Purpose]:
    return dict(_purposes)


# --- encryption at rest ----------------------------------------------------------------------------
# On the personal-data key ring (core/pii.py): each stored blob carries the id of the key that sealed it
# (`pii.seal_bytes`), and the row's `pii_key` names the key of its files so that `rotate_pii_keys` finds
# the rows still on an older key (`reseal`). The associated data binds a blob to its attachment and to
# its role (photo or thumbnail). Files sealed before the key ring (LEGACY_MAGIC, a key derived from
# SECRET_KEY by HKDF) keep opening; migration core/0005 marks their rows LEGACY_KEY, and the rotation
# moves them onto the ring.
LEGACY_MAGIC = b"GGA1"
LEGACY_KEY = "hkdf:v1"  # not a possible key-ring id (those have no colon)


def _field(attachment_id: str, thumbnail: bool) -> str:
    return f"attachment.{attachment_id}" + (".thumb" if thumbnail else "")


def _seal(data: bytes, attachment_id: str, *, thumbnail: bool = False, key: pii.Key | None = None) -> bytes:
    return pii.seal_bytes(data, _field(attachment_id, thumbnail), key)


def _unseal(blob: bytes, attachment_id: str, *, thumbnail: bool = False) -> bytes:
    if blob.startswith(LEGACY_MAGIC):
        return _open_legacy(blob, attachment_id + (".thumb" if thumbnail else ""))
    return pii.open_bytes(blob, _field(attachment_id, thumbnail))


@functools.lru_cache(maxsize=4)
def _legacy_key(secret: str) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"gridgov.core.attachments.v1").derive(
        secret.encode()
    )


def _open_legacy(blob: bytes, name: str) -> bytes:
    """A file sealed before the key ring: MAGIC + nonce (12 bytes) + ciphertext with tag."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce, body = blob[len(LEGACY_MAGIC) : len(LEGACY_MAGIC) + 12], blob[len(LEGACY_MAGIC) + 12 :]
    return AESGCM(_legacy_key(settings.SECRET_KEY)).decrypt(nonce, body, name.encode())


def reseal(attachment: Attachment, key: pii.Key | None = None) -> tuple[str, ...]:
    """Re-encrypt an encrypted attachment's photo and thumbnail with `key` (default: the current key);
    files sealed before the key ring move onto it. The new files are written beside the old ones, which
    are deleted once the transaction commits (a rollback leaves the row and its old files as they were).
    Returns the columns that changed (for `rotate_pii_keys`, which calls it through `Attachment.reseal`)."""
    if not attachment.encrypted:
        return ()
    key = key or pii.current_key()
    for thumbnail in (False, True):
        f = attachment.thumbnail if thumbnail else attachment.file
        if not f:
            continue
        with f.open("rb") as fh:
            blob = fh.read()
        if pii.sealed_key_id(blob) == key.id:
            continue
        plain = _unseal(blob, attachment.id, thumbnail=thumbnail)
        old = f.name
        assert old
        f.save(old, ContentFile(_seal(plain, attachment.id, thumbnail=thumbnail, key=key)), save=False)
        transaction.on_commit(functools.partial(f.storage.delete, old))
    attachment.pii_key = key.id
    return ("file", "thumbnail", "pii_key")


# --- metadata -------------------------------------------------------------------------------------------
# A phone's photo tells where it was taken (GPS), with what device, when and by whom (EXIF, XMP, IPTC,
# comments). None of it is kept: a photo that carries any is turned upright (its orientation tag) and
# saved again without it; only the colour profile, transparency and resolution stay.
_JPEG_PLAIN_SEGMENTS = {"APP0", "APP2", "APP14"}  # JFIF, ICC colour profile, Adobe colour transform
_METADATA_KEYS = ("exif", "xmp", "XML:com.adobe.xmp", "comment", "photoshop", "iptc")
_KEPT = {
    "JPEG": ("icc_profile", "dpi"),
    "PNG": ("icc_profile", "transparency", "dpi"),
    "WEBP": ("icc_profile",),
}
_SAVE_OPTIONS: dict[str, dict] = {"JPEG": {"quality": 90}, "PNG": {}, "WEBP": {"quality": 90}}


def has_metadata(image: Image.Image) -> bool:
    """Whether the image carries EXIF, XMP, IPTC, comments or text beside its pixels."""
    if len(image.getexif()) or any(k in image.info for k in _METADATA_KEYS):
        return True
    if image.format == "JPEG" and any(
        m not in _JPEG_PLAIN_SEGMENTS for m, _ in getattr(image, "applist", [])
    ):
        return True
    return image.format == "PNG" and bool(getattr(image, "text", None))


def without_metadata(image: Image.Image) -> tuple[bytes, Image.Image]:
    """(the bytes, in the image's format, of the image turned upright and without metadata; that image)."""
    fmt = image.format or "PNG"
    kept = {k: image.info[k] for k in _KEPT.get(fmt, ()) if k in image.info}
    upright = ImageOps.exif_transpose(image)  # a copy, turned as the orientation tag says
    upright.info = {}
    out = io.BytesIO()
    upright.save(out, format=fmt, **kept, **_SAVE_OPTIONS.get(fmt, {}))
    return out.getvalue(), upright


# --- upload --------------------------------------------------------------------------------------------
def _too_large(limit: int) -> TooLarge:
    return TooLarge(_("A photo may be at most %(mb)s MB.") % {"mb": round(limit / 1024 / 1024, 1)})


def _thumbnail(image: Image.Image) -> bytes:
    small = ImageOps.exif_transpose(image) or image
    small = small.convert("RGB")
    small.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
    small.info = {}  # no metadata in the thumbnail either
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
            if has_metadata(image):
                data, upright = without_metadata(image)
                width, height = upright.size
                thumb = _thumbnail(upright)
            else:
                thumb = _thumbnail(image)
    except ValidationFailed:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError):
        raise not_a_photo from None
    key = pii.current_key() if spec.encrypted else None
    attachment = Attachment(
        id=uuid.uuid4().hex,
        purpose=purpose,
        uploaded_by=actor,
        encrypted=spec.encrypted,
        pii_key=key.id if key else "",
        original_name=(getattr(file, "name", "") or "")[:255],
        content_type=content_type,
        size=len(data),
        width=width,
        height=height,
        sha256=hashlib.sha256(data).hexdigest(),
    )
    folder = f"{spec.owner.split('.')[0]}/{timezone.now():%Y/%m}"
    if key is not None:
        data, thumb = (
            _seal(data, attachment.id, key=key),
            _seal(thumb, attachment.id, thumbnail=True, key=key),
        )
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
        stored = _seal(thumb, attachment.id, thumbnail=True) if attachment.encrypted else thumb
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
        return _unseal(blob, attachment.id, thumbnail=thumbnail)
    return blob


def strip_metadata(attachment: Attachment, *, dry_run: bool = False) -> bool:
    """Clean a photo stored before uploads were cleaned: turned upright, saved again without its metadata
    (still encrypted if it was, with the current key), its thumbnail made again; the old files are
    deleted once the transaction commits. False when it carried none (nothing is written)."""
    with Image.open(io.BytesIO(read_bytes(attachment))) as image:
        image.load()
        if not has_metadata(image):
            return False
        if dry_run:
            return True
        data, upright = without_metadata(image)
        thumb = _thumbnail(upright)
    key = pii.current_key() if attachment.encrypted else None
    old = [str(f.name) for f in (attachment.file, attachment.thumbnail) if f]
    name = attachment.file.name
    assert name
    thumb_name = attachment.thumbnail.name or f"{os.path.dirname(name)}/{attachment.id}.thumb.jpg"
    if key is not None:
        data, thumb = (
            _seal(data, attachment.id, key=key),
            _seal(thumb, attachment.id, thumbnail=True, key=key),
        )
        attachment.pii_key = key.id
    attachment.file.save(name, ContentFile(data), save=False)
    attachment.thumbnail.save(thumb_name, ContentFile(thumb), save=False)
    attachment.size, attachment.sha256 = len(data), hashlib.sha256(data).hexdigest()
    attachment.width, attachment.height = upright.size
    attachment.save(update_fields=["file", "thumbnail", "pii_key", "size", "sha256", "width", "height"])
    storage = attachment.file.storage
    for stale in old:
        transaction.on_commit(functools.partial(storage.delete, stale))
    return True


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
