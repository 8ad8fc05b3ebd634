"""The web app: `/app/…` answers the desktop single-page app and `/m/…` the mobile one (history-mode
routing, so every path below them returns the same page), with the deployment's configuration injected as a JSON data block (never as a script: the
Content-Security-Policy allows no inline script).

The pages are built by `npm run build` in `frontend/` into `static/app/` (`make frontend`); without a build
a bilingual page says so."""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

BUILD_DIR = Path(settings.BASE_DIR) / "static" / "app"
PAGES = {"desktop": "index.html", "mobile": "m.html"}

_cache: dict[str, tuple[float, str]] = {}

MISSING = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>网格治理平台 · 前端未构建 / Web app not built</title>
<style>body{font-family:system-ui,"PingFang SC","Microsoft YaHei",sans-serif;max-width:680px;margin:3rem auto;
padding:0 1rem;color:#1f2d3d}h1{color:#c0392b;font-size:1.4rem}code{background:#f3f5f8;padding:2px 6px}</style></head>
<body><h1>前端尚未构建 · The web app has not been built</h1>
<p>请在项目目录运行 <code>make frontend</code>（需要 Node.js 20 与 npm），然后刷新本页。</p>
<p>Run <code>make frontend</code> in the project directory (needs Node.js 20 and npm), then reload this page.</p>
<p><a href="/">首页 Home</a> · <a href="/api/docs">API</a></p></body></html>
"""


def _config() -> dict:
    return {
        "tileUrl": getattr(settings, "GRIDGOV_TILE_URL", "") or "",
        "tileAttribution": getattr(settings, "GRIDGOV_TILE_ATTRIBUTION", "") or "",
        "language": "zh-CN",
    }


def _page(name: str) -> str | None:
    """The built page with the configuration injected, re-read when the build changes."""
    path = BUILD_DIR / name
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    cached = _cache.get(name)
    if cached and cached[0] == mtime:
        return cached[1]
    html = path.read_text(encoding="utf-8")
    config = json.dumps(_config(), ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")
    script = f'<script type="application/json" id="gridgov-config">{config}</script>'
    html = html.replace("</head>", f"{script}\n</head>", 1) if "</head>" in html else script + html
    _cache[name] = (mtime, html)
    return html


def _answer(name: str) -> HttpResponse:
    html = _page(name)
    if html is None:
        response = HttpResponse(MISSING, status=503, content_type="text/html; charset=utf-8")
    else:
        response = HttpResponse(html, content_type="text/html; charset=utf-8")
    # The page names hashed assets; it must itself never be cached across builds.
    response["Cache-Control"] = "no-cache"
    return response


@require_safe
def desktop(request: HttpRequest, rest: str = "") -> HttpResponse:
    return _answer(PAGES["desktop"])


@require_safe
def mobile(request: HttpRequest, rest: str = "") -> HttpResponse:
    return _answer(PAGES["mobile"])
