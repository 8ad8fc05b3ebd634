"""Checks of Chinese identifiers: citizen ID numbers (GB 11643-1999), unified social credit codes
(GB 32100-2015), phone numbers and dates as the field writes them.

The ID checks come in two forms: `check_id_number` for one value, and `check_id_numbers` for a batch
(NumPy over an (n, 18) byte matrix: the checksum and the birth-date test of a million numbers take a
fraction of a second). Messages are English msgids (translated where they are shown).
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np


def gettext_noop(message: str) -> str:
    """Marks a msgid for extraction (makemessages knows the name) without needing Django's settings:
    the message is translated where it is shown."""
    return message


# --- GB 11643: 公民身份号码 ------------------------------------------------------------------------
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"
ID_RE = re.compile(r"^[0-9]{17}[0-9X]$")
# First two digits: the province-level divisions of GB/T 2260, plus 71 (Taiwan), 81/82 (Hong Kong,
# Macao) and 83 (residence permits of Taiwan residents).
PROVINCES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54}
    | {61, 62, 63, 64, 65, 71, 81, 82, 83}
)
_PROVINCE_OK = np.zeros(100, dtype=bool)
_PROVINCE_OK[list(PROVINCES)] = True
_ID_W = np.array(ID_WEIGHTS, dtype=np.int64)
_ID_CHECK = np.frombuffer(ID_CHECK_CHARS.encode(), dtype=np.uint8)
_DAYS = np.array([0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)
MIN_BIRTH_YEAR = 1890

E_ID_FORMAT = gettext_noop("An ID number has 18 characters: 17 digits and a digit or X")
E_ID_15 = gettext_noop("This is an old 15-digit ID number; enter the 18-digit number")
E_ID_NUMERIC = gettext_noop(
    "The ID number was stored as a number and lost its last digits; format the column as text"
)
E_ID_PROVINCE = gettext_noop("The ID number does not start with a valid province code")
E_ID_BIRTH = gettext_noop("The birth date inside the ID number is not a valid date")
E_ID_CHECKSUM = gettext_noop("The check digit of the ID number is wrong (GB 11643)")


# --- cells -------------------------------------------------------------------------------------------
def cell_text(value) -> str:
    """A spreadsheet cell as text: numbers lose a ".0" they never had, dates are ISO, NaN is empty."""
    if value.__class__ is str:
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, float):
        if value != value:
            return ""
        return format(value, ".0f") if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def id_check_char(first17: str) -> str:
    """The 18th character of an ID number whose first 17 digits are given."""
    return ID_CHECK_CHARS[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def normalise_id(value) -> str:
    """Strip spaces, upper-case the check character; numbers from a spreadsheet become text."""
    return cell_text(value).replace(" ", "").upper()


def check_id_number(value: str, *, today: dt.date | None = None) -> str | None:
    """None when `value` (normalised) is a valid 18-digit ID number; otherwise the msgid of the fault."""
    if (
        len(value) == 18
        and ID_RE.match(value)
        and int(value[:2]) in PROVINCES
        and id_check_char(value[:17]) == value[17]
    ):
        try:
            birth = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
        except ValueError:
            birth = None
        if birth is not None and MIN_BIRTH_YEAR <= birth.year and birth <= (today or dt.date.today()):
            return None
    return check_id_numbers([value], today=today)[0]


def check_id_numbers(values: list[str], *, today: dt.date | None = None) -> list[str | None]:
    """Check a batch of normalised ID numbers: format, province, birth date, check digit."""
    out: list[str | None] = [None] * len(values)
    idx: list[int] = []
    for i, v in enumerate(values):
        if len(v) == 18 and ID_RE.match(v):
            idx.append(i)
        elif len(v) == 15 and v.isdigit():
            out[i] = E_ID_15
        elif "E+" in v or (len(v) > 18 and v.isdigit()) or (15 < len(v) < 18 and v.isdigit()):
            out[i] = E_ID_NUMERIC if "E+" in v or v.endswith("00") else E_ID_FORMAT
        else:
            out[i] = E_ID_FORMAT
    if not idx:
        return out
    raw = np.frombuffer("".join(values[i] for i in idx).encode("ascii"), dtype=np.uint8).reshape(-1, 18)
    digits = raw[:, :17].astype(np.int64) - 48
    check = _ID_CHECK[(digits @ _ID_W) % 11]
    ok_check = check == raw[:, 17]
    province = digits[:, 0] * 10 + digits[:, 1]
    ok_province = _PROVINCE_OK[province]
    year = digits[:, 6] * 1000 + digits[:, 7] * 100 + digits[:, 8] * 10 + digits[:, 9]
    month = digits[:, 10] * 10 + digits[:, 11]
    day = digits[:, 12] * 10 + digits[:, 13]
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    month_ok = (month >= 1) & (month <= 12)
    dim = _DAYS[np.clip(month, 0, 12)] - ((month == 2) & ~leap)
    today = today or dt.date.today()
    ymd = year * 10000 + month * 100 + day
    ok_birth = (
        month_ok
        & (day >= 1)
        & (day <= dim)
        & (year >= MIN_BIRTH_YEAR)
        & (ymd <= today.year * 10000 + today.month * 100 + today.day)
    )
    for k in np.flatnonzero(~(ok_check & ok_province & ok_birth)):
        i = idx[int(k)]
        if not ok_province[k]:
            out[i] = E_ID_PROVINCE
        elif not ok_birth[k]:
            out[i] = E_ID_BIRTH
        else:
            out[i] = E_ID_CHECKSUM
    return out


def birth_date_of(id_number: str) -> dt.date:
    return dt.date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


def birth_iso_of(id_number: str) -> str:
    """YYYY-MM-DD of a valid ID number (no date object: the fast path of the import)."""
    return f"{id_number[6:10]}-{id_number[10:12]}-{id_number[12:14]}"


def gender_of(id_number: str) -> str:
    """ "M" or "F": the 17th digit is odd for men, even for women."""
    return "M" if int(id_number[16]) % 2 else "F"


def make_id_number(area: str, birth: dt.date, sequence: int, gender: str) -> str:
    """A valid ID number: 6-digit area code, birth date, 3-digit sequence (odd for men), check digit."""
    seq = sequence % 1000
    if (seq % 2 == 1) != (gender == "M"):
        seq = seq + 1 if seq < 999 else seq - 1
    first17 = f"{area}{birth:%Y%m%d}{seq:03d}"
    return first17 + id_check_char(first17)


# --- GB 32100: 统一社会信用代码 --------------------------------------------------------------------
CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_VALUE = {c: i for i, c in enumerate(CREDIT_CHARS)}
CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
CREDIT_RE = re.compile(r"^[0-9A-HJ-NP-RT-UW-Y]{2}[0-9]{6}[0-9A-HJ-NP-RT-UW-Y]{10}$")
E_CREDIT_FORMAT = gettext_noop(
    "A unified social credit code has 18 characters: digits and capital letters except I, O, S, V, Z"
)
E_CREDIT_CHECKSUM = gettext_noop("The check character of the credit code is wrong (GB 32100)")


def credit_check_char(first17: str) -> str:
    total = sum(CREDIT_VALUE[c] * w for c, w in zip(first17, CREDIT_WEIGHTS, strict=True))
    return CREDIT_CHARS[(31 - total % 31) % 31]


def check_credit_code(value: str) -> str | None:
    if not CREDIT_RE.match(value):
        return E_CREDIT_FORMAT
    if credit_check_char(value[:17]) != value[17]:
        return E_CREDIT_CHECKSUM
    return None


def make_credit_code(prefix: str, area: str, org: str) -> str:
    """A valid code from a 2-character prefix (e.g. "91" a company), a 6-digit area code and a
    9-character organisation code."""
    first17 = f"{prefix}{area}{org}"
    return first17 + credit_check_char(first17)


# --- phones ----------------------------------------------------------------------------------------
MOBILE_RE = re.compile(r"^1[3-9][0-9]{9}$")
LANDLINE_RE = re.compile(r"^0[1-9][0-9]{1,2}-?[0-9]{7,8}$")
E_PHONE = gettext_noop("Enter a mobile number (11 digits) or a landline with its area code")


def normalise_phone(value) -> str:
    """13812345678, 0755-12345678; drops spaces, +86 / 86 and separators of mobiles."""
    v = cell_text(value).replace(" ", "")
    if v.startswith("+86"):
        v = v[3:]
    elif v.startswith("86") and len(v) == 13:
        v = v[2:]
    if v.startswith("1") and "-" in v:
        v = v.replace("-", "")
    return v


def check_phone(value: str) -> str | None:
    if MOBILE_RE.match(value) or LANDLINE_RE.match(value):
        return None
    return E_PHONE


# --- dates -----------------------------------------------------------------------------------------
_DATE_RE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")
E_DATE = gettext_noop("Enter a date as YYYY-MM-DD")


def parse_date(value) -> dt.date | None:
    """A date from a cell: a date, a datetime, "2024-03-01", "2024/3/1", "2024年3月1日", "20240301".
    Raises ValueError when it is not a date; None when empty."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, float):
        if value != value:
            return None
        if value.is_integer() and 18000101 <= value <= 29991231:
            value = format(value, ".0f")
        else:
            raise ValueError(E_DATE)
    text = str(value).strip()
    if not text:
        return None
    if len(text) == 8 and text.isdigit():
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    m = _DATE_RE.match(text)
    if not m:
        raise ValueError(E_DATE)
    return dt.date(int(m[1]), int(m[2]), int(m[3]))
