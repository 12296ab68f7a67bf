"""Every write to agreed parameters and self-escalation plans: validated, audited, ward-scoped.

Setting or ending a limit is a clinical decision (clinicians of the patient's ward and
administrators, never command-centre operators: the same rule as the SpO2 scale,
patients.selectors.can_set_spo2_scale). The guard rails of careplan.rules are checked against
the patient's whole agreement, under the patient's row lock, so two clinicians agreeing limits
at once cannot together pass a set that neither would be allowed alone.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.access import AnyUser
from accounts.audit import audit_record
from careplan import rules
from careplan.models import AgreedLimit, AgreedParameter, EscalationPlan
from careplan.selectors import as_rule
from frontend.events import publish
from patients.models import Patient
from patients.selectors import can_set_spo2_scale
from patients.services import patient_set_spo2_scale

# A virtual-ward stay is days to weeks: an agreement is reviewed at least this often.
LONGEST_REVIEW = dt.timedelta(days=30)
PLAN_FIELDS = ("if_worse", "call_ward_when", "call_111_when", "call_999_when", "ward_phone", "ward_hours")


def _require_clinician(user: AnyUser, patient: Patient) -> None:
    if not can_set_spo2_scale(user=user, patient=patient):
        raise PermissionDenied("Only a clinician of this ward or an administrator may change agreed parameters.")


def _check_review_date(review_by: Any) -> None:
    if not isinstance(review_by, dt.date) or isinstance(review_by, dt.datetime):
        raise ValidationError({"review_by": "Give the review date as a date, e.g. 2026-12-18."})
    today = timezone.localdate()
    if review_by <= today:
        raise ValidationError({"review_by": "The review date must be after today."})
    if review_by > today + LONGEST_REVIEW:
        raise ValidationError({"review_by": f"Review agreed parameters at least every {LONGEST_REVIEW.days} days."})


def agreed_limit_set(
    *,
    patient: Patient,
    user: AnyUser,
    parameter: str,
    low: float,
    high: float,
    reason: str,
    review_by: dt.date,
    spo2_scale: int | None = None,
) -> AgreedLimit:
    """Agree a range for one parameter (replacing any live one), or the patient's SpO2 target.

    An SpO2 target on Scale 2 (88-92 %) moves the patient to Scale 2 through
    patients.services.patient_set_spo2_scale, and one on Scale 1 back to Scale 1: the scale
    decision stays where scoring reads it, recorded there too.
    """
    _require_clinician(user, patient)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why this patient's baseline differs (e.g. known atrial fibrillation)."})
    _check_review_date(review_by)
    if parameter == AgreedParameter.SPO2 and spo2_scale is None:
        spo2_scale = 1
    new = rules.Limit(parameter, low, high, spo2_scale)
    now = timezone.now()
    with transaction.atomic():
        patient = (
            Patient.objects.select_for_update(no_key=True, of=("self",))
            .select_related("current_score")
            .get(pk=patient.pk)
        )
        if not patient.is_active:
            raise ValidationError({"patient": "This patient has been discharged."})
        live = list(AgreedLimit.objects.select_for_update().filter(patient=patient, ended_at__isnull=True))
        before = {row.parameter: as_rule(row) for row in live}
        after = {**before, parameter: new}
        try:
            rules.check_limits(after.values())
        except rules.LimitRefused as exc:
            raise ValidationError({exc.field: exc.message}) from None
        replaced = [row for row in live if row.parameter == parameter]
        for row in replaced:
            _end(row, user=user, now=now, reason="Replaced by a new agreement.")
        limit = AgreedLimit.objects.create(
            patient=patient, parameter=parameter, low=float(low), high=float(high), spo2_scale=spo2_scale,
            reason=reason, review_by=review_by, set_by=user, set_at=now,
        )  # fmt: skip
        if parameter == AgreedParameter.SPO2 and patient.spo2_scale != spo2_scale:
            patient_set_spo2_scale(patient=patient, user=user, scale=spo2_scale, reason=f"Agreed SpO2 target: {reason}")
            patient.refresh_from_db(fields=["spo2_scale"])
        detail = {
            "parameter": parameter, "low": limit.low, "high": limit.high, "spo2_scale": spo2_scale,
            "reason": reason, "review_by": review_by.isoformat(), "replaced": [row.pk for row in replaced],
        }  # fmt: skip
        audit_record(actor=user, action="careplan.limit_set", patient=patient, obj=limit, detail=detail)
        _after_change(patient, before, after, now)
    return limit


def agreed_limit_end(*, limit: AgreedLimit, user: AnyUser, reason: str) -> AgreedLimit:
    """End an agreement: from now on the chart alone decides for this parameter."""
    _require_clinician(user, limit.patient)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the agreement ends."})
    now = timezone.now()
    with transaction.atomic():
        patient = (
            Patient.objects.select_for_update(no_key=True, of=("self",))
            .select_related("current_score")
            .get(pk=limit.patient_id)
        )
        live = list(AgreedLimit.objects.select_for_update().filter(patient=patient, ended_at__isnull=True))
        row = next((candidate for candidate in live if candidate.pk == limit.pk), None)
        if row is None:
            raise ValidationError({"limit": "This agreement has already ended."})
        before = {candidate.parameter: as_rule(candidate) for candidate in live}
        after = {name: rule for name, rule in before.items() if name != row.parameter}
        _end(row, user=user, now=now, reason=reason)
        if row.parameter == AgreedParameter.SPO2 and patient.spo2_scale == 2:
            patient_set_spo2_scale(patient=patient, user=user, scale=1, reason=f"Agreed SpO2 target ended: {reason}")
        audit_record(
            actor=user, action="careplan.limit_ended", patient=patient, obj=row,
            detail={"parameter": row.parameter, "reason": reason},
        )  # fmt: skip
        _after_change(patient, before, after, now)
    return row


def _end(row: AgreedLimit, *, user: AnyUser, now: dt.datetime, reason: str) -> None:
    row.ended_at, row.ended_by, row.end_reason = now, user, reason
    row.save(update_fields=["ended_at", "ended_by", "end_reason"])


def _after_change(patient: Patient, before: dict, after: dict, now: dt.datetime) -> None:
    from alerts.services.clinical import reevaluate_agreed_change
    from careplan.reviews import settle_review_alert

    reevaluate_agreed_change(patient=patient, before=before, after=after, now=now)
    settle_review_alert(patient_id=patient.pk, now=now)
    publish("patient.care_plan_changed", ward_id=patient.ward_id, patient_id=patient.pk, patient_only=True)


def escalation_plan_save(*, patient: Patient, user: AnyUser, **fields: str) -> EscalationPlan:
    """Write the patient's self-escalation plan (what to do if worse; when to call whom)."""
    _require_clinician(user, patient)
    unknown = set(fields) - set(PLAN_FIELDS)
    if unknown:
        raise ValidationError({name: "Not part of a self-escalation plan." for name in sorted(unknown)})
    clean = {name: (fields.get(name) or "").strip() for name in PLAN_FIELDS}
    missing = {name: "This is shown to the patient; it cannot be empty." for name, value in clean.items() if not value}
    if missing:
        raise ValidationError(missing)
    now = timezone.now()
    with transaction.atomic():
        plan, created = EscalationPlan.objects.select_for_update().get_or_create(
            patient=patient, defaults={**clean, "updated_by": user, "updated_at": now}
        )
        changed = list(PLAN_FIELDS) if created else [name for name in PLAN_FIELDS if getattr(plan, name) != clean[name]]
        if not created:
            for name in PLAN_FIELDS:
                setattr(plan, name, clean[name])
            plan.updated_by, plan.updated_at = user, now
            plan.save()
        audit_record(actor=user, action="careplan.plan_saved", patient=patient, obj=plan, detail={"changed": changed})
        publish("patient.care_plan_changed", ward_id=patient.ward_id, patient_id=patient.pk, patient_only=True)
    return plan


def default_plan(patient: Patient) -> dict[str, str]:
    """A starting text for a new plan, for the clinician to adapt (never shown until saved)."""
    return {
        "if_worse": "Sit upright, rest, and take your readings again. If you are no better, call the ward.",
        "call_ward_when": (
            "You feel more breathless than yesterday, your readings worry you, or your device stops working."
        ),
        "call_111_when": "The ward is closed and you need advice that cannot wait until it opens.",
        "call_999_when": (
            "You cannot finish a sentence, have new chest pain, your lips turn blue, or you cannot be woken."
        ),
        "ward_phone": patient.ward.phone,
        "ward_hours": "8am to 8pm, every day",
    }
