"""Stored XSS and the Content-Security-Policy in the browser: script-like text is written through the API into
every text field a page shows (area names, a department layer's name and its grid names from the imported
file, a case's description, address, reporter and a note on its timeline, a user's display name, a unit's
name, a resident's name, room and household number, an organisation's name, a building head's
submission, the reason of an escalation that becomes a notification's text), then every page of the
desktop and phone app is opened as the roles that see it, hovering over the maps so their tooltips open. Any `dialog` (an alert that
ran) or any Content-Security-Policy violation fails the test; the text must show as text.

This module writes into the shared demo server: it runs after the other browser tests (file order)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid

from .conftest import login_desktop, login_phone

IMG = "<img src=x onerror=alert(1)>"
SCRIPT = '"><script>alert(1)</script>'
ADMIN = "admin-440309"
STAFF = "community_staff-440309002001-1"
LEADER = "leader-440309"
WORKER = "grid_worker-440309002001001"
COMMUNITY = "440309002001"
GRID = "440309002001001"


def _patch(api, path: str, body: dict):
    req = urllib.request.Request(
        api.base + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "X-CSRFToken": api._csrf(), "Referer": api.base},
        method="PATCH",
    )
    with api.opener.open(req, timeout=30) as r:
        return json.loads(r.read())


def _first(server, role: str, within: str = "") -> str:
    return next(x["username"] for x in server.logins if x["role"] == role and within in x["username"])


def _seed(server) -> dict:
    """Script-like text in every field the pages show; returns the ids of what was made."""
    admin = server.api(ADMIN)
    staff = server.api(STAFF)
    # area names (the maps' tooltips, the tables, the dashboard ranking)
    _patch(admin, f"/api/v1/territory/areas/{GRID}", {"name": IMG})
    _patch(admin, f"/api/v1/territory/areas/{COMMUNITY}", {"name": SCRIPT + "社区"})
    # a department layer: its name and its grids' names come from the imported file
    grids = admin.get(f"/api/v1/territory/geojson?level=grid&parent={COMMUNITY}")
    features = [
        {
            "type": "Feature",
            "geometry": f["geometry"],
            "properties": {"WGBM": f"X-{i}", "WGMC": IMG if i % 2 else SCRIPT},
        }
        for i, f in enumerate(grids["features"][:4])
    ]
    layer = admin.upload(
        "/api/v1/territory/layers",
        {"name": SCRIPT + IMG, "crs": "wgs84"},
        ("x.geojson", json.dumps({"type": "FeatureCollection", "features": features}).encode()),
        "application/geo+json",
    )
    # a case: description, address, reporter's name
    case = staff.post(
        "/api/v1/cases/cases",
        {
            "description": f"{IMG} 井盖缺失 {SCRIPT}",
            "address": SCRIPT,
            "reporter_name": IMG,
            "area_code": GRID,
        },
    )
    # a note on the case's timeline: the first action that needs no other field
    detail = staff.get(f"/api/v1/cases/cases/{case['id']}")
    plain = [a["action"] for a in detail["actions"] if not a["required"] and not a["one_of"]]
    if plain:
        staff.post(
            f"/api/v1/cases/cases/{case['id']}/actions/{plain[0]}",
            {"version": detail["version"], "note": f"{SCRIPT} 已受理 {IMG}"},
        )
    # the staff member's display name (the header on every page, timelines, user lists)
    me = staff.get("/api/v1/auth/me")
    _patch(admin, f"/api/v1/accounts/users/{me['id']}", {"display_name": IMG + "王"})
    # a unit in the registry
    building = staff.get(f"/api/v1/territory/buildings?grid={GRID}&page_size=1")["items"][0]["code"]
    try:
        staff.post(
            "/api/v1/registry/units", {"name": IMG + SCRIPT, "building_code": building, "address": SCRIPT}
        )
    except urllib.error.HTTPError as exc:  # refused input is safe too; the rest still runs
        assert exc.code == 422, exc.read()
    # a resident in the registry: name, room and household number
    from gridgov.core.tabular.validators import id_check_char

    first17 = "44030919900101" + f"{uuid.uuid4().int % 1000:03d}"
    try:
        staff.post(
            "/api/v1/registry/residents",
            {
                "name": IMG,
                "id_number": first17 + id_check_char(first17),
                "residence_type": "tenant",
                "building_code": building,
                "room": "<b>1</b>",
                "household_no": SCRIPT,
            },
        )
    except urllib.error.HTTPError as exc:
        assert exc.code == 422, exc.read()
    # an organisation's name (the whistle dialog, the steps, the administration screens, notices)
    department = admin.get("/api/v1/accounts/organisations?kind=department&page_size=1")["items"][0]["code"]
    _patch(admin, f"/api/v1/accounts/organisations/{department}", {"name": SCRIPT + IMG + "局"})
    # a building head's submission (采集审核): every collected text field
    head = server.api(_first(server, "building_head", COMMUNITY))
    own = head.get("/api/v1/territory/buildings?page_size=1")["items"][0]["code"]
    first17 = "44030919900202" + f"{uuid.uuid4().int % 1000:03d}"
    house = head.get(f"/api/v1/territory/buildings/{own}/houses?page_size=1")["items"][0]
    head.post(
        "/api/v1/registry/submissions",
        {
            "kind": "resident",
            "action": "create",
            "data": {
                "name": IMG,
                "id_number": first17 + id_check_char(first17),
                "residence_type": "tenant",
                "building_code": own,
                "unit": house["unit"],
                "room": house["room"],
                "household_no": SCRIPT,
            },
        },
    )
    # a notification's text: the escalation's reason reaches the subdistrict's dispatchers
    detail = staff.get(f"/api/v1/cases/cases/{case['id']}")
    if "accept" in [a["action"] for a in detail["actions"]]:
        staff.post(
            f"/api/v1/cases/cases/{case['id']}/actions/accept",
            {"version": detail["version"], "category_code": "C0104"},
        )
        detail = staff.get(f"/api/v1/cases/cases/{case['id']}")
    assert "escalate" in [a["action"] for a in detail["actions"]], detail["actions"]
    staff.post(
        f"/api/v1/cases/cases/{case['id']}/actions/escalate",
        {"version": detail["version"], "reason": f"{SCRIPT} 需街道协调 {IMG}"},
    )
    return {"layer": layer["id"], "case": case["id"]}


def _watch(ctx, problems: list[str]):
    ctx.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => "
        "console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))"
    )

    def on_page(page):
        page.on("dialog", lambda d: (problems.append(f"dialog on {page.url}: {d.message}"), d.dismiss()))
        page.on(
            "console",
            lambda m: (
                problems.append(f"{page.url}: {m.text}")
                if "Content Security Policy" in m.text or "CSP violation" in m.text
                else None
            ),
        )

    ctx.on("page", on_page)


def _visit(page, url: str):
    page.goto(url)
    try:
        page.wait_for_load_state("networkidle", timeout=8_000)
    except Exception:  # noqa: BLE001 - a page that keeps polling is still checked
        pass
    # open the maps' tooltips: move across each map
    for box in [
        m.bounding_box() for m in page.locator("[data-testid=layer-map], [data-testid=grid-map]").all()
    ]:
        if not box:
            continue
        for fx in (0.3, 0.45, 0.5, 0.55, 0.7):
            for fy in (0.35, 0.5, 0.65):
                page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
                page.wait_for_timeout(60)
    page.wait_for_timeout(300)


def test_script_like_text_never_runs_on_any_page(server, new_context):
    made = _seed(server)
    problems: list[str] = []
    subdistrict = _first(server, "subdistrict_staff", COMMUNITY[:9])
    desktop = {
        ADMIN: ["workbench", "cases", f"cases/{made['case']}", "territory", "territory/health",
                "territory/redivision", "territory/layers", f"territory/layers/{made['layer']}", "dashboard",
                "admin/users", "admin/organisations", "admin/roles"],
        _first(server, "security_admin"): ["admin/users", "admin/security"],
        _first(server, "audit_admin"): ["admin/audit", "registry/access-log"],
        subdistrict: ["workbench", "cases", f"cases/{made['case']}"],
        LEADER: ["workbench", "cases", f"cases/{made['case']}", "territory", "territory/health",
                 f"territory/layers/{made['layer']}", "registry", "dashboard"],
        STAFF: ["workbench", "cases", "cases/new", f"cases/{made['case']}", "territory", "territory/health",
                "territory/layers", f"territory/layers/{made['layer']}", "registry", "registry/submissions",
                "dashboard"],
    }  # fmt: skip
    for user, paths in desktop.items():
        ctx = new_context("desktop")
        _watch(ctx, problems)
        page = login_desktop(ctx, server, user)
        for path in paths:
            _visit(page, f"{server.url}/app/{path}")
        if user == subdistrict:
            # the escalation's reason shows as text in the notification
            _visit(page, f"{server.url}/app/workbench")
            assert page.get_by_text("需街道协调", exact=False).count() >= 1
        if user == ADMIN:
            # the layer's name from the file shows as text
            _visit(page, f"{server.url}/app/territory/layers/{made['layer']}")
            assert page.get_by_text(SCRIPT + IMG).count() >= 1
        ctx.close()
    for user in (WORKER, STAFF, subdistrict):
        ctx = new_context("phone")
        _watch(ctx, problems)
        page = login_phone(ctx, server, user)
        for path in ("tasks", "report", "mine", "messages", "me", f"cases/{made['case']}"):
            _visit(page, f"{server.url}/m/{path}")
        ctx.close()
    assert problems == []
