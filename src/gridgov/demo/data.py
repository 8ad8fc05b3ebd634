"""Fixed data of the demo district: codes, names, sizes. Names are data (Chinese); see docs/demo.md."""

from __future__ import annotations

from dataclasses import dataclass

DISTRICT_CODE = "440309"
DISTRICT_NAME = "龙华区"
DEFAULT_SEED = 20261122
DEMO_PASSWORD = "Gridgov@2026"

# NBS 统计用区划代码 (2023) of the six subdistricts, with a hand-placed seed point (lng, lat) that puts
# each one roughly where it lies in the real district.
SUBDISTRICTS: tuple[tuple[str, str, tuple[float, float]], ...] = (
    ("440309001", "观湖街道", (114.080, 22.690)),
    ("440309002", "民治街道", (114.035, 22.625)),
    ("440309003", "龙华街道", (114.035, 22.665)),
    ("440309004", "大浪街道", (113.998, 22.700)),
    ("440309005", "福城街道", (114.080, 22.745)),
    ("440309006", "观澜街道", (114.030, 22.740)),
)

# Community names per subdistrict (the "社区" suffix is added). Many are real Longhua names; the rest are
# plausible inventions. 108 in all, no duplicates. Codes are synthetic: 4403090SS0NN in list order.
COMMUNITY_NAMES: dict[str, tuple[str, ...]] = {
    "440309001": (
        "观湖", "樟坑径", "新田", "松元厦", "鹭湖", "润城", "大和", "樟溪",
        "松轩", "观城", "新源", "下围", "俊兴", "田背", "环观", "新湖",
    ),
    "440309002": (
        "民治", "民泰", "北站", "白石龙", "上塘", "樟坑", "民康", "民新", "民乐", "民强", "新牛",
        "上芬", "龙塘", "大岭", "沙元埔", "民丰", "民荣", "横岭", "牛栏前", "丰润", "塘水围", "简上",
    ),
    "440309003": (
        "龙华", "清湖", "松和", "景龙", "三联", "油松", "富康", "清华", "龙园", "华联", "和平",
        "玉翠", "景华", "松仔园", "东环", "龙泉", "富联", "建设东", "中环", "华富", "瓦窑排",
    ),
    "440309004": (
        "大浪", "浪口", "同胜", "龙胜", "上早", "新石", "横朗", "高峰", "赤岭头",
        "陶元", "水围", "下岭排", "石凹", "浪峰", "谭罗", "元芬", "龙军",
    ),
    "440309005": (
        "福民", "桔塘", "大水坑", "章阁", "茜坑", "新和", "福城", "樟阁", "桔岭", "福前", "塘前", "福安", "大三",
    ),
    "440309006": (
        "观澜", "桂花", "库坑", "君子布", "牛湖", "大富", "新澜", "桂香", "黎光", "广培",
        "马坜", "大布巷", "新塘", "狮径", "松元", "横坑", "裕新", "岗头", "观澜湖",
    ),
}  # fmt: skip

# Departments (职能部门): code suffix, name.
DEPARTMENTS: tuple[tuple[str, str], ...] = (
    ("GA", "龙华公安分局"),
    ("CG", "龙华区城市管理和综合执法局"),
    ("XF", "龙华区消防救援大队"),
    ("SJ", "龙华区市场监督管理局"),
    ("ZJ", "龙华区住房和建设局"),
    ("MZ", "龙华区民政局"),
    ("JT", "龙华区交通运输局"),
    ("JY", "龙华区教育局"),
    ("WJ", "龙华区卫生健康局"),
    ("SW", "龙华区水务局"),
    ("HJ", "龙华区生态环境局"),
    ("YJ", "龙华区应急管理局"),
)

# Partner units (共建单位) per community: name patterns ({stem} = community name without 社区).
PARTNER_PATTERNS: tuple[str, ...] = (
    "{stem}小学",
    "{stem}社区健康服务中心",
    "{stem}实验幼儿园",
    "深圳{word}科技有限公司",
    "{word}物业服务有限公司{stem}服务中心",
    "中国建设银行{stem}支行",
    "{stem}中学",
    "深圳{word}电子有限公司",
)
COMPANY_WORDS: tuple[str, ...] = (
    "华强", "鸿远", "创维", "恒通", "博瑞", "安达", "星辰", "睿联", "汇川", "德兴", "宏图", "联诚",
    "益民", "天成", "卓越", "万科", "中航", "宝能", "金盛", "富源",
)  # fmt: skip

COMPOUND_PREFIXES: tuple[str, ...] = (
    "锦绣", "金域", "星河", "碧水", "书香", "阳光", "幸福", "御景", "和悦", "天悦", "玖龙", "宝文",
    "东方", "华润", "龙光", "水榭", "春华", "翠湖", "银泉", "景观", "溪山", "远洋", "优品", "丽园",
    "壹城", "中央", "嘉华", "美丽", "恒大", "鸿荣", "泰华", "润园",
)  # fmt: skip
COMPOUND_SUFFIXES: tuple[str, ...] = (
    "花园",
    "苑",
    "华庭",
    "名苑",
    "家园",
    "公馆",
    "雅居",
    "城",
    "山庄",
    "府",
)


@dataclass(frozen=True)
class Scale:
    name: str
    communities: dict[str, int]  # subdistrict code → number of communities
    community_households: tuple[int, int]  # a community's household target is drawn from this range
    blocks: tuple[int, int]  # blocks per community
    grid_households: tuple[int, int] = (300, 500)


ALL_COMMUNITIES = {code: len(names) for code, names in COMMUNITY_NAMES.items()}

SCALES: dict[str, Scale] = {
    "small": Scale("small", {"440309002": 3}, (2850, 3150), (2, 3)),
    "district": Scale("district", ALL_COMMUNITIES, (720, 1130), (1, 2)),
    "longhua": Scale("longhua", ALL_COMMUNITIES, (7400, 11100), (4, 8)),
}

CN_DIGITS = "零一二三四五六七八九"


def chinese_number(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 20 → 二十, 35 → 三十五 (1–99)."""
    if n < 10:
        return CN_DIGITS[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else CN_DIGITS[tens]) + "十" + (CN_DIGITS[ones] if ones else "")
