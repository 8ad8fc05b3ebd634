"""The layout pass: every desktop screen usable at 1366×768 and every phone screen at 390×844 (issue 13,
finding 13: the case list cut off 办理时限 and hid 督办, detail labels wrapped one character per line).

For every screen, at its size, logged in as a role that sees it (one login per role, the page reused):
- the page does not scroll sideways;
- no table header cell is cut off: each visible `.el-table th .cell` shows its whole text, or the table
  scrolls inside itself with its action column (the one holding buttons) fixed on the right and visible;
- a description or form label stays on one line (its height at most 1.6 × its line height);
- nothing covers the top bar.

With GRIDGOV_SCREENSHOTS=docs/screenshots it writes layout-1366-<screen>.png and layout-390-<screen>.png."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from playwright.sync_api import expect

from .conftest import ROOT, department_layer, login_desktop, login_phone

LAPTOP = {"width": 1366, "height": 768}

# What a page breaks at this size; an empty list is a usable page.
CHECK = r"""
() => {
  const problems = []
  const visible = (el) => {
    const r = el.getBoundingClientRect()
    const s = getComputedStyle(el)
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'
  }
  const text = (el) => (el.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 40)
  const doc = document.documentElement
  if (doc.scrollWidth > window.innerWidth + 1) {
    problems.push(`scrolls sideways: ${doc.scrollWidth} > ${window.innerWidth}`)
  }
  for (const table of document.querySelectorAll('.el-table')) {
    if (!visible(table)) continue
    const wrap = table.querySelector('.el-table__body-wrapper .el-scrollbar__wrap')
      || table.querySelector('.el-table__body-wrapper')
    const scrolls = wrap && wrap.scrollWidth > wrap.clientWidth + 1
    const tableBox = table.getBoundingClientRect()
    const heads = [...table.querySelectorAll('.el-table__header-wrapper th')]
    heads.forEach((th, index) => {
      if (!visible(th)) return
      const cell = th.querySelector('.cell')
      if (!cell) return
      const box = th.getBoundingClientRect()
      const inView = box.left >= tableBox.left - 1 && box.right <= tableBox.right + 1
      if (inView && text(cell) && cell.scrollWidth > cell.clientWidth + 1) {
        problems.push(`header cut off: "${text(cell)}" (${cell.scrollWidth} > ${cell.clientWidth})`)
      }
      // The cells below it show their whole content too (a cell with a tooltip shows the rest on hover).
      const column0 = [...th.classList].find((c) => /^el-table_\d+_column_\d+$/.test(c))
      if (inView && column0) {
        const cells = [...table.querySelectorAll(`.el-table__body td.${column0} .cell`)].slice(0, 20)
        for (const c of cells) {
          if (c.classList.contains('el-tooltip') || !visible(c)) continue
          if (c.scrollWidth > c.clientWidth + 1) {
            problems.push(`cell cut off in "${text(cell)}": "${text(c)}"`)
            break
          }
        }
      }
      if (!scrolls) return
      // A table scrolling inside itself keeps its action column fixed on the right and in view.
      const column = [...th.classList].find((c) => /^el-table_\d+_column_\d+$/.test(c))
      const actions = column
        && table.querySelector(`.el-table__body td.${column} .el-button, .el-table__body td.${column} button`)
      if (actions) {
        const fixed = th.classList.contains('el-table-fixed-column--right')
        if (!fixed || !inView) problems.push(`action column "${text(cell) || index}" not fixed and visible`)
      }
    })
  }
  for (const label of document.querySelectorAll('.el-descriptions__label, .el-form-item__label, .van-field__label')) {
    if (!visible(label) || !text(label)) continue
    const s = getComputedStyle(label)
    let line = parseFloat(s.lineHeight)
    if (Number.isNaN(line)) line = parseFloat(s.fontSize) * 1.5
    const height = label.getBoundingClientRect().height
    // A label that is a box (a fixed height with padding) is measured by its text, not its box.
    const range = document.createRange()
    range.selectNodeContents(label)
    const rects = [...range.getClientRects()].filter((r) => r.width > 0)
    const lines = new Set(rects.map((r) => Math.round(r.top))).size
    if (lines > 1 && height > 1.6 * line) problems.push(`label wraps: "${text(label)}" (${lines} lines)`)
  }
  const bar = document.querySelector('.shell__header, .van-nav-bar')
  if (bar && visible(bar)) {
    const r = bar.getBoundingClientRect()
    const y = r.top + Math.min(r.height / 2, 20)
    for (const f of [0.02, 0.25, 0.5, 0.75, 0.98]) {
      const x = r.left + r.width * f
      const hit = document.elementFromPoint(x, y)
      if (hit && !bar.contains(hit) && !hit.closest('.el-popper, .el-message, .el-overlay, .van-toast, .van-popup')) {
        problems.push(`top bar covered at x=${Math.round(x)} by <${hit.tagName.toLowerCase()} class="${hit.className}">`)
      }
    }
  }
  return problems
}
"""


def shot(server, page, name: str) -> None:
    """Like conftest.shot, but at the viewport's CSS size (a phone picture is 390×844, not 780×1688)."""
    path = server.shots / f"{name}.png"
    page.evaluate("document.fonts.ready.then(() => true)")
    page.screenshot(path=str(path), scale="css")
    target = os.environ.get("GRIDGOV_SCREENSHOTS")
    if target:
        out = Path(target) if Path(target).is_absolute() else ROOT / target
        out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, out / path.name)


