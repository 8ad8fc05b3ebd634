"""Back-office editing of the working-day calendar overrides (holidays and 调休 working days)."""

from __future__ import annotations

from django.contrib import admin

from gridgov.core.models import WorkdayOverride


@admin.register(WorkdayOverride)
class WorkdayOverrideAdmin(admin.ModelAdmin):
    list_display = ["day", "is_workday", "name", "created_at"]
    list_filter = ["is_workday"]
    search_fields = ["name"]
    date_hierarchy = "day"
    readonly_fields = ["created_at"]
    ordering = ["-day"]
