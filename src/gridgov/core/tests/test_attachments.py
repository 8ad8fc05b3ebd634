"""Kernel attachments of any object: encrypted storage for a purpose that needs it, the read check the
owner's app registers, claims tied to the owner's model."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from gridgov.core import attachments, pii
from gridgov.core.errors import NotFound, ValidationFailed
from gridgov.core.models import Attachment

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


def test_encrypted_bytes_are_bound_to_the_key_ring(media, settings):
    photo = _upload(User.objects.create_user("clerk", password=None), _png())
    assert photo.pii_key == pii.current_key().id
    assert pii.sealed_key_id((media / photo.file.name).read_bytes()) == photo.pii_key
    settings.SECRET_KEY = "another-installation-" + "x" * 40  # no longer the key of the photos
    attachments.read_bytes(photo)
    settings.GRIDGOV_PII_KEYS = pii.generate_key_spec(photo.pii_key)  # same id, other key material
    with pytest.raises(pii.VaultError):
        attachments.read_bytes(photo)


def test_rotation_new_uploads_take_the_newest_key_old_ones_still_open_and_move_on(
    media, settings, django_capture_on_commit_callbacks
):
    from gridgov.registry.management.commands.rotate_pii_keys import rotate

    clerk = User.objects.create_user("clerk", password=None)
    content = _png()
    old = _upload(clerk, content)
    old_key = old.pii_key
    settings.GRIDGOV_PII_KEYS = pii.generate_key_spec("k9") + "," + settings.GRIDGOV_PII_KEYS
    new = _upload(clerk, content)
    assert new.pii_key == "k9" and pii.sealed_key_id((media / new.file.name).read_bytes()) == "k9"
    assert attachments.read_bytes(old) == content  # the old key stays on the ring for reading
    old_files = [media / old.file.name, media / old.thumbnail.name]

    with django_capture_on_commit_callbacks(execute=True):  # the old files go once the batch commits
        counts = rotate(log=lambda *_: None)

    assert counts["core.attachment"] == 1  # only the photo on the old key
    old.refresh_from_db()
    assert old.pii_key == "k9" and not any(f.exists() for f in old_files)
    for f in (old.file.name, old.thumbnail.name):
        assert pii.sealed_key_id((media / f).read_bytes()) == "k9"
    settings.GRIDGOV_PII_KEYS = settings.GRIDGOV_PII_KEYS.split(",")[0]  # the old key is dropped
    assert old_key != "k9" and attachments.read_bytes(old) == content
    assert attachments.read_bytes(new, thumbnail=True)[:2] == b"\xff\xd8"
    assert rotate(log=lambda *_: None)["core.attachment"] == 0


def test_photos_sealed_before_the_key_ring_keep_opening_and_rotation_moves_them(media, settings):
    """Files written by the first attachments module (a key derived from SECRET_KEY): the migration
    marks their rows, they still download, and `rotate_pii_keys` puts them on the key ring."""
    import importlib

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from django.apps import apps as django_apps

    from gridgov.registry.management.commands.rotate_pii_keys import rotate

    clerk = User.objects.create_user("clerk", password=None)
    content = _png()
    photo = _upload(clerk, content)
    plain_thumb = attachments.read_bytes(photo, thumbnail=True)
    key = attachments._legacy_key(settings.SECRET_KEY)
    for name, aad, data in (
        (photo.file.name, photo.id, content),
        (photo.thumbnail.name, photo.id + ".thumb", plain_thumb),
    ):
        nonce = b"\x01" * 12
        (media / name).write_bytes(b"GGA1" + nonce + AESGCM(key).encrypt(nonce, data, aad.encode()))
    Attachment.objects.filter(pk=photo.pk).update(pii_key="")  # as the rows were before the migration
    migration = importlib.import_module("gridgov.core.migrations.0005_attachment_pii_key")
    migration.mark_legacy(django_apps, None)
    photo.refresh_from_db()
    assert photo.pii_key == attachments.LEGACY_KEY

    client = Client()
    client.force_login(clerk)
    r = client.get(f"/api/v1/attachments/{photo.id}")
    assert r.status_code == 200 and r.content == content

    assert rotate(log=lambda *_: None)["core.attachment"] == 1
    photo.refresh_from_db()
    assert photo.pii_key == pii.current_key().id
    assert pii.sealed_key_id((media / photo.file.name).read_bytes()) == photo.pii_key
    settings.SECRET_KEY = "another-installation-" + "x" * 40  # the derived key is no longer needed
    assert attachments.read_bytes(photo) == content
    assert attachments.read_bytes(photo, thumbnail=True) == plain_thumb


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


# --- photo metadata -----------------------------------------------------------------------------------
attachments.register_purpose("core_test.photo", owner=User)


def _phone_photo() -> bytes:
    """A 60×40 JPEG as a phone stores a portrait shot: red left half, blue right half, orientation 6
    (turn 90° clockwise to view), with the camera's GPS position, make and model."""
    image = Image.new("RGB", (60, 40), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 30, 40))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Phone X1"  # Model
    exif[0x0112] = 6  # Orientation
    exif[0x8825] = {1: "N", 2: (22.0, 32.0, 41.0), 3: "E", 4: (113.0, 56.0, 12.0)}  # GPSInfo
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif, comment=b"taken at home", quality=95)
    return out.getvalue()


