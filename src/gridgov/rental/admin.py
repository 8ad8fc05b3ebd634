"""Back-office editing of rental housing's data lists (administrators): tenancy categories and the
inspection checklist. Grading rules are shown only: a new version is published through the API
(`POST /api/v1/rental/rules`), which checks it; no version is ever edited."""

from django.contrib import admin

from gridgov.core.admin import ReadOnlyAdmin
from gridgov.rental.models import ChecklistItem, GradingRules, StarRules, TenancyCategory


@admin.register(TenancyCategory)
class TenancyCategoryAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "name_en", "visit_days", "sort", "is_active")
    list_filter = ("is_active",)
    search_fields = ("code", "name", "name_en")


@admin.register(ChecklistItem)
class ChecklistItemAdmin(admin.ModelAdmin):
    list_display = ("code", "group", "name", "name_en", "weight", "hazard_category_code", "sort", "is_active")
    list_filter = ("group", "is_active")
    search_fields = ("code", "name", "name_en")


@admin.register(GradingRules)
class GradingRulesAdmin(ReadOnlyAdmin):
    list_display = ("version", "red_streak", "note", "created_by", "created_at")


# --- star safe buildings and compounds: the star criteria are shown only (published through the API,
# `POST /api/v1/rental/stars/rules`, which checks them; every assessment keeps its own copy).
@admin.register(StarRules)
class StarRulesAdmin(ReadOnlyAdmin):
    list_display = ("version", "validity_days", "review_notice_days", "note", "created_by", "created_at")
