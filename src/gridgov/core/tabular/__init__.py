"""Tabular (Excel/CSV) import and export: the kernel any app declares a spec for.

- `sources`     read .xlsx/.xls (python-calamine) and .csv (UTF-8 or GBK) as a `Sheet`
- `spec`        `Column`, `ImportSpec`, `Batch` and the per-column checks; `import_sheet` without a job
- `validators`  GB 11643 ID numbers, GB 32100 credit codes, phones, dates
- `bulk`        COPY / executemany writer, id allocation, duplicate lookup
- `workbook`    the error workbook and the templates
- `jobs`        the resumable `JobRunner` over a `TabularJob` model, progress, the status table
- `export`      `ExportSpec` with a mask per column, streamed .csv, constant-memory .xlsx
"""
