"""Every write on accounts: login security, the second factor, API tokens, users and memberships
(三权分立), and the audit log.

Each use case runs in one transaction and records its audit event in it. A refused or failed attempt
records its event outside any rolled-back transaction, so it stays on record.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
import secrets
import time
from typing import Any

from django.conf import settings
from django.contrib.auth import SESSION_KEY, update_session_auth_hash
from django.contrib.auth import login as django_login
from django.contrib.auth import logout as django_logout
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Case, F, Q, Value, When
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from gridgov.accounts import otp
from gridgov.accounts.audit import client_ip, deny, record_audit
from gridgov.accounts.errors import InvalidCredentials, TotpRequired
from gridgov.accounts.middleware import LAST_SEEN_KEY
from gridgov.accounts.models import (
    ApiToken,
    AuditEvent,
    AuditEventType,
    LoginLock,
    Membership,
    Organisation,
    OrganisationKind,
    User,
    role_conflict,
)
from gridgov.accounts.roles import ADMIN_ROLES, AREA_ROLES, ORGANISATION_ROLES, Role
from gridgov.core import pii, ratelimit, timeline
from gridgov.core.errors import Conflict, Locked, NotFound, ValidationFailed
from gridgov.core.principal import require

__all__ = [
    "authenticate_token",
    "change_password",
    "client_ip",
    "create_admin",
    "create_organisation",
    "create_token",
    "create_user",
    "grant_membership",
    "hash_token",
    "login",
    "logout",
    "purge_audit",
    "record_audit",
    "register_login_failure",
    "reset_totp",
    "revoke_access",
    "revoke_membership",
    "revoke_token",
    "totp_confirm",
    "totp_setup",
    "unlock_from_console",
    "unlock_user",
    "update_organisation",
    "update_user",
]

TOKEN_PREFIX = "gg_"
PHONE_RE = re.compile(r"^\+?[0-9][0-9\- ]{5,18}[0-9]$")
# Roles that may name an area although their data scope is their own records.
SELF_ROLES_WITH_AREA: dict[str, tuple[str, ...]] = {
    Role.RESIDENT: ("community", "block", "grid"),
    Role.VOLUNTEER: ("community", "block", "grid"),
}


def _field_error(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        _("Please correct: %(fields)s") % {"fields": field}, errors=[{"field": field, "message": message}]
    )


def _password_errors(field: str, password: str, user) -> list[dict]:
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        return [{"field": field, "message": str(message)} for message in exc.messages]
    return []


# --- login security (等保2.0 身份鉴别) --------------------------------------------------------------


def _locked_error(locked_until: dt.datetime, now: dt.datetime) -> Locked:
    minutes = max(1, math.ceil((locked_until - now).total_seconds() / 60))
    detail = ngettext(
        "The account is locked after too many failed logins. Try again in %(minutes)d minute, "
        "or ask the security administrator to unlock it.",
        "The account is locked after too many failed logins. Try again in %(minutes)d minutes, "
        "or ask the security administrator to unlock it.",
        minutes,
    ) % {"minutes": minutes}
    return Locked(detail, minutes_remaining=minutes, locked_until=locked_until.isoformat())


def _invalid_credentials() -> InvalidCredentials:
    """The one answer to a wrong password, an unknown, inactive or locked account: nobody learns which
    accounts exist or are locked (the audit log records the reason)."""
    return InvalidCredentials(
        _(
            "The username or password is wrong, or the account is disabled or locked for a while after "
            "too many failed logins."
        )
    )


def _user_event(user: User, request: HttpRequest | None, event_type: str, **fields) -> None:
    """An audit event about one user account (the object is the user)."""
    record_audit(event_type, user=user, request=request, object_type="user", object_id=user.pk, **fields)


def is_administrator(user) -> bool:
    return Membership.objects.filter(user_id=user.pk, role__in=ADMIN_ROLES).exists()


def _lock_rows(user: User, request: HttpRequest | None):
    """Where the failed logins of this attempt count: the account, or for an administrator the account
    from this client address (LoginLock), so that anonymous requests from elsewhere cannot lock the
    administrators out."""
    if is_administrator(user):
        address = client_ip(request) or ""
        LoginLock.objects.get_or_create(user=user, address=address)
        return LoginLock.objects.filter(user=user, address=address)
    return User.objects.filter(pk=user.pk)


def _claim_attempt(rows, now: dt.datetime) -> tuple[bool, bool]:
    """Reserve one login attempt before the password is checked, with conditional UPDATEs: at most
    GRIDGOV_LOGIN_MAX_FAILURES attempts are ever checked before the lock, however many arrive at once.

    Returns (claimed, locking): `claimed` False when the account is locked; `locking` True for the one
    attempt that used the last try (it locks the account; a right password then unlocks it again)."""
    max_failures = settings.GRIDGOV_LOGIN_MAX_FAILURES
    lock_until = now + dt.timedelta(seconds=settings.GRIDGOV_LOGIN_LOCK_SECONDS)
    rows.filter(locked_until__lte=now).update(failed_logins=0, locked_until=None)  # the lock ran out
    open_rows = rows.filter(locked_until__isnull=True)
    for _attempt in range(20):
        if open_rows.filter(failed_logins__gte=max_failures - 1, failed_logins__lt=max_failures).update(
            failed_logins=F("failed_logins") + 1, locked_until=lock_until
        ):
            return True, True
        if open_rows.filter(failed_logins__lt=max_failures - 1).update(failed_logins=F("failed_logins") + 1):
            return True, False
        if not open_rows.filter(failed_logins__lt=max_failures).exists():
            return False, False
    return False, False  # pragma: no cover - only under a storm of parallel attempts


def _release_attempt(rows) -> None:
    """Give back a reserved attempt that was neither a failure nor a success (the TOTP code is asked)."""
    max_failures = settings.GRIDGOV_LOGIN_MAX_FAILURES
    rows.filter(failed_logins__gt=0).update(
        failed_logins=F("failed_logins") - 1,
        locked_until=Case(
            When(failed_logins__lte=max_failures, then=Value(None)),
            default=F("locked_until"),
            output_field=User._meta.get_field("locked_until"),
        ),
    )


def _reset_attempts(user: User, rows) -> None:
    """A successful login: the count starts afresh (an administrator's row for this address goes)."""
    if rows.model is LoginLock:
        rows.delete()
    else:
        rows.update(failed_logins=0, locked_until=None)
        user.failed_logins, user.locked_until = 0, None


def _record_failure(user: User, request: HttpRequest | None, rows, *, reason: str, locking: bool) -> None:
    failures, locked_until = rows.values_list("failed_logins", "locked_until").get()
    _user_event(
        user, request, AuditEventType.LOGIN, success=False, detail={"reason": reason, "failures": failures}
    )
    if locking and locked_until is not None:
        detail = {"failures": failures, "locked_until": locked_until.isoformat()}
        if rows.model is LoginLock:
            detail["address"] = client_ip(request) or ""
        _user_event(user, request, AuditEventType.LOGIN_LOCKED, success=False, detail=detail)


def register_login_failure(
    user: User, *, request: HttpRequest | None = None, reason: str = "password"
) -> Locked | None:
    """Count one failed login with an atomic UPDATE (parallel failures all count); the failure that
    reaches GRIDGOV_LOGIN_MAX_FAILURES locks the account (for an administrator: from this address) for
    GRIDGOV_LOGIN_LOCK_SECONDS. Returns the Locked error when the account is locked, None otherwise."""
    now = timezone.now()
    rows = _lock_rows(user, request)
    claimed, locking = _claim_attempt(rows, now)
    if claimed:
        _record_failure(user, request, rows, reason=reason, locking=locking)
    failures, locked_until = rows.values_list("failed_logins", "locked_until").get()
    if rows.model is User:
        user.failed_logins, user.locked_until = failures, locked_until
    if locked_until is None or locked_until <= now:
        return None
    return _locked_error(locked_until, now)


def _account_key(username: str, user: User | None, request: HttpRequest | None) -> str:
    key = "account:" + username.lower()
    if user is not None and is_administrator(user):
        key += "|" + ratelimit.address_key(request)
    return key


def login(request: HttpRequest, *, username: str, password: str, totp: str | None = None) -> User:
    """Password (+ TOTP when enrolled) → a session.

    A wrong password and an unknown, inactive or locked account answer one and the same 401; each failed
    attempt is counted per client address and per account name (429 with Retry-After beyond
    GRIDGOV_RATELIMITS), and GRIDGOV_LOGIN_MAX_FAILURES failures lock the account (an administrator's
    account only from the address the failures came from)."""
    username = (username or "").strip()
    ratelimit.check(request, "login-address")
    user = User.objects.filter(username=username).first()
    account_key = _account_key(username, user, request)
    ratelimit.check(request, "login-account", key=account_key)

    def refuse(error: Exception | None = None):
        ratelimit.hit(request, "login-address")
        ratelimit.hit(request, "login-account", key=account_key)
        return error or _invalid_credentials()

    if user is None:
        User().set_password(password)  # the same hashing time as for a real account
        record_audit(
            AuditEventType.LOGIN,
            username=username,
            request=request,
            success=False,
            detail={"reason": "unknown_user"},
        )
        raise refuse()

    rows = _lock_rows(user, request)
    claimed, locking = _claim_attempt(rows, timezone.now())
    if not claimed:
        User().set_password(password)  # the same time and answer as a wrong password
        _user_event(user, request, AuditEventType.LOGIN, success=False, detail={"reason": "locked"})
        raise refuse()
    if not user.check_password(password):
        _record_failure(user, request, rows, reason="password", locking=locking)
        raise refuse()
    if not user.is_active:
        _user_event(user, request, AuditEventType.LOGIN, success=False, detail={"reason": "inactive"})
        raise refuse()

    if user.totp_enabled:
        if not (totp or "").strip():
            _release_attempt(rows)
            _user_event(
                user, request, AuditEventType.LOGIN, success=False, detail={"reason": "totp_required"}
            )
            raise TotpRequired(_("Enter the 6-digit code from your authenticator app."))
        if not _claim_totp(user, totp or ""):
            _record_failure(user, request, rows, reason="totp", locking=locking)
            raise refuse(TotpRequired(_("The verification code is wrong or was already used.")))

    with transaction.atomic():
        _reset_attempts(user, rows)
        django_login(request, user, backend=settings.AUTHENTICATION_BACKENDS[0])
        request.session[LAST_SEEN_KEY] = time.time()
        record_audit(AuditEventType.LOGIN, user=user, request=request, object_type="user", object_id=user.pk)
    return user


def logout(request: HttpRequest, *, user) -> None:
    with transaction.atomic():
        record_audit(AuditEventType.LOGOUT, user=user, request=request, object_type="user", object_id=user.pk)
        django_logout(request)


def set_language(request: HttpRequest | None, *, user: User, language: str) -> User:
    """The user's language (web app and notifications; "" = the default, 简体中文)."""
    if user.language != language:
        user.language = language
        user.save(update_fields=["language"])
    return user


def change_password(request: HttpRequest, *, user: User, old_password: str, new_password: str) -> User:
    """The user's own password: the current one, then the policy (AUTH_PASSWORD_VALIDATORS)."""
    if not user.check_password(old_password):
        _user_event(
            user,
            request,
            AuditEventType.PASSWORD_CHANGE,
            success=False,
            detail={"reason": "wrong_old_password"},
        )
        raise _field_error("old_password", _("The current password is wrong."))
    errors = _password_errors("new_password", new_password, user)
    if not errors and new_password == old_password:
        errors = [
            {"field": "new_password", "message": _("The new password must differ from the current one.")}
        ]
    if errors:
        _user_event(user, request, AuditEventType.PASSWORD_CHANGE, success=False, detail={"reason": "policy"})
        raise ValidationFailed(_("Please correct: %(fields)s") % {"fields": "new_password"}, errors=errors)
    with transaction.atomic():
        user.set_password(new_password)
        user.password_changed_at = timezone.now()
        user.must_change_password = False
        user.save(update_fields=["password", "password_changed_at", "must_change_password"])
        if request is not None and hasattr(request, "session") and request.session.get(SESSION_KEY):
            update_session_auth_hash(request, user)
        record_audit(
            AuditEventType.PASSWORD_CHANGE, user=user, request=request, object_type="user", object_id=user.pk
        )
    return user


# --- the TOTP second factor ------------------------------------------------------------------------


def _claim_totp(user: User, code: str) -> bool:
    """Accept a code once: the step it matches must be newer than the last accepted one (atomic)."""
    step = otp.matching_step(user.totp_secret, code, last_step=user.totp_last_step)
    if step is None:
        return False
    claimed = (
        User.objects.filter(pk=user.pk)
        .filter(Q(totp_last_step__isnull=True) | Q(totp_last_step__lt=step))
        .update(totp_last_step=step)
    )
    if claimed:
        user.totp_last_step = step
    return bool(claimed)


def totp_setup(request: HttpRequest, *, user: User) -> dict:
    """A new secret for the user's authenticator app, stored but not enabled until confirmed."""
    if user.totp_enabled:
        raise Conflict(
            _("The second factor is already enrolled; ask the security administrator to reset it.")
        )
    secret = otp.new_secret()
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).exists()  # lock the row
        user.refresh_from_db(fields=["phone_enc", "pii_key"])
        user.__dict__.pop("_plain", None)
        user.totp_secret, user.totp_last_step = secret, None  # sealed at rest (core.pii)
        user.save(update_fields=["totp_secret_enc", "phone_enc", "pii_key", "totp_last_step"])
        _user_event(user, request, AuditEventType.TOTP_ENROL, detail={"stage": "setup"})
    uri = otp.provisioning_uri(secret, user.username)
    return {"secret": secret, "otpauth_uri": uri, "qr_code": otp.qr_data_uri(uri)}


