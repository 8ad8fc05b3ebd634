"""The seeded categories (数字城管 部件/事件 convention plus community-governance categories) and the
whistle catalogue (吹哨事项). `seed(Category, WhistleItem)` is idempotent and takes the model classes,
so a migration can call it with its historical models."""

from __future__ import annotations

D = "440309"
CG, GA, XF, SJ, ZJ, MZ, JT, SW, HJ, YJ, WJ, JY = (
    f"{D}-{s}" for s in ("CG", "GA", "XF", "SJ", "ZJ", "MZ", "JT", "SW", "HJ", "YJ", "WJ", "JY")
)

# (code, name, kind, [(code, name, open_condition, close_condition, department, report_in, resolution)])
# with limits as (amount, "hours" | "days").
H, DY = "hours", "days"
CATEGORIES: list[tuple[str, str, str, list[tuple]]] = [
    # --- 部件 (components) -------------------------------------------------------------------------
    (
        "C01",
        "公用设施",
        "component",
        [
            (
                "C0101",
                "上水井盖缺失",
                "井盖缺失、破损或移位",
                "井盖已补齐或更换，恢复平整",
                SW,
                (1, H),
                (2, H),
            ),
            (
                "C0102",
                "污水井盖缺失",
                "井盖缺失、破损或移位",
                "井盖已补齐或更换，恢复平整",
                SW,
                (1, H),
                (2, H),
            ),
            ("C0103", "雨水篦子破损", "雨水篦子缺失或破损", "雨水篦子已更换", SW, (1, H), (4, H)),
            ("C0104", "路灯不亮", "路灯夜间不亮或损坏", "路灯恢复正常照明", CG, (2, H), (2, DY)),
        ],
    ),
    (
        "C02",
        "道路交通",
        "component",
        [
            ("C0201", "交通标志牌损坏", "标志牌缺失、倾斜或遮挡", "标志牌已修复", JT, (2, H), (3, DY)),
            ("C0202", "隔离护栏损坏", "护栏断裂、缺失或倾倒", "护栏已修复", JT, (2, H), (2, DY)),
            ("C0203", "公交站亭损坏", "站亭玻璃破碎或结构损坏", "站亭已修复", JT, (2, H), (3, DY)),
        ],
    ),
    (
        "C03",
        "市容环境",
        "component",
        [
            ("C0301", "垃圾桶破损", "垃圾桶破损、缺失", "垃圾桶已更换", CG, (2, H), (1, DY)),
            ("C0302", "公厕设施损坏", "公厕设施损坏不能使用", "设施已修复，正常使用", CG, (2, H), (2, DY)),
        ],
    ),
    (
        "C04",
        "园林绿化",
        "component",
        [
            ("C0401", "行道树倒伏", "行道树倒伏、断枝影响通行", "倒伏树木已清理或扶正", CG, (1, H), (4, H)),
            ("C0402", "绿地护栏损坏", "绿地护栏破损", "护栏已修复", CG, (2, H), (3, DY)),
        ],
    ),
    (
        "C05",
        "房屋土地",
        "component",
        [
            ("C0501", "危房隐患", "房屋出现明显裂缝、倾斜", "已完成鉴定并落实处置", ZJ, (2, H), (5, DY)),
            ("C0502", "建筑外立面脱落", "外墙饰面、瓷砖脱落", "脱落部位已修复或围蔽", ZJ, (1, H), (3, DY)),
        ],
    ),
    (
        "C06",
        "其他设施",
        "component",
        [
            ("C0601", "消防栓损坏", "消防栓漏水、损坏或被圈占", "消防栓恢复正常", XF, (2, H), (2, DY)),
            ("C0602", "监控设施损坏", "公共视频监控损坏", "监控已恢复", GA, (2, H), (3, DY)),
        ],
    ),
    # --- 事件 (events) ------------------------------------------------------------------------------
    (
        "E01",
        "市容环境",
        "event",
        [
            (
                "E0101",
                "私搭乱建",
                "未经批准搭建建筑物、构筑物",
                "已停工并拆除或完善手续",
                CG,
                (4, H),
                (7, DY),
            ),
            ("E0102", "暴露垃圾", "垃圾暴露面积 0.5 平方米以上", "垃圾已清理，无暴露", CG, (1, H), (4, H)),
            ("E0103", "积存渣土", "建筑垃圾渣土堆积未清运", "渣土已清运", CG, (2, H), (1, DY)),
            ("E0104", "道路不洁", "路面有明显污渍、杂物", "路面已清扫干净", CG, (1, H), (4, H)),
        ],
    ),
    (
        "E02",
        "宣传广告",
        "event",
        [
            ("E0201", "非法小广告", "张贴、涂写、喷涂小广告", "小广告已清除", CG, (2, H), (1, DY)),
            ("E0202", "违规户外广告", "未经审批设置户外广告", "广告已拆除或补办手续", CG, (4, H), (5, DY)),
        ],
    ),
    (
        "E03",
        "施工管理",
        "event",
        [
            (
                "E0301",
                "施工扰民",
                "夜间（22时至次日7时）违规施工产生噪声",
                "已停止违规施工",
                HJ,
                (1, H),
                (1, DY),
            ),
            (
                "E0302",
                "工地扬尘",
                "工地未覆盖、未洒水，扬尘明显",
                "已落实覆盖、洒水等防尘措施",
                ZJ,
                (2, H),
                (2, DY),
            ),
            ("E0303", "施工占道", "施工围挡超出批准范围占用道路", "已恢复至批准范围", JT, (2, H), (2, DY)),
        ],
    ),
    (
        "E04",
        "突发事件",
        "event",
        [
            ("E0401", "管道破裂", "供水、排水管道破裂漏水", "管道已抢修，恢复供水", SW, (1, H), (4, H)),
            ("E0402", "路面塌陷", "路面出现塌陷、坑洞", "已围蔽并修复路面", ZJ, (1, H), (1, DY)),
            ("E0403", "道路积水", "降雨后道路积水深度超过 15 厘米", "积水已排除", SW, (1, H), (4, H)),
        ],
    ),
    (
        "E05",
        "街面秩序",
        "event",
        [
            (
                "E0501",
                "占道经营",
                "占用道路、人行道摆摊经营",
                "经营者已撤离，道路恢复通行",
                CG,
                (1, H),
                (1, DY),
            ),
            ("E0502", "无照经营", "未取得营业执照从事经营", "已责令停业或办理执照", SJ, (2, H), (5, DY)),
            ("E0503", "黑车拉客", "非法营运车辆招揽乘客", "已查处", JT, (2, H), (2, DY)),
        ],
    ),
    (
        "E06",
        "其他",
        "event",
        [
            ("E0601", "其他城市管理事件", "不属于上述类别的城市管理问题", "问题已处置", CG, (2, H), (5, DY)),
        ],
    ),
    # --- 社会治理 (community governance) -----------------------------------------------------------
    (
        "G01",
        "矛盾纠纷",
        "governance",
        [
            (
                "G0101",
                "邻里纠纷",
                "邻里间因噪声、漏水、通行等发生纠纷",
                "双方达成调解协议或已引导司法途径",
                None,
                (1, DY),
                (5, DY),
            ),
            (
                "G0102",
                "劳资纠纷",
                "拖欠工资等劳动争议",
                "工资已支付或已移交劳动监察",
                None,
                (1, DY),
                (10, DY),
            ),
            ("G0103", "物业纠纷", "业主与物业服务企业之间的纠纷", "双方达成一致", ZJ, (1, DY), (10, DY)),
        ],
    ),
    (
        "G02",
        "安全隐患",
        "governance",
        [
            ("G0201", "燃气安全隐患", "燃气泄漏、违规使用瓶装燃气", "隐患已排除", YJ, (1, H), (1, DY)),
            (
                "G0202",
                "电动车违规充电",
                "楼道、室内违规停放充电电动车",
                "已清理并落实集中充电",
                XF,
                (2, H),
                (2, DY),
            ),
            ("G0203", "高空坠物隐患", "窗台、阳台物品有坠落危险", "隐患已排除", ZJ, (2, H), (2, DY)),
        ],
    ),
    (
        "G03",
        "消防",
        "governance",
        [
            ("G0301", "消防通道堵塞", "消防通道被车辆、杂物占用", "消防通道已畅通", XF, (1, H), (4, H)),
            ("G0302", "消防设施缺失", "灭火器、应急照明等缺失或失效", "设施已补齐", XF, (2, H), (3, DY)),
        ],
    ),
    (
        "G04",
        "治安",
        "governance",
        [
            ("G0401", "治安隐患", "可疑人员聚集、盗窃多发等", "已巡查处置", GA, (1, H), (2, DY)),
            ("G0402", "噪声扰民", "社会生活噪声影响休息", "噪声已停止", GA, (1, H), (1, DY)),
        ],
    ),
    (
        "G05",
        "出租屋",
        "governance",
        [
            ("G0501", "出租屋未登记", "出租房屋未办理登记", "已完成登记", GA, (1, DY), (5, DY)),
            ("G0502", "群租隐患", "房屋分隔群租，存在安全隐患", "已整改", ZJ, (1, DY), (7, DY)),
        ],
    ),
    (
        "G06",
        "民生服务",
        "governance",
        [
            ("G0601", "困难群众救助", "群众生活困难申请救助", "已落实救助或答复", MZ, (1, DY), (7, DY)),
            ("G0602", "就业服务", "求职、技能培训需求", "已提供服务或答复", None, (1, DY), (5, DY)),
            ("G0603", "入学咨询", "子女入学相关诉求", "已答复", JY, (1, DY), (5, DY)),
        ],
    ),
    (
        "G07",
        "环境卫生",
        "governance",
        [
            ("G0701", "垃圾清运不及时", "小区、城中村垃圾未按时清运", "垃圾已清运", CG, (2, H), (1, DY)),
            ("G0702", "病媒生物孳生", "蚊蝇鼠蟑孳生", "已消杀", WJ, (1, DY), (3, DY)),
        ],
    ),
    (
        "G08",
        "物业管理",
        "governance",
        [
            ("G0801", "电梯故障", "电梯停运或困人以外的故障", "电梯恢复运行", SJ, (2, H), (2, DY)),
            ("G0802", "小区设施损坏", "小区公共设施损坏未维修", "设施已维修", ZJ, (1, DY), (5, DY)),
        ],
    ),
]

