"""Receivers of other apps' signals: thin, they hand over to services."""

from __future__ import annotations

from typing import Any


def on_patient_discharged(sender: Any, patient: Any, user: Any = None, **kwargs: Any) -> None:
    from ukcore.discharge.services import discharge_summary_on_discharge

    discharge_summary_on_discharge(patient_id=patient.pk, user_id=getattr(user, "pk", None))