def totp_confirm(request: HttpRequest, *, user: User, code: str) -> User:
    if user.totp_enabled:
        raise Conflict(
            _("The second factor is already enrolled; ask the security administrator to reset it.")
        )
    if not user.totp_secret:
        raise _field_error("code", _("Start the set-up of the second factor first."))
    ratelimit.check(request, "totp-confirm", key=f"user:{user.pk}")
    if not _claim_totp(user, code):
        ratelimit.hit(request, "totp-confirm", key=f"user:{user.pk}")
        _user_event(user, request, AuditEventType.TOTP_ENROL, success=False, detail={"stage": "confirm"})
        raise _field_error("code", _("The verification code is wrong or was already used."))
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(totp_enabled=True)
        user.totp_enabled = True
        _user_event(user, request, AuditEventType.TOTP_ENROL, detail={"stage": "confirm"})
    return user


# --- API tokens ------------------------------------------------------------------------------------


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def authenticate_token(secret: str, request: HttpRequest | None = None):
    """The user behind a valid, unexpired, unrevoked API token, or None."""
    if not secret:
        return None
    token = ApiToken.objects.select_related("user").filter(token_hash=hash_token(secret)).first()
    now = timezone.now()
    if token is None or token.revoked_at is not None or (token.expires_at and token.expires_at <= now):
        if request is not None:
            record_audit(
                AuditEventType.TOKEN_AUTH,
                user=token.user if token else None,
                request=request,
                success=False,
                object_type="api_token",
                object_id=token.pk if token else "",
                detail={
                    "reason": "unknown" if token is None else "revoked_or_expired",
                    "prefix": secret[:11],
                },
            )
        return None
    if not token.user.is_active:
        return None
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def create_token(
    request: HttpRequest | None, *, user: User, name: str, expires_in_days: int | None = None
) -> tuple[ApiToken, str]:
    """A new token of the user's own; the secret is returned here once and never stored."""
    name = (name or "").strip()
    if not name:
        raise _field_error("name", _("This field is required"))
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = timezone.now() + dt.timedelta(days=expires_in_days) if expires_in_days else None
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=name, prefix=secret[:11], token_hash=hash_token(secret), expires_at=expires_at
        )
        record_audit(
            AuditEventType.TOKEN_CREATE,
            user=user,
            request=request,
            object_type="api_token",
            object_id=token.pk,
            detail={"name": name, "prefix": token.prefix},
        )
    return token, secret


