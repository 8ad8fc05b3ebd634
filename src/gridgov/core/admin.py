"""Back office: the working-day calendar overrides (holidays and 调休 working days), and the outbox of
external notifications (what failed, and a retry)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from gridgov.core import outbox
from gridgov.core.models import OutboxMessage, WorkdayOverride


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shown in the back office, never added, changed or deleted there (append-only or versioned rows)."""

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WorkdayOverride)
class WorkdayOverrideAdmin(admin.ModelAdmin):
    list_display = ["day", "is_workday", "name", "created_at"]
    list_filter = ["is_workday"]
    search_fields = ["name"]
    date_hierarchy = "day"
    readonly_fields = ["created_at"]
    ordering = ["-day"]


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "channel",
        "recipient",
        "kind",
        "status",
        "attempts",
        "next_attempt_at",
        "created_at",
    ]
    list_filter = ["status", "channel", "kind"]
    search_fields = ["message", "last_error", "recipient__username"]
    date_hierarchy = "created_at"
    ordering = ["-id"]
    actions = ["retry"]
    readonly_fields = [f.name for f in OutboxMessage._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description=_("Send the failed messages again"))
    def retry(self, request, queryset) -> None:
        count = outbox.retry(queryset.values_list("pk", flat=True))
        self.message_user(request, _("%(count)s messages will be sent again.") % {"count": count})
