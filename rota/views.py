"""Pages for escalation to people: the rota, what was sent, web-push subscription, and the
acknowledge link in a message. Thin: selectors and services do the work."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import sees_all_wards, visible_patients, visible_wards
from accounts.audit_hooks import audit_note, audited
from accounts.permissions import staff_required
from alerts.models import Alert, IncidentMember
from alerts.services import AlertActionError, alert_acknowledge
from rota import handover, selectors, services
from rota.links import BadLink, read_ack_token
from rota.models import DutyRole, PushSubscription


@staff_required
@require_GET
def rota_page(request: HttpRequest) -> HttpResponse:
    wards = list(visible_wards(request.user).order_by("name"))
    since, until = selectors.default_rota_window()
    context = {
        "on_duty": [(ward, selectors.on_duty(ward_id=ward.pk)) for ward in wards],
        "shifts": selectors.rota_between(since=since, until=until, ward_ids=[w.pk for w in wards]),
        "can_edit": sees_all_wards(request.user),
        "roles": DutyRole.choices,
        "wards": wards,
        "people": get_user_model().objects.filter(is_active=True).order_by("last_name", "first_name"),
        "vapid_public_key": settings.VAPID_PUBLIC_KEY,
    }
    return render(request, "rota/rota.html", context)


@staff_required
@require_POST
def shift_add(request: HttpRequest) -> HttpResponse:
    people = get_user_model().objects.filter(is_active=True)
    person = people.filter(pk=request.POST.get("person") or 0).first()
    ward = visible_wards(request.user).filter(pk=request.POST.get("ward") or 0).first()
    try:
        if person is None:
            raise AlertActionError("Choose who is on duty.")
        services.shift_create(
            user=request.user,
            person=person,
            role=request.POST.get("role", ""),
            ward=ward,
            starts_at=_local(request.POST.get("starts_at", "")),
            ends_at=_local(request.POST.get("ends_at", "")),
        )
    except (AlertActionError, ValueError) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Shift added to the rota.")
    return redirect("rota:rota")


def _local(raw: str) -> datetime:
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"{raw!r} is not a date and time.") from None
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


@staff_required
@require_GET
@audited("notification.listed")
def notifications_page(request: HttpRequest) -> HttpResponse:
    """Every message sent about alerts the user may see: to whom, how, and what became of it."""
    patients = visible_patients(request.user)
    alert_ids = list(Alert.objects.filter(patient__in=patients).values_list("pk", flat=True))
    incident_ids = list(IncidentMember.objects.filter(patient__in=patients).values_list("incident_id", flat=True))
    sent = list(selectors.notifications_sent(alert_ids=alert_ids, incident_ids=incident_ids))
    audit_note(request, *(note.alert.patient_id for note in sent if note.alert is not None))
    return render(request, "rota/notifications.html", {"notifications": sent})


@staff_required
@require_POST
def push_subscribe(request: HttpRequest) -> HttpResponse:
    """The browser's PushSubscription.toJSON(), stored for the signed-in person."""
    try:
        data = json.loads(request.body)
        endpoint, keys = data["endpoint"], data["keys"]
        fields = {"person": request.user, "p256dh": keys["p256dh"], "auth": keys["auth"]}
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"ok": False, "error": "Expected the browser's push subscription as JSON."}, status=400)
    if not str(endpoint).startswith("https://") and not settings.DEBUG:
        return JsonResponse({"ok": False, "error": "A push endpoint must be https."}, status=400)
    PushSubscription.objects.update_or_create(endpoint=endpoint, defaults=fields)
    return JsonResponse({"ok": True})


@require_http_methods(["GET", "POST"])
def acknowledge_from_link(request: HttpRequest, token: str) -> HttpResponse:
    """The acknowledge link in a message: a page with one button; the press acknowledges."""
    try:
        alert_id, person_id = read_ack_token(token)
    except BadLink as exc:
        return render(request, "rota/acknowledge.html", {"error": str(exc)}, status=400)
    alert = Alert.objects.select_related("patient__ward").filter(pk=alert_id).first()
    person = get_user_model().objects.filter(pk=person_id, is_active=True).first()
    if alert is None or person is None:
        return render(
            request, "rota/acknowledge.html", {"error": "This alert or account no longer exists."}, status=404
        )
    context = {"alert": alert, "person": person}
    if request.method == "POST":
        try:
            alert = alert_acknowledge(alert=alert, user=person)
        except AlertActionError as exc:
            return render(request, "rota/acknowledge.html", {**context, "error": str(exc)}, status=409)
        return render(request, "rota/acknowledge.html", {**context, "alert": alert, "done": True})
    return render(request, "rota/acknowledge.html", context)


@staff_required
@require_GET
@audited("handover.viewed")
def handover_page(request: HttpRequest) -> HttpResponse:
    wards = list(visible_wards(request.user).order_by("name"))
    ward = next((w for w in wards if str(w.pk) == request.GET.get("ward")), None)
    if ward is None and not sees_all_wards(request.user):
        ward = wards[0] if wards else None
    context = {
        **handover.handover_view(user=request.user, ward_id=ward.pk if ward else None),
        "ward": ward,
        "wards": wards,
        "staff": get_user_model().objects.filter(is_active=True, staff_profile__isnull=False).order_by("last_name"),
    }
    audit_note(request, *context["patients_of_concern"], *(alert.patient_id for alert in context["alerts"]))
    return render(request, "rota/handover.html", context)


@staff_required
@require_POST
def handover_start(request: HttpRequest) -> HttpResponse:
    ward = visible_wards(request.user).filter(pk=request.POST.get("ward") or 0).first()
    incoming = get_user_model().objects.filter(pk=request.POST.get("incoming") or 0, is_active=True).first()
    try:
        if incoming is None:
            raise AlertActionError("Choose who is taking over.")
        handover.handover_start(user=request.user, ward=ward, incoming=incoming, note=request.POST.get("note", ""))
    except AlertActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Hand-over ready for {incoming.get_full_name() or incoming.username} to accept.")
    return redirect(_handover_url(ward))


@staff_required
@require_POST
def handover_accept(request: HttpRequest, handover_id: int) -> HttpResponse:
    try:
        done = handover.handover_accept(user=request.user, handover_id=handover_id)
    except AlertActionError as exc:
        messages.error(request, str(exc))
        return redirect(_handover_url(None))
    messages.success(request, f"Hand-over accepted: {len(done.moved_alert_ids)} open alert(s) are now yours.")
    return redirect(_handover_url(done.ward))


def _handover_url(ward: Any) -> str:
    return reverse("rota:handover") + (f"?ward={ward.pk}" if ward is not None else "")
