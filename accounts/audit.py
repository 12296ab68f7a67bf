"""The audit trail: who viewed which patient's record and who acted on what. Append-only.

Rows are only ever inserted (``AuditEvent.save`` refuses updates; on PostgreSQL a trigger
refuses UPDATE and DELETE too, see migration 0003, and the application's database role may only
INSERT and SELECT, see ``manage.py db_roles``). Every event is a link of a hash chain
(``accounts.audit_chain``), so rows changed or removed by someone with more rights are detected.
Call :func:`audit_record` inside the transaction of the action it describes, so an action and its
record commit or roll back together.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterable, Iterator
from typing import Any

from django.db import models
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.audit_chain import audit_chain_append, json_normalised
from accounts.models import AuditEvent
from virtualward.datetimes import aware_datetime_problem

EXPORT_PAGE_SIZE = 2000
CSV_COLUMNS = [
    "at",
    "actor",
    "action",
    "patient_id",
    "patient_nhs_number",
    "object_type",
    "object_id",
    "route",
    "detail",
]


def audit_record(
    *,
    actor: Any,
    action: str,
    patient: Any = None,
    obj: models.Model | None = None,
    route: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event. ``actor`` may be anonymous or None (a device, the system)."""
    return audit_record_each(actor=actor, action=action, patients=[patient], obj=obj, route=route, detail=detail)[0]


def audit_record_each(
    *,
    actor: Any,
    action: str,
    patients: Iterable[Any],
    obj: models.Model | None = None,
    route: str = "",
    detail: dict[str, Any] | None = None,
) -> list[AuditEvent]:
    """Append one event per patient (a list seen at once), as consecutive links of the chain."""
    if not action or len(action) > AuditEvent._meta.get_field("action").max_length:
        raise ValueError(f"audit action {action!r} must be 1-40 characters")
    user = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
    at, stored_detail = timezone.now(), json_normalised(detail or {})
    events = [
        AuditEvent(
            at=at,
            actor=user,
            action=action,
            patient_id=getattr(patient, "pk", patient),
            object_type=obj._meta.label_lower if obj is not None else "",
            object_id=str(obj.pk) if obj is not None else "",
            route=route[:200],
            detail=stored_detail,
        )
        for patient in patients
    ]
    return audit_chain_append(events) if events else []


def audit_events(*, since: dt.datetime | None = None, until: dt.datetime | None = None) -> QuerySet[AuditEvent]:
    """Events in [since, until), oldest first (the order an investigator reads them in)."""
    events = AuditEvent.objects.select_related("actor", "patient").order_by("at", "id")
    if since is not None:
        events = events.filter(at__gte=since)
    if until is not None:
        events = events.filter(at__lt=until)
    return events


class _Echo:
    def write(self, value: str) -> str:
        return value


def audit_csv_lines(events: Iterable[AuditEvent]) -> Iterator[str]:
    """CSV text, one line at a time, for streaming a large export without holding it in memory."""
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    for event in _in_pages(events) if isinstance(events, QuerySet) else events:
        yield writer.writerow(_csv_row(event))


def _in_pages(events: QuerySet[AuditEvent]) -> Iterator[AuditEvent]:
    """Events oldest first, fetched a page at a time after the last one seen (keyset pages).

    Plain queries rather than a server-side cursor: an export abandoned half way (the client
    went away) leaves nothing open on the database to be closed later, inside someone else's
    transaction.
    """
    events, size = events.order_by("at", "id"), EXPORT_PAGE_SIZE
    page = list(events[:size])
    while page:
        yield from page
        if len(page) < size:
            return
        last = page[-1]
        page = list(events.filter(Q(at__gt=last.at) | Q(at=last.at, id__gt=last.pk))[:size])


def _csv_row(event: AuditEvent) -> list[Any]:
    return [
        event.at.astimezone(dt.UTC).isoformat(),
        event.actor.get_username() if event.actor else "",
        event.action,
        event.patient_id or "",
        event.patient.nhs_number if event.patient else "",
        event.object_type,
        event.object_id,
        event.route,
        _json(event.detail),
    ]


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str) if value else ""


def parse_bound(raw: str | None, name: str) -> dt.datetime | None:
    """An ISO 8601 date or date-time for an export bound. A date means midnight UTC.

    A date-time without an offset is refused: guessing its zone could silently drop or add a
    whole hour of the record.
    """
    if not raw:
        return None
    try:
        if len(raw) == 10:
            day = dt.date.fromisoformat(raw)
            return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
        value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"{name}={raw!r} is not an ISO 8601 date or date-time") from exc
    if value.tzinfo is None:
        raise ValueError(f"{name}={raw!r} needs a time zone offset, e.g. {raw}Z")
    # Checked before the export starts streaming: a database error mid-stream cannot become a
    # 400 any more, and the client is left waiting on a broken download.
    problem = aware_datetime_problem(value)
    if problem:
        raise ValueError(f"{name}={raw!r}: {problem}")
    return value