def revoke_token(request: HttpRequest | None, *, user: User, token_id: int) -> ApiToken:
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().filter(pk=token_id, user_id=user.pk).first()
        if token is None:
            raise NotFound(_("No such API token."))
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            record_audit(
                AuditEventType.TOKEN_REVOKE,
                user=user,
                request=request,
                object_type="api_token",
                object_id=token.pk,
                detail={"name": token.name, "prefix": token.prefix},
            )
    return token


# --- 三权分立: who may do what ------------------------------------------------------------------------


def _user_or_404(user_id: int, *, lock: bool = False) -> User:
    qs = User.objects.select_for_update() if lock else User.objects.all()
    found = qs.filter(pk=user_id).first()
    if found is None:
        raise NotFound(_("No such user."))
    return found


def _holds_other_admin_role(user: User) -> bool:
    return Membership.objects.filter(user=user, role__in=[Role.SECURITY_ADMIN, Role.AUDIT_ADMIN]).exists()


# --- users (system administrator) ------------------------------------------------------------------


def revoke_access(user: User, *, keep_session: str | None = None) -> dict:
    """End every session of the user (but `keep_session`) and revoke every API token of theirs.
    Returns the counts for the audit record."""
    from django.contrib.sessions.models import Session

    now = timezone.now()
    ended = []
    for session in Session.objects.filter(expire_date__gt=now).iterator():
        if session.session_key != keep_session and session.get_decoded().get(SESSION_KEY) == str(user.pk):
            ended.append(session.session_key)
    Session.objects.filter(session_key__in=ended).delete()
    tokens = ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=now)
    return {"sessions": len(ended), "tokens": tokens}


