"""An alert's record as people read it: who did what, and when, one line per event.

Every AlertEvent becomes an entry with the actor ("System" for the platform's own steps), the
time, and a sentence that carries the values (the NEWS2 it worsened to, whom it was assigned or
escalated to, the outcome and the review time). Card, patient page and API all show this list.
Reads ``alert.events.all()`` so a prefetch serves a whole queue in one query.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.utils import timezone

from alerts.models import Alert, AlertEvent, Outcome, Severity


def timeline(alert: Alert) -> list[dict[str, Any]]:
    """Events and the notifications sent about the alert, in time order."""
    entries = [timeline_entry(event) for event in alert.events.all()]
    # rota's messages to people (reverse relation; rota builds on alerts, not the reverse).
    notifications = getattr(alert, "notifications", None)
    if notifications is not None:
        entries += [notification_entry(n) for n in notifications.all()]
    return sorted(entries, key=lambda entry: (entry["at"], entry["action"] == "notified", entry["id"]))


def notification_entry(notification: Any) -> dict[str, Any]:
    state = notification.get_state_display().lower()
    if notification.error and notification.state != "sent":
        state += f" ({notification.error})"
    elif notification.sent_at is not None:
        state += f" at {timezone.localtime(notification.sent_at):%H:%M:%S}"
    return {
        "id": notification.pk,
        "action": "notified",
        "label": "Notified",
        "at": notification.created_at,
        "actor": "System",
        "what": f"{notification.get_channel_display()} to {_name(notification.recipient)}, "
        f"{notification.reason}: {state}",
        "note": "",
        "detail": "",
        "channel": notification.channel,
        "delivery": notification.state,
    }


def timeline_entry(event: AlertEvent) -> dict[str, Any]:
    describe = _DESCRIBE.get(event.action, lambda data: "")
    # The platform's own raise and escalate carry the RCP response as their note: it is shown
    # once per page, not in every entry.
    system_detail = event.actor_id is None and event.action in _SYSTEM_DETAIL
    return {
        "id": event.pk,
        "action": event.action,
        "label": event.get_action_display(),
        "at": event.at,
        "actor": _name(event.actor) if event.actor_id else "System",
        "what": describe(event.data or {}),
        "note": "" if system_detail else event.note,
        "detail": event.note if system_detail else "",
    }


_SYSTEM_DETAIL = frozenset({AlertEvent.Action.RAISED, AlertEvent.Action.ESCALATED})


def timeline_entry_to_dict(entry: dict[str, Any]) -> dict[str, Any]:
    return {**entry, "at": entry["at"].isoformat()}


def _name(user: Any) -> str:
    return user.get_full_name() or user.get_username()


def _severity(value: Any) -> str:
    return Severity(value).label if value in Severity.values else str(value)


def _clock(raw: str | None) -> str:
    if not raw:
        return ""
    moment = datetime.fromisoformat(raw)
    return timezone.localtime(moment).strftime("%d %b %H:%M")


def _figures(data: dict[str, Any]) -> str:
    parts = []
    if data.get("total") is not None:
        parts.append(f"NEWS2 {data['total']}" + (f" ({data['risk']})" if data.get("risk") else ""))
    if data.get("values"):
        parts.append(", ".join(f"{name} {value}" for name, value in data["values"].items()))
    return "; ".join(parts)


def _raised(data: dict[str, Any]) -> str:
    figures = _figures(data)
    return f"for {figures}" if figures else ""


def _escalated(data: dict[str, Any]) -> str:
    parts = []
    if "severity_before" in data:
        parts.append(f"{_severity(data['severity_before'])} → {_severity(data.get('severity'))}")
    if _figures(data):
        parts.append(f"worsened to {_figures(data)}")
    if data.get("recipient"):
        parts.append(f"to {data['recipient']}")
    return ", ".join(parts)


def _acknowledged(data: dict[str, Any]) -> str:
    return "took ownership" if data.get("took_ownership") else ""


def _assigned(data: dict[str, Any]) -> str:
    return f"to {data.get('assignee', 'someone')}"


def _outcome(data: dict[str, Any]) -> str:
    value = data.get("outcome") or ""
    label = Outcome(value).label if value in Outcome.values else value
    review = f"; review by {_clock(data.get('review_by'))}" if data.get("review_by") else ""
    return f"Outcome: {label}{review}" if label else review.lstrip("; ")


def _review_planned(data: dict[str, Any]) -> str:
    return f"{_outcome(data)}; kept open ({data.get('kept_open', 'still in band')})"


def _review(data: dict[str, Any]) -> str:
    figures = _figures(data)
    return f"review due {_clock(data.get('review_by'))}: {figures or 'no score'}"


_DESCRIBE: dict[str, Callable[[dict[str, Any]], str]] = {
    AlertEvent.Action.RAISED: _raised,
    AlertEvent.Action.ESCALATED: _escalated,
    AlertEvent.Action.ACKNOWLEDGED: _acknowledged,
    AlertEvent.Action.ASSIGNED: _assigned,
    AlertEvent.Action.RESOLVED: _outcome,
    AlertEvent.Action.AUTO_RESOLVED: lambda data: "the cause cleared",
    AlertEvent.Action.REVIEW_PLANNED: _review_planned,
    AlertEvent.Action.REOPENED: _review,
    AlertEvent.Action.REVIEW_CLOSED: _review,
    AlertEvent.Action.SNOOZED: lambda data: f"for {data.get('minutes')} min, until {_clock(data.get('until'))}",
}
