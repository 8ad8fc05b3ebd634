"""`gridgov cases cluster` and `gridgov cases classifier evaluate`, through their argparse parser."""

from __future__ import annotations

import argparse
import csv
import io
import json
import subprocess
import sys
from datetime import timedelta

import pytest

from gridgov.cases.cli import LOCAL_TZ as SHANGHAI
from gridgov.cases.cli import add_parser, parse_time
from gridgov.cases.tests.test_textsim import BASE, LAT0, LNG0, labelled_texts, offset


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gridgov")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


ROWS = [
    # 编号, 诉求内容, 上报时间, 经度, 纬度 (east metres, hours)
    ("A1", "锦绣花园3栋楼下井盖缺失，晚上看不见很危险", 0, 0),
    ("B1", "人民路88号有流动摊贩占道经营，影响行人通行", 5000, 0),
    ("A2", "锦绣花园3栋楼下井盖缺失 很危险", 50, 10),
    ("A-far", "锦绣花园3栋楼下井盖缺失，晚上看不见很危险", 800, 0),
    ("B2", "人民路88号有流动摊贩占道经营 影响通行", 5020, 30),
    ("A-late", "锦绣花园3栋楼下井盖缺失，晚上看不见很危险", 0, 200),
    ("C", "锦绣花园3栋楼下广场舞音响声音太大，严重扰民", 10, 1),
]


def write_csv(path, encoding="utf-8", coords=True, times=True):
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["编号", "诉求内容"] + (["上报时间"] if times else []) + (["经度", "纬度"] if coords else []))
    for code, text, east, hours in ROWS:
        row = [code, text]
        if times:
            row.append((BASE + timedelta(hours=hours)).astimezone(SHANGHAI).strftime("%Y/%m/%d %H:%M"))
        if coords:
            lng, lat = offset(LNG0, LAT0, east, 0)
            row += [f"{lng:.7f}", f"{lat:.7f}"]
        w.writerow(row)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def read_out(path):
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM for Excel
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    return rows[0], rows[1:]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk"])
def test_cluster_with_points_and_times(tmp_path, capsys, encoding):
    src = write_csv(tmp_path / "in.csv", encoding)
    out = tmp_path / "out.csv"
    argv = ["cases", "cluster", "--csv", str(src), "--text-col", "诉求内容", "--time-col", "上报时间"]
    assert run([*argv, "--lng-col", "经度", "--lat-col", "纬度", "--out", str(out)]) == 0
    header, rows = read_out(out)
    assert header == ["编号", "诉求内容", "上报时间", "经度", "纬度", "group_id"]
    assert {r[0]: r[-1] for r in rows} == {
        "A1": "1",
        "B1": "2",
        "A2": "1",
        "A-far": "",
        "B2": "2",
        "A-late": "",
        "C": "",
    }
    assert rows[0][1] == ROWS[0][1]  # text kept as it was
    summary = capsys.readouterr().out
    assert "rows 7, groups 2, rows in groups 4" in summary


def test_cluster_text_only(tmp_path, capsys):
    src = write_csv(tmp_path / "in.csv", "gbk", coords=False, times=False)
    out = tmp_path / "out.csv"
    assert run(["cases", "cluster", "--csv", str(src), "--text-col", "诉求内容", "--out", str(out)]) == 0
    _, rows = read_out(out)
    got = {r[0]: r[-1] for r in rows}
    # without place and time, the same words are one group wherever and whenever
    assert got["A1"] == got["A2"] == got["A-far"] == got["A-late"] == "1"
    assert got["B1"] == got["B2"] == "2" and got["C"] == ""


