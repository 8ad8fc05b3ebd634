"""Users, organisations, memberships (user × role × area or organisation), API tokens and the
security audit log (等保2.0 level 3: append-only, kept ≥ 6 months)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gridgov.accounts.roles import Role
from gridgov.core import pii
from gridgov.core.models import ChainedEvent

PHONE_FIELD = "user.phone"
TOTP_SECRET_FIELD = "user.totp_secret"


class User(AbstractUser):
    display_name = models.CharField(_("name"), max_length=100, blank=True, default="")
    # The phone and the TOTP secret are encrypted at rest (core.pii): ciphertext, the keyed hash of the
    # phone for exact search, the id of the key that sealed them. Read and set through `phone` and
    # `totp_secret`.
    phone_enc = models.BinaryField(null=True, blank=True)
    phone_hash = models.CharField(max_length=32, blank=True, default="", db_index=True)
    pii_key = models.CharField(max_length=16, blank=True, default="")
    # The language notifications are written in for this user (core/notifications.py); blank: the
    # default language (简体中文).
    language = models.CharField(
        _("language"), max_length=8, choices=settings.LANGUAGES, blank=True, default=""
    )
    failed_logins = models.PositiveSmallIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    password_changed_at = models.DateTimeField(null=True, blank=True)
    totp_secret_enc = models.BinaryField(null=True, blank=True)
    totp_enabled = models.BooleanField(default=False)
    totp_last_step = models.BigIntegerField(
        null=True, blank=True, help_text="last accepted TOTP step (no replay)"
    )
    # Set when an administrator sets the password: the owner must choose their own before anything else.
    must_change_password = models.BooleanField(default=False)

    class Meta:
        ordering = ["username"]

    def __str__(self) -> str:
        return self.display_name or self.username

    # --- sealed personal data and secrets (core.pii) --------------------------------------------------
    def _open(self, name: str, field: str) -> str:
        cache = self.__dict__.setdefault("_plain", {})
        if name not in cache:
            cache[name] = pii.decrypt(getattr(self, f"{name}_enc"), self.pii_key, field)
        return cache[name]

    def _seal(self, name: str, field: str, value: str, key=None) -> None:
        self.__dict__.setdefault("_plain", {})[name] = value
        if value:
            blob, key_id = pii.encrypt(value, field, key)
            setattr(self, f"{name}_enc", blob)
            if self.pii_key and self.pii_key != key_id:
                self.reseal(pii.key_by_id(key_id), skip=name)
            self.pii_key = key_id
        else:
            setattr(self, f"{name}_enc", None)

    @property
    def phone(self) -> str:
        return self._open("phone", PHONE_FIELD)

    @phone.setter
    def phone(self, value: str) -> None:
        value = (value or "").strip()
        self._seal("phone", PHONE_FIELD, value)
        self.phone_hash = pii.blind_index(value) if value else ""

    @property
    def totp_secret(self) -> str:
        return self._open("totp_secret", TOTP_SECRET_FIELD)

    @totp_secret.setter
    def totp_secret(self, value: str) -> None:
        self._seal("totp_secret", TOTP_SECRET_FIELD, value or "")

    def reseal(self, key, *, skip: str = "") -> tuple[str, ...]:
        """Re-encrypt the phone and the TOTP secret with `key` (key rotation); returns the columns."""
        for name, field in (("phone", PHONE_FIELD), ("totp_secret", TOTP_SECRET_FIELD)):
            if name == skip:
                continue
            value = self._open(name, field)
            setattr(self, f"{name}_enc", pii.encrypt(value, field, key)[0] if value else None)
        self.pii_key = key.id
        return ("phone_enc", "totp_secret_enc", "pii_key")


class LoginLock(models.Model):
    """Failed logins of an administrator, counted per account and client address: anonymous requests
    from elsewhere cannot lock the administrator out (accounts/services.py)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    address = models.CharField(max_length=45, blank=True, default="")
    failed_logins = models.PositiveSmallIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "address"], name="login_lock_unique")]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.address or '—'}"


