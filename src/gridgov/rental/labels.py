"""The QR label sheet of rental houses (一屋一码): A4 pages of 3 × 7 labels, each with the house's QR code
(the URL of its public page /m/rental/<code>), the grade's colour as the label's frame and band (relaxed
green, watch yellow, strict orange, prohibited red, not yet graded grey), the grade's name, the house's
address (building address, unit and room — an address, not personal data) and its code. Nothing about a
person: no landlord, tenant or filing number. The URL is printed under the code too, so a label whose QR
code is damaged can still be typed in.

Rendered by WeasyPrint with the fonts of the case sheets (cases.printing: the web app's Noto Sans SC
subsets, nothing fetched from the network)."""

from __future__ import annotations

from dataclasses import dataclass

import segno
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.cases.printing import render_pdf
from gridgov.rental.models import COLOUR, Grade, RentalHouse

COLUMNS, ROWS = 3, 7
PER_PAGE = COLUMNS * ROWS
UNGRADED_COLOUR = "grey"
# Print colours per grade colour: the label's frame and band (a strong tone), its background (a light one)
# and the ink of the band's text.
TONES = {
    "green": ("#1e8e3e", "#e6f4ea", "#fff"),
    "yellow": ("#f2c500", "#fff8d6", "#111"),
    "orange": ("#e8710a", "#fdeadb", "#fff"),
    "red": ("#c5221f", "#fce8e6", "#fff"),
    UNGRADED_COLOUR: ("#80868b", "#f1f3f4", "#fff"),
}
QUIET_ZONE = 2  # modules of white around the QR code (on the label's tinted background)


def public_base(request: HttpRequest | None) -> str:
    """The external base URL residents reach the system at: settings.GRIDGOV_PUBLIC_URL, else the address
    of the request that prints the sheet."""
    configured = getattr(settings, "GRIDGOV_PUBLIC_URL", "")
    if configured:
        return configured.rstrip("/")
    if request is not None:
        return request.build_absolute_uri("/").rstrip("/")
    return ""


def public_url(base: str, code: str) -> str:
    """The URL of a house's public page, which its QR code holds."""
    return f"{base}/m/rental/{code}"


def qr_matrix(url: str) -> tuple[tuple[int, ...], ...]:
    """The modules of a URL's QR code (error correction M: a label survives some dirt), 1 = dark."""
    return tuple(tuple(row) for row in segno.make(url, error="m", micro=False).matrix)


def qr_png(url: str) -> str:
    """The QR code as a PNG data URI of one pixel per module with a white quiet zone (the sheet scales it up
    without smoothing: sharp at any size, a small file, and the matrix can be read back from the PDF)."""
    return segno.make(url, error="m", micro=False).png_data_uri(scale=1, border=QUIET_ZONE)


@dataclass(frozen=True)
class Label:
    code: str
    address: str
    grade: str
    grade_name: str
    colour: str
    frame: str
    band: str
    ink: str
    url: str
    qr: str


def label_of(house: RentalHouse, base: str) -> Label:
    colour = COLOUR[Grade(house.grade)] if house.grade else UNGRADED_COLOUR
    frame, band, ink = TONES[colour]
    url = public_url(base, house.code)
    return Label(
        code=house.code,
        address=str(house.house),
        grade=house.grade or "ungraded",
        grade_name=str(Grade(house.grade).label) if house.grade else _("Not graded yet"),
        colour=colour,
        frame=frame,
        band=band,
        ink=ink,
        url=url,
        qr=qr_png(url),
    )


# The grid of a page, in millimetres: A4 is 210 × 297; 3 × 64 mm across and 7 × 39 mm down with gaps.
LABEL_W, LABEL_H, GAP_X, GAP_Y = 64.0, 39.0, 2.0, 1.6
LEFT = (210 - COLUMNS * LABEL_W - (COLUMNS - 1) * GAP_X) / 2
TOP = (297 - ROWS * LABEL_H - (ROWS - 1) * GAP_Y) / 2


def sheet_html(houses: list[RentalHouse], base: str) -> str:
    """The sheet as HTML: pages of PER_PAGE labels, each placed on the page's grid (absolute positions lay
    out far faster than a table of thousands of cells)."""
    pages: list[list[dict]] = []
    for i, house in enumerate(houses):
        if i % PER_PAGE == 0:
            pages.append([])
        row, col = divmod(i % PER_PAGE, COLUMNS)
        pages[-1].append(
            {
                **label_of(house, base).__dict__,
                "left": f"{LEFT + col * (LABEL_W + GAP_X):.1f}",
                "top": f"{TOP + row * (LABEL_H + GAP_Y):.1f}",
            }
        )
    return render_to_string("rental/labels.html", {"pages": pages or [[]]})


def pdf_response(houses: list[RentalHouse], request: HttpRequest | None) -> HttpResponse:
    """The sheet as a PDF download (one page per 21 houses)."""
    out = HttpResponse(render_pdf(sheet_html(houses, public_base(request))), content_type="application/pdf")
    name = f"rental-labels-{timezone.localdate():%Y%m%d}.pdf"
    out["Content-Disposition"] = f'attachment; filename="{name}"'
    out["Cache-Control"] = "no-store"
    out["X-Content-Type-Options"] = "nosniff"
    return out
