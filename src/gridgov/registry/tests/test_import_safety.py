"""Hostile files and killed workers: a workbook whose cells span the whole sheet, a zip bomb, a reader
that dies, an import killed half-way. The worker lives on, the job ends with a reason in the user's
language, the next import works, and no plaintext copy of the upload is left under the data directory."""

from __future__ import annotations

import io
import zipfile

import pytest
import xlsxwriter
from django.conf import settings as django_settings

from gridgov.core.tabular import jobs as runner
from gridgov.core.tabular import sources
from gridgov.registry import jobs, services
from gridgov.registry.models import ImportJob, Resident
from gridgov.registry.tests.conftest import Api, csv_bytes, id_for, resident_rows, run_import, xlsx_bytes


def _huge_workbook() -> bytes:
    """2 KB: a header, one good row, and one cell at XFD1048576 (the reader would allocate ~550 GB)."""
    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(buffer, {"in_memory": True})
    ws = wb.add_worksheet()
    data = xlsx_rows()
    for r, row in enumerate(data):
        ws.write_row(r, 0, row)
    ws.write_string(1048575, 16383, "x")
    wb.close()
    return buffer.getvalue()


def xlsx_rows() -> list[list[str]]:
    from gridgov.registry.tests.conftest import HEADER

    return [HEADER, *resident_rows(1)]


def _zip_bomb() -> bytes:
    """A valid workbook whose shared strings unpack to 64 MB of blanks (about 1,000 times its size)."""
    source = zipfile.ZipFile(io.BytesIO(xlsx_bytes(resident_rows(2))))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name in source.namelist():
            data = source.read(name)
            if name == "xl/sharedStrings.xml":
                data = data.replace(b"</sst>", b" " * (64 * 2**20) + b"</sst>")
            z.writestr(name, data)
    return out.getvalue()


def _next_import_works(people) -> None:
    good = run_import(people.staff_a, csv_bytes(resident_rows(5, start=500)))
    assert good.status == "done" and good.inserted == 5


def _reason(people, job, language: str) -> str:
    body = Api(people.staff_a, language=language).get(f"/imports/{job.pk}").json()
    return body["status"], body["file_error"] or ""


def test_a_workbook_spanning_the_whole_sheet_is_refused_with_a_reason(people):
    data = _huge_workbook()
    assert len(data) < 8 * 1024
    job = run_import(people.staff_a, data, "huge.xlsx")  # the test process survives: the reader is a child
    assert job.status == "rejected" and Resident.objects.count() == 0
    status, reason = _reason(people, job, "en")
    assert status == "rejected" and "1048576 rows × 16384 columns" in reason, reason
    assert "行" in _reason(people, job, "zh-hans")[1]
    _next_import_works(people)


def test_a_zip_bomb_is_refused_before_it_is_unpacked(people):
    data = _zip_bomb()
    assert len(data) < 1024 * 1024
    job = run_import(people.staff_a, data, "bomb.xlsx")
    assert job.status == "rejected" and Resident.objects.count() == 0
    status, reason = _reason(people, job, "en")
    assert "unpacks to" in reason and "sharedStrings" in reason, reason
    assert "解压" in _reason(people, job, "zh-hans")[1]
    _next_import_works(people)


def test_a_reader_that_crashes_twice_fails_the_job_and_is_not_tried_again(people, settings, monkeypatch):
    # Without the check of the dimensions the reader child really allocates 550 GB and is killed.
    settings.GRIDGOV_IMPORT_MAX_CELLS = 10**12
    settings.GRIDGOV_IMPORT_MEMORY_MB = 512
    before = sources.spawned[0]
    job = run_import(people.staff_a, _huge_workbook(), "huge.xlsx")
    assert sources.spawned[0] - before == 2  # one crash, one more try, a second crash
    assert (job.status, job.reader_crashes, job.attempts) == ("failed", 2, 1)
    status, reason = _reason(people, job, "en")
    assert status == "failed" and "tried 2 times" in reason and "not tried again" in reason, reason
    assert "不再重试" in _reason(people, job, "zh-hans")[1]
    # Neither a forced run, nor the user's resume, nor the sweeper of stalled jobs starts a third reader.
    assert jobs.run(job.pk, force=True).status == "failed"
    r = Api(people.staff_a).post(f"/imports/{job.pk}/resume")
    assert r.status_code == 409 and "not tried again" in r.json()["detail"]
    r = Api(people.staff_a, language="zh-hans").post(f"/imports/{job.pk}/resume")
    assert r.status_code == 409 and "不再重试" in r.json()["detail"]
    ImportJob.objects.filter(pk=job.pk).update(
        status="running", heartbeat_at=job.created_at.replace(year=2000)
    )
    services.resume_stalled_jobs()
    assert sources.spawned[0] - before == 2
    del settings.GRIDGOV_IMPORT_MAX_CELLS
    _next_import_works(people)


def test_a_job_whose_worker_keeps_dying_fails_instead_of_being_resumed_forever(people):
    job = run_import(people.staff_a, csv_bytes(resident_rows(3)))
    ImportJob.objects.filter(pk=job.pk).update(
        status="running", attempts=runner.MAX_ATTEMPTS, heartbeat_at=job.created_at.replace(year=2000)
    )
    services.resume_stalled_jobs()
    job.refresh_from_db()
    assert job.status == "failed" and job.attempts == runner.MAX_ATTEMPTS
    assert "stopped 5 times" in _reason(people, job, "en")[1]


def _plaintext_files(root, needle: str) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and needle.encode() in path.read_bytes():
            found.append(str(path.relative_to(root)))
    return found


def test_an_import_killed_half_way_leaves_no_plaintext_under_the_data_directory(
    people, small_batches, monkeypatch
):
    rows = resident_rows(230)
    needle = id_for(7, "M")
    assert needle in {r[2] for r in rows}
    seen: list[list[str]] = []
    commit = runner.JobRunner._commit_batch

    def spying(self, job, batch, done, inserted):
        seen.append(_plaintext_files(django_settings.DATA_DIR, needle))  # while the import is in flight
        return commit(self, job, batch, done, inserted)

    monkeypatch.setattr(runner.JobRunner, "_commit_batch", spying)
    runner.crash_after_batches = 2  # dies inside the third batch, like a killed worker
    with pytest.raises(runner.SimulatedCrash):
        run_import(people.staff_a, csv_bytes(rows))
    assert seen and all(found == [] for found in seen), seen
    assert _plaintext_files(django_settings.DATA_DIR, needle) == []
    # A plaintext copy an older version left behind is swept when the job is taken up again.
    leftover = jobs.storage_dir() / "gridgov-import-abc123"
    leftover.write_bytes(csv_bytes(rows))
    runner.crash_after_batches = None
    job = jobs.run(ImportJob.objects.get().pk, force=True)
    assert job.status == "done" and job.inserted == 230
    assert not leftover.exists()
    assert all(found == [] for found in seen), seen
    assert _plaintext_files(django_settings.DATA_DIR, needle) == []


def test_the_error_workbook_is_never_a_plaintext_file(people):
    rows = resident_rows(4)
    rows[1][1] = "外星"  # a bad gender: the row goes to the error workbook with its ID number
    job = run_import(people.staff_a, csv_bytes(rows))
    assert job.error_rows == 1 and job.error_file_path
    assert _plaintext_files(django_settings.DATA_DIR, rows[1][2]) == []
    assert jobs.error_workbook_bytes(job).startswith(b"PK")  # kept encrypted, read back in memory