class OrganisationKind(models.TextChoices):
    DEPARTMENT = "department", _("Department")
    PARTNER = "partner", _("Partner unit")
    COMMITTEE = "committee", _("Community committee")


class Organisation(models.Model):
    kind = models.CharField(max_length=16, choices=OrganisationKind.choices, db_index=True)
    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    # The area the organisation serves: the district for a department, the community for a committee
    # or a partner unit that co-builds with one community.
    area = models.ForeignKey(
        "territory.Area", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "code"]

    def __str__(self) -> str:
        return self.name


class Post(models.TextChoices):
    """A post held within a role (docs/decisions.md: 网格长 is a post of a grid worker's membership, not
    a role of its own: a grid chief does everything a grid worker of the grid does, and leads it)."""

    NONE = "", _("No post")
    GRID_CHIEF = "grid_chief", _("Grid chief")


class Membership(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=24, choices=Role.choices, db_index=True)
    area = models.ForeignKey(
        "territory.Area", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="memberships"
    )
    # 网格长: a grid worker's membership of the grid with post "grid_chief" (accounts/posts.py).
    post = models.CharField(_("post"), max_length=16, choices=Post.choices, blank=True, default="")
    # 楼栋长: the building a building head looks after (in the grid of the membership).
    building = models.ForeignKey(
        "territory.Building", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user_id", "role"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "role", "area", "organisation"], name="membership_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(post="") | models.Q(role="grid_worker"), name="membership_post_role"
            ),
            models.CheckConstraint(
                condition=models.Q(building__isnull=True) | models.Q(role="building_head"),
                name="membership_building_role",
            ),
        ]

    def __str__(self) -> str:
        where = self.area or self.organisation or "—"
        return f"{self.user} · {self.get_role_display()} · {where}"

    def save(self, *args, **kwargs) -> None:
        # 三权分立 in the model as well: whatever path creates a membership (service, admin site, shell).
        update_fields = kwargs.get("update_fields")
        if update_fields is None or "role" in update_fields or "user" in update_fields:
            message = role_conflict(self.user_id, self.role, exclude_pk=self.pk)
            if message:
                raise ValidationError({"role": message})
        super().save(*args, **kwargs)

    def clean(self) -> None:
        super().clean()
        message = role_conflict(self.user_id, self.role, exclude_pk=self.pk)
        if message:
            raise ValidationError({"role": message})


def role_conflict(user_id, role: str, *, exclude_pk=None) -> str:
    """Why `role` may not be added to the user's other memberships ("" when it may): an administrator
    role (system, security, audit) excludes every other role, business or administrative, both ways."""
    from gridgov.accounts.roles import ADMIN_ROLES

    if user_id is None:
        return ""
    others = Membership.objects.filter(user_id=user_id).exclude(pk=exclude_pk).exclude(role=role)
    if role in ADMIN_ROLES:
        if others.filter(role__in=ADMIN_ROLES).exists():
            return str(
                _("One person may hold only one of the system, security and audit administrator roles.")
            )
        if others.exists():
            return str(
                _(
                    "An administrator role cannot be held together with a business role; revoke the "
                    "user's other roles first, or use a separate account."
                )
            )
    elif others.filter(role__in=ADMIN_ROLES).exists():
        return str(
            _(
                "An administrator (system, security or audit) cannot hold a business role; use a separate "
                "account."
            )
        )
    return ""


