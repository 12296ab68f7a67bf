"""Pairing pages: the patient's (no log-in, one step per screen) and the clinician's code page.

Patient: /pair/ (code) -> /pair/device/ (serial) -> /pair/wait/<token>/, which polls
/pair/status/<token>/. The code travels between steps in the anonymous session only; the
token is signed and names a device, not a patient. Clinician: /patients/<id>/pairing-code/
issues or reissues a code; /devices/<id>/unpair/ revokes a device.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import visible_patients
from accounts.audit_hooks import audit_note, audited
from accounts.permissions import patient_for, staff_required
from devices.kit_pairing import kit_from_token, kit_is_open, kit_of_device, kit_status, kit_token, pairing_kit_add
from devices.models import Device
from devices.pairing import (
    PairingError,
    code_display,
    code_normalise,
    device_from_status_token,
    device_unpair,
    pairing_code_check,
    pairing_code_issue,
    pairing_complete,
    pairing_status,
)
from virtualward.client_ip import client_ip

SESSION_KEY = "vw_pairing_code"
KIT_SESSION_KEY = "vw_pairing_kit"  # the kit this phone may add devices to (devices.kit_pairing)

STATE_TEXT = {
    "setting_up": ("Setting up your device…", "Please make sure the device is switched on and near you."),
    "waiting": ("Your device is set up", "Now we are waiting for your first reading. Please take a reading now."),
    "received": ("We have received your first reading", "Thank you. Your device is working. You can close this page."),
    "revoked": ("This device has been disconnected", "The ward has disconnected this device."),
}


def _context(**extra: object) -> dict:
    return {"ward_phone": settings.VW_WARD_PHONE, **extra}


@never_cache
@require_http_methods(["GET", "POST"])
def pair_code(request: HttpRequest) -> HttpResponse:
    code = request.POST.get("code", request.GET.get("code", ""))
    if request.method == "POST":
        try:
            row = pairing_code_check(code=code, client_ip=client_ip(request))
        except PairingError as error:
            return render(request, "pairing/code.html", _context(code=code, error=error.message), status=400)
        request.session[SESSION_KEY] = code_normalise(code)
        request.session["vw_pairing_phone"] = row.patient.ward.phone or settings.VW_WARD_PHONE
        return redirect("frontend:pair-device")
    return render(request, "pairing/code.html", _context(code=code))


@never_cache
@require_http_methods(["GET", "POST"])
def pair_device(request: HttpRequest) -> HttpResponse:
    code = request.session.get(SESSION_KEY)
    if not code:
        return redirect("frontend:pair")
    phone = request.session.get("vw_pairing_phone", settings.VW_WARD_PHONE)
    if request.method == "GET":
        return render(request, "pairing/device.html", _context(ward_phone=phone, code=code_display(code)))
    serial = request.POST.get("serial", "")
    try:
        result = pairing_complete(
            code=code, serial=serial, client_ip=client_ip(request), issue_credentials=False, via="patient page"
        )
    except PairingError as error:
        if error.reason in ("serial_not_recognised", "device_in_use"):
            ctx = _context(ward_phone=phone, code=code_display(code), serial=serial, error=error.message)
            return render(request, "pairing/device.html", ctx, status=400)
        request.session.pop(SESSION_KEY, None)
        return render(request, "pairing/code.html", _context(error=error.message), status=400)
    request.session.pop(SESSION_KEY, None)
    row = kit_of_device(Device.objects.get(pk=result.device_pk))
    if row is not None:
        request.session[KIT_SESSION_KEY] = kit_token(row)
    return redirect("frontend:pair-wait", token=result.status_token)


@never_cache
@require_GET
def pair_wait(request: HttpRequest, token: str) -> HttpResponse:
    device = device_from_status_token(token)
    if device is None:
        raise Http404("This page has expired.")
    return render(request, "pairing/wait.html", _wait_context(request, device, token))


def _wait_context(request: HttpRequest, device: Device, token: str, **extra: object) -> dict:
    row = kit_from_token(request.session.get(KIT_SESSION_KEY))
    mine = row is not None and kit_of_device(device) == row
    return _context(
        **_status_payload(device),
        token=token,
        device_name=device.get_kind_display(),
        serial=device.serial,
        kit_can_add=mine and kit_is_open(row),
        **extra,
    )


@never_cache
@require_POST
def pair_kit_add(request: HttpRequest) -> HttpResponse:
    """The next device of the kit: its number only, the code is not asked for again."""
    token = request.session.get(KIT_SESSION_KEY)
    serial = request.POST.get("serial", "")
    try:
        result = pairing_kit_add(token=token, serial=serial, client_ip=client_ip(request))
    except PairingError as error:
        back = request.POST.get("back", "")
        device = device_from_status_token(back) if back else None
        if device is None:
            return render(request, "pairing/code.html", _context(error=error.message), status=400)
        ctx = _wait_context(request, device, back, kit_error=error.message, kit_serial=serial)
        return render(request, "pairing/wait.html", ctx, status=400)
    return redirect("frontend:pair-wait", token=result.status_token)


@never_cache
@require_GET
def pair_status(request: HttpRequest, token: str) -> JsonResponse:
    device = device_from_status_token(token)
    if device is None:
        return JsonResponse({"state": "unknown", "error": "This page has expired."}, status=404)
    return JsonResponse(_status_payload(device))


def _status_payload(device: Device) -> dict:
    status = pairing_status(device)
    title, text = STATE_TEXT[status.state]
    return {
        "state": status.state,
        "title": title,
        "text": text,
        "show_help": status.show_help,
        "ward_phone": status.ward_phone,
        # Every device of the kit this one belongs to, named, each with its own first reading.
        "kit": [member.as_json() for member in kit_status(device)],
    }


# --- Clinician side -------------------------------------------------------------------------


@staff_required
@require_http_methods(["GET", "POST"])
@audited("patient.pairing_viewed")
def pairing_code(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = patient_for(request.user, patient_id)
    audit_note(request, patient)
    issued = None
    if request.method == "POST":
        try:
            issued = pairing_code_issue(
                patient=patient, user=request.user, link_base=request.build_absolute_uri(reverse("frontend:pair"))
            )
        except PairingError as error:
            messages.error(request, error.message)
    devices = Device.objects.filter(patient=patient, revoked_at__isnull=True, paired_at__isnull=False)
    return render(request, "pairing/issue_code.html", {"patient": patient, "issued": issued, "devices": devices})


@staff_required
@require_POST
def unpair(request: HttpRequest, device_id: int) -> HttpResponse:
    device = Device.objects.filter(pk=device_id, patient__in=visible_patients(request.user)).first()
    if device is None:
        raise Http404("No such device.")
    reason = (request.POST.get("reason") or "").strip()[:200] or "unpaired by staff"
    device_unpair(device=device, user=request.user, reason=reason, route=request.path)
    messages.success(request, f"{device} has been disconnected. It can no longer send readings.")
    return redirect("frontend:pairing-code", patient_id=device.patient_id)
