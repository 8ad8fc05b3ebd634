"""Browser tests of the web app against a REAL server: `gridgov demo --scale small` and `gridgov serve` in
a temporary data directory (on the PostgreSQL pass of CI the inherited DATABASE_URL is used), driven by
Debian's Chromium through Playwright. Skipped, with the reason, when Chromium or the built app is missing.

Every test fails on a request that leaves the server and on a Content-Security-Policy violation.

Screenshots go to a temporary directory; with GRIDGOV_SCREENSHOTS=docs/screenshots the chosen ones are
copied there too."""

from __future__ import annotations

import http.cookiejar
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import gridgov

CHROMIUM = Path(os.environ.get("GRIDGOV_CHROMIUM", "/usr/bin/chromium"))
BUILD = Path(gridgov.__file__).parent / "static" / "app" / "index.html"
PASSWORD = "Gridgov@2026"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
DESKTOP = {"width": 1920, "height": 1080}
PHONE = {"width": 390, "height": 844}
ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(config, items):
    reason = None
    if not CHROMIUM.exists():
        reason = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    elif not BUILD.exists():
        reason = "the web app is not built (make frontend)"
    if reason:
        for item in items:
            if "tests/e2e/" in str(item.fspath).replace(os.sep, "/"):
                item.add_marker(pytest.mark.skip(reason=reason))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    data_dir: Path
    logins: list[dict]
    shots: Path
    external_requests: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)

    def api(self, username: str) -> Api:
        return Api(self.url, username)


class Api:
    """A tiny JSON client with its own session, for reading facts the UI is then checked against."""

    def __init__(self, base: str, username: str):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.get("/api/v1/auth/csrf")
        self.post("/api/v1/auth/login", {"username": username, "password": PASSWORD})

    def _csrf(self) -> str:
        return next((c.value for c in self.jar if c.name == "csrftoken"), "")

    def get(self, path: str):
        with self.opener.open(self.base + path, timeout=30) as r:
            return json.loads(r.read() or b"null")

    def post(self, path: str, body: dict):
        req = urllib.request.Request(
            self.base + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "X-CSRFToken": self._csrf(), "Referer": self.base},
            method="POST",
        )
        with self.opener.open(req, timeout=30) as r:
            return json.loads(r.read() or b"null")

    def upload(self, path: str, fields: dict[str, str], file: tuple[str, bytes], content_type: str):
        """A multipart/form-data POST: the form fields and one file in the field `file`."""
        boundary = uuid.uuid4().hex
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in fields.items()
        ]
        name, data = file
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n".encode()
            + data
            + b"\r\n"
        )
        req = urllib.request.Request(
            self.base + path,
            data=b"".join(parts) + f"--{boundary}--\r\n".encode(),
            headers={
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "X-CSRFToken": self._csrf(),
                "Referer": self.base,
            },
            method="POST",
        )
        with self.opener.open(req, timeout=60) as r:
            return json.loads(r.read())


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("e2e-data")
    shots = tmp_path_factory.mktemp("e2e-shots")
    env = os.environ.copy()
    env["GRIDGOV_DATA_DIR"] = str(data_dir)
    env.setdefault("GRIDGOV_LOG_LEVEL", "WARNING")
    cli = [sys.executable, "-m", "gridgov.cli"]
    demo = subprocess.run(
        cli + ["demo", "--scale", "small"], env=env, capture_output=True, text=True, timeout=300
    )
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    # Nothing else is prepared: `gridgov demo` trains the category suggestions itself (test_suggest.py).
    port = _free_port()
    log = open(data_dir / "serve.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        cli + ["serve", "--port", str(port), "--workers", "2"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            try:
                with urllib.request.urlopen(url + "/api/v1/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                log.flush()
                pytest.fail("the server did not start:\n" + (data_dir / "serve.log").read_text()[-3000:])
            time.sleep(0.3)
        logins = json.loads((data_dir / "demo-logins.json").read_text(encoding="utf-8"))
        yield Server(url=url, data_dir=data_dir, logins=logins, shots=shots)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def browser(server):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=15_000)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def new_context(browser, server):
    """Contexts of one test: desktop (1920×1080) or phone (390×844); every request must stay on the
    server (no CDN)."""
    made = []

    def _make(kind: str = "desktop", **options):
        viewport = DESKTOP if kind == "desktop" else PHONE
        extra = {"is_mobile": True, "has_touch": True, "device_scale_factor": 2} if kind == "phone" else {}
        ctx = browser.new_context(
            viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai", **extra, **options
        )
        ctx.set_default_timeout(15_000)

        def check(request):
            if not request.url.startswith((server.url, "data:", "blob:")):
                server.external_requests.append(request.url)

        ctx.on("request", check)
        # Every browser test also fails on a Content-Security-Policy violation (docs/security.md).
        ctx.add_init_script(
            "document.addEventListener('securitypolicyviolation', e => "
            "console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))"
        )

        def watch(page):
            page.on(
                "console",
                lambda m: (
                    server.csp_violations.append(f"{page.url}: {m.text}")
                    if "Content Security Policy" in m.text or "CSP violation" in m.text
                    else None
                ),
            )

        ctx.on("page", watch)
        made.append(ctx)
        return ctx

    yield _make
    for ctx in made:
        ctx.close()
    assert server.external_requests == [], f"requests left the server: {server.external_requests[:5]}"
    violations, server.csp_violations[:] = list(server.csp_violations), []
    assert violations == [], f"Content-Security-Policy violations: {violations[:5]}"


def shot(server: Server, page, name: str) -> Path:
    """A screenshot into the session's directory, and into $GRIDGOV_SCREENSHOTS when set."""
    path = server.shots / f"{name}.png"
    try:  # what is still loading (a map's polygons, photos) should be on the picture
        page.wait_for_load_state("networkidle", timeout=5_000)
    except Exception:  # noqa: BLE001 - a screenshot of a busy page is still a screenshot
        pass
    page.evaluate("document.fonts.ready.then(() => true)")  # Chinese glyphs load per subset
    page.screenshot(path=str(path))
    target = os.environ.get("GRIDGOV_SCREENSHOTS")
    if target:
        out = Path(target) if Path(target).is_absolute() else ROOT / target
        out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, out / path.name)
    return path