def _clean_phone(phone: str | None) -> str:
    phone = (phone or "").strip()
    if phone and not PHONE_RE.match(phone):
        raise _field_error("phone", _("Enter a valid phone number."))
    return phone


def create_user(
    request: HttpRequest | None,
    *,
    actor,
    username: str,
    password: str,
    display_name: str = "",
    phone: str = "",
    is_active: bool = True,
) -> User:
    """A new account (system administrator only); roles are granted by the security administrator."""
    require(actor, "user.create", ("user", ""), request=request)
    username = (username or "").strip()
    errors: list[dict] = []
    if not username:
        errors.append({"field": "username", "message": _("This field is required")})
    else:
        try:
            User.username_validator(username)
        except ValidationError as exc:
            errors += [{"field": "username", "message": str(m)} for m in exc.messages]
    if username and User.objects.filter(username=username).exists():
        errors.append({"field": "username", "message": _("This username is already taken.")})
    try:
        phone = _clean_phone(phone)
    except ValidationFailed as exc:
        errors += exc.errors
    candidate = User(username=username, display_name=display_name or "")
    errors += _password_errors("password", password, candidate)
    if errors:
        fields = ", ".join(dict.fromkeys(e["field"] for e in errors))
        raise ValidationFailed(_("Please correct: %(fields)s") % {"fields": fields}, errors=errors)
    with transaction.atomic():
        user = User(
            username=username,
            display_name=(display_name or "").strip(),
            is_active=is_active,
            must_change_password=True,  # set by an administrator: the owner chooses their own at first login
        )
        user.phone = phone  # sealed at rest (core.pii)
        user.set_password(password)
        user.save()
        record_audit(
            AuditEventType.USER_CREATE,
            user=actor,
            request=request,
            object_type="user",
            object_id=user.pk,
            detail={"username": username, "is_active": is_active},
        )
    return user


