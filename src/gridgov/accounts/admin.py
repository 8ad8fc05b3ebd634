"""Back-office views of accounts. The second-factor secret and token hashes are never editable, and the
security audit log is read-only (no add, change or delete)."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from gridgov.accounts.models import ApiToken, AuditEvent, Membership, Organisation, User
from gridgov.core.admin import ReadOnlyAdmin
from gridgov.core.pii import mask_phone


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["organisation"]
    raw_id_fields = ["area"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = [
        "username",
        "display_name",
        "is_active",
        "totp_enabled",
        "failed_logins",
        "locked_until",
        "last_login",
    ]
    list_filter = ["is_active", "totp_enabled", "is_staff", "is_superuser"]
    search_fields = ["username", "display_name"]
    readonly_fields = [
        "last_login",
        "date_joined",
        "failed_logins",
        "locked_until",
        "password_changed_at",
        "totp_enabled",
        "totp_last_step",
        "must_change_password",
        "masked_phone",
    ]
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Personal info"), {"fields": ("display_name", "masked_phone", "email", "language")}),
        (
            _("Login security"),
            {
                "fields": (
                    "is_active",
                    "failed_logins",
                    "locked_until",
                    "password_changed_at",
                    "must_change_password",
                    "totp_enabled",
                    "totp_last_step",
                )
            },
        ),
        (_("Django admin site"), {"fields": ("is_staff", "is_superuser")}),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "display_name", "password1", "password2")}),
    )
    inlines = [MembershipInline]

    @admin.display(description=_("phone"))
    def masked_phone(self, obj) -> str:
        """Encrypted at rest; shown masked, changed through the API (PATCH /api/v1/accounts/users/{id})."""
        return mask_phone(obj.phone) if obj.pk else ""


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "area", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["code", "name"]
    raw_id_fields = ["area"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "role", "area", "organisation", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__display_name", "area__code", "organisation__code"]
    raw_id_fields = ["user", "area", "organisation"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix", "user__username"]
    readonly_fields = ["user", "prefix", "token_hash", "created_at", "last_used_at"]
    fields = [
        "name",
        "user",
        "prefix",
        "token_hash",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    ]

    def has_add_permission(self, request) -> bool:
        return False  # tokens are created by their owner through the API, which shows the secret once


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "username", "event_type", "success", "source_ip", "object_type", "object_id"]
    list_filter = ["event_type", "success"]
    search_fields = ["username", "object_id", "source_ip"]
    date_hierarchy = "at"
