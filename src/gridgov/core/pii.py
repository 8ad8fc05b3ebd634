"""Personal data, one module for every app: field encryption (AES-256-GCM, or SM4-GCM) with rotating keys,
keyed hashes (HMAC-SHA256) for exact search, masking, the PII policy a principal carries, and the
access-log hook.

Keys come from the settings (`GRIDGOV_PII_KEYS`: "k2:BASE64,k1:BASE64", the first is current; an entry
"k3:sm4:BASE64" is an SM4 key of 16 bytes; `GRIDGOV_PII_HASH_KEY`: BASE64). Without them a development
key is generated into the data directory (never into the repository).

A ciphertext is nonce (12 bytes) ‖ ciphertext ‖ tag (16 bytes); the id of the key that made it is kept
beside it in the row (`pii_key`), so old rows stay readable while `rotate_pii_keys` re-encrypts them.
The field name is the associated data: a ciphertext moved into another column does not decrypt.

Masking (one rule everywhere): phones 138****5678, landlines 0755****5678, ID numbers
440***********1234, names 张** (the family name stays).
"""

from __future__ import annotations

import base64
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.db.models import Q

NONCE = 12
TAG = 16
HASH_HEX = 32  # 128 bits of the HMAC, hex: plenty against collisions, half the index


class VaultError(Exception):
    pass


class _Sm4Gcm:
    """SM4-GCM through `cryptography`'s Cipher API (OpenSSL builds with SM4), shaped like AESGCM."""

    def __init__(self, key: bytes):
        if len(key) != 16:
            raise VaultError("an SM4 key has 16 bytes")
        self._key = key

    def encrypt(self, nonce: bytes, data: bytes, aad: bytes | None) -> bytes:
        enc = Cipher(algorithms.SM4(self._key), modes.GCM(nonce)).encryptor()
        if aad:
            enc.authenticate_additional_data(aad)
        return enc.update(data) + enc.finalize() + enc.tag

    def decrypt(self, nonce: bytes, data: bytes, aad: bytes | None) -> bytes:
        dec = Cipher(algorithms.SM4(self._key), modes.GCM(nonce, data[-TAG:])).decryptor()
        if aad:
            dec.authenticate_additional_data(aad)
        return dec.update(data[:-TAG]) + dec.finalize()


@dataclass(frozen=True)
class Key:
    id: str
    algorithm: str  # "aes-256-gcm" | "sm4-gcm"
    cipher: AESGCM | _Sm4Gcm


def _b64(value: str) -> bytes:
    try:
        return base64.b64decode(value.strip() + "=" * (-len(value.strip()) % 4), validate=True)
    except ValueError as exc:
        raise VaultError("a PII key is not valid base64") from exc


@lru_cache(maxsize=8)
def _parse_keys(spec: str) -> tuple[Key, ...]:
    keys: list[Key] = []
    for entry in [e.strip() for e in spec.split(",") if e.strip()]:
        parts = entry.split(":")
        if len(parts) == 2:
            key_id, algorithm, material = parts[0], "aes", parts[1]
        elif len(parts) == 3:
            key_id, algorithm, material = parts
        else:
            raise VaultError("GRIDGOV_PII_KEYS entries are id:base64key or id:sm4:base64key")
        raw = _b64(material)
        if algorithm.lower() in ("aes", "aes-256-gcm"):
            if len(raw) != 32:
                raise VaultError(f"the AES key {key_id!r} must have 32 bytes")
            keys.append(Key(key_id, "aes-256-gcm", AESGCM(raw)))
        elif algorithm.lower() in ("sm4", "sm4-gcm"):
            keys.append(Key(key_id, "sm4-gcm", _Sm4Gcm(raw)))
        else:
            raise VaultError(f"unknown PII cipher {algorithm!r}")
        if not 1 <= len(key_id) <= 16:
            raise VaultError("a PII key id has 1–16 characters")
    if not keys:
        raise VaultError("GRIDGOV_PII_KEYS holds no key")
    return tuple(keys)


def keys() -> tuple[Key, ...]:
    return _parse_keys(settings.GRIDGOV_PII_KEYS)


def current_key() -> Key:
    return keys()[0]


def key_by_id(key_id: str) -> Key:
    for k in keys():
        if k.id == key_id:
            return k
    raise VaultError(f"the PII key {key_id!r} is not configured (GRIDGOV_PII_KEYS)")


@lru_cache(maxsize=4)
def _hash_key(spec: str) -> bytes:
    raw = _b64(spec)
    if len(raw) < 16:
        raise VaultError("GRIDGOV_PII_HASH_KEY must have at least 16 bytes")
    return raw


def hash_key() -> bytes:
    return _hash_key(settings.GRIDGOV_PII_HASH_KEY)