def _assert_clean_and_upright(blob: bytes, size: tuple[int, int]) -> None:
    with Image.open(io.BytesIO(blob)) as image:
        image.load()
        exif = image.getexif()
        assert not exif.get_ifd(0x8825) and 0x8825 not in exif  # no GPS position
        assert 0x010F not in exif and 0x0110 not in exif and 0x0112 not in exif  # no make, model, orientation
        assert "comment" not in image.info and "xmp" not in image.info and b"PhoneMaker" not in blob
        assert image.size == size
        w, h = image.size
        top, bottom = (
            image.convert("RGB").getpixel((w // 2, h // 8)),
            image.convert("RGB").getpixel((w // 2, h * 7 // 8)),
        )
        assert top[0] > 200 and top[2] < 60  # the red half is on top once turned upright
        assert bottom[2] > 200 and bottom[0] < 60


def test_an_uploaded_photo_and_its_thumbnail_lose_gps_position_and_device(media):
    content = _phone_photo()
    with Image.open(io.BytesIO(content)) as original:  # the test photo does carry them
        assert original.getexif()[0x010F] == "PhoneMaker" and original.getexif().get_ifd(0x8825)
    clerk = User.objects.create_user("clerk", password=None)
    client = Client()
    client.force_login(clerk)
    r = client.post(
        "/api/v1/attachments",
        {"purpose": "core_test.photo", "file": SimpleUploadedFile("IMG_0001.jpg", content, "image/jpeg")},
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert (body["width"], body["height"]) == (40, 60)
    photo = client.get(body["url"])
    assert photo.status_code == 200 and photo["Content-Type"] == "image/jpeg"
    served = photo.getvalue()
    _assert_clean_and_upright(served, (40, 60))
    thumb = client.get(body["thumbnail_url"])
    assert thumb.status_code == 200
    _assert_clean_and_upright(thumb.getvalue(), (40, 60))
    # Nothing of it is kept on disk either.
    stored = Attachment.objects.get(pk=body["id"])
    assert b"PhoneMaker" not in (media / stored.file.name).read_bytes()
    assert stored.size == len(served)


def test_an_encrypted_photo_is_cleaned_before_it_is_sealed(media):
    photo = _upload(User.objects.create_user("clerk", password=None), _phone_photo())
    _assert_clean_and_upright(attachments.read_bytes(photo), (40, 60))
    _assert_clean_and_upright(attachments.read_bytes(photo, thumbnail=True), (40, 60))


def test_the_command_cleans_photos_stored_with_their_metadata(media, django_capture_on_commit_callbacks):
    from django.core.files.base import ContentFile
    from django.core.management import call_command

    clerk = User.objects.create_user("clerk", password=None)
    content = _phone_photo()
    kept = Attachment(
        id="a" * 32, purpose="core_test.photo", uploaded_by=clerk, content_type="image/jpeg",
        size=len(content), width=60, height=40, sha256="x",
    )  # fmt: skip
    kept.file.save("core_test/old.jpg", ContentFile(content), save=False)
    kept.save()  # stored before uploads were cleaned: no thumbnail yet, metadata on disk
    sealed = _upload(clerk, _png())  # nothing to clean
    before = (media / sealed.file.name).read_bytes()
    out = io.StringIO()
    call_command("strip_photo_metadata", "--dry-run", stdout=out)
    assert "2 photos checked, 1 carry metadata" in out.getvalue()
    assert (media / "core_test/old.jpg").read_bytes() == content

    with django_capture_on_commit_callbacks(execute=True):
        call_command("strip_photo_metadata", stdout=out)

    kept.refresh_from_db()
    assert not (media / "core_test/old.jpg").exists()
    _assert_clean_and_upright((media / kept.file.name).read_bytes(), (40, 60))
    _assert_clean_and_upright(attachments.read_bytes(kept, thumbnail=True), (40, 60))
    assert (kept.width, kept.height, kept.size) == (40, 60, (media / kept.file.name).stat().st_size)
    assert (media / sealed.file.name).read_bytes() == before
    call_command("strip_photo_metadata", stdout=out)
    assert out.getvalue().rstrip().endswith("2 photos checked, 0 cleaned, 0 unreadable.")
