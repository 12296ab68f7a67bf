"""Every write to alerts goes through here (see the submodules for the rules of each kind)."""

from alerts.services.actions import (
    AlertActionError,
    AlertPermissionError,
    AlertStateError,
    alert_acknowledge,
    alert_add_note,
    alert_assign,
    alert_escalate,
    alert_resolve,
)
from alerts.services.clinical import alert_fall_detected, evaluate_score, evaluate_scores
from alerts.services.core import AlertNews, auto_resolve, live_alert, raise_or_escalate
from alerts.services.incident_actions import incident_acknowledge, incident_assign
from alerts.services.persistence import sweep_persistence_holds
from alerts.services.reviews import sweep_clinical_reviews
from alerts.services.snooze import alert_snooze
from alerts.services.technical import (
    raise_device_offline,
    raise_low_battery,
    resolve_device_offline,
    resolve_low_battery,
    sweep_overdue_observations,
)

__all__ = [
    "AlertActionError",
    "AlertNews",
    "AlertPermissionError",
    "AlertStateError",
    "alert_acknowledge",
    "alert_add_note",
    "alert_assign",
    "alert_escalate",
    "alert_fall_detected",
    "alert_resolve",
    "alert_snooze",
    "auto_resolve",
    "evaluate_score",
    "evaluate_scores",
    "incident_acknowledge",
    "incident_assign",
    "live_alert",
    "raise_device_offline",
    "raise_low_battery",
    "raise_or_escalate",
    "resolve_device_offline",
    "resolve_low_battery",
    "sweep_clinical_reviews",
    "sweep_overdue_observations",
    "sweep_persistence_holds",
]
