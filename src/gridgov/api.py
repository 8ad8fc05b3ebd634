"""The root API mounted at /api/: endpoints under /api/v1 (OpenAPI at /api/openapi.json, docs at /api/docs).

Assembled here, at project level, from the kernel's routers (core) and every app's: the kernel depends on
no app. A new app adds its router below."""

from __future__ import annotations

from ninja import NinjaAPI

from gridgov.accounts.api import auth_router
from gridgov.accounts.api import router as accounts_router
from gridgov.accounts.auth import api_auth
from gridgov.cases.api import router as cases_router
from gridgov.core.health import router as health_router
from gridgov.core.kernel_api import attachments_router, notifications_router
from gridgov.core.ninja_api import JSONRenderer, handle_errors
from gridgov.fieldwork.api import router as fieldwork_router
from gridgov.registry.api import router as registry_router
from gridgov.rental.api import router as rental_router
from gridgov.territory.api import router as territory_router

api = handle_errors(
    NinjaAPI(
        title="GridGov API 网格治理平台接口",
        version="1",
        description=(
            "GridGov 网格治理平台 REST API. Log in with `POST /api/v1/auth/login` (session cookie + "
            "`X-CSRFToken` header for writes) or send `Authorization: Bearer <API token>`. Errors are "
            "`application/problem+json` in the language of `Accept-Language` (简体中文 by default)."
        ),
        urls_namespace="api",
        auth=api_auth,
        renderer=JSONRenderer(),
        openapi_url="/openapi.json",
        docs_url="/docs",
    )
)

api.add_router("/v1", health_router)
api.add_router("/v1", attachments_router)
api.add_router("/v1", notifications_router)
api.add_router("/v1/auth", auth_router)
api.add_router("/v1/accounts", accounts_router)
api.add_router("/v1/territory", territory_router)
api.add_router("/v1/cases", cases_router)
api.add_router("/v1/registry", registry_router)
api.add_router("/v1/rental", rental_router)
api.add_router("/v1/fieldwork", fieldwork_router)
