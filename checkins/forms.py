"""The form a clinician fills in when a patient or carer gives their check-in by phone."""

from __future__ import annotations

from typing import Any

from django import forms

from checkins.models import AnsweredBy


class PhoneCheckinForm(forms.Form):
    told_by = forms.ChoiceField(
        choices=[(AnsweredBy.PATIENT, "The patient"), (AnsweredBy.CARER, "A carer")], label="Who gave the answers"
    )

    def __init__(self, *args: Any, questions: list, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for question in questions:
            self.fields[f"q_{question.key}"] = forms.ChoiceField(
                label=question.text.get("en", question.key),
                choices=[("", "–")] + [(c["value"], _label(c)) for c in question.choices],
            )


def _label(choice: dict) -> str:
    label = choice["label"].get("en", choice["value"])
    return f"{label} ⚑ red flag" if choice.get("red_flag") else label