class Backup(models.Model):
    """AB岗: the colleague (B) who stands in for a user (A) on A's post while A is on leave. One standing
    backup per user; a leave names its own backup (this one when none is given)."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="standing_backup")
    backup = models.ForeignKey(User, on_delete=models.CASCADE, related_name="backing_up")
    set_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~models.Q(user=models.F("backup")), name="backup_not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} → {self.backup_id}"


class Leave(models.Model):
    """A period of leave of a user (A): from `starts_at` until `ends_at`, A's to-dos, the permissions of
    A's staff memberships and A's notices go to `backup` (B). Ending early moves `ends_at` to the moment
    it ended (a leave that had not begun ends where it starts: it never takes effect)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="leaves")
    backup = models.ForeignKey(User, on_delete=models.CASCADE, related_name="covering_leaves")
    starts_at = models.DateTimeField(_("starts at"), db_index=True)
    ends_at = models.DateTimeField(_("ends at"), db_index=True)
    note = models.CharField(_("note"), max_length=200, blank=True, default="")
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True, help_text="when it was ended early")
    ended_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # when the notices B still had unread for A went back to A (the leave is over: accounts/posts.py)
    handed_back_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-starts_at", "-id"]
        indexes = [models.Index(fields=["backup", "starts_at", "ends_at"], name="leave_backup_period")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gte=models.F("starts_at")), name="leave_period"
            ),
            models.CheckConstraint(
                condition=~models.Q(user=models.F("backup")), name="leave_backup_not_self"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.starts_at:%Y-%m-%d} – {self.ends_at:%Y-%m-%d}"


class ApiToken(models.Model):
    """A hashed API token for integrations: the secret is shown once, only its SHA-256 is kept."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class AuditEventType(models.TextChoices):
    LOGIN = "login", _("Login")
    LOGOUT = "logout", _("Logout")
    LOGIN_LOCKED = "login_locked", _("Account locked after failed logins")
    UNLOCK = "unlock", _("Account unlocked")
    SESSION_EXPIRED = "session_expired", _("Idle session ended")
    PASSWORD_CHANGE = "password_change", _("Password changed")
    TOTP_ENROL = "totp_enrol", _("Second factor enrolled")
    TOTP_RESET = "totp_reset", _("Second factor reset")
    TOKEN_CREATE = "token_create", _("API token created")
    TOKEN_REVOKE = "token_revoke", _("API token revoked")
    TOKEN_AUTH = "token_auth", _("API token used")
    USER_CREATE = "user_create", _("User created")
    USER_CHANGE = "user_change", _("User changed")
    ROLE_GRANT = "role_grant", _("Role granted")
    ROLE_REVOKE = "role_revoke", _("Role revoked")
    PERMISSION_DENIED = "permission_denied", _("Permission denied")
    DATA_CHANGE = "data_change", _("Data changed")
    AUDIT_PURGE = "audit_purge", _("Old audit events purged")


class AuditEvent(ChainedEvent):
    """The security audit log: date and time, user, event type, success, source IP, object.

    Append-only: the model refuses updates and deletes, and database triggers (see the migration)
    refuse UPDATE always and DELETE of any record younger than the retention period (≥ 6 months).
    Hash-chained, one chain for the table ("audit"), written through core.timeline.record(); a purge
    rebases the chain (core.timeline.rebase)."""

    at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    user_id_ref = models.BigIntegerField(
        null=True, blank=True, db_index=True, help_text="the user's id at the time"
    )
    username = models.CharField(max_length=150, blank=True, default="", db_index=True)
    event_type = models.CharField(max_length=32, choices=AuditEventType.choices, db_index=True)
    success = models.BooleanField(default=True)
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    object_type = models.CharField(max_length=64, blank=True, default="")
    object_id = models.CharField(max_length=64, blank=True, default="")
    detail = models.JSONField(default=dict, blank=True)

    chain_prefix = "audit"
    hashed_fields = (
        "at",
        "user_id_ref",
        "username",
        "event_type",
        "success",
        "source_ip",
        "object_type",
        "object_id",
        "detail",
    )
    append_only_message = "the security audit log is append-only"

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [models.UniqueConstraint(fields=["chain_seq"], name="audit_chain_seq")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.username or '—'} {self.event_type}"