def update_user(request: HttpRequest | None, *, actor, user_id: int, changes: dict) -> User:
    """Change an account (system administrator only). The password and the active flag of a security
    or audit administrator are out of the system administrator's reach (三权分立)."""
    require(actor, "user.change", ("user", user_id), request=request)
    changes = {k: v for k, v in changes.items() if k in {"display_name", "phone", "is_active", "password"}}
    target = _user_or_404(user_id)
    if (
        ({"password", "is_active"} & changes.keys())
        and target.pk != actor.pk
        and _holds_other_admin_role(target)
    ):
        raise deny(
            actor,
            action="user.change_admin",
            request=request,
            object_type="user",
            object_id=target.pk,
            message=_("The password and status of a security or audit administrator cannot be changed here."),
        )
    if changes.get("is_active") is False and target.pk == actor.pk:
        raise _field_error("is_active", _("You cannot deactivate your own account."))
    errors: list[dict] = []
    if "phone" in changes:
        try:
            changes["phone"] = _clean_phone(changes["phone"])
        except ValidationFailed as exc:
            errors += exc.errors
    if changes.get("password") is not None:
        errors += _password_errors("password", changes["password"], target)
    for field in ("display_name", "is_active"):
        if field in changes and changes[field] is None:
            errors.append({"field": field, "message": _("This field is required")})
    if errors:
        names = ", ".join(dict.fromkeys(e["field"] for e in errors))
        raise ValidationFailed(_("Please correct: %(fields)s") % {"fields": names}, errors=errors)
    with transaction.atomic():
        target = _user_or_404(user_id, lock=True)
        audit: dict = {}
        fields: list[str] = []
        if "display_name" in changes and changes["display_name"] != target.display_name:
            audit["display_name"] = [target.display_name, changes["display_name"]]
            target.display_name = changes["display_name"].strip()
            fields.append("display_name")
        if "phone" in changes and changes["phone"] != target.phone:
            audit["phone"] = [pii.mask_phone(target.phone), pii.mask_phone(changes["phone"])]
            target.phone = changes["phone"]
            fields += ["phone_enc", "phone_hash", "totp_secret_enc", "pii_key"]
        if "is_active" in changes and changes["is_active"] != target.is_active:
            audit["is_active"] = [target.is_active, changes["is_active"]]
            target.is_active = changes["is_active"]
            fields.append("is_active")
        if changes.get("password"):
            audit["password"] = "set"
            target.set_password(changes["password"])
            target.password_changed_at = None  # set by an administrator: the owner must choose a new one
            target.must_change_password = True
            fields += ["password", "password_changed_at", "must_change_password"]
        if fields:
            target.save(update_fields=fields)
        if audit.get("password") or audit.get("is_active") == [True, False]:
            # A deactivated account or a password set by an administrator: every session and API token
            # of the account ends now (reactivation revives nothing).
            audit["revoked"] = revoke_access(target)
            record_audit(
                AuditEventType.USER_CHANGE,
                user=actor,
                request=request,
                object_type="user",
                object_id=target.pk,
                detail={"username": target.username, "changes": audit},
            )
    return target


def create_admin(*, username: str, password: str, role: str = Role.ADMIN, display_name: str = "") -> User:
    """The first administrators, from the server console (`gridgov createadmin`): a new account holding
    one of the three administrator roles. The caller has checked the password policy."""
    if role not in ADMIN_ROLES:
        raise _field_error("role", _("Choose one of the allowed values"))
    username = (username or "").strip()
    if User.objects.filter(username=username).exists():
        raise Conflict(_("This username is already taken."))
    with transaction.atomic():
        user = User(
            username=username, display_name=display_name or username, password_changed_at=timezone.now()
        )
        user.set_password(password)
        user.save()
        membership = Membership.objects.create(user=user, role=role)
        record_audit(
            AuditEventType.USER_CREATE,
            username="console",
            object_type="user",
            object_id=user.pk,
            detail={"username": username},
        )
        record_audit(
            AuditEventType.ROLE_GRANT,
            username="console",
            object_type="membership",
            object_id=membership.pk,
            detail={"username": username, "role": role},
        )
    return user


# --- memberships, unlock, second-factor reset (security administrator) -----------------------------


