"""Admin for early-warning scores: read-only, because every score computed is clinical evidence."""

from __future__ import annotations

from django.contrib import admin

from patients.admin import ReadOnlyAdmin
from scoring.models import EarlyWarningScore


@admin.register(EarlyWarningScore)
class EarlyWarningScoreAdmin(ReadOnlyAdmin):
    list_display = ["as_of", "patient", "total", "risk", "complete", "single_parameter_3", "spo2_scale"]
    list_filter = ["risk", "complete", "single_parameter_3", "spo2_scale"]
    search_fields = ["patient__nhs_number", "patient__family_name"]
    date_hierarchy = "as_of"
    list_select_related = ["patient"]
