"""The default star criteria and thresholds (星级安全楼栋 / 星级安全小区), version 1 of the star rules,
written by migration 0006_stars. Administrators publish later versions; every assessment keeps a copy of
the criteria it was scored by.

Criteria follow the safe-building standards the districts publish (消防设施、疏散通道、电动车集中充电、
出租屋分级、实有人口、楼栋长巡查、视频门禁、物业管理、无较大事故): each has a weight (points) and applies to
buildings, compounds or both; a required criterion (一票否决) must be met in full, or the result is a
refusal whatever the score. Stars by the share of the applicable points: 5 ★ from 95, 4 ★ from 85, 3 ★
from 75; an award holds 365 days and its review falls due 30 days before it ends."""

from __future__ import annotations

CRITERIA = [
    # code, name, name_en, applies, weight, required
    ("S01", "消防设施器材配备齐全、完好有效", "Fire equipment complete and working", "both", 20, True),
    ("S02", "疏散通道、安全出口畅通", "Escape routes and exits clear", "both", 15, True),
    ("S03", "电动自行车集中停放充电，无入户充电", "E-bikes parked and charged at the shared point", "both", 15, False),
    ("S04", "出租屋全部纳入分级管理，无禁止级", "Rental houses graded, none prohibited", "building", 10, False),
    ("S05", "实有人口信息登记准确完整", "Residents registered accurately", "both", 10, False),
    ("S06", "楼栋长在岗，安全巡查有记录", "Building head in place, patrols recorded", "building", 10, False),
    ("S07", "视频门禁、监控覆盖出入口", "Video access control at the entrances", "both", 10, False),
    ("S08", "物业或自治管理组织健全", "Property or self-management in place", "compound", 10, False),
    ("S09", "近一年无较大安全事故和刑事案件", "No serious accident or crime in a year", "both", 10, True),
]  # fmt: skip

RULES_V1 = {
    "criteria": [
        {"code": c, "name": n, "name_en": e, "applies": a, "weight": w, "required": r}
        for c, n, e, a, w, r in CRITERIA
    ],
    "thresholds": [
        {"stars": 5, "min_score": 95},
        {"stars": 4, "min_score": 85},
        {"stars": 3, "min_score": 75},
    ],
    "validity_days": 365,
    "review_notice_days": 30,
}


def seed(apps, schema_editor=None) -> None:
    Rules = apps.get_model("rental", "StarRules")
    if not Rules.objects.exists():
        Rules.objects.create(version=1, note="默认标准", **RULES_V1)
