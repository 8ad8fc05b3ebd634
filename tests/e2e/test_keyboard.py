"""Keyboard only: tab through the intake form and a case action's form. Every control that takes focus
has an accessible name (a label, aria-label or text), and focus moves in reading order."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .conftest import login_desktop, shot

COMMUNITY_STAFF = "community_staff-440309002001-1"

# The accessible name of the focused element, the way assistive technology computes it in the simple
# cases the app uses: aria-labelledby, aria-label, <label for>, a wrapping label, title, text content.
FOCUSED = """() => {
  const el = document.activeElement
  if (!el || el === document.body) return null
  const text = (n) => (n ? n.textContent.replace(/\\s+/g, ' ').trim() : '')
  let name = ''
  const labelledby = el.getAttribute('aria-labelledby')
  if (labelledby) name = labelledby.split(/\\s+/).map((id) => text(document.getElementById(id))).join(' ').trim()
  if (!name) name = (el.getAttribute('aria-label') || '').trim()
  if (!name && el.labels && el.labels.length) name = Array.from(el.labels).map(text).join(' ').trim()
  if (!name && el.closest('label')) name = text(el.closest('label'))
  if (!name) name = (el.getAttribute('title') || '').trim()
  if (!name && ['BUTTON', 'A', 'SUMMARY'].includes(el.tagName)) name = text(el)
  if (!name && ['button', 'radio', 'tab', 'menuitem', 'option', 'link'].includes(el.getAttribute('role'))) name = text(el)
  return { tag: el.tagName.toLowerCase(), id: el.id || '', role: el.getAttribute('role') || '', type: el.getAttribute('type') || '', name }
}"""


def tab_through(page, stop, limit=60):
    """Press Tab until `stop(focused)` is true; return every focused element on the way."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused is None:
            continue
        seen.append(focused)
        if stop(focused):
            return seen
    raise AssertionError(f"focus never reached the end; went through {seen}")


def test_intake_form_by_keyboard(server, new_context):
    ctx = new_context("desktop")
    page = login_desktop(ctx, server, COMMUNITY_STAFF, "/app/cases/new")
    expect(page.get_by_test_id("intake-form")).to_be_visible()
    page.locator("h1").click()  # start from the page heading, before the form

    # Describe the problem with the keyboard: the category suggestions appear.
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED)["id"] == "in-description"
    page.keyboard.type("民治一区3栋门口暴露垃圾堆了三天没人清理，气味很大")
    expect(page.get_by_test_id("intake-suggestions").get_by_role("button").first).to_be_visible()

    order = tab_through(page, lambda f: f["tag"] == "button" and "提交登记" in f["name"])
    print("intake focus order:", [(f["id"] or f["tag"], f["name"]) for f in order])
    nameless = [f for f in order if not f["name"]]
    assert nameless == [], f"controls without an accessible name: {nameless}"
    ids = [f["id"] for f in order if f["id"].startswith("in-")]
    expected = [
        "in-kind",
        "in-channel",
        "in-priority",
        "in-reporter-name",
        "in-reporter-phone",
        "in-address",
        "in-grid",
        "in-category",
    ]
    assert ids[: len(expected)] == expected, ids
    assert ids.index("in-category") < ids.index("in-photos"), ids
    # The suggestion buttons sit between the category and the photos, so they can be taken by keyboard.
    names = [f["name"] for f in order]
    category_at = names.index(next(f["name"] for f in order if f["id"] == "in-category"))
    assert any(re.match(r"^[CEG]\d{4} ", n) for n in names[category_at:]), names

    # Fill what the window channel needs and register the case with the keyboard alone.
    page.locator("#in-reporter-name").focus()
    page.keyboard.type("陈先生")
    page.locator("#in-address").focus()
    page.keyboard.type("民治一区3栋")
    page.keyboard.press("Tab")  # the grid, for a report without a map pin
    page.keyboard.type("第03网格")
    expect(page.get_by_role("option", name="民治社区第03网格")).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator(".el-select__wrapper", has=page.locator("#in-grid"))).to_contain_text(
        "民治社区第03网格"
    )
    page.get_by_test_id("intake-suggestions").get_by_role("button").first.focus()
    page.keyboard.press("Enter")  # take the best category suggestion
    shot(server, page, "desktop-intake")
    page.get_by_test_id("intake-submit").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("intake-created")).to_contain_text("已登记")
    expect(page.get_by_test_id("intake-created")).to_contain_text("疑似重复")


def test_case_action_form_by_keyboard(server, new_context):
    api = server.api(COMMUNITY_STAFF)
    waiting = api.get("/api/v1/cases/cases?status=submitted&area=440309002001&page_size=50")["items"]
    case = next(c for c in waiting if c["holder_area_code"] == "440309002001" and not c["category_code"])
    ctx = new_context("desktop")
    page = login_desktop(ctx, server, COMMUNITY_STAFF, f"/app/cases/{case['id']}")
    expect(page.get_by_test_id("action-accept")).to_be_visible()

    # The action buttons are reachable and named; Enter opens the form.
    page.get_by_test_id("action-bar").locator("button").first.focus()
    buttons = []
    for _ in range(len(page.get_by_test_id("action-bar").locator("button").all())):
        buttons.append(page.evaluate(FOCUSED))
        page.keyboard.press("Tab")
    assert all(b["name"] for b in buttons), buttons
    assert [b["name"] for b in buttons][:1] == ["受理"], buttons
    page.get_by_test_id("action-accept").focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_test_id("action-dialog")
    expect(dialog).to_be_visible()

    order = tab_through(page, lambda f: f["tag"] == "button" and f["name"] == "受理")
    print("accept form focus order:", [(f["id"] or f["tag"], f["name"]) for f in order])
    nameless = [f for f in order if not f["name"]]
    assert nameless == [], f"controls without an accessible name: {nameless}"
    ids = [f["id"] for f in order if f["id"].startswith("action-")]
    assert ids == ["action-category_code", "action-priority", "action-note"], order
    assert [f["name"] for f in order][-2:] == ["取消", "受理"], order

    # Submitting without the required category says what is missing, next to the field.
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("action-error")).to_contain_text("案件类别")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
