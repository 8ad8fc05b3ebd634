"""Duplicate candidates, batch grouping and the CSV reader (no database needed).

`make_reports` / `synthetic_text` are a small generator of Chinese reports, shared with the
classifier and CLI tests.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from gridgov.cases import textsim
from gridgov.cases.textsim import (
    Report,
    TableError,
    cluster_reports,
    column_index,
    duplicate_candidates,
    haversine_m,
    normalize_text,
    read_table,
    related_by_prefix,
)

# 大类/小类 — the 大类 prefix makes categories "related"
CATEGORIES = {
    "市容环卫/占道经营": [
        "{place}有流动摊贩占道经营，{effect}",
        "{place}门口有人摆摊卖水果蔬菜，把人行道都占了",
        "反映{place}附近小商贩占用道路摆卖，{time}特别多",
        "{place}路边摆满了小吃摊位，占道经营没人管",
        "{place}商铺把货物堆到店外经营，占用公共通道",
    ],
    "市容环卫/暴露垃圾": [
        "{place}垃圾堆积没有清运，{smell}",
        "{place}旁边有一大堆生活垃圾，好几天没人清理",
        "{place}垃圾桶满了溢出来，周围都是垃圾",
        "反映{place}有暴露垃圾，{smell}，请环卫处理",
        "{place}路边乱扔的建筑垃圾和生活垃圾无人清运",
    ],
    "矛盾纠纷/噪声扰民": [
        "{place}{time}有人施工噪音很大，影响休息",
        "{place}广场舞音响声音太大，严重扰民",
        "反映{place}楼上{time}一直有噪声，吵得睡不着",
        "{place}酒吧音乐声太吵，{time}还在放",
        "{place}装修电钻声音扰民，周末也不停",
    ],
    "矛盾纠纷/邻里纠纷": [
        "{place}两户邻居因为漏水问题发生争吵，需要调解",
        "{place}邻居长期占用楼道堆放杂物，协商不成",
        "反映{place}邻里之间因停车位起了纠纷，双方争执不下",
        "{place}楼上楼下因噪音问题多次吵架，请求社区调解",
        "{place}住户与邻居因宠物狗问题产生矛盾",
    ],
    "规划建设/违章搭建": [
        "{place}有人在楼顶违章搭建铁皮房",
        "{place}一楼住户私自扩建围墙，占用公共绿地",
        "反映{place}有违建正在施工，{time}偷偷加盖",
        "{place}天台上搭建了彩钢板房，属于违章建筑",
        "{place}商户违规搭建雨棚，延伸到人行道上",
    ],
    "市政设施/井盖缺失": [
        "{place}井盖缺失，{danger}",
        "{place}路面的下水道井盖不见了，很危险",
        "反映{place}有个井盖破损塌陷，{danger}",
        "{place}雨水井盖被偷了，留下一个大洞",
        "{place}人行道上的井盖松动移位，踩上去晃动",
    ],
    "市政设施/道路积水": [
        "{place}下雨后道路积水严重，车辆无法通行",
        "{place}路面积水排不出去，{effect}",
        "反映{place}排水不畅，每次下雨都积水很深",
        "{place}低洼路段积水没过脚踝，行人只能绕行",
        "{place}雨水篦子堵塞导致大面积积水",
    ],
    "安全隐患/消防通道堵塞": [
        "{place}消防通道被私家车堵塞，{danger}",
        "{place}消防车通道上停满了车，存在安全隐患",
        "反映{place}有人在消防通道堆放杂物，堵死了通道",
        "{place}楼道安全出口被杂物堵住，消防通道不畅",
        "{place}消防通道被摊位占用，发生火情车进不来",
    ],
}
FILL = {
    "effect": ["影响行人通行", "行人只能走机动车道", "交通很拥堵", "居民出行很不方便"],
    "time": ["每天晚上", "早上六点", "深夜十二点以后", "中午午休时间", "周末"],
    "smell": ["气味很难闻", "苍蝇蚊子很多", "臭味很大", "污水横流"],
    "danger": ["容易造成行人跌落", "晚上看不见很危险", "存在严重安全隐患", "老人小孩经过很危险"],
}
ESTATES = "锦绣 幸福 阳光 碧水 金茂 华润 龙华 民治 清湖 观澜 大浪 福城 松和 上塘 油松 水斗 樟坑 景龙 梅林 新牛".split()
SUFFIX = ["花园", "家园", "小区", "雅苑", "新村", "公寓"]
ROADS = "人民路 建设路 和平路 东环一路 梅龙大道 民康路 布龙路 工业东路 环城路 致远中路".split()
SPOTS = [
    "{estate}{n}栋楼下",
    "{estate}东门",
    "{estate}北门口",
    "{road}与{road2}交叉口",
    "{road}{n}号",
    "{estate}{n}栋",
]


def synthetic_place(rng: random.Random) -> str:
    spot = rng.choice(SPOTS)
    r1, r2 = rng.sample(ROADS, 2)
    estate = rng.choice(ESTATES) + rng.choice(SUFFIX)
    return spot.format(estate=estate, n=rng.randint(1, 40), road=r1, road2=r2)


def synthetic_text(rng: random.Random, category: str, place: str, template: int | None = None) -> str:
    templates = CATEGORIES[category]
    t = templates[template] if template is not None else rng.choice(templates)
    fills = {k: rng.choice(v) for k, v in FILL.items()}
    return t.format(place=place, **fills)


def labelled_texts(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    cats = list(CATEGORIES)
    labels = [cats[i % len(cats)] for i in range(n)]
    rng.shuffle(labels)
    return [synthetic_text(rng, c, synthetic_place(rng)) for c in labels], labels


BASE = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
LNG0, LAT0 = 114.03, 22.65  # Longhua


def offset(lng: float, lat: float, east_m: float, north_m: float) -> tuple[float, float]:
    dlat = north_m / 111_195.0
    dlng = east_m / (111_195.0 * np.cos(np.radians(lat)))
    return lng + dlng, lat + dlat


def make_reports(n: int, seed: int = 0, dup_rate: float = 0.2, span_km: float = 15, days: int = 365):
    """n reports scattered over a district and a year; about dup_rate of them re-report an earlier
    one within 60 m and 48 h, half in the same words with other details ("reworded"), half in
    other words ("paraphrase"). Returns (reports, origin index or None, kind of each report)."""
    rng = random.Random(seed)
    cats = list(CATEGORIES)
    reports: list[Report] = []
    places: list[str] = []
    templates: list[int] = []
    kinds: list[str] = []
    origin: list[int | None] = []
    for i in range(n):
        if reports and rng.random() < dup_rate:
            k = rng.randrange(len(reports))
            k = origin[k] if origin[k] is not None else k
            base = reports[k]
            place = places[k]
            lng, lat = offset(base.lng, base.lat, rng.uniform(-40, 40), rng.uniform(-40, 40))
            at = base.at + timedelta(hours=rng.uniform(0, 48))
            same_words = rng.random() < 0.5
            text = synthetic_text(rng, base.category, place, templates[k] if same_words else None)
            kinds.append("reworded" if same_words else "paraphrase")
            templates.append(templates[k])
            reports.append(Report(id=i, text=text, lng=lng, lat=lat, at=at, category=base.category))
            origin.append(k)
        else:
            cat = rng.choice(cats)
            place = synthetic_place(rng)
            templates.append(rng.randrange(len(CATEGORIES[cat])))
            kinds.append("first")
            lng, lat = offset(LNG0, LAT0, rng.uniform(0, span_km * 1000), rng.uniform(0, span_km * 1000))
            at = BASE + timedelta(hours=rng.uniform(0, days * 24))
            reports.append(
                Report(
                    id=i,
                    text=synthetic_text(rng, cat, place, templates[-1]),
                    lng=lng,
                    lat=lat,
                    at=at,
                    category=cat,
                )
            )
            origin.append(None)
        places.append(place)
    return reports, origin, kinds


# ---------------------------------------------------------------------------------------------
# text helpers


def test_normalize_folds_full_width_and_punctuation():
    assert normalize_text("  锦绣花园３栋，ＡＢＣ\t井盖  缺失！ ") == "锦绣花园3栋 abc 井盖 缺失"
    assert normalize_text(None) == ""
    assert normalize_text("") == ""


def test_haversine_is_vectorised_and_correct():
    lng, lat = offset(LNG0, LAT0, 0, 100)
    assert haversine_m(LNG0, LAT0, lng, lat) == pytest.approx(100, rel=1e-3)
    d = haversine_m(
        np.array([LNG0, LNG0]), np.array([LAT0, LAT0]), np.array([LNG0, lng]), np.array([LAT0, lat])
    )
    assert d.shape == (2,) and d[0] == 0


def test_text_similarity_paraphrase_beats_unrelated():
    a = "锦绣花园3栋楼下井盖缺失，晚上看不见很危险"
    para = "锦绣花园3栋楼下的下水道井盖不见了，很危险"
    other = "人民路88号有流动摊贩占道经营，影响行人通行"
    assert textsim.text_similarity(a, para) > textsim.text_similarity(a, other) + 0.2
    assert textsim.text_similarity(a, a) == pytest.approx(1.0, abs=1e-5)


# ---------------------------------------------------------------------------------------------
# duplicate candidates

NEW = Report(
    id="new",
    text="锦绣花园3栋楼下井盖缺失，晚上看不见很危险",
    lng=LNG0,
    lat=LAT0,
    at=BASE,
    category="市政设施/井盖缺失",
)


def near(east: float, north: float = 0.0) -> tuple[float, float]:
    return offset(LNG0, LAT0, east, north)


def rep(id, text, east=0.0, hours=0.0, category="市政设施/井盖缺失", north=0.0):
    lng, lat = near(east, north)
    return Report(id=id, text=text, lng=lng, lat=lat, at=BASE - timedelta(hours=hours), category=category)


def test_paraphrased_re_report_nearby_and_recent_is_found():
    recent = [
        rep("para", "反映锦绣花园3栋有个井盖破损塌陷，老人小孩经过很危险", east=30, hours=5),
        rep("same", "锦绣花园3栋楼下井盖缺失 晚上很危险", east=10, hours=1),
        rep(
            "other",
            "人民路与建设路交叉口有流动摊贩占道经营，影响行人通行",
            east=20,
            hours=2,
            category="市容环卫/占道经营",
        ),
    ]
    got = duplicate_candidates(NEW, recent)
    ids = [c.id for c in got]
    assert ids[:2] == ["same", "para"]
    assert "other" not in ids
    best = got[0]
    assert 0 <= best.score <= 1 and best.same_category is True
    assert best.distance_m == pytest.approx(10, abs=0.5)
    assert best.hours_apart == pytest.approx(1)
    assert best.text_similarity > 0.5
    assert all(got[k].score >= got[k + 1].score for k in range(len(got) - 1))


def test_beyond_radius_or_window_is_not_a_candidate():
    text = "锦绣花园3栋楼下井盖缺失，晚上看不见很危险"
    recent = [
        rep("far", text, east=101),
        rep("far-diag", text, east=80, north=80),
        rep("old", text, hours=72.5),
        rep("edge", text, east=99, hours=71),
    ]
    got = duplicate_candidates(NEW, recent)
    assert [c.id for c in got] == ["edge"]
    # a wider radius/window brings them back
    got = duplicate_candidates(NEW, recent, radius_m=200, window_h=100)
    assert {c.id for c in got} == {"far", "far-diag", "old", "edge"}


def test_unrelated_text_at_the_same_place_and_time_is_not_a_duplicate():
    recent = [
        rep("noise", "锦绣花园3栋楼下广场舞音响声音太大，严重扰民", category="矛盾纠纷/噪声扰民"),
        rep("trash", "锦绣花园3栋垃圾堆积没有清运，气味很难闻", category="市容环卫/暴露垃圾"),
        rep("fire", "锦绣花园消防通道被私家车堵塞，存在严重安全隐患", category="安全隐患/消防通道堵塞"),
    ]
    assert duplicate_candidates(NEW, recent) == []


def test_category_same_over_related_over_unknown_and_other_needs_the_same_words():
    text = "锦绣花园3栋楼下下水道井盖不见了"
    recent = [
        rep("same", text, category="市政设施/井盖缺失"),
        rep("related", text, category="市政设施/道路积水"),
        rep("other", text, category="安全隐患/消防通道堵塞"),
        rep("unknown", text, category=None),
        rep("other-same-words", NEW.text, category="安全隐患/消防通道堵塞"),
    ]
    got = {c.id: c for c in duplicate_candidates(NEW, recent, related=related_by_prefix(), min_score=0)}
    assert got["same"].score > got["related"].score
    assert got["related"].score == pytest.approx(got["unknown"].score)
    assert got["same"].same_category is True and got["related"].same_category is False
    assert got["unknown"].same_category is None
    # another category: a different problem at the same place, unless the words are the same
    assert "other" not in got
    assert got["other-same-words"].text_similarity > 0.99 and got["other-same-words"].same_category is False
    # without a `related` callable every different category is "other"
    plain = {c.id for c in duplicate_candidates(NEW, recent, min_score=0)}
    assert plain == {"same", "unknown", "other-same-words"}


def test_missing_point_or_time_is_not_filtered_and_counts_half():
    r = Report(id="nowhere", text=NEW.text, category=NEW.category)
    got = duplicate_candidates(NEW, [r])
    assert len(got) == 1 and got[0].distance_m is None and got[0].hours_apart is None
    expected = textsim.W_TEXT * 1 + (textsim.W_PLACE + textsim.W_TIME) * 0.5 + textsim.W_CATEGORY
    assert got[0].score == pytest.approx(expected, abs=1e-3)


def test_limit_self_and_determinism():
    recent = [rep(f"r{k}", NEW.text, east=k) for k in range(10)] + [NEW]
    got = duplicate_candidates(NEW, recent, limit=3)
    assert [c.id for c in got] == ["r0", "r1", "r2"]
    assert duplicate_candidates(NEW, recent, limit=3) == got
    assert duplicate_candidates(NEW, []) == []


def test_naive_datetime_is_rejected():
    with pytest.raises(ValueError, match="timezone-aware"):
        duplicate_candidates(NEW, [Report(id=1, text="x", at=datetime(2025, 1, 1))])


def test_synthetic_re_reports_are_found_at_intake():
    reports, origin, kinds = make_reports(600, seed=3, dup_rate=0.3, span_km=3, days=30)
    hits = total = 0
    false = 0
    for i, r in enumerate(reports):
        if origin[i] is None:
            continue
        earlier = reports[:i]
        got = duplicate_candidates(r, earlier)
        total += 1
        group = {k for k in range(i) if k == origin[i] or origin[k] == origin[i]}
        if any(c.id in group for c in got):
            hits += 1
        false += sum(1 for c in got if c.id not in group)
    assert total > 100
    assert hits / total >= 0.8
    assert false / total < 0.2


# ---------------------------------------------------------------------------------------------
# cluster


def test_cluster_constructed_groups_with_points_and_times():
    t = "锦绣花园3栋楼下井盖缺失，晚上看不见很危险"
    reports = [
        rep(0, t),
        rep(1, "人民路88号有流动摊贩占道经营，影响行人通行", east=5000),
        rep(2, "锦绣花园3栋楼下井盖缺失 很危险", east=50, hours=10),
        rep(3, t, east=500),  # too far from 0 and 2
        rep(4, "人民路88号有流动摊贩占道经营 影响通行", east=5020, hours=30),
        rep(5, t, east=500, hours=100),  # near 3 but 100 h later
        rep(6, "锦绣花园3栋楼下井盖缺失，晚上看不见很危险！", east=90, hours=15),  # chains to 2 (and 0)
        rep(7, "锦绣花园3栋楼下广场舞音响声音太大，严重扰民", east=10, hours=1),  # unrelated text
    ]
    assert cluster_reports(reports) == [1, 2, 1, None, 2, None, 1, None]


def test_cluster_text_only_and_time_only():
    texts = [
        "锦绣花园3栋楼下井盖缺失，晚上看不见很危险",
        "人民路88号有流动摊贩占道经营，影响行人通行",
        "锦绣花园3栋楼下井盖缺失 很危险",
        "幸福家园东门垃圾堆积没有清运",
        "人民路88号有流动摊贩占道经营",
        "幸福家园东门广场舞音响声音太大",
    ]
    reports = [Report(id=i, text=t) for i, t in enumerate(texts)]
    assert cluster_reports(reports) == [1, 2, 1, None, 2, None]
    timed = [Report(id=i, text=t, at=BASE + timedelta(hours=50 * i)) for i, t in enumerate(texts)]
    # 0 and 2 are 100 h apart; 1 and 4 are 150 h apart
    assert cluster_reports(timed) == [None] * 6
    assert cluster_reports(timed, window_h=200) == [1, 2, 1, None, 2, None]


def test_cluster_rows_missing_the_batch_fields_stay_ungrouped():
    t = "锦绣花园3栋楼下井盖缺失"
    reports = [rep(0, t), Report(id=1, text=t), rep(2, t, east=20), Report(id=3, text="")]
    assert cluster_reports(reports) == [1, None, 1, None]
    assert cluster_reports([]) == []
    assert cluster_reports([Report(id=0, text=t)]) == [None]


def _components(n, pairs):
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    i = np.array([a for a, _ in pairs], dtype=np.int64)
    j = np.array([b for _, b in pairs], dtype=np.int64)
    _, labels = connected_components(coo_matrix((np.ones(i.size), (i, j)), shape=(n, n)), directed=False)
    # canonical form: label of each row = smallest row of its component
    first: dict[int, int] = {}
    return [first.setdefault(int(lab), k) for k, lab in enumerate(labels)]


def _exact_text_pairs(x, threshold):
    s = (x @ x.T).toarray()
    i, j = np.nonzero(np.triu(s >= threshold, k=1))
    return set(zip(i.tolist(), j.tolist(), strict=True))


def test_prefix_filtered_text_pairs_connect_like_brute_force():
    texts, _ = labelled_texts(700, seed=5)
    x = textsim._tfidf([normalize_text(t) for t in texts])
    n = x.shape[0]
    for threshold in (0.3, 0.5, 0.7):
        i, j = textsim._text_pairs(x, threshold, block=128)
        got = list(zip(i.tolist(), j.tolist(), strict=True))
        exact = _exact_text_pairs(x, threshold)
        assert set(got) <= exact
        assert _components(n, got) == _components(n, exact)
    # with times: only pairs at most window_h apart
    hours = np.random.default_rng(0).uniform(0, 2000, n)
    i, j = textsim._text_pairs(x, 0.5, hours=hours, window_h=72, block=50)
    got = list(zip(i.tolist(), j.tolist(), strict=True))
    expected = {(a, b) for a, b in _exact_text_pairs(x, 0.5) if abs(hours[a] - hours[b]) <= 72}
    assert {(min(a, b), max(a, b)) for a, b in got} <= expected
    assert _components(n, got) == _components(n, expected)


def test_cell_pairs_equal_brute_force():
    reports, *_ = make_reports(800, seed=7, span_km=1, days=10)
    got = cluster_reports(reports, text_threshold=0.0)
    # brute force: components of all pairs within 100 m and 72 h
    from scipy.sparse.csgraph import connected_components

    lng = np.array([r.lng for r in reports])
    lat = np.array([r.lat for r in reports])
    h = np.array([r.at.timestamp() / 3600 for r in reports])
    d = haversine_m(lng[:, None], lat[:, None], lng[None, :], lat[None, :])
    adj = (d <= 100) & (np.abs(h[:, None] - h[None, :]) <= 72)
    np.fill_diagonal(adj, False)
    _, labels = connected_components(adj, directed=False)
    sizes = np.bincount(labels)
    expected_grouped = sizes[labels] > 1
    assert [g is not None for g in got] == expected_grouped.tolist()
    for a in range(len(reports)):
        for b in range(a + 1, min(len(reports), a + 40)):
            if got[a] is not None and got[b] is not None:
                assert (got[a] == got[b]) == (labels[a] == labels[b])


def test_cluster_finds_synthetic_re_reports_and_is_quick():
    reports, origin, kinds = make_reports(20_000, seed=11, dup_rate=0.2)
    start = time.perf_counter()
    groups = cluster_reports(reports)
    elapsed = time.perf_counter() - start
    root = [i if o is None else o for i, o in enumerate(origin)]

    def found(kind):
        rows = [i for i, k in enumerate(kinds) if k == kind]
        return sum(1 for i in rows if groups[i] is not None and groups[i] == groups[origin[i]]) / len(rows)

    assert found("reworded") >= 0.9
    assert found("paraphrase") >= 0.1
    # precision: a group holds one problem (one origin)
    members: dict[int, set[int]] = {}
    for i, g in enumerate(groups):
        if g is not None:
            members.setdefault(g, set()).add(root[i])
    mixed = sum(1 for roots in members.values() if len(roots) > 1)
    assert mixed / len(members) < 0.02
    assert elapsed < 10


# ---------------------------------------------------------------------------------------------
# read_table


def _write(path, text, encoding):
    path.write_bytes(text.encode(encoding))
    return path


CSV_TEXT = '编号,诉求内容,类别\n1,锦绣花园井盖缺失,市政设施/井盖缺失\n2,"人民路占道经营，影响通行",市容环卫/占道经营\n\n'


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_read_table_encodings(tmp_path, encoding):
    header, rows = read_table(_write(tmp_path / "a.csv", CSV_TEXT, encoding))
    assert header == ["编号", "诉求内容", "类别"]
    assert rows == [
        ["1", "锦绣花园井盖缺失", "市政设施/井盖缺失"],
        ["2", "人民路占道经营，影响通行", "市容环卫/占道经营"],
    ]


def test_read_table_errors(tmp_path):
    with pytest.raises(TableError, match="only CSV"):
        read_table(tmp_path / "a.xlsx")
    with pytest.raises(TableError, match="No such file"):
        read_table(tmp_path / "missing.csv")
    with pytest.raises(TableError, match="empty"):
        read_table(_write(tmp_path / "e.csv", "", "utf-8"))
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00\xff\xff")
    with pytest.raises(TableError, match="UTF-8 or GBK"):
        read_table(tmp_path / "bin.csv")


def test_column_index_names_the_missing_column():
    header = ["编号", "诉求内容", "Category"]
    assert column_index(header, "诉求内容") == 1
    assert column_index(header, "category") == 2
    with pytest.raises(TableError) as exc:
        column_index(header, "内容", "x.csv", what="text column")
    msg = str(exc.value)
    assert "'内容'" in msg and "'编号', '诉求内容', 'Category'" in msg and "x.csv" in msg