def _membership_target(role: str, area_code: str | None, organisation_code: str | None):
    """Validate that the area level or organisation kind fits the role → (area, organisation)."""
    from gridgov.territory.models import Area

    area_code = (area_code or "").strip() or None
    organisation_code = (organisation_code or "").strip() or None
    area = organisation = None
    if role in AREA_ROLES or role in SELF_ROLES_WITH_AREA:
        levels = AREA_ROLES.get(role) or SELF_ROLES_WITH_AREA[role]
        if organisation_code:
            raise _field_error(
                "organisation_code", _("This role is held in an area, not in an organisation.")
            )
        if area_code is None:
            if role in AREA_ROLES:
                raise _field_error("area_code", _("This role needs an area."))
            return None, None
        area = Area.objects.filter(code=area_code, is_active=True).first()
        if area is None:
            raise _field_error("area_code", _("No active area has this code."))
        if area.level not in levels:
            raise _field_error(
                "area_code",
                _("This role needs an area of level: %(levels)s.") % {"levels": ", ".join(levels)},
            )
    elif role in ORGANISATION_ROLES:
        if area_code:
            raise _field_error("area_code", _("This role is held in an organisation, not in an area."))
        if organisation_code is None:
            raise _field_error("organisation_code", _("This role needs an organisation."))
        organisation = Organisation.objects.filter(code=organisation_code, is_active=True).first()
        if organisation is None:
            raise _field_error("organisation_code", _("No active organisation has this code."))
        if organisation.kind != ORGANISATION_ROLES[role]:
            raise _field_error("organisation_code", _("This role needs an organisation of another kind."))
    else:
        if area_code:
            raise _field_error("area_code", _("This role is held without an area."))
        if organisation_code:
            raise _field_error("organisation_code", _("This role is held without an organisation."))
    return area, organisation


def grant_membership(
    request: HttpRequest | None,
    *,
    actor,
    user_id: int,
    role: str,
    area_code: str | None = None,
    organisation_code: str | None = None,
) -> Membership:
    """Grant a role in an area or organisation (security administrator only, never to themselves; one
    person holds at most one of the three administrator roles)."""
    require(actor, "membership.grant", ("user", user_id), request=request)
    if role not in Role.values:
        raise _field_error("role", _("Choose one of the allowed values"))
    if int(user_id) == actor.pk:
        raise deny(
            actor,
            action="membership.grant_self",
            request=request,
            object_type="user",
            object_id=user_id,
            message=_("You cannot change your own roles."),
        )
    area, organisation = _membership_target(role, area_code, organisation_code)
    with transaction.atomic():
        target = _user_or_404(user_id, lock=True)
        existing = Membership.objects.filter(user=target)
        if existing.filter(role=role, area=area, organisation=organisation).exists():
            raise Conflict(_("The user already holds this role here."))
        conflict = role_conflict(target.pk, role)
        if conflict:  # 三权分立: an administrator role excludes every other role, both ways
            raise Conflict(conflict, errors=[{"field": "role", "message": conflict}])
        membership = Membership.objects.create(user=target, role=role, area=area, organisation=organisation)
        record_audit(
            AuditEventType.ROLE_GRANT,
            user=actor,
            request=request,
            object_type="membership",
            object_id=membership.pk,
            detail={
                "username": target.username,
                "role": role,
                "area_code": area.code if area else None,
                "organisation_code": organisation.code if organisation else None,
            },
        )
    return Membership.objects.select_related("area", "organisation").get(pk=membership.pk)


def revoke_membership(request: HttpRequest | None, *, actor, membership_id: int) -> None:
    require(actor, "membership.revoke", ("membership", membership_id), request=request)
    with transaction.atomic():
        membership = (
            Membership.objects.select_for_update(of=("self",))
            .select_related("user", "area", "organisation")
            .filter(pk=membership_id)
            .first()
        )
        if membership is None:
            raise NotFound(_("No such membership."))
        if membership.user_id == actor.pk:
            raise Conflict(_("You cannot change your own roles."))
        detail = {
            "username": membership.user.username,
            "role": membership.role,
            "area_code": membership.area.code if membership.area is not None else None,
            "organisation_code": membership.organisation.code
            if membership.organisation is not None
            else None,
        }
        membership.delete()
        record_audit(
            AuditEventType.ROLE_REVOKE,
            user=actor,
            request=request,
            object_type="membership",
            object_id=membership_id,
            detail=detail,
        )


def unlock_user(request: HttpRequest | None, *, actor, user_id: int) -> User:
    require(actor, "user.unlock", ("user", user_id), request=request)
    with transaction.atomic():
        target = _user_or_404(user_id, lock=True)
        detail = {"username": target.username, "failures": target.failed_logins}
        _clear_locks(target)
        record_audit(
            AuditEventType.UNLOCK,
            user=actor,
            request=request,
            object_type="user",
            object_id=target.pk,
            detail=detail,
        )
    return target


def _clear_locks(target: User) -> None:
    target.failed_logins = 0
    target.locked_until = None
    target.save(update_fields=["failed_logins", "locked_until"])
    LoginLock.objects.filter(user=target).delete()


