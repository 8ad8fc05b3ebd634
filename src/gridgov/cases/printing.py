"""Printable case sheets as PDF (WeasyPrint): the 工单 (work order) and the 督办单 (supervision sheet).

Chinese glyphs come from the Noto Sans SC the web app already ships (`@fontsource/noto-sans-sc`, built into
the static folder as ~100 woff2 subsets, each with its unicode-range): the @font-face rules of the built
stylesheet are read once, pointed at the files on disk, and only the subsets whose range covers a
character of the sheet are handed to WeasyPrint (all of them would cost seconds per sheet). Nothing is
fetched from the network: the URL fetcher serves files under the static folder and refuses the rest.
Without a built web app the sheet still prints, with the system's fonts.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gridgov.cases.exports import is_overdue, remaining_text
from gridgov.cases.models import OPEN_STATUSES, Case, Status, Step, StepKind, StepStatus, Supervision
from gridgov.cases.schemas import remaining_work_seconds
from gridgov.core import pii
from gridgov.core.errors import field_error

FONT_FAMILY = "Noto Sans SC"
ACTIONS = {
    "submit": gettext_lazy("Reported"),
    "accept": gettext_lazy("Accepted"),
    "reject": gettext_lazy("Rejected"),
    "merge": gettext_lazy("Merged"),
    "community_handle": gettext_lazy("Handled by the community"),
    "whistle": gettext_lazy("Whistled"),
    "report_in": gettext_lazy("Reported in"),
    "handle": gettext_lazy("Handled"),
    "return": gettext_lazy("Returned"),
    "reassign": gettext_lazy("Reassigned"),
    "verify": gettext_lazy("Verified"),
    "close": gettext_lazy("Closed"),
    "return_visit": gettext_lazy("Return visit"),
    "supervise": gettext_lazy("Supervised"),
    "escalate": gettext_lazy("Escalated"),
    "request_suspension": gettext_lazy("Suspension requested"),
    "suspend": gettext_lazy("Suspended"),
    "note": gettext_lazy("Note"),
    "defer": gettext_lazy("Deferred"),
    "resume": gettext_lazy("Resumed"),
    "deadline_warning": gettext_lazy("Deadline warning"),
}
SHEETS = ("work-order", "supervision")


def static_dirs() -> list[Path]:
    return [Path(d) for d in getattr(settings, "STATICFILES_DIRS", [])]


@lru_cache(maxsize=1)
def _font_faces() -> tuple[tuple[str, tuple[tuple[int, int], ...]], ...]:
    """(rule with file:// URLs, its unicode ranges) for each Noto Sans SC subset of the built web app."""
    out: list[tuple[str, tuple[tuple[int, int], ...]]] = []
    for root in static_dirs():
        for css in sorted((root / "app" / "assets").glob("*.css")):
            text = css.read_text(encoding="utf-8", errors="replace")
            if FONT_FAMILY not in text:
                continue
            for rule in re.findall(r"@font-face\s*\{[^}]*\}", text):
                if FONT_FAMILY not in rule:
                    continue
                woff2 = re.search(r"url\(([^)]*?\.woff2)\)", rule)
                ranges = re.search(r"unicode-range:([^;}]*)", rule)
                if not woff2 or not ranges:
                    continue
                path = root / woff2.group(1).strip("'\"").removeprefix(settings.STATIC_URL).lstrip("/")
                if not path.is_file():
                    continue
                spans = tuple(_span(r) for r in ranges.group(1).split(","))
                # One family per subset: WeasyPrint names a PDF font by its description (family, weight,
                # style), so subsets sharing one family would share one PDF font and mix up their glyphs.
                face = (
                    f"@font-face{{font-family:'GG Noto SC {len(out)}';font-weight:400;font-style:normal;"
                    f"src:url('{path.resolve().as_uri()}') format('woff2');unicode-range:{ranges.group(1)}}}"
                )
                out.append((face, spans))
        if out:
            break
    return tuple(out)


def _span(text: str) -> tuple[int, int]:
    text = text.strip().upper().removeprefix("U+")
    if "?" in text:  # a wildcard range: U+4?? is U+400–4FF
        return int(text.replace("?", "0"), 16), int(text.replace("?", "F"), 16)
    lo, _sep, hi = text.partition("-")
    return int(lo, 16), int(hi or lo, 16)


def font_css(text: str) -> str:
    """The @font-face rules of the subsets that cover a character of `text`, and the body's font list."""
    points = {ord(ch) for ch in text if ord(ch) > 0x20}
    chosen = [
        (i, face)
        for i, (face, spans) in enumerate(_font_faces())
        if any(lo <= p <= hi for p in points for lo, hi in spans)
    ]
    if not chosen:
        return ""
    families = ", ".join(f"'GG Noto SC {i}'" for i, _face in chosen)
    return "\n".join(face for _i, face in chosen) + f"\nhtml body {{ font-family: {families}, sans-serif; }}"


def _fetcher():
    """A URL fetcher of local files under the static folder and of data: URIs (which carry their own
    content, e.g. a label's QR code) only: a sheet never reaches the network."""
    from urllib.parse import unquote, urlparse

    from weasyprint.urls import URLFetcher

    class LocalFetcher(URLFetcher):
        def fetch(self, url, headers=None):
            if url.startswith("data:"):
                return super().fetch(url, headers)
            if url.startswith("file:"):
                target = Path(unquote(urlparse(url).path)).resolve()
                if any(target.is_relative_to(d.resolve()) for d in static_dirs()):
                    return super().fetch(url, headers)
            raise ValueError(f"not fetched: {url[:80]}")

    return LocalFetcher(allowed_protocols=("file", "data"), fail_on_errors=False)


def render_pdf(html: str) -> bytes:
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    fonts = FontConfiguration()
    fetcher = _fetcher()
    css = CSS(string=font_css(html), font_config=fonts, url_fetcher=fetcher)
    return HTML(string=html, url_fetcher=fetcher).write_pdf(stylesheets=[css], font_config=fonts)


def _when(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def _actor(event) -> str:
    """Who made the move: 王五（代 张三） when they stood in for a colleague on leave (AB岗)."""
    if not event.actor_id:
        return _("System")
    if event.on_behalf_of_id:
        return _("%(actor)s (on behalf of %(name)s)") % {
            "actor": event.actor,
            "name": event.on_behalf_of,
        }
    return str(event.actor)


def sheet_context(case: Case, sheet: str) -> dict:
    """What the sheet shows: the case (the reporter masked unless the reader may see them — the detail's
    rule, already applied to `case`), its steps with deadlines, the timeline, and for the 督办单 the
    card, its reason and the deadline."""
    shown = bool(getattr(case, "contact_revealed", False))
    steps = [
        {
            "department": s.target.name,
            "kind": str(StepKind(s.kind).label),
            "status": str(StepStatus(s.status).label),
            "report_in_due": _when(s.report_in_due_at),
            "due": _when(s.due_at),
            "supervision": str(Supervision(s.supervision).label) if s.supervision != "none" else "",
        }
        for s in getattr(case, "step_list", None)
        or list(Step.objects.filter(case=case).select_related("target"))
    ]
    events = getattr(case, "timeline_list", [])
    names = {}
    for e in events:
        names.update(
            zip((e.data or {}).get("departments") or (), getattr(e, "department_names", ()), strict=False)
        )
    timeline = [
        {
            "at": _when(e.at),
            "action": str(ACTIONS.get(e.action, e.action)),
            "actor": _actor(e),
            "note": e.note,
            "to": str(Status(e.to_status).label) if e.to_status in Status.values else "",
        }
        for e in events
    ]
    supervise = [e for e in events if e.action == "supervise"]
    last = supervise[-1] if supervise else None
    remaining = remaining_work_seconds(case.due_at) if case.status in OPEN_STATUSES else None
    return {
        "sheet": sheet,
        "title": _("Work order") if sheet == "work-order" else _("Supervision sheet"),
        "case": case,
        "status": str(Status(case.status).label),
        "reporter_name": case.reporter_name if shown else pii.mask_name(case.reporter_name),
        "reporter_phone": case.reporter_phone if shown else pii.mask_phone(case.reporter_phone),
        "place": " · ".join(x for x in (case.area.name, case.address) if x),
        "grid": case.grid.name if case.grid_id else case.area.name,
        "category": case.category.name if case.category_id else "",
        "close_condition": case.category.close_condition if case.category_id else "",
        "reported_at": _when(case.created_at),
        "due": _when(case.due_at),
        "closed_at": _when(case.closed_at),
        "remaining": remaining_text(remaining) if remaining is not None else "",
        "overdue": is_overdue(case),
        "departments": "、".join(dict.fromkeys(s["department"] for s in steps)),
        "steps": steps,
        "timeline": timeline,
        "card": str(Supervision(case.supervision).label) if case.supervision != "none" else "",
        "card_level": case.supervision,
        "card_reason": (last.note if last else ""),
        "card_at": _when(last.at) if last else "",
        "card_by": (str(last.actor) if last and last.actor_id else ""),
        "printed_at": _when(timezone.now()),
    }


def pdf_response(user, case: Case, sheet: str) -> HttpResponse:
    """The sheet as a PDF download. A 督办单 needs a supervision on the case (else a field error)."""
    if sheet not in SHEETS:
        raise field_error("sheet", _("Choose one of the allowed values"))
    if sheet == "supervision" and case.supervision == Supervision.NONE:
        raise field_error("sheet", _("This case has no supervision: there is no supervision sheet to print."))
    html = render_to_string("cases/print_sheet.html", sheet_context(case, sheet))
    out = HttpResponse(render_pdf(html), content_type="application/pdf")
    out["Content-Disposition"] = f'inline; filename="{case.number}-{sheet}.pdf"'
    out["Cache-Control"] = "no-store"
    out["X-Content-Type-Options"] = "nosniff"
    return out
