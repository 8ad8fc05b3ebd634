"""API authentication: the web app's session cookie (with CSRF on writes) or a hashed API token
(`Authorization: Bearer gg_…`) for integrations.

- An idle session that IdleTimeoutMiddleware ended answers 401 `session-expired`.
- An unknown, expired or revoked token answers 401 `invalid-token`.
- A user whose password an administrator set may only use /api/v1/auth/* until they change it; everything
  else answers 403 `password-change-required`.
- Unknown tokens are rate-limited per address (429, core/ratelimit.py).
- With GRIDGOV_MFA_REQUIRED on, a user who reads personal data (roles.MFA_ROLES) without the TOTP second
  factor may only use /api/v1/auth/* (`api_auth_enrolment`); everything else (`api_auth`) answers 403
  `mfa-enrolment-required`.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.translation import gettext as _

from gridgov.accounts.errors import (
    InvalidToken,
    MfaEnrolmentRequired,
    PasswordChangeRequired,
    SessionExpired,
)
from gridgov.core.errors import Forbidden

SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}


def _csrf_ok(request: HttpRequest) -> bool:
    def _noop(req: HttpRequest) -> HttpResponse:  # pragma: no cover - never called
        return HttpResponse()

    middleware = CsrfViewMiddleware(_noop)
    middleware.process_request(request)
    return middleware.process_view(request, _noop, (), {}) is None


def _csrf_refused(request: HttpRequest, user=None) -> Forbidden:
    from gridgov.accounts.audit import deny

    return deny(
        user,
        action="csrf",
        request=request,
        object_type="request",
        object_id=request.path[:64],
        message=_("The CSRF token is missing or wrong; reload the page and try again."),
    )


def _authenticate(request: HttpRequest, *, enforce_mfa: bool):
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        from gridgov.accounts.services import authenticate_token

        user = authenticate_token(header[7:].strip(), request)
        if user is None:
            from gridgov.core import ratelimit

            ratelimit.enforce(request, "invalid-token")
            raise InvalidToken(_("The API token is unknown, expired or revoked."))
        request.user = user
    else:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            if getattr(request, "gridgov_session_expired", False):
                raise SessionExpired(
                    _("Your session ended after a period of inactivity; please log in again.")
                )
            return None
        if request.method not in SAFE_METHODS and not _csrf_ok(request):
            raise _csrf_refused(request, user)
    if enforce_mfa and getattr(user, "must_change_password", False):
        raise PasswordChangeRequired(
            _(
                "Your password was set by an administrator. Choose your own password first "
                "(POST /api/v1/auth/password), then try again."
            )
        )
    if enforce_mfa:
        from gridgov.accounts.selectors import mfa_enrolment_required

        if mfa_enrolment_required(user):
            from gridgov.accounts.audit import record_audit
            from gridgov.accounts.models import AuditEventType

            record_audit(
                AuditEventType.PERMISSION_DENIED,
                user=user,
                request=request,
                success=False,
                object_type="request",
                object_id=request.path[:64],
                detail={"action": "mfa_enrolment_required"},
            )
            raise MfaEnrolmentRequired(
                _("Enrol the second factor (an authenticator app) first, then try again.")
            )
    return user


def api_auth(request: HttpRequest):
    """Ninja auth callable for every endpoint: returns the user, or None (→ 401)."""
    return _authenticate(request, enforce_mfa=True)


def api_auth_enrolment(request: HttpRequest):
    """The same, without the second-factor gate: for /api/v1/auth/* (who am I, change password, enrol
    TOTP, log out), which a staff user must reach before enrolling."""
    return _authenticate(request, enforce_mfa=False)


def csrf_protect(request: HttpRequest):
    """Ninja auth callable for anonymous writes (login): only checks the CSRF token."""
    if request.method not in SAFE_METHODS and not _csrf_ok(request):
        raise _csrf_refused(request)
    return True
