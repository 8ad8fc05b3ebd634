"""Workbooks the kernel writes for an import: the error workbook (the bad rows as they came, every bad
cell marked red with its reason as a comment, and a column of all reasons) and the template of a spec
(.xlsx with drop-down lists and an instructions sheet, or .csv with a BOM). Both write through the
formula-safe writers of `export` (a bad cell copied "as it came" stays text, never a live formula)."""

from __future__ import annotations

import io
from collections.abc import Callable

from django.utils.translation import gettext as _

from gridgov.core.tabular.export import SafeBook, write_csv
from gridgov.core.tabular.sources import column_letter, open_sheet
from gridgov.core.tabular.spec import Column, cell_text

MAX_COMMENTS = 20_000  # cell comments in one error workbook (the reason column has them all)
SHOWN_CELL = 500  # characters of a cell copied into the error workbook


def cell_label(header: list[str], mapping: dict[str, int], key: str) -> str:
    """The column's header in the file and its letter in the error workbook, e.g. 公民身份号码(D)."""
    idx = mapping.get(key)
    if idx is None:
        return key
    return f"{header[idx]}({column_letter(idx + 1)})"


def write_error_workbook(
    source, file_name: str, map_header: Callable[[list[str]], dict[str, int]],
    errors: dict[int, list[tuple[str, str]]], out, *, masks: dict[str, Callable[[str], str]] | None = None,
) -> None:  # fmt: skip
    """Write to `out` (a path or a binary file) the rows of the sheet at `source` that have errors:
    `errors` maps a row number to its (column key, rendered reason) pairs. `masks` maps a column key to
    a function applied to each shown cell of that column (e.g. hiding a valid ID number)."""
    masks = masks or {}
    sheet = open_sheet(source, file_name)
    try:
        mapping = map_header(sheet.header)
        key_of = {idx: key for key, idx in mapping.items()}
        wb = SafeBook(out, constant_memory=not hasattr(out, "write"))
        ws = wb.add_worksheet(_("Errors"))
        bad = wb.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006"})
        bold = wb.add_format({"bold": True})
        ws.write_row(0, 0, [_("Row"), *sheet.header, _("Reasons")], bold)
        out_row = 1
        comments = 0
        for number, cells in sheet.rows:
            if number not in errors:
                continue
            marks = dict(errors[number])
            ws.write(out_row, 0, number)
            for idx in range(len(sheet.header)):
                value = cells[idx] if idx < len(cells) else ""
                key = key_of.get(idx, "")
                text = cell_text(value)
                mask = masks.get(key)
                if mask is not None:
                    text = mask(text)
                if len(text) > SHOWN_CELL:
                    text = text[:SHOWN_CELL] + "…"
                if key in marks:
                    ws.write(out_row, idx + 1, text, bad)
                    if comments < MAX_COMMENTS:
                        ws.write_comment(out_row, idx + 1, marks[key])
                        comments += 1
                else:
                    ws.write(out_row, idx + 1, text)
            reasons = "；".join(
                (f"{cell_label(sheet.header, mapping, col)}: {msg}" if col else msg)
                for col, msg in errors[number]
            )
            ws.write(out_row, len(sheet.header) + 1, reasons)
            out_row += 1
        ws.freeze_panes(1, 0)
        wb.close()
    finally:
        sheet.close()


def template(columns: tuple[Column, ...], required: tuple[str, ...], file_format: str) -> bytes:
    """An empty template of a spec: the headers (required ones starred in .xlsx), one example row, a
    drop-down list for columns with choices, and an instructions sheet."""
    if file_format == "csv":
        text_buffer = io.StringIO()
        write_csv(text_buffer, [c.header for c in columns], [[c.example for c in columns]])
        return ("\ufeff" + text_buffer.getvalue()).encode("utf-8")
    buffer = io.BytesIO()
    wb = SafeBook(buffer)
    ws = wb.add_worksheet(_("Data"))
    bold = wb.add_format({"bold": True, "bg_color": "#DDEBF7"})
    text = wb.add_format({"num_format": "@"})
    for i, c in enumerate(columns):
        ws.write(0, i, c.header + ("*" if c.key in required else ""), bold)
        ws.set_column(i, i, max(10, len(c.header) * 2 + 4), text)
        if c.example:
            ws.write(1, i, c.example)
        if c.choices:
            ws.data_validation(1, i, 100_000, i, {"validate": "list", "source": list(c.choices)})
    ws.freeze_panes(1, 0)
    notes = wb.add_worksheet(_("Instructions"))
    notes.write_row(0, 0, [_("Column"), _("Required"), _("Notes")], bold)
    for r, c in enumerate(columns, 1):
        notes.write_row(r, 0, [c.header, "是" if c.key in required else "", c.note])
    notes.set_column(0, 0, 16)
    notes.set_column(2, 2, 60)
    wb.close()
    return buffer.getvalue()
