"""Back-office editing of the category standards and the whistle catalogue (administrators)."""

from django.contrib import admin

from gridgov.cases.models import Category, WhistleItem


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "name",
        "kind",
        "parent",
        "department_code",
        "report_in_limit",
        "report_in_unit",
        "resolution_limit",
        "resolution_unit",
        "is_active",
    )
    list_filter = ("kind", "is_active", "resolution_unit")
    search_fields = ("code", "name")
    ordering = ("code",)


@admin.register(WhistleItem)
class WhistleItemAdmin(admin.ModelAdmin):
    list_display = (
        "group",
        "name",
        "department_codes",
        "report_in_limit",
        "report_in_unit",
        "resolution_limit",
        "resolution_unit",
        "is_active",
    )
    list_filter = ("group", "is_active")
    search_fields = ("name",)