def login_desktop(ctx, server: Server, username: str, next_path: str = "/app/workbench"):
    page = ctx.new_page()
    page.goto(f"{server.url}/app/login")
    page.locator("#login-username").fill(username)
    page.locator("#login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    page.wait_for_url("**/app/workbench")
    if next_path != "/app/workbench":
        page.goto(server.url + next_path)
    return page


def login_phone(ctx, server: Server, username: str):
    page = ctx.new_page()
    page.goto(f"{server.url}/m/login")
    page.locator("#m-username").fill(username)
    page.locator("#m-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    page.wait_for_url(lambda u: "/m/login" not in u)
    return page


def photo_png(colour=(192, 57, 43)) -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (320, 240), (235, 238, 242))
    draw = ImageDraw.Draw(img)
    draw.rectangle((60, 60, 260, 180), fill=colour)
    draw.ellipse((130, 90, 190, 150), fill=(255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def department_layer(grids: dict) -> bytes:
    """A department's grid layer (多网合一) as GeoJSON: three vertical strips over the grids of `grids` (a
    FeatureCollection), whose edges cut the unified grids (splits, slivers)."""
    from shapely.geometry import box, mapping, shape
    from shapely.ops import unary_union

    whole = unary_union([shape(f["geometry"]) for f in grids["features"]])
    minx, miny, maxx, maxy = whole.bounds
    width = (maxx - minx) / 3
    features = []
    for i in range(3):
        strip = box(minx + i * width, miny, minx + (i + 1) * width, maxy).intersection(whole.buffer(0.0005))
        features.append(
            {
                "type": "Feature",
                "geometry": mapping(strip),
                "properties": {"WGBM": f"CG-{i + 1:02d}", "WGMC": f"城管第{i + 1}网格"},
            }
        )
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False).encode()


def import_csv(page, prefix: str, name: str, data: bytes, *, inserted: int, errors: int) -> None:
    """On an import screen (test ids `<prefix>import-…`): upload a CSV in valid-rows mode and wait until its
    job is done with these counts of imported rows and rows with errors."""
    from playwright.sync_api import expect

    page.get_by_test_id(f"{prefix}import-file").set_input_files(
        files=[{"name": name, "mimeType": "text/csv", "buffer": data}]
    )
    page.get_by_test_id(f"{prefix}mode-valid_rows").click()
    page.get_by_test_id(f"{prefix}import-submit").click()
    expect(page.get_by_test_id(f"{prefix}import-job")).to_have_attribute(
        "data-status", "done", timeout=30_000
    )
    expect(page.get_by_test_id(f"{prefix}import-inserted")).to_have_text(str(inserted))
    expect(page.get_by_test_id(f"{prefix}import-errors")).to_have_text(str(errors))
