"""Kernel attachments of any object: encrypted storage for a purpose that needs it, the read check the
owner's app registers, claims tied to the owner's model."""

from __future__ import annotations

import io

import pytest
from cryptography.exceptions import InvalidTag
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from gridgov.core import attachments
from gridgov.core.errors import NotFound, ValidationFailed

pytestmark = pytest.mark.django_db

User = get_user_model()
# A purpose of a kind of object that needs its photos encrypted (e.g. the scan of an ID card of a
# person), owned by users; a user may see only themselves.
attachments.register_purpose("core_test.id_scan", owner=User, encrypted=True)
attachments.register_owner(User, visible=lambda user: User.objects.filter(pk=getattr(user, "pk", None)))


@pytest.fixture
def media(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.linear_gradient("L").resize((640, 480)).convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def _upload(user, content: bytes):
    return attachments.upload(
        actor=user,
        file=SimpleUploadedFile("id.png", content, content_type="image/png"),
        purpose="core_test.id_scan",
    )


def test_an_encrypted_attachments_bytes_on_disk_are_not_the_image(media):
    clerk = User.objects.create_user("clerk", password=None)
    content = _png()
    photo = _upload(clerk, content)
    assert photo.encrypted and photo.size == len(content) and (photo.width, photo.height) == (640, 480)
    on_disk = (media / photo.file.name).read_bytes()
    thumb_on_disk = (media / photo.thumbnail.name).read_bytes()
    assert content not in on_disk and not on_disk.startswith(b"\x89PNG") and b"IHDR" not in on_disk
    assert not thumb_on_disk.startswith(b"\xff\xd8")  # not a JPEG either
    with pytest.raises(OSError):
        Image.open(io.BytesIO(on_disk))
    # The uploader reads the image back, whole; the thumbnail is an image too.
    assert attachments.read_bytes(photo) == content
    with Image.open(io.BytesIO(attachments.read_bytes(photo, thumbnail=True))) as thumb:
        assert thumb.size == (320, 240)
    client = Client()
    client.force_login(clerk)
    r = client.get(f"/api/v1/attachments/{photo.id}")
    assert r.status_code == 200 and r.content == content and r["Content-Type"] == "image/png"


def test_encrypted_bytes_are_bound_to_the_key(media, settings):
    photo = _upload(User.objects.create_user("clerk", password=None), _png())
    settings.SECRET_KEY = "another-installation-" + "x" * 40
    with pytest.raises(InvalidTag):
        attachments.read_bytes(photo)


def test_the_owners_read_check_decides_who_else_may_read(media):
    clerk, person, stranger = (
        User.objects.create_user(n, password=None) for n in ("clerk", "person", "other")
    )
    photo = _upload(clerk, _png())
    with pytest.raises(NotFound):
        attachments.readable(person, photo.id)  # not claimed yet: the uploader's alone
    assert attachments.claim(person, clerk, [photo.id, photo.id]) == [photo.id]
    assert attachments.readable(person, photo.id) == photo  # the owner sees it (registered check)
    assert attachments.readable(clerk, photo.id) == photo  # the uploader still does
    with pytest.raises(NotFound):
        attachments.readable(stranger, photo.id)
    assert list(attachments.of(person)) == [photo]
    # Once claimed by one object it cannot be claimed by another, nor by someone else's upload.
    with pytest.raises(ValidationFailed):
        attachments.claim(stranger, clerk, [photo.id])
    theirs = _upload(stranger, _png())
    with pytest.raises(ValidationFailed):
        attachments.claim(person, clerk, [theirs.id])