def test_cluster_bad_values_are_left_ungrouped(tmp_path, capsys):
    src = tmp_path / "in.csv"
    src.write_text(
        "id,text,time\n1,锦绣花园井盖缺失,2025-06-01 08:00\n2,锦绣花园井盖缺失,昨天\n3,锦绣花园井盖缺失,2025-06-01T09:00+08:00\n",
        encoding="utf-8",
    )
    out = tmp_path / "o.csv"
    assert (
        run(
            [
                "cases",
                "cluster",
                "--csv",
                str(src),
                "--text-col",
                "text",
                "--time-col",
                "time",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    _, rows = read_out(out)
    assert [r[-1] for r in rows] == ["1", "", "1"]
    assert "1 without a readable time" in capsys.readouterr().out


def test_wrong_column_exits_2_and_lists_the_columns(tmp_path, capsys):
    src = write_csv(tmp_path / "in.csv")
    code = run(
        ["cases", "cluster", "--csv", str(src), "--text-col", "内容", "--out", str(tmp_path / "o.csv")]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "'内容' not found" in err and "'编号', '诉求内容', '上报时间', '经度', '纬度'" in err
    assert not (tmp_path / "o.csv").exists()
    code = run(
        [
            "cases",
            "classifier",
            "evaluate",
            "--csv",
            str(src),
            "--text-col",
            "诉求内容",
            "--label-col",
            "类别",
        ]
    )
    assert code == 2 and "label column (--label-col) '类别' not found" in capsys.readouterr().err


def test_other_input_errors_exit_2(tmp_path, capsys):
    src = write_csv(tmp_path / "in.csv")
    base = ["cases", "cluster", "--text-col", "诉求内容", "--out", str(tmp_path / "o.csv")]
    assert run([*base, "--csv", str(src), "--lng-col", "经度"]) == 2
    assert "--lat-col" in capsys.readouterr().err
    assert run([*base, "--csv", str(tmp_path / "in.xlsx")]) == 2
    assert "only CSV" in capsys.readouterr().err
    assert run([*base, "--csv", str(tmp_path / "nope.csv")]) == 2


def test_classifier_evaluate_on_a_gbk_export(tmp_path, capsys):
    texts, labels = labelled_texts(400, seed=8)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["工单编号", "诉求内容", "诉求类别"])
    for k, (t, lab) in enumerate(zip(texts, labels, strict=True)):
        w.writerow([k, t, lab])
    w.writerow([999, "没有类别的一行", ""])
    src = tmp_path / "export.csv"
    src.write_bytes(buf.getvalue().encode("gbk"))
    argv = [
        "cases",
        "classifier",
        "evaluate",
        "--csv",
        str(src),
        "--text-col",
        "诉求内容",
        "--label-col",
        "诉求类别",
    ]
    assert run([*argv, "--folds", "4"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    metrics = json.loads(out[-1])
    assert {"accuracy", "macro_f1", "top3_accuracy", "per_class", "n"} <= set(metrics)
    assert metrics["n"] == 400 and metrics["folds"] == 4 and metrics["skipped_unlabelled"] == 1
    assert metrics["top3_accuracy"] >= 0.9
    assert "市政设施/井盖缺失" in "\n".join(out[:-1]) and "macro-F1" in out[1]
    assert run([*argv, "--folds", "1"]) == 2


def test_parse_time_formats():
    assert parse_time("2025-06-01 16:00") == BASE
    assert parse_time("2025/6/1 16:00:00") == BASE
    assert parse_time("2025年6月1日 16:00") == BASE
    assert parse_time("2025-06-01T08:00:00Z") == BASE
    assert parse_time("") is None and parse_time("昨天") is None


def test_parser_runs_without_django_settings(tmp_path):
    src = write_csv(tmp_path / "in.csv")
    code = (
        "import argparse, sys\n"
        "from gridgov.cases.cli import add_parser\n"
        "p = argparse.ArgumentParser(prog='gridgov'); add_parser(p.add_subparsers(dest='c', required=True))\n"
        "a = p.parse_args(sys.argv[1:]); r = a.func(a)\n"
        "assert 'django.conf' not in sys.modules or not __import__('django.conf').conf.settings.configured\n"
        "sys.exit(r)\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    out = tmp_path / "o.csv"
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "cases",
            "cluster",
            "--csv",
            str(src),
            "--text-col",
            "诉求内容",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "rows 7" in proc.stdout and out.exists()