# (group, name, departments, report_in, resolution)
# Subcategories that only the system opens (no one reports them, so the demo writes no texts for them):
# (parent code, code, name, open_condition, close_condition, department, report_in, resolution).
SYSTEM_SUBCATEGORIES: list[tuple] = [
    # 出租屋 three strict or prohibited grades in a row: the community rectifies the house (rental app).
    (
        "G05",
        "G0503",
        "出租屋整治",
        "出租屋连续多次（默认3次）评为严管或禁止",
        "已完成整治，复查评级不再为严管或禁止",
        None,
        (1, DY),
        (30, DY),
    ),
]

WHISTLE_ITEMS: list[tuple[str, str, list[str], tuple, tuple]] = [
    ("城市管理类", "占道经营联合整治", [CG, GA, SJ], (2, H), (3, DY)),
    ("城市管理类", "违法建设拆除", [CG, ZJ], (4, H), (7, DY)),
    ("城市管理类", "户外广告清理", [CG], (4, H), (3, DY)),
    ("城市管理类", "环境卫生综合整治", [CG, HJ], (4, H), (3, DY)),
    ("城市管理类", "施工扰民查处", [HJ, ZJ], (2, H), (2, DY)),
    ("城市管理类", "道路积水抢排", [SW, CG], (1, H), (1, DY)),
    ("城市管理类", "非法营运整治", [JT, GA], (2, H), (3, DY)),
    ("安全生产类", "消防隐患整改", [XF, YJ], (2, H), (3, DY)),
    ("安全生产类", "燃气安全", [YJ, SJ], (1, H), (2, DY)),
    ("安全生产类", "危房排查处置", [ZJ, YJ], (2, H), (5, DY)),
    ("安全生产类", "电动车充电隐患", [XF, GA], (2, H), (3, DY)),
    ("安全生产类", "电梯安全", [SJ], (2, H), (2, DY)),
    ("安全生产类", "工地安全", [ZJ, YJ], (2, H), (3, DY)),
    ("安全生产类", "食品安全", [SJ, WJ], (2, H), (3, DY)),
    ("民生服务类", "困难群众帮扶", [MZ], (1, DY), (5, DY)),
    ("民生服务类", "劳资纠纷调处", [GA, MZ], (1, DY), (10, DY)),
    ("民生服务类", "学位协调", [JY], (1, DY), (10, DY)),
    ("民生服务类", "物业矛盾调处", [ZJ], (1, DY), (10, DY)),
    ("民生服务类", "公共卫生", [WJ], (1, DY), (5, DY)),
    ("民生服务类", "停水抢修", [SW], (2, H), (1, DY)),
    ("民生服务类", "公交线路调整", [JT], (1, DY), (15, DY)),
]


