"""Roles enforced the same way on every route: DRF permissions, page decorators, websocket checks.

All of them delegate to ``accounts.access``. A record outside the user's wards is answered as
"not found" (404 on pages and the API, a closed socket on websockets) rather than "forbidden",
so ids of other wards' patients cannot be probed.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from channels.db import database_sync_to_async
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from rest_framework import permissions

from accounts import access
from patients.models import Patient, Ward

# --- REST API -------------------------------------------------------------------------------


class IsStaff(permissions.BasePermission):
    """Any active user with a staff role; object checks follow the patient's ward."""

    message = "You need a staff role to use this."

    def has_permission(self, request: Any, view: Any) -> bool:
        return access.role_of(request.user) is not None

    def has_object_permission(self, request: Any, view: Any, obj: Any) -> bool:
        patient_id = patient_id_of(obj)
        if patient_id is not None:
            return access.can_view_patient(request.user, patient_id)
        ward_id = ward_id_of(obj)
        return ward_id is None or access.can_view_ward(request.user, ward_id)


class IsOperatorOrAdministrator(IsStaff):
    message = "Only the command centre and administrators may do this."

    def has_permission(self, request: Any, view: Any) -> bool:
        return access.sees_all_wards(request.user)


class IsAdministrator(IsStaff):
    message = "Only administrators may do this."

    def has_permission(self, request: Any, view: Any) -> bool:
        return access.is_administrator(request.user)


def patient_id_of(obj: Any) -> int | None:
    """The patient an object belongs to: a Patient, or anything with ``patient_id``/``alert.patient_id``."""
    if isinstance(obj, Patient):
        return obj.pk
    if getattr(obj, "patient_id", None) is not None:
        return obj.patient_id
    alert = getattr(obj, "alert", None)
    return getattr(alert, "patient_id", None)


def ward_id_of(obj: Any) -> int | None:
    if isinstance(obj, Ward):
        return obj.pk
    return getattr(obj, "ward_id", None)


# --- Pages ----------------------------------------------------------------------------------

View = Callable[..., HttpResponse]


def staff_required(view: View) -> View:
    """Log-in required (redirect) and a staff role required (403)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if access.role_of(request.user) is None:
            raise PermissionDenied("You need a staff role to see this page.")
        return view(request, *args, **kwargs)

    return wrapper


def administrator_required(view: View) -> View:
    @wraps(view)
    @staff_required
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not access.is_administrator(request.user):
            raise PermissionDenied("Only administrators may see this page.")
        return view(request, *args, **kwargs)

    return wrapper


def patient_for(user: Any, patient_id: Any) -> Patient:
    """The patient if ``user`` may see them, else 404 (the same answer as a missing patient)."""
    pk = access.parse_pk(patient_id)
    patients = access.visible_patients(user).select_related("ward", "current_score")
    patient = patients.filter(pk=pk).first() if pk else None
    if patient is None:
        raise Http404("No such patient.")
    return patient


def ward_for(user: Any, ward_id: Any) -> Ward:
    pk = access.parse_pk(ward_id)
    ward = access.visible_wards(user).filter(pk=pk).first() if pk else None
    if ward is None:
        raise Http404("No such ward.")
    return ward


# --- Websockets -----------------------------------------------------------------------------


@database_sync_to_async
def ws_can_view_ward(user: Any, ward_id: Any) -> bool:
    return access.can_view_ward(user, ward_id)


@database_sync_to_async
def ws_can_view_patient(user: Any, patient_id: Any) -> bool:
    return access.can_view_patient(user, patient_id)


@database_sync_to_async
def ws_sees_all_wards(user: Any) -> bool:
    return access.sees_all_wards(user)