def unlock_from_console(username: str) -> User:
    """`gridgov unlock <username>` on the server: the recovery path when no security administrator can
    log in. Ends the account's lock (from every address) and forgets the login rate-limit counts."""
    with transaction.atomic():
        target = User.objects.select_for_update().filter(username=(username or "").strip()).first()
        if target is None:
            raise NotFound(_("No such user."))
        detail = {"username": target.username, "failures": target.failed_logins, "via": "console"}
        _clear_locks(target)
        record_audit(
            AuditEventType.UNLOCK, username="console", object_type="user", object_id=target.pk, detail=detail
        )
    ratelimit.reset()
    return target


def reset_totp(request: HttpRequest | None, *, actor, user_id: int) -> User:
    """Remove a user's second factor (lost phone) so they enrol again (security administrator only)."""
    require(actor, "totp.reset", ("user", user_id), request=request)
    if int(user_id) == actor.pk:
        raise deny(
            actor,
            action="totp.reset_self",
            request=request,
            object_type="user",
            object_id=user_id,
            message=_("Another security administrator must reset your own second factor."),
        )
    with transaction.atomic():
        target = _user_or_404(user_id, lock=True)
        target.totp_secret = ""
        target.totp_enabled = False
        target.totp_last_step = None
        target.save(update_fields=["totp_secret_enc", "totp_enabled", "totp_last_step"])
        record_audit(
            AuditEventType.TOTP_RESET,
            user=actor,
            request=request,
            object_type="user",
            object_id=target.pk,
            detail={"username": target.username},
        )
    return target


# --- the audit log ---------------------------------------------------------------------------------


def purge_audit(older_than_days: int, *, actor=None) -> int:
    """Delete audit events older than `older_than_days`, never younger than the retention period
    (GRIDGOV_AUDIT_RETENTION_DAYS, ≥ 6 months by 《网络安全法》 Art. 21). Returns the number deleted."""
    retention = settings.GRIDGOV_AUDIT_RETENTION_DAYS
    if older_than_days < retention:
        raise _field_error(
            "older_than_days",
            _("Audit events must be kept for at least %(days)d days.") % {"days": retention},
        )
    cutoff = timezone.now() - dt.timedelta(days=older_than_days)
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    column = connection.ops.quote_name(AuditEvent._meta.get_field("at").get_attname_column()[1] or "at")
    with transaction.atomic():
        # The model refuses deletes; the database triggers still refuse anything younger than 183 days.
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {table} WHERE {column} < %s", [connection.ops.adapt_datetimefield_value(cutoff)]
            )
            deleted = cursor.rowcount
        timeline.rebase(AuditEvent, AuditEvent.chain_key_of())  # the audit chain now starts after the purge
        record_audit(
            AuditEventType.AUDIT_PURGE,
            user=actor,
            username="" if actor else "system",
            object_type="audit",
            detail={"older_than_days": older_than_days, "deleted": deleted},
        )
    return deleted


# --- grids redrawn (territory.signals.grids_redrawn) ------------------------------------------------------
def follow_new_grids(*, actor, retired, successor: dict, request=None) -> int:
    """After a re-division is adopted: the memberships of retired grids (grid workers, building heads,
    party members …) move to the grid that received most of the old grid's households. Each move is a
    `role_grant` audit event. Runs inside the adoption's transaction. Returns how many moved."""
    moved = 0
    for g in retired:
        target = successor.get(g.pk)
        if target is None:
            continue
        for m in Membership.objects.filter(area=g).select_related("user"):
            m.area = target
            m.save(update_fields=["area"])
            moved += 1
            record_audit(
                AuditEventType.ROLE_GRANT,
                user=actor,
                request=request,
                object_type="membership",
                object_id=m.pk,
                detail={"action": "regrid", "user": m.user.username, "role": m.role, "from": g.code, "to": target.code},
            )  # fmt: skip
    return moved


# --- organisations and departments (system administrator) -------------------------------------------

ORGANISATION_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
# The area levels an organisation of each kind may serve.
ORGANISATION_AREA_LEVELS: dict[str, tuple[str, ...]] = {
    OrganisationKind.DEPARTMENT: ("district", "subdistrict"),
    OrganisationKind.COMMITTEE: ("community",),
    OrganisationKind.PARTNER: ("subdistrict", "community"),
}


