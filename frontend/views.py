"""The dashboard's pages: thin translations from HTTP to selectors and services.

Every view starts from ``accounts.access`` through the selectors: a signed-in user without a
staff role is a 403 on every page, and a patient or ward a member of staff may not see is a
404, never a hint that it exists. Forms work without JavaScript (POST, then
redirect); the page script sends the same POSTs with ``Accept: application/json`` and gets the
outcome as JSON instead of a redirect.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from accounts.access import can_triage, sees_all_wards, visible_wards
from accounts.audit_hooks import audit_note, audited
from accounts.permissions import staff_required
from alerts.reports import ReportPeriodError
from alerts.services import AlertActionError
from frontend import cards, live, selectors, services
from frontend.board_query import BANDS, SORTS, VIEWS, board_query
from frontend.forms import (
    PERIOD_LABELS,
    PERIODS,
    SET_FIELDS,
    AlertActionForm,
    ObservationSetForm,
    ScaleForm,
    parse_period,
)
from patients.models import Pathway
from patients.services import observation_set_record_manual, patient_set_spo2_scale
from scoring.preview import news2_preview


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@staff_required
def home(request: HttpRequest) -> HttpResponse:
    wards = list(visible_wards(request.user).values_list("pk", flat=True)[:2])
    if not sees_all_wards(request.user) and len(wards) == 1:
        return redirect("frontend:ward", ward_id=wards[0])
    return redirect("frontend:wards")


@staff_required
@require_GET
@audited("ward.board_viewed")
def board(request: HttpRequest, ward_id: int | None = None) -> HttpResponse:
    scope = selectors.board_scope(user=request.user, ward_id=ward_id)
    if scope is None:
        raise Http404("No such ward.")
    # The board's state is its URL: the same query drives this render and every live snapshot.
    query = board_query(request.GET, wards=scope.wards if ward_id is None else ())
    snapshot = live.board_snapshot(user=request.user, ward_id=ward_id, query=query)
    audit_note(request, *(row["id"] for row in snapshot["rows"]))
    socket = f"/ws/ward/{ward_id}/" if ward_id else "/ws/wards/"
    context = {
        "scope": scope,
        "snapshot": snapshot,
        "socket": socket,
        "query": query,
        "bands": BANDS,
        "sorts": SORTS,
        "views": VIEWS,
        "pathways": Pathway.choices,
    }
    return render(request, "frontend/board.html", context)


@staff_required
@require_GET
@audited("alert.queue_viewed")
def triage(request: HttpRequest) -> HttpResponse:
    alerts = selectors.triage_queue(user=request.user)
    audit_note(request, *alerts)
    context = live.triage_context(user=request.user, alerts=alerts)
    context["rcp_key"] = cards.rcp_key()
    return render(request, "frontend/triage.html", {**context, "socket": "/ws/alerts/"})


@staff_required
@require_POST
def alert_action(request: HttpRequest, alert_id: int, action: str) -> HttpResponse:
    alert = selectors.alert_for_user(user=request.user, alert_id=alert_id)
    if alert is None or action not in services.ALERT_ACTIONS or not can_triage(request.user):
        raise Http404("No such alert.")
    form = AlertActionForm(request.POST)
    error = _alert_form_error(form, action, request)
    if error is None:
        try:
            services.alert_action_run(alert=alert, user=request.user, action=action, data=form.cleaned_data)
        except (AlertActionError, ValidationError, PermissionDenied) as exc:
            error = _message(exc)
    return _action_response(request, alert_id=alert_id, action=action, error=error)


def _alert_form_error(form: AlertActionForm, action: str, request: HttpRequest) -> str | None:
    if form.is_valid():
        form.require(action)
        assignee = form.cleaned_data.get("assignee")
        if action == "assign" and assignee and assignee != "me":
            allowed = {str(person.pk) for person in selectors.assignable_staff(user=request.user)}
            if assignee not in allowed:
                form.add_error("assignee", "That person cannot be assigned alerts on this ward.")
    if form.errors:
        return " ".join(str(message) for errors in form.errors.values() for message in errors)
    return None


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc) or "That action is not allowed."


def _action_response(request: HttpRequest, *, alert_id: int, action: str, error: str | None) -> HttpResponse:
    if _wants_json(request):
        if error:
            return JsonResponse({"ok": False, "error": error}, status=400)
        alert = selectors.alert_for_user(user=request.user, alert_id=alert_id)
        return JsonResponse({"ok": True, "alert": selectors.alert_summary(alert) if alert else None})
    if error:
        messages.error(request, error)
    else:
        messages.success(request, f"Alert {alert_id}: {action} recorded.")
    target = request.POST.get("next") or reverse("frontend:triage")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("frontend:triage")
    return redirect(target)


@staff_required
@require_GET
def triage_summary(request: HttpRequest) -> HttpResponse:
    since, until, error = parse_period(request.GET)
    try:
        report = selectors.outcome_report(user=request.user, since=since, until=until)
    except ReportPeriodError as exc:
        since, until, _ = parse_period({})
        report, error = selectors.outcome_report(user=request.user, since=since, until=until), str(exc)
    periods = [key for key in PERIODS if key != "1h"]  # an hour is a chart's period, not a report's
    context = {"report": report, "since": since, "until": until, "error": error, "periods": periods}
    return render(request, "frontend/summary.html", context)


def _patient_or_404(request: HttpRequest, patient_id: int) -> Any:
    patient = selectors.patient_for_page(user=request.user, patient_id=patient_id)
    if patient is None:
        raise Http404("No such patient.")
    audit_note(request, patient)  # recorded by @audited once the answer is a success
    return patient


@staff_required
@require_GET
@audited("patient.viewed")
def patient_detail(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = _patient_or_404(request, patient_id)
    return render(request, "frontend/patient.html", _patient_context(request, patient))


def _patient_context(request: HttpRequest, patient: Any, **forms: Any) -> dict[str, Any]:
    return {
        "patient": patient,
        **selectors.patient_page(patient=patient),
        "observation_form": forms.get("observation_form")
        or ObservationSetForm(initial={"measured_at": timezone.localtime().replace(second=0, microsecond=0)}),
        "scale_form": forms.get("scale_form") or ScaleForm(initial={"scale": 2 if patient.spo2_scale == 1 else 1}),
        "periods": PERIOD_LABELS,
        "socket": f"/ws/patient/{patient.pk}/",
    }


@staff_required
@require_GET
@audited("patient.chart_viewed")
def patient_series(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = _patient_or_404(request, patient_id)
    since, until, error = parse_period(request.GET, stay_start=patient.admitted_at)
    if error:
        return JsonResponse({"error": error}, status=400)
    with_rejections = request.GET.get("rejections") in {"1", "true", "yes"}
    return JsonResponse(
        selectors.patient_series(patient=patient, since=since, until=until, with_rejections=with_rejections)
    )


@staff_required
@require_POST
def patient_observation(request: HttpRequest, patient_id: int) -> HttpResponse:
    """Save a full observation set; with JSON the errors come back per field, focus stays put."""
    patient = _patient_or_404(request, patient_id)
    form = ObservationSetForm(request.POST)
    if form.is_valid():
        try:
            observation_set_record_manual(
                patient=patient,
                user=request.user,
                values=form.cleaned_data["values"],
                measured_at=form.cleaned_data["measured_at"],
            )
        except ValidationError as exc:
            _add_service_errors(form, exc)
        except PermissionDenied as exc:
            form.add_error(None, _message(exc))
    saved = "Observation set recorded; the NEWS2 score is being recalculated."
    if _wants_json(request):
        if form.errors:
            return JsonResponse({"ok": False, "errors": form.errors.get_json_data()}, status=400)
        return JsonResponse({"ok": True, "message": saved})
    if form.errors:
        context = _patient_context(request, patient, observation_form=form)
        return render(request, "frontend/patient.html", context, status=400)
    messages.success(request, saved)
    return redirect("frontend:patient", patient_id=patient.pk)


def _add_service_errors(form: ObservationSetForm, exc: ValidationError) -> None:
    fields = set(form.fields)
    for field, messages_ in getattr(exc, "message_dict", {None: exc.messages}).items():
        form.add_error(field if field in fields else None, messages_)


@staff_required
@require_GET
@audited("patient.news2_previewed")
def patient_news2_preview(request: HttpRequest, patient_id: int) -> HttpResponse:
    """The NEWS2 the set being typed will produce, from the real scoring code; nothing is saved."""
    patient = _patient_or_404(request, patient_id)
    form = ObservationSetForm(request.GET)
    form.is_valid()
    errors = form.errors.get_json_data()
    errors.pop("__all__", None)  # "enter at least one" is for saving, not for a preview
    values = (form.cleaned_data or {}).get("values", {}) if not form.errors.get("measured_at") else {}
    measured_at = form.cleaned_data.get("measured_at") or timezone.now()
    preview = news2_preview(patient=patient, values=values, measured_at=measured_at)
    html = render(request, "frontend/_news2_preview.html", _preview_context(preview)).content.decode()
    return JsonResponse({"html": html, "errors": errors, "total": preview.result.total, "risk": preview.result.risk})


def _preview_context(preview: Any) -> dict[str, Any]:
    result = preview.result
    rows = []
    for name, label, unit in SET_FIELDS:
        sub = result.sub_scores[name]
        earlier = preview.from_earlier.get(name)
        source = "this set" if name in preview.from_set else "earlier reading" if earlier else None
        rows.append(
            {
                "label": label,
                "value": _shown(sub.value, unit),
                "score": sub.score,
                "source": source,
                "earlier_at": earlier.measured_at if earlier else None,
                "stale": name in preview.stale,
            }
        )
    return {"result": result, "rows": rows, "missing": [r["label"] for r in rows if r["score"] is None]}


def _shown(value: Any, unit: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oxygen" if value else "air"
    if isinstance(value, float):
        value = int(value) if value.is_integer() else value
    return f"{value} {unit}".strip() if unit and unit != "ACVPU" else str(value)


@staff_required
@require_POST
def patient_scale(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = _patient_or_404(request, patient_id)
    form = ScaleForm(request.POST)
    if form.is_valid():
        try:
            patient_set_spo2_scale(
                patient=patient,
                user=request.user,
                scale=form.cleaned_data["scale"],
                reason=form.cleaned_data["reason"].strip(),
            )
        except (ValidationError, PermissionDenied) as exc:
            form.add_error(None, _message(exc))
    if form.errors:
        return render(request, "frontend/patient.html", _patient_context(request, patient, scale_form=form), status=400)
    messages.success(request, f"SpO₂ scale set to Scale {form.cleaned_data['scale']}.")
    return redirect("frontend:patient", patient_id=patient.pk)
