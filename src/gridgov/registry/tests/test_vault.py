"""The vault: ciphers, key rotation (resumable), SM4, identifiers' checksums, the demo's identifiers."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command

from gridgov.core.tabular.validators import (
    check_credit_code,
    check_id_number,
    check_id_numbers,
    check_phone,
    make_credit_code,
    make_id_number,
    normalise_phone,
    parse_date,
)
from gridgov.registry import vault
from gridgov.registry.models import Resident
from gridgov.registry.tests.conftest import Api, csv_bytes, id_for, resident_rows, run_import


def test_id_number_checks():
    assert check_id_number("11010519491231002X") is None  # the GB 11643 example
    assert check_id_number("110105194912310021") == "The check digit of the ID number is wrong (GB 11643)"
    assert check_id_number("110105194902300026").startswith("The birth date")
    assert check_id_number("990105194912310021").startswith("The ID number does not start")
    assert check_id_number("110105491231002").startswith("This is an old 15-digit")
    assert check_id_number("4.40309199001011E+17").startswith("The ID number was stored as a number")
    assert check_id_number(make_id_number("440309", dt.date(2099, 1, 1), 1, "M")).startswith("The birth date")
    many = [
        make_id_number("440309", dt.date(1950, 1, 1) + dt.timedelta(days=i), i, "MF"[i % 2])
        for i in range(5000)
    ]
    assert check_id_numbers(many) == [None] * 5000
    assert int(make_id_number("440309", dt.date(1990, 1, 1), 10, "M")[16]) % 2 == 1


def test_credit_codes_phones_dates():
    assert check_credit_code("91350100M000100Y43") is None  # a published valid code
    assert check_credit_code("91350100M000100Y44") is not None
    assert check_credit_code("91350100M000100Y4") is not None
    assert check_credit_code(make_credit_code("92", "440309", "L12345678")) is None
    assert check_phone(normalise_phone("+86 138 1234 5678")) is None
    assert check_phone("0755-12345678") is None and check_phone("12345") is not None
    assert check_phone(normalise_phone(13812345678.0)) is None
    assert (
        parse_date("2024年3月1日") == dt.date(2024, 3, 1) == parse_date("20240301") == parse_date("2024/3/1")
    )
    with pytest.raises(ValueError):
        parse_date("next tuesday")


def test_encrypt_decrypt_and_blind_index():
    blob, key_id = vault.encrypt("13812345678", "phone")
    assert b"13812345678" not in blob and vault.decrypt(blob, key_id, "phone") == "13812345678"
    assert (
        vault.blind_index("13812345678")
        == vault.blind_index("13812345678")
        != vault.blind_index("13812345679")
    )
    sealer = vault.BatchSealer()
    sealed = sealer.seal(["a", "", "b"], "phone")
    assert sealed[1] is None and vault.decrypt(sealed[2], sealer.key.id, "phone") == "b"


def test_sm4_gcm_keys_work_when_openssl_has_them(settings):
    from cryptography.hazmat.backends.openssl import backend
    from cryptography.hazmat.primitives.ciphers import algorithms, modes

    if not backend.cipher_supported(algorithms.SM4(b"\0" * 16), modes.GCM(b"\0" * 12)):
        pytest.skip("this OpenSSL build has no SM4")
    settings.GRIDGOV_PII_KEYS = vault.generate_key_spec("s1", "sm4")
    blob, key_id = vault.encrypt("440309199001011237", "id_number")
    assert key_id == "s1" and vault.key_by_id("s1").algorithm == "sm4-gcm"
    assert vault.decrypt(blob, "s1", "id_number") == "440309199001011237"
    out = io.BytesIO()
    path = settings.DATA_DIR / "f.bin"
    vault.encrypt_file(io.BytesIO(b"x" * 3_000_000), path)
    vault.decrypt_file(path, out)
    assert out.getvalue() == b"x" * 3_000_000


def test_key_rotation_is_resumable_and_keeps_everything_readable(people, world, settings):
    job = run_import(people.staff_a, csv_bytes(resident_rows(25)))
    old = settings.GRIDGOV_PII_KEYS
    assert set(Resident.objects.values_list("pii_key", flat=True)) == {vault.current_key().id}
    settings.GRIDGOV_PII_KEYS = vault.generate_key_spec("k9") + "," + old
    from gridgov.registry.management.commands.rotate_pii_keys import rotate

    out = io.StringIO()
    call_command("rotate_pii_keys", "--dry-run", stdout=out)
    assert "25 resident" in out.getvalue()
    # Stop after the first batch (as if killed), then run again: it carries on.
    calls = []

    def stop_after_one(message):
        calls.append(message)
        if len(calls) == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rotate(batch=10, log=stop_after_one)
    assert Resident.objects.filter(pii_key="k9").count() == 10
    call_command("rotate_pii_keys", "--batch", "10", stdout=io.StringIO())
    assert set(Resident.objects.values_list("pii_key", flat=True)) == {"k9"}
    # Old keys can go now; everything still decrypts and is found by its hash.
    settings.GRIDGOV_PII_KEYS = settings.GRIDGOV_PII_KEYS.split(",")[0]
    from gridgov.registry.models import PiiGrant

    PiiGrant.objects.create(
        user=people.staff_a, field="id_number", area=world.comm_a, reason="核对", granted_by=people.security
    )
    body = Api(people.staff_a).get("/residents", {"id_number": id_for(3), "reveal": "true"}).json()
    assert body["count"] == 1 and body["items"][0]["phone"] == "13900000003"
    from gridgov.registry import jobs

    with jobs.plain_copy(job.file_path, "upload") as path:  # the upload was re-encrypted with k9 too
        assert path.read_bytes().decode().startswith("姓名,")
