"""The dashboard's own writes: routing a triage click.

Triage actions themselves belong to ``alerts.services``; this module only picks the service a
button names, so the views stay a thin translation from HTTP.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model

from accounts.access import AnyUser
from alerts import services as alerts_services
from alerts.models import Alert
from rota.services import alert_escalate_to

ALERT_ACTIONS = ("acknowledge", "assign", "note", "escalate", "resolve", "snooze")


def alert_action_run(*, alert: Alert, user: AnyUser, action: str, data: dict[str, Any]) -> None:
    """Run one triage action. Raises ``AlertActionError`` when refused."""
    note = (data.get("note") or "").strip()
    if action == "acknowledge":
        alerts_services.alert_acknowledge(alert=alert, user=user)
    elif action == "assign":
        assignee = user if data["assignee"] == "me" else get_user_model().objects.get(pk=int(data["assignee"]))
        alerts_services.alert_assign(alert=alert, user=user, assignee=assignee)
    elif action == "note":
        alerts_services.alert_add_note(alert=alert, user=user, note=note)
    elif action == "escalate":
        alert_escalate_to(alert=alert, user=user, to=data["escalate_to"], note=note)
    elif action == "snooze":
        alerts_services.alert_snooze(alert=alert, user=user, minutes=data.get("snooze_minutes") or 0, reason=note)
    elif action == "resolve":
        alerts_services.alert_resolve(
            alert=alert, user=user, outcome=data["outcome"], note=note, review_by=data.get("review_by")
        )
    else:
        raise ValueError(f"Unknown action {action!r}; expected one of {', '.join(ALERT_ACTIONS)}.")
