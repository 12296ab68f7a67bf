"""Admin for wards, patients, observations and SpO2 scale decisions.

Clinical history is read-only here: observations and scale decisions are evidence, changed only
through the services that record who did what.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from frontend.events import sockets_access_changed
from patients.models import Contact, Observation, Patient, PatientPhone, SpO2ScaleChange, Stay, Ward


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Ward)
class WardAdmin(admin.ModelAdmin):
    list_display = ["name", "pathway", "phone", "beds", "created_at"]
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


class StayInline(admin.TabularInline):
    """Stays are opened and ended only by the admission and discharge services (monitoring ends)."""

    model = Stay
    fk_name = "patient"
    extra = 0
    can_delete = False
    fields = [
        "ward",
        "direction",
        "referral_source",
        "admitted_at",
        "expected_discharge_on",
        "discharged_at",
        "outcome",
    ]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PatientPhoneInline(admin.TabularInline):
    model = PatientPhone
    extra = 0


class ContactInline(admin.TabularInline):
    model = Contact
    extra = 0


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ["nhs_number", "family_name", "given_name", "ward", "admitted_at", "discharged_at", "spo2_scale"]
    list_filter = ["ward", "spo2_scale", ("discharged_at", admin.EmptyFieldListFilter)]
    search_fields = ["nhs_number", "family_name", "given_name"]
    date_hierarchy = "admitted_at"
    list_select_related = ["ward"]
    # The scale is changed only through the API/pages, which record who and why.
    readonly_fields = ["spo2_scale", "spo2_scale_set_by", "spo2_scale_set_at", "current_score"]
    inlines = [StayInline, PatientPhoneInline, ContactInline, SpO2ScaleChangeInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # Once admitted, ward and dates move only through admission and discharge (the Admit
        # screen, the patient page, the API), which keep the stay and monitoring in step.
        stay_mirror = ["ward", "admitted_at", "discharged_at"] if obj is not None else []
        return [*self.readonly_fields, *stay_mirror]


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