# --- one value -------------------------------------------------------------------------------------
def blind_index(value: str) -> str:
    """The keyed hash of a normalised value: equal values give equal hashes, nothing else can be learnt."""
    return hmac.digest(hash_key(), value.encode(), "sha256")[: HASH_HEX // 2].hex()


def encrypt(value: str, field: str, key: Key | None = None) -> tuple[bytes, str]:
    """(ciphertext, key id)."""
    key = key or current_key()
    nonce = os.urandom(NONCE)
    return nonce + key.cipher.encrypt(nonce, value.encode(), field.encode()), key.id


def decrypt(blob: bytes | memoryview | None, key_id: str, field: str) -> str:
    if not blob:
        return ""
    blob = bytes(blob)
    try:
        return key_by_id(key_id).cipher.decrypt(blob[:NONCE], blob[NONCE:], field.encode()).decode()
    except VaultError:
        raise
    except Exception as exc:  # InvalidTag and friends: never show the material
        raise VaultError(f"a {field} ciphertext does not decrypt with key {key_id!r}") from exc


# --- bytes in one piece (photos, thumbnails) -------------------------------------------------------
BLOB_MAGIC = b"GGB1"


def seal_bytes(data: bytes, field: str, key: Key | None = None) -> bytes:
    """MAGIC ‖ length of the key id ‖ key id ‖ nonce ‖ ciphertext and tag: the key that made it travels
    with the ciphertext, so a blob opens whatever row or file it sits in, while its key is on the ring."""
    key = key or current_key()
    head = BLOB_MAGIC + len(key.id).to_bytes(1, "big") + key.id.encode()
    nonce = os.urandom(NONCE)
    return head + nonce + key.cipher.encrypt(nonce, data, field.encode())


def sealed_key_id(blob: bytes) -> str | None:
    """The id of the key that sealed `blob` (seal_bytes), None when it is not such a blob."""
    if not blob.startswith(BLOB_MAGIC) or len(blob) < len(BLOB_MAGIC) + 1:
        return None
    size = blob[len(BLOB_MAGIC)]
    return blob[len(BLOB_MAGIC) + 1 : len(BLOB_MAGIC) + 1 + size].decode("ascii", "replace")


def open_bytes(blob: bytes, field: str) -> bytes:
    """The plain bytes of a `seal_bytes` blob; VaultError when its key is not on the ring or the blob
    (or its field) does not match."""
    key_id = sealed_key_id(blob)
    if key_id is None:
        raise VaultError(f"a {field} blob is not sealed with a GridGov key")
    body = blob[len(BLOB_MAGIC) + 1 + len(key_id.encode()) :]
    key = key_by_id(key_id)
    try:
        return key.cipher.decrypt(body[:NONCE], body[NONCE:], field.encode())
    except Exception as exc:  # InvalidTag and friends: never show the material
        raise VaultError(f"a {field} blob does not decrypt with key {key_id!r}") from exc


# --- batches (the import) --------------------------------------------------------------------------
class BatchSealer:
    """Encrypts and hashes many values with one key, one cipher object and one random draw per batch."""

    def __init__(self, key: Key | None = None):
        self.key = key or current_key()
        self._encrypt = self.key.cipher.encrypt
        self._hkey = hash_key()

    def hashes(self, values: list[str]) -> list[str]:
        digest, k, n = hmac.digest, self._hkey, HASH_HEX // 2
        return [digest(k, v.encode(), "sha256")[:n].hex() if v else "" for v in values]

    def seal(self, values: list[str], field: str) -> list[bytes | None]:
        aad, enc = field.encode(), self._encrypt
        nonces = os.urandom(NONCE * len(values))
        out: list[bytes | None] = []
        append = out.append
        for i, v in enumerate(values):
            if v:
                nonce = nonces[i * NONCE : i * NONCE + NONCE]
                append(nonce + enc(nonce, v.encode(), aad))
            else:
                append(None)
        return out


# --- files at rest (uploads, error workbooks) ------------------------------------------------------
CHUNK = 1 << 20
FILE_MAGIC = b"GGV1"


def encrypt_file(src, dst_path, *, field: str = "file") -> str:
    """Encrypt a readable binary stream into `dst_path` in 1 MiB chunks; returns the key id."""
    key = current_key()
    aad = field.encode()
    with open(dst_path, "wb") as out:
        out.write(FILE_MAGIC + len(key.id).to_bytes(1, "big") + key.id.encode())
        index = 0
        while True:
            chunk = src.read(CHUNK)
            if not chunk:
                break
            nonce = os.urandom(NONCE)
            sealed = key.cipher.encrypt(nonce, chunk, aad + index.to_bytes(8, "big"))
            out.write(len(sealed).to_bytes(4, "big") + nonce + sealed)
            index += 1
    os.chmod(dst_path, 0o600)
    return key.id


def decrypt_file(src_path, dst, *, field: str = "file") -> None:
    """Decrypt a file written by `encrypt_file` into a writable binary stream."""
    aad = field.encode()
    with open(src_path, "rb") as f:
        head = f.read(5)
        if head[:4] != FILE_MAGIC:
            raise VaultError("not an encrypted GridGov file")
        key = key_by_id(f.read(head[4]).decode())
        index = 0
        while True:
            size = f.read(4)
            if not size:
                break
            nonce = f.read(NONCE)
            sealed = f.read(int.from_bytes(size, "big"))
            try:
                dst.write(key.cipher.decrypt(nonce, sealed, aad + index.to_bytes(8, "big")))
            except Exception as exc:
                raise VaultError("an encrypted file is damaged") from exc
            index += 1


def generate_key_spec(key_id: str = "k1", algorithm: str = "aes") -> str:
    size = 16 if algorithm == "sm4" else 32
    material = base64.b64encode(os.urandom(size)).decode()
    return f"{key_id}:sm4:{material}" if algorithm == "sm4" else f"{key_id}:{material}"


# --- masking ---------------------------------------------------------------------------------------
def mask_id(value: str) -> str:
    """440***********1234: the province and city digits and the last four stay. The hidden eleven are
    three area digits and the birth date, so never show the birth date (or an age) beside a masked
    number: with it, the check digit leaves at most 91 candidates; without it, over a million."""
    value = (value or "").strip()
    if not value:
        return ""
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_phone(value: str) -> str:
    """138****5678; 0755****5678 for a landline."""
    value = (value or "").strip()
    if not value:
        return ""
    if len(value) < 7:
        return "*" * len(value)
    head = 4 if value.startswith("0") else 3
    return value[:head] + "****" + value[-4:]


def mask_name(value: str) -> str:
    """张**: the first character stays."""
    value = (value or "").strip()
    if not value:
        return ""
    return value[0] + "*" * max(1, len(value) - 1)


# --- the policy a principal carries ----------------------------------------------------------------
def _covers(paths: tuple[str, ...], path: str) -> bool:
    return any(path.startswith(p) for p in paths)


@dataclass(frozen=True)
class PiiPolicy:
    """Path prefixes under which the user may see each kind of personal information unmasked (filled by
    the registry's principal loader from memberships and grants; the three administrators get NOTHING)."""

    phone: tuple[str, ...] = ()
    id_number: tuple[str, ...] = ()
    care: tuple[str, ...] = ()

    def may(self, field: str, path: str) -> bool:
        return _covers(getattr(self, field), path or "")

    @property
    def any_care(self) -> bool:
        return bool(self.care)

    def path_filter(self, field: str, path_field: str) -> Q:
        """Rows under the paths where `field` may be seen unmasked (none: matches nothing)."""
        q = Q(pk__in=[])
        for p in getattr(self, field):
            q |= Q(**{f"{path_field}__startswith": p})
        return q

    def care_filter(self, path_field: str) -> Q:
        return self.path_filter("care", path_field)


NOTHING = PiiPolicy()


# --- the access log (written by the registry's PiiAccessLog; core only holds the hook) -------------
_access_logger: Callable[..., object] | None = None


def register_access_logger(fn: Callable[..., object]) -> None:
    """fn(user, action, *, object_type, ids, count, fields, purpose, request, endpoint, detail)."""
    global _access_logger
    _access_logger = fn


def log_access(user, action: str, **kwargs) -> object:
    """Write one personal-data access (reveal, export, search) through the registered logger."""
    if _access_logger is None:
        raise RuntimeError("no personal-data access logger is registered")
    return _access_logger(user, action, **kwargs)


# --- sealed values inside JSON (e.g. the phones of merged reporters) ------------------------------
def seal_json(value: str, field: str, key: Key | None = None) -> dict:
    """{"enc": base64 ciphertext, "key": key id, "hash": keyed hash}; {} for an empty value."""
    if not value:
        return {}
    blob, key_id = encrypt(value, field, key)
    return {"enc": base64.b64encode(blob).decode(), "key": key_id, "hash": blind_index(value)}


def open_json(sealed: dict | None, field: str) -> str:
    if not sealed or not sealed.get("enc"):
        return ""
    return decrypt(base64.b64decode(sealed["enc"]), sealed["key"], field)


# --- key rotation of other apps' rows --------------------------------------------------------------
# Models whose rows carry a `pii_key` and a `reseal(key)` method that re-encrypts all their sealed values
# with `key` (e.g. cases.Case); `gridgov manage rotate_pii_keys` walks them beside the registry's tables.
RESEALED_MODELS: list = []


def register_resealed(model) -> None:
    if model not in RESEALED_MODELS:
        RESEALED_MODELS.append(model)