def _of_role(server, role: str) -> str:
    return next(x["username"] for x in server.logins if x["role"] == role)


def _settle(page) -> None:
    try:
        page.wait_for_load_state("networkidle", timeout=5_000)
    except Exception:  # noqa: BLE001 - a page that keeps polling is still checked
        pass
    expect(page.locator(".el-loading-mask:visible, .van-loading:visible")).to_have_count(0)


def _check(server, page, path: str, size: str, name: str, problems: dict) -> None:
    page.goto(server.url + path)
    if not path.endswith("/login"):
        page.wait_for_url(lambda u: "/login" not in u)
    _settle(page)
    found = page.evaluate(CHECK)
    if found:
        problems[f"{size} {name} ({path})"] = found
    shot(server, page, f"layout-{size}-{name}")


def test_every_desktop_screen_is_usable_at_1366x768(server, new_context):
    staff_name = "community_staff-440309002001-1"
    staff = server.api(staff_name)
    case = staff.get("/api/v1/cases/cases?page_size=1")["items"][0]
    grid = staff.get("/api/v1/territory/areas?level=grid&page_size=1")["items"][0]
    proposals = staff.get("/api/v1/territory/proposals")
    proposals = proposals["items"] if isinstance(proposals, dict) else proposals
    rental = staff.get("/api/v1/rental/houses?page_size=1")["items"][0]

    screens: dict[str, list[tuple[str, str]]] = {
        staff_name: [
            ("workbench", "/app/workbench"),
            ("cases", "/app/cases"),
            ("case", f"/app/cases/{case['id']}"),
            ("intake", "/app/cases/new"),
            ("territory", "/app/territory"),
            ("grid-health", "/app/territory/health"),
            ("redivision", "/app/territory/redivision"),
            ("layers", "/app/territory/layers"),
            ("registry", "/app/registry"),
            ("registry-import", "/app/registry/import"),
            ("submissions", "/app/registry/submissions"),
            ("dashboard", "/app/dashboard"),
            ("rental", "/app/rental"),
            ("rental-house", f"/app/rental/{rental['id']}"),
            ("rental-figures", "/app/rental/figures"),
        ],
        _of_role(server, "department_handler"): [
            ("department-workbench", "/app/workbench"),
            ("department-cases", "/app/cases"),
        ],
        _of_role(server, "admin"): [
            ("admin-users", "/app/admin/users"),
            ("admin-organisations", "/app/admin/organisations"),
            ("admin-roles", "/app/admin/roles"),
        ],
        _of_role(server, "security_admin"): [("admin-security", "/app/admin/security")],
        _of_role(server, "audit_admin"): [
            ("admin-audit", "/app/admin/audit"),
            ("access-log", "/app/registry/access-log"),
        ],
    }
    # A proposal to look at: the demo has none, so one is made for the community and set aside afterwards.
    admin_name = _of_role(server, "admin")
    admin = server.api(admin_name)
    made = None
    if not proposals:
        made = admin.post("/api/v1/territory/proposals", {"area_code": grid["code"][:12]})
        proposals = [made]
    screens[admin_name].append(("proposal", f"/app/territory/redivision/{proposals[0]['id']}"))
    # The layer overlay (多网合一): the demo has no department layer, so a small one is imported over one
    # community (three strips cutting its grids: splits and slivers to list).
    community = grid["code"][:12]
    layer = admin.upload(
        "/api/v1/territory/layers",
        {"name": "城管网格（版式检查）", "crs": "wgs84"},
        (
            "layout-layer.geojson",
            department_layer(admin.get(f"/api/v1/territory/geojson?level=grid&parent={community}")),
        ),
        "application/geo+json",
    )
    screens[staff_name].append(("layer", f"/app/territory/layers/{layer['id']}"))

    problems: dict[str, list[str]] = {}
    page = new_context("desktop").new_page()
    page.set_viewport_size(LAPTOP)
    _check(server, page, "/app/login", "1366", "login", problems)
    page.close()
    for username, pages in screens.items():
        page = login_desktop(new_context("desktop"), server, username)
        page.set_viewport_size(LAPTOP)
        for name, path in pages:
            _check(server, page, path, "1366", name, problems)
            if name == "layer":
                # Every column of the overlay, 标记 included, in view without scrolling the table sideways.
                wrap = page.get_by_test_id("overlay-table").locator(".el-scrollbar__wrap").first
                widths = wrap.evaluate("w => [w.scrollWidth, w.clientWidth]")
                if widths[0] > widths[1] + 1:
                    problems["1366 layer"] = [f"overlay table scrolls sideways: {widths[0]} > {widths[1]}"]
            if name == "territory":
                # The grid page's staff list: a grid chosen in the table.
                page.get_by_test_id("grid-table").get_by_text(grid["code"], exact=True).first.click()
                expect(page.get_by_test_id("staff-list")).to_be_visible()
                _settle(page)
                found = page.evaluate(CHECK)
                if found:
                    problems["1366 grid-staff"] = found
                page.get_by_test_id("staff-list").scroll_into_view_if_needed()
                shot(server, page, "layout-1366-grid-staff")
        page.close()
    if made:
        admin.post(f"/api/v1/territory/proposals/{made['id']}/discard", {})
    assert problems == {}, "\n".join(f"{k}: {v}" for k, v in problems.items())


