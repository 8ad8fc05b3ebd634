"""Area codes (docs/codes.md).

    district     6 digits   GB/T 2260 county-level code            440309
    subdistrict  9 digits   district + 3 (统计用区划代码 township)   440309002
    community   12 digits   subdistrict + 3 (统计用区划代码 village)  440309002001
    block       14 digits   community + 2 (local 街区 sequence)      44030900200101
    grid        15 digits   community + 3 (local 网格 sequence)      440309002001003

A grid is numbered within its community, not its block (6 + 3 + 3 + 3 as in Beijing DB11 and the
15-digit grid codes of deployed Shenzhen systems), so a grid keeps its code when blocks are
redrawn. A vendor's own 责任网格 code goes into `Area.external_code`.
"""

from __future__ import annotations

import re
from typing import cast

from django.utils.translation import gettext as _

from gridgov.territory.models import Level

# level → (level whose code is the prefix, digits appended)
SEGMENTS: dict[str, tuple[str | None, int]] = {
    Level.DISTRICT: (None, 6),
    Level.SUBDISTRICT: (Level.DISTRICT, 3),
    Level.COMMUNITY: (Level.SUBDISTRICT, 3),
    Level.BLOCK: (Level.COMMUNITY, 2),
    Level.GRID: (Level.COMMUNITY, 3),
}
CODE_LENGTH = {
    Level.DISTRICT: 6,
    Level.SUBDISTRICT: 9,
    Level.COMMUNITY: 12,
    Level.BLOCK: 14,
    Level.GRID: 15,
}
_DIGITS = re.compile(r"^[0-9]+$")


def level_of_code(code: str) -> str | None:
    """The level a well-formed code belongs to, judged by its length."""
    if not _DIGITS.match(code or ""):
        return None
    for level, length in CODE_LENGTH.items():
        if len(code) == length:
            return level
    return None


def code_error(level: str, code: str, prefix: str | None) -> str | None:
    """Why `code` is not a valid code for an area of `level` whose code must start with `prefix`
    (the code of the district/subdistrict/community above it); None when it is valid."""
    length = CODE_LENGTH[cast(Level, level)]
    if not _DIGITS.match(code or "") or len(code) != length:
        return _("A %(level)s code is %(length)d digits.") % {"level": _level_label(level), "length": length}
    if prefix is not None and not code.startswith(prefix):
        return _("The code must start with %(prefix)s, the code of the area above it.") % {"prefix": prefix}
    if prefix is not None and int(code[len(prefix) :]) == 0:
        return _("The last %(n)d digits of the code must not all be zero.") % {"n": length - len(prefix)}
    return None


def _level_label(level: str) -> str:
    return str(Level(level).label).lower()
