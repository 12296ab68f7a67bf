"""Template filters naming patients the same way everywhere (patients.present)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html

from patients import present

register = template.Library()


@register.filter
def age_sex(patient: Any) -> str:
    """``<span class="age-sex" ...>82 F</span>`` after a patient's name; empty for anything else."""
    if patient is None or not hasattr(patient, "date_of_birth"):
        return ""
    return format_html(
        '<span class="age-sex" title="{}" aria-label="{}">{}</span>',
        present.age_sex_label(patient),
        present.age_sex_label(patient),
        present.age_sex(patient),
    )
