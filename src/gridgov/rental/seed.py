"""The default data of rental housing: tenancy categories, the inspection checklist and version 1 of the
grading rules (written by migration 0002; administrators change them later, rules as a new version).

Visit intervals: 龙岗 visits 宽管 every 3 weeks, 关注 every 2, 严管 weekly (cn-standards §8); 栖霞 visits
群租 at least monthly and 家庭旅馆 daily (by the police; here: weekly by the community)."""

from __future__ import annotations

CATEGORIES = [
    # code, name, English name, visit days (None: the grade decides)
    ("whole", "整租", "Whole-unit letting", None),
    ("shared", "合租", "Shared letting", None),
    ("group", "群租", "Group letting", 7),
    ("family_hotel", "家庭旅馆", "Family hotel", 7),
    ("dormitory", "宿舍", "Dormitory", 14),
]

ITEMS = [
    # code, group, name, English name, weight, hazard case subcategory
    ("H01", "hardware", "灭火器、烟感等消防器材配备有效", "Working fire extinguishers and smoke detectors", 10, "G0302"),
    ("H02", "hardware", "疏散通道、安全出口畅通", "Escape routes and exits clear", 10, "G0301"),
    ("H03", "hardware", "电气线路规范，无私拉乱接", "Wiring to standard, no makeshift connections", 8, "G0201"),
    ("H04", "hardware", "无电动车室内停放、充电", "No e-bikes parked or charged indoors", 8, "G0202"),
    ("H05", "hardware", "燃气使用安全，无违规瓶装燃气", "Gas used safely, no unauthorised bottled gas", 8, "G0201"),
    ("C01", "compliance", "房屋产权清晰、非违章建筑，可依法出租", "Clear title, not an illegal building, may be let lawfully", 10, ""),
    ("C02", "compliance", "已办理租赁备案", "Tenancy filed with the authorities", 8, "G0501"),
    ("C03", "compliance", "已签订治安消防责任书", "Public-order and fire-safety pledge signed", 6, ""),
    ("C04", "compliance", "承租人身份已登记、信息已申报", "Tenants registered and reported", 8, "G0501"),
    ("C05", "compliance", "居住人数不超过限住人数，无分隔群租", "Occupants within the limit, no partitioned group letting", 8, "G0502"),
    ("Z01", "hazards", "无治安隐患（可疑人员聚集、违法经营）", "No public-order hazard (suspicious gatherings, illegal business)", 6, "G0401"),
    ("Z02", "hazards", "无高空坠物隐患", "No risk of objects falling from height", 4, "G0203"),
    ("S01", "hygiene", "室内外环境整洁，垃圾分类投放", "Clean inside and out, waste sorted", 3, ""),
    ("S02", "hygiene", "无占用公共部位堆放杂物", "No clutter in common areas", 3, ""),
]  # fmt: skip

RULES_V1 = {
    "thresholds": [
        {"min_score": 90, "grade": "relaxed"},
        {"min_score": 75, "grade": "watch"},
        {"min_score": 0, "grade": "strict"},
    ],
    "overrides": [
        # 广东省城镇房屋租赁条例 §6: a house that may not be let is 禁止.
        {
            "code": "not_lettable",
            "name": "不得出租（违章建筑、产权不清、不符合安全标准）",
            "grade": "prohibited",
            "items": ["C01"],
            "flags": [],
        },
        # 宝山: refusing inspection or suspected 群租 is red at once.
        {"code": "refused", "name": "拒绝检查", "grade": "strict", "items": [], "flags": ["refused"]},
        {
            "code": "group_rental",
            "name": "疑似群租",
            "grade": "strict",
            "items": ["C05"],
            "flags": ["group_rental_suspected", "over_capacity"],
        },
    ],  # fmt: skip
    "visit_days": {"relaxed": 21, "watch": 14, "strict": 7, "prohibited": 7},
    "red_grades": ["strict", "prohibited"],
    "red_streak": 3,
}


def seed(apps, schema_editor=None) -> None:
    Category = apps.get_model("rental", "TenancyCategory")
    Item = apps.get_model("rental", "ChecklistItem")
    Rules = apps.get_model("rental", "GradingRules")
    for i, (code, name, _en, days) in enumerate(CATEGORIES):
        Category.objects.update_or_create(code=code, defaults={"name": name, "visit_days": days, "sort": i})
    for i, (code, group, name, _en, weight, hazard) in enumerate(ITEMS):
        Item.objects.update_or_create(
            code=code,
            defaults={
                "group": group,
                "name": name,
                "weight": weight,
                "hazard_category_code": hazard,
                "sort": i,
            },
        )
    if not Rules.objects.exists():
        Rules.objects.create(version=1, note="默认规则", **RULES_V1)
    if any(f.name == "name_en" for f in Item._meta.get_fields()):  # from migration 0003 on
        seed_names(apps)


def seed_names(apps, schema_editor=None) -> None:
    """Give the seeded tenancy categories and checklist items their English names (migration 0003), leaving
    an English name an administrator already wrote as it is."""
    Category = apps.get_model("rental", "TenancyCategory")
    Item = apps.get_model("rental", "ChecklistItem")
    for code, _name, name_en, _days in CATEGORIES:
        Category.objects.filter(code=code, name_en="").update(name_en=name_en)
    for code, _group, _name, name_en, _weight, _hazard in ITEMS:
        Item.objects.filter(code=code, name_en="").update(name_en=name_en)