def _organisation_errors(values: dict, *, current: Organisation | None = None) -> tuple[list[dict], Any]:
    """Check the fields of a new or changed organisation → (errors, the area or None)."""
    from gridgov.territory.models import Area

    errors: list[dict] = []
    area = current.area if current is not None else None
    if "code" in values:
        code = values["code"]
        if not code:
            errors.append({"field": "code", "message": _("This field is required")})
        elif not ORGANISATION_CODE_RE.match(code):
            errors.append(
                {"field": "code", "message": _("Use letters, digits, '-' or '_' (at most 32 characters).")}
            )
        elif Organisation.objects.filter(code=code).exclude(pk=current.pk if current else -1).exists():
            errors.append({"field": "code", "message": _("Another organisation already has this code.")})
    if "name" in values and not values["name"]:
        errors.append({"field": "name", "message": _("This field is required")})
    if "kind" in values and values["kind"] not in OrganisationKind.values:
        errors.append({"field": "kind", "message": _("Choose one of the allowed values")})
    if "is_active" in values and values["is_active"] is None:
        errors.append({"field": "is_active", "message": _("This field is required")})
    if "area_code" in values:
        if not values["area_code"]:
            errors.append({"field": "area_code", "message": _("Choose the area the organisation serves.")})
            area = None
        else:
            area = Area.objects.filter(code=values["area_code"], is_active=True).first()
            if area is None:
                errors.append({"field": "area_code", "message": _("No active area has this code.")})
    kind = values.get("kind") or (current.kind if current is not None else None)
    if (
        area is not None
        and kind in ORGANISATION_AREA_LEVELS
        and area.level not in ORGANISATION_AREA_LEVELS[kind]
    ):
        errors.append(
            {
                "field": "area_code",
                "message": _("An organisation of this kind serves an area of level: %(levels)s.")
                % {"levels": ", ".join(str(_level_label(x)) for x in ORGANISATION_AREA_LEVELS[kind])},
            }
        )
    return errors, area


def _level_label(level: str) -> str:
    from gridgov.territory.models import Level

    return str(Level(level).label)


def _raise_errors(errors: list[dict]) -> None:
    if errors:
        names = ", ".join(dict.fromkeys(e["field"] for e in errors))
        raise ValidationFailed(_("Please correct: %(fields)s") % {"fields": names}, errors=errors)


def _clean_organisation_values(values: dict) -> dict:
    out = {}
    for key, value in values.items():
        out[key] = value.strip() if isinstance(value, str) else value
    return out


def create_organisation(
    request: HttpRequest | None, *, actor, code: str, name: str, kind: str, area_code: str | None
) -> Organisation:
    """A new department, community committee or partner unit (system administrator only)."""
    require(actor, "organisation.create", ("organisation", ""), request=request)
    values = _clean_organisation_values({"code": code, "name": name, "kind": kind, "area_code": area_code})
    errors, area = _organisation_errors(values)
    _raise_errors(errors)
    with transaction.atomic():
        organisation = Organisation.objects.create(
            code=values["code"], name=values["name"], kind=values["kind"], area=area
        )
        record_audit(
            AuditEventType.DATA_CHANGE,
            user=actor,
            request=request,
            object_type="organisation",
            object_id=organisation.pk,
            detail={"action": "create", "code": organisation.code, "name": organisation.name,
                    "kind": organisation.kind, "area_code": area.code if area else None},
        )  # fmt: skip
    return Organisation.objects.select_related("area").get(pk=organisation.pk)


def update_organisation(
    request: HttpRequest | None, *, actor, organisation_code: str, changes: dict
) -> Organisation:
    """Change an organisation's code, name, kind, area or active flag (system administrator only). The kind
    cannot change while people hold a role that needs the current kind there; an organisation with
    members cannot be deactivated (revoke their roles first)."""
    require(actor, "organisation.change", ("organisation", organisation_code), request=request)
    allowed = {"code", "name", "kind", "area_code", "is_active"}
    values = _clean_organisation_values({k: v for k, v in changes.items() if k in allowed})
    with transaction.atomic():
        organisation = (
            Organisation.objects.select_for_update(of=("self",))
            .select_related("area")
            .filter(code=organisation_code)
            .first()
        )
        if organisation is None:
            raise NotFound(_("No such organisation."))
        errors, area = _organisation_errors(values, current=organisation)
        members = Membership.objects.filter(organisation=organisation)
        if "kind" in values and values["kind"] != organisation.kind and members.exists():
            errors.append(
                {
                    "field": "kind",
                    "message": _("People hold roles in this organisation; its kind cannot change."),
                }
            )
        if values.get("is_active") is False and organisation.is_active and members.exists():
            errors.append(
                {
                    "field": "is_active",
                    "message": _("People still hold roles in this organisation; revoke them first."),
                }
            )
        _raise_errors(errors)
        audit: dict = {}
        for field in ("code", "name", "kind", "is_active"):
            if field in values and values[field] != getattr(organisation, field):
                audit[field] = [getattr(organisation, field), values[field]]
                setattr(organisation, field, values[field])
        if "area_code" in values and area != organisation.area:
            audit["area_code"] = [
                organisation.area.code if organisation.area else None,
                area.code if area else None,
            ]
            organisation.area = area
        if audit:
            organisation.save()
            record_audit(
                AuditEventType.DATA_CHANGE,
                user=actor,
                request=request,
                object_type="organisation",
                object_id=organisation.pk,
                detail={"action": "change", "code": organisation.code, "changes": audit},
            )
    return Organisation.objects.select_related("area").get(pk=organisation.pk)
