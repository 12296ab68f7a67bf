"""Admin for alerts and their history. Read-only: alerts move only through the alert services,
which record every action; an edit here would leave no trace."""

from __future__ import annotations

from django.contrib import admin

from alerts.models import Alert, AlertEvent
from patients.admin import ReadOnlyAdmin


class AlertEventInline(admin.TabularInline):
    model = AlertEvent
    extra = 0
    can_delete = False
    readonly_fields = ["at", "action", "actor", "note", "data"]

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ["opened_at", "kind", "severity", "state", "patient", "device", "assigned_to", "outcome"]
    list_filter = ["state", "category", "kind", "severity", "outcome"]
    search_fields = ["title", "patient__nhs_number", "patient__family_name", "device__device_id"]
    date_hierarchy = "opened_at"
    list_select_related = ["patient", "device", "assigned_to"]
    inlines = [AlertEventInline]


@admin.register(AlertEvent)
class AlertEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "alert", "action", "actor"]
    list_filter = ["action"]
    search_fields = ["alert__title", "alert__patient__nhs_number", "actor__username", "note"]
    date_hierarchy = "at"
    list_select_related = ["alert", "actor"]
