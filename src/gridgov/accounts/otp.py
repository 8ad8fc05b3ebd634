"""TOTP second factor (RFC 6238 with pyotp): 30-second steps, one step of clock drift either way,
and no step accepted twice (the caller stores the accepted step in User.totp_last_step)."""

from __future__ import annotations

import hmac
import time
import unicodedata

import pyotp
import segno

ISSUER = "GridGov"
VALID_WINDOW = 1


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def qr_data_uri(uri: str) -> str:
    """The otpauth URI as a QR code: an SVG image in a data: URI (shown with <img>, no HTML sink)."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=2)


def current_step(secret: str, at: float | None = None) -> int:
    return int(time.time() if at is None else at) // pyotp.TOTP(secret).interval


def normalise_code(code: str | None) -> str:
    """The code in ASCII digits: full-width (１２３４５６) and other decimal digits (١٢٣٤٥٦) typed by an
    input method are read as their values; spaces are dropped. Anything else stays and fails later."""
    text = "".join((code or "").split())
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in text)


def matching_step(secret: str, code: str, *, last_step: int | None) -> int | None:
    """The time step the code belongs to (within the drift window and after `last_step`), or None."""
    code = normalise_code(code)
    if not secret or len(code) != 6 or not (code.isascii() and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    now = current_step(secret)
    for step in range(now - VALID_WINDOW, now + VALID_WINDOW + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None