def test_every_phone_screen_is_usable_at_390x844(server, new_context):
    worker_name = "grid_worker-440309002001001"
    worker = server.api(worker_name)
    case = worker.get("/api/v1/cases/cases?page_size=1")["items"][0]
    rental = worker.get("/api/v1/rental/houses?page_size=1")["items"][0]
    resident_name = _of_role(server, "resident")
    screens = {
        worker_name: [
            ("tasks", "/m/tasks"),
            ("report", "/m/report"),
            ("mine", "/m/mine"),
            ("messages", "/m/messages"),
            ("me", "/m/me"),
            ("case", f"/m/cases/{case['id']}"),
            ("rental-inspect", f"/m/rental/inspect/{rental['id']}"),
            ("rental-public", f"/m/rental/{rental['code']}"),
        ],
        _of_role(server, "department_handler"): [
            ("department-tasks", "/m/tasks"),
            ("department-messages", "/m/messages"),
        ],
        resident_name: [("resident-mine", "/m/mine"), ("resident-report", "/m/report")],
    }
    handler = server.api(_of_role(server, "department_handler"))
    handled = handler.get("/api/v1/cases/cases?page_size=1")["items"]
    if handled:
        screens[_of_role(server, "department_handler")].append(
            ("department-case", f"/m/cases/{handled[0]['id']}")
        )

    problems: dict[str, list[str]] = {}
    page = new_context("phone").new_page()
    _check(server, page, "/m/login", "390", "login", problems)
    page.close()
    for username, pages in screens.items():
        page = login_phone(new_context("phone"), server, username)
        for name, path in pages:
            _check(server, page, path, "390", name, problems)
        page.close()
    assert problems == {}, "\n".join(f"{k}: {v}" for k, v in problems.items())
