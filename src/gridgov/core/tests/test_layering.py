"""The kernel depends on no app: the apps build on core, the project (gridgov/api.py) assembles them."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[1]
APPS = ("accounts", "cases", "registry", "rental", "territory")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_kernel_module_imports_an_app():
    offending = {}
    for path in sorted(CORE.rglob("*.py")):
        if "tests" in path.parts or "migrations" in path.parts:
            continue
        apps = sorted(n for n in _imports(path) if n.split(".")[:2] in (["gridgov", a] for a in APPS))
        if apps:
            offending[str(path.relative_to(CORE))] = apps
    assert offending == {}


def test_the_project_assembles_the_api_from_the_kernels_and_the_apps_routers(client):
    from gridgov.api import api

    paths = api.get_openapi_schema()["paths"]
    for path in ("/api/v1/attachments", "/api/v1/notifications", "/api/v1/cases/", "/api/v1/auth/me"):
        assert any(p.startswith(path) for p in paths), path
    # Errors stay the kernel's problem+json in the user's language.
    r = client.get("/api/v1/notifications", HTTP_ACCEPT_LANGUAGE="en")
    assert r.status_code == 401 and r["Content-Type"].startswith("application/problem+json")
    assert r.json()["title"] == "Please log in"


def test_one_photo_schema_for_the_kernels_and_the_apps_upload_paths():
    from gridgov.api import api

    spec = api.get_openapi_schema()
    assert [name for name in spec["components"]["schemas"] if "Attachment" in name] == ["AttachmentOut"]
    for path in ("/api/v1/attachments", "/api/v1/cases/attachments"):
        schema = spec["paths"][path]["post"]["responses"][201]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/AttachmentOut"}, path


def test_spreadsheet_cells_are_read_the_same_way_for_ids_phones_and_text():
    from gridgov.core.tabular.spec import cell_text as spec_cell_text
    from gridgov.core.tabular.validators import cell_text, normalise_id, normalise_phone

    assert spec_cell_text is cell_text
    assert normalise_phone(13812345678.0) == "13812345678" == normalise_phone(" +86 138 1234 5678 ")
    assert normalise_id(float("nan")) == "" == normalise_phone(None)
    assert normalise_id(" 11010519491231002x ") == "11010519491231002X"
