"""Input and output shapes of the accounts API. Phone numbers leave the server masked (138****5678)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Schema
from pydantic import AfterValidator

from gridgov.accounts.roles import Role
from gridgov.core.pii import mask_phone

MAX_ID = 2**63 - 1


def _storable(value: str) -> str:
    """Text the databases can store: no NUL characters, no lone surrogates."""
    if "\x00" in value:
        raise ValueError(_("The text contains a character that is not allowed."))
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(_("The text contains a character that is not allowed.")) from None
    return value


Text = Annotated[str, AfterValidator(_storable)]


# --- shared --------------------------------------------------------------------------------------


class RoleOut(Schema):
    role: str
    role_label: str
    area_code: str | None
    area_name: str | None
    area_level: str | None
    organisation_code: str | None
    organisation_name: str | None

    @staticmethod
    def resolve_role_label(obj) -> str:
        return str(obj.get_role_display())

    @staticmethod
    def resolve_area_code(obj) -> str | None:
        return obj.area.code if obj.area_id else None

    @staticmethod
    def resolve_area_name(obj) -> str | None:
        return obj.area.name if obj.area_id else None

    @staticmethod
    def resolve_area_level(obj) -> str | None:
        return obj.area.level if obj.area_id else None

    @staticmethod
    def resolve_organisation_code(obj) -> str | None:
        return obj.organisation.code if obj.organisation_id else None

    @staticmethod
    def resolve_organisation_name(obj) -> str | None:
        return obj.organisation.name if obj.organisation_id else None


class MembershipOut(RoleOut):
    id: int
    user_id: int
    created_at: dt.datetime
    post: str = Field("", description="grid_chief (网格长) on a grid worker's membership; else empty")
    building_code: str | None = Field(None, description="the building a building head looks after")

    @staticmethod
    def resolve_building_code(obj) -> str | None:
        return obj.building.code if obj.building_id else None


# --- auth ----------------------------------------------------------------------------------------


class CsrfOut(Schema):
    csrf_token: str


class LoginIn(Schema):
    username: Text = Field(..., min_length=1, max_length=150)
    password: Text = Field(..., min_length=1, max_length=1024)
    totp: Text | None = Field(
        None, max_length=16, description="6-digit code when the second factor is enrolled"
    )


class ScopeOut(Schema):
    kind: str = Field(
        ..., description="the broadest data scope: all, area_and_below, area, organisation, self"
    )
    kinds: list[str]
    area_codes: list[str]
    organisation_codes: list[str]


class MeOut(Schema):
    id: int
    username: str
    display_name: str
    roles: list[RoleOut]
    scope: ScopeOut
    totp_enabled: bool
    mfa_enrolment_required: bool
    password_change_required: bool = Field(
        ...,
        description="the password was set by an administrator: change it (POST /auth/password) before "
        "anything else (other endpoints answer 403 password-change-required)",
    )
    language: str
    preferred_language: Literal["zh-hans", "en", ""] = Field(
        "", description="the language the user chose (web app, notifications); blank: not chosen (简体中文)"
    )
    session_idle_seconds: int


class MeIn(Schema):
    """What the user may change about themself here: the language of the web app and notifications."""

    language: Literal["zh-hans", "en", ""] = Field(..., description="zh-hans, en, or blank for the default")


class PasswordIn(Schema):
    old_password: Text = Field(..., max_length=1024)
    new_password: Text = Field(..., max_length=1024)


class TotpSetupOut(Schema):
    secret: str
    otpauth_uri: str
    qr_code: str = Field(..., description="the otpauth URI as a QR code (data:image/svg+xml URI)")


class TotpConfirmIn(Schema):
    code: Text = Field(..., max_length=16)


class OkOut(Schema):
    ok: bool = True


# --- API tokens ----------------------------------------------------------------------------------


class TokenIn(Schema):
    name: Text = Field(..., min_length=1, max_length=100)
    expires_in_days: int | None = Field(None, ge=1, le=3650, description="empty: never expires")


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenCreatedOut(TokenOut):
    secret: str = Field(..., description="shown only in this answer; only its SHA-256 is stored")


# --- users ---------------------------------------------------------------------------------------


class UserOut(Schema):
    id: int
    username: str
    display_name: str
    phone: str = Field(..., description="masked")
    is_active: bool
    is_locked: bool
    locked_until: dt.datetime | None
    totp_enabled: bool
    last_login: dt.datetime | None
    date_joined: dt.datetime
    memberships: list[MembershipOut]

    @staticmethod
    def resolve_phone(obj) -> str:
        return mask_phone(obj.phone)

    @staticmethod
    def resolve_is_locked(obj) -> bool:
        return obj.locked_until is not None and obj.locked_until > timezone.now()

    @staticmethod
    def resolve_memberships(obj) -> list:
        return list(obj.memberships.all())


class UserCreateIn(Schema):
    username: Text = Field(..., min_length=1, max_length=150)
    password: Text = Field(..., min_length=1, max_length=1024)
    display_name: Text = Field("", max_length=100)
    phone: Text = Field("", max_length=20)
    is_active: bool = True


class UserPatchIn(Schema):
    display_name: Text | None = Field(None, max_length=100)
    phone: Text | None = Field(None, max_length=20)
    is_active: bool | None = None
    password: Text | None = Field(None, min_length=1, max_length=1024)


class MembershipIn(Schema):
    role: Role
    area_code: Text | None = Field(None, max_length=24)
    organisation_code: Text | None = Field(None, max_length=32)


# --- organisations -------------------------------------------------------------------------------


class OrganisationOut(Schema):
    code: str
    name: str
    kind: str
    kind_label: str
    area_code: str | None
    area_name: str | None
    is_active: bool

    @staticmethod
    def resolve_kind_label(obj) -> str:
        return str(obj.get_kind_display())

    @staticmethod
    def resolve_area_code(obj) -> str | None:
        return obj.area.code if obj.area_id else None

    @staticmethod
    def resolve_area_name(obj) -> str | None:
        return obj.area.name if obj.area_id else None


ORGANISATION_CODE = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"


class OrganisationIn(Schema):
    code: Text = Field(..., min_length=1, max_length=32, description="letters, digits, '-' or '_'")
    name: Text = Field(..., min_length=1, max_length=100)
    kind: Literal["department", "committee", "partner"]
    area_code: Text | None = Field(None, max_length=24, description="the area the organisation serves")


class OrganisationPatchIn(Schema):
    code: Text | None = Field(None, min_length=1, max_length=32)
    name: Text | None = Field(None, min_length=1, max_length=100)
    kind: Literal["department", "committee", "partner"] | None = None
    area_code: Text | None = Field(None, max_length=24)
    is_active: bool | None = None


# --- roles ---------------------------------------------------------------------------------------


class RoleInfoOut(Schema):
    role: str
    label: str
    scope: str
    scope_label: str
    area_levels: list[str] = Field(..., description="area levels the role is held in (empty: none)")
    organisation_kind: str | None = Field(..., description="the organisation kind the role is held in")
    organisation_kind_label: str | None
    administrator: bool
    mfa: bool = Field(..., description="the second factor is required when GRIDGOV_MFA_REQUIRED is on")


class AreaChoiceOut(Schema):
    code: str
    name: str
    level: str
    parent_name: str | None

    @staticmethod
    def resolve_parent_name(obj) -> str | None:
        return obj.parent.name if obj.parent_id else None


# --- the security administrator ------------------------------------------------------------------


class LockOut(Schema):
    user_id: int
    username: str
    display_name: str
    failed_logins: int
    locked_until: dt.datetime
    address: str = Field(..., description="for an administrator: the client address locked out; else blank")


class LoginInfoOut(Schema):
    demo: bool = Field(..., description="the database holds the demo district and its logins")
    demo_password: str | None = Field(..., description="the password of every demo login (demo only)")


# --- the audit log -------------------------------------------------------------------------------


class AuditEventOut(Schema):
    id: int
    at: dt.datetime
    user_id: int | None
    username: str
    event_type: str
    event_label: str
    success: bool
    source_ip: str | None
    object_type: str
    object_id: str
    detail: dict

    @staticmethod
    def resolve_user_id(obj) -> int | None:
        return obj.user_id_ref

    @staticmethod
    def resolve_event_label(obj) -> str:
        return str(obj.get_event_type_display())
