"""One mechanism that audits every read of a patient's data, whichever door it came through.

A route marks the patients its answer shows with :func:`audit_note` (the API mixin does it in
``get_object`` and ``paginate_queryset``; pages through their patient lookup); once the answer
is a success, :func:`audit_request` appends one event per patient with ``audit_record_each``.
The three adapters all end there:

* REST API: :class:`AuditedReadsMixin` on every viewset that serves patient data;
* pages: the :func:`audited` view decorator;
* websockets: :func:`audit_socket_opened`, called once when a socket is accepted.

Writes are audited by their services inside the write's own transaction (``patient.admitted``,
``observation.recorded``, ``alert.acknowledged`` ...), so an action and its record commit or
roll back together. Failed requests (4xx, 5xx) show nothing and record nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from channels.db import database_sync_to_async
from django.http import HttpRequest, HttpResponse

from accounts import access
from accounts.audit import audit_record_each
from accounts.permissions import patient_for, patient_id_of

_NOTED = "_vw_audit_patients"
READ_METHODS = frozenset({"GET", "HEAD"})


def audit_note(request: Any, *objects: Any) -> None:
    """Mark the patients (ids, or records of a patient) that this request's answer shows."""
    http = getattr(request, "_request", request)  # DRF's Request wraps Django's
    noted: dict[int, None] = http.__dict__.setdefault(_NOTED, {})  # a set that keeps order
    for obj in objects:
        patient_id = obj if isinstance(obj, int) else patient_id_of(obj)
        if patient_id is not None:
            noted[patient_id] = None


def noted_patient(request: Any, patient_id: Any) -> Any:
    """The patient this request shows (404 if ``request.user`` may not see them), noted for the audit."""
    patient = patient_for(request.user, patient_id)
    audit_note(request, patient)
    return patient


def audit_request(request: Any, response: HttpResponse, action: str) -> None:
    """After a successful read, one event per noted patient: who, which patient, which route."""
    http = getattr(request, "_request", request)
    noted = http.__dict__.pop(_NOTED, {})
    if not noted or http.method not in READ_METHODS or response.status_code >= 400:
        return
    query = http.META.get("QUERY_STRING", "")
    audit_record_each(
        actor=http.user,
        action=action,
        patients=list(noted),
        route=http.path,
        detail={"query": query[:200]} if query else None,
    )


class AuditedReadsMixin:
    """For DRF viewsets: every successful read of a patient's data is audited.

    The audit action is ``<basename>.listed`` for ``list``, ``<basename>.viewed`` for
    ``retrieve`` and ``<basename>.<action>`` for extra actions, unless ``audit_actions`` names it.
    """

    audit_actions: dict[str, str] = {}
    _VERBS = {"list": "listed", "retrieve": "viewed"}

    def audit_action_name(self) -> str:
        action = getattr(self, "action", None) or "unknown"
        basename = getattr(self, "basename", None) or type(self).__name__.lower()
        return self.audit_actions.get(action) or f"{basename}.{self._VERBS.get(action, action)}"

    def get_object(self) -> Any:
        obj = super().get_object()  # type: ignore[misc]
        audit_note(self.request, obj)  # type: ignore[attr-defined]
        return obj

    def paginate_queryset(self, queryset: Any) -> Any:
        page = super().paginate_queryset(queryset)  # type: ignore[misc]
        if page is not None:
            audit_note(self.request, *page)  # type: ignore[attr-defined]
        return page

    def finalize_response(self, request: Any, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        audit_request(request, response, self.audit_action_name())
        return response


def audited(action: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """For page views: audit the patients the view noted, once its answer is a success."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            response = view(request, *args, **kwargs)
            audit_request(request, response, action)
            return response

        wrapper.audit_action = action  # type: ignore[attr-defined]
        return wrapper

    return decorate


@database_sync_to_async
def audit_socket_opened(scope: dict[str, Any], user: Any) -> None:
    """An accepted live socket is a read of the patients its snapshots show, audited once.

    Later snapshots on the same socket (after every event) are the same read kept fresh.
    """
    kwargs = scope.get("url_route", {}).get("kwargs", {})
    path = scope.get("path", "")
    patients = access.visible_patients(user)
    if kwargs.get("patient_id") is not None:
        action, shown = "patient.live_opened", [int(kwargs["patient_id"])]
    elif path.startswith("/ws/alerts/"):
        live = patients.filter(alerts__state__in=["open", "acknowledged"]).distinct()
        action, shown = "alert.queue_live_opened", list(live.values_list("pk", flat=True))
    else:
        active = patients.filter(discharged_at__isnull=True)
        if kwargs.get("ward_id") is not None:
            active = active.filter(ward_id=int(kwargs["ward_id"]))
        action, shown = "ward.board_live_opened", list(active.values_list("pk", flat=True))
    audit_record_each(actor=user, action=action, patients=shown, route=path)


class AdminReadAuditMiddleware:
    """The Django admin (administrators only) audits the patients its pages show.

    Admin pages answer with a TemplateResponse; before it renders, the records it is about to
    show are in its context: ``cl.result_list`` on a change list, ``original`` on a change form,
    ``object`` on the history and delete pages. The audit trail's own pages are left out: reading
    the trail is audited when it is exported.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_template_response(self, request: HttpRequest, response: Any) -> Any:
        context = getattr(response, "context_data", None) or {}
        opts = context.get("opts")
        if not request.path.startswith(_admin_prefix()) or opts is None or opts.label_lower == "accounts.auditevent":
            return response
        changelist = context.get("cl")
        shown = context.get("original") or context.get("object")
        audit_note(request, *(changelist.result_list if changelist is not None else [shown] if shown else []))
        verb = "listed" if changelist is not None else "viewed"
        audit_request(request, response, f"admin.{opts.model_name}_{verb}"[:40])
        return response


def _admin_prefix() -> str:
    from django.urls import reverse

    return reverse("admin:index")