def seed(category_model, whistle_item_model) -> tuple[int, int]:
    """Create or update the seeded categories and whistle items; admins' own rows are left alone.
    Returns the counts of categories and whistle items seeded."""
    n_cat = 0
    for code, name, kind, children in CATEGORIES:
        parent, _ = category_model.objects.update_or_create(
            code=code, defaults={"name": name, "kind": kind, "parent": None}
        )
        n_cat += 1
        for c_code, c_name, open_c, close_c, dept, (ri, ri_unit), (res, res_unit) in children:
            category_model.objects.update_or_create(
                code=c_code,
                defaults={
                    "parent": parent,
                    "name": c_name,
                    "kind": kind,
                    "open_condition": open_c,
                    "close_condition": close_c,
                    "department_code": dept or "",
                    "report_in_limit": ri,
                    "report_in_unit": ri_unit,
                    "resolution_limit": res,
                    "resolution_unit": res_unit,
                },
            )
            n_cat += 1
    n_cat += seed_system_subcategories(category_model)
    for group, name, depts, (ri, ri_unit), (res, res_unit) in WHISTLE_ITEMS:
        whistle_item_model.objects.update_or_create(
            group=group,
            name=name,
            defaults={
                "department_codes": depts,
                "report_in_limit": ri,
                "report_in_unit": ri_unit,
                "resolution_limit": res,
                "resolution_unit": res_unit,
            },
        )
    return n_cat, len(WHISTLE_ITEMS)


def seed_system_subcategories(category_model) -> int:
    """Create or update the subcategories only the system opens, under their seeded parents (a parent an
    administrator removed leaves its subcategory out). Returns how many were seeded."""
    n = 0
    for parent_code, code, name, open_c, close_c, dept, (ri, ri_unit), (
        res,
        res_unit,
    ) in SYSTEM_SUBCATEGORIES:
        parent = category_model.objects.filter(code=parent_code).first()
        if parent is None:
            continue
        category_model.objects.update_or_create(
            code=code,
            defaults={
                "parent": parent,
                "name": name,
                "kind": parent.kind,
                "open_condition": open_c,
                "close_condition": close_c,
                "department_code": dept or "",
                "report_in_limit": ri,
                "report_in_unit": ri_unit,
                "resolution_limit": res,
                "resolution_unit": res_unit,
            },
        )
        n += 1
    return n
