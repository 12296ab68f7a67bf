"""Admin for wards, patients, observations and SpO2 scale decisions.

Clinical history is read-only here: observations and scale decisions are evidence, changed only
through the services that record who did what.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from frontend.events import sockets_access_changed
from patients.models import Observation, Patient, SpO2ScaleChange, Ward


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Ward)
class WardAdmin(admin.ModelAdmin):
    list_display = ["name", "pathway", "phone", "created_at"]
    list_filter = ["pathway"]
    search_fields = ["name"]
    filter_horizontal = ["staff"]

    def save_related(self, request, form, formsets, change):  # type: ignore[no-untyped-def]
        # Everyone on the ward before or after the edit: whoever left must lose its live sockets.
        before = set(form.instance.staff.values_list("pk", flat=True)) if change else set()
        super().save_related(request, form, formsets, change)
        for user_id in before | set(form.instance.staff.values_list("pk", flat=True)):
            sockets_access_changed(user_id=user_id)


class SpO2ScaleChangeInline(admin.TabularInline):
    model = SpO2ScaleChange
    extra = 0
    can_delete = False
    readonly_fields = ["scale", "changed_by", "changed_at", "reason"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ["nhs_number", "family_name", "given_name", "ward", "admitted_at", "discharged_at", "spo2_scale"]
    list_filter = ["ward", "spo2_scale", ("discharged_at", admin.EmptyFieldListFilter)]
    search_fields = ["nhs_number", "family_name", "given_name"]
    date_hierarchy = "admitted_at"
    list_select_related = ["ward"]
    # The scale is changed only through the API/pages, which record who and why.
    readonly_fields = ["spo2_scale", "spo2_scale_set_by", "spo2_scale_set_at", "current_score"]
    inlines = [SpO2ScaleChangeInline]


@admin.register(Observation)
class ObservationAdmin(ReadOnlyAdmin):
    list_display = ["measured_at", "patient", "type", "display_value", "unit", "device", "entered_by", "is_late"]
    list_filter = ["type", "is_late", ("device", admin.EmptyFieldListFilter)]
    search_fields = ["patient__nhs_number", "patient__family_name", "device__device_id", "msg_id"]
    date_hierarchy = "measured_at"
    list_select_related = ["patient", "device", "entered_by"]


@admin.register(SpO2ScaleChange)
class SpO2ScaleChangeAdmin(ReadOnlyAdmin):
    list_display = ["changed_at", "patient", "scale", "changed_by", "reason"]
    list_filter = ["scale"]
    search_fields = ["patient__nhs_number", "patient__family_name", "changed_by__username"]
    list_select_related = ["patient", "changed_by"]
