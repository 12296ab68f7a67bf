"""Connectivity incidents: fold many devices' dropouts into one, close it as they come back.

The sweep calls :func:`fold_recent_dropouts` inside the transaction that raised the new
'device offline' alerts, and :func:`close_incidents` after. The rule deciding what is an outage
is pure (alerts.grouping); here are the reads and writes around it. Only 'device offline'
alerts are ever folded: a clinical alert, or any other kind, is never touched.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, Max, OuterRef, Q, Subquery

from alerts.grouping import BROKER, CELL, OPERATOR, WARD, Dropout, GroupRule, Outage, find_outages, joins, network_of
from alerts.incident_models import ConnectivityIncident, IncidentMember, IncidentState
from alerts.models import Alert, AlertEvent, AlertKind
from alerts.selectors import alert_to_dict
from alerts.services.core import LIVE_STATES, record_event
from alerts.services.incident_actions import inherit_on_fold
from devices.models import ConnectivityGap
from frontend.events import publish
from patients.models import Ward
from virtualward.bulk_insert import insert_rows

RULE = GroupRule()
# How long ago a silence may have begun and still be grouped: a device is noticed one interval
# and a grace period after its last contact, so a 5-minute device lost at 10:42 is noticed at
# 10:48. Devices reporting less often than this are grouped by their Last Will, if at all.
LOOKBACK = timedelta(minutes=15)
# An incident closes once this share of its devices is back and none has come back, or joined,
# for STRAGGLER_WAIT; the devices still silent then come out of the fold as their own alerts.
CLOSE_SHARE = 0.8
STRAGGLER_WAIT = timedelta(minutes=2)


@dataclass(frozen=True)
class _Candidate:
    dropout: Dropout
    gap_id: int
    alert_id: int
    patient_id: int
    risk: dict[str, Any]


def fold_recent_dropouts(*, now: datetime, rule: GroupRule = RULE) -> tuple[set[int], set[int]]:
    """Fold new dropouts into open incidents, or open incidents for outages; (incidents, alerts)."""
    candidates = _unfolded(now)
    if not candidates:
        return set(), set()
    incidents = list(ConnectivityIncident.objects.filter(state=IncidentState.OPEN).order_by("opened_at", "pk"))
    joining: dict[int, list[_Candidate]] = {}
    rest = []
    for candidate in candidates:
        target = next((i for i in incidents if _joins(candidate.dropout, i, rule)), None)
        if target is None:
            rest.append(candidate)
        else:
            joining.setdefault(target.pk, []).append(candidate)
    by_device = {c.dropout.device_id: c for c in rest}
    for outage in find_outages([c.dropout for c in rest], _usual(now, rule), rule=rule) if rest else []:
        incident = _open_incident(outage, now)
        joining.setdefault(incident.pk, []).extend(by_device[pk] for pk in outage.device_ids)
    folded = set()
    for incident_pk, members in joining.items():
        folded.update(_fold(incident_pk, members, now))
    return set(joining), folded


def _joins(dropout: Dropout, incident: ConnectivityIncident, rule: GroupRule) -> bool:
    # A silence long before the outage began is the device's own problem, not this outage.
    return dropout.silent_since >= incident.started_at - rule.window and joins(
        dropout, incident.group_kind, incident.group_value
    )


def _unfolded(now: datetime) -> list[_Candidate]:
    """Open gaps begun within LOOKBACK whose live 'device offline' alert was never folded."""
    live_alert = Alert.objects.filter(
        kind=AlertKind.DEVICE_OFFLINE, state__in=LIVE_STATES, device_id=OuterRef("device_id")
    ).values("pk")[:1]
    rows = (
        ConnectivityGap.objects.filter(
            ended_at__isnull=True, started_at__gte=now - LOOKBACK, patient__discharged_at__isnull=True
        )
        .annotate(alert_pk=Subquery(live_alert), folded=Exists(IncidentMember.objects.filter(gap_id=OuterRef("pk"))))
        .filter(folded=False, alert_pk__isnull=False)
        .values_list(
            "pk", "device_id", "started_at", "patient_id", "patient__ward_id", "alert_pk",
            "device__network_operator", "device__network_cell", "device__network_type",
            "patient__current_score__risk", "patient__current_score__total", "patient__spo2_scale",
            "patient__current_score__sub_scores",
        )
    )  # fmt: skip
    candidates = []
    for gap_pk, device_pk, started_at, patient_pk, ward_pk, alert_pk, operator, cell, network_type, *risk in rows:
        candidates.append(
            _Candidate(
                dropout=Dropout(device_pk, started_at, ward_pk, operator, cell, network_type),
                gap_id=gap_pk,
                alert_id=alert_pk,
                patient_id=patient_pk,
                risk=_risk_when_last_heard(*risk),
            )
        )
    return candidates


def _usual(now: datetime, rule: GroupRule) -> dict[tuple[str, str], int]:
    """Each group's dropouts over the baseline period before the lookback: its usual rate."""
    until = now - LOOKBACK
    rows = (
        ConnectivityGap.objects.filter(started_at__gte=until - rule.baseline, started_at__lt=until)
        .values_list("device__network_operator", "device__network_type", "device__network_cell", "patient__ward_id")
        .annotate(count=Count("pk"))
        .order_by()
    )
    usual: dict[tuple[str, str], int] = {}
    for operator, network_type, cell, ward_id, count in rows:
        dropout = Dropout(0, now, ward_id or 0, operator, cell, network_type)
        keys = [(BROKER, ""), (OPERATOR, network_of(dropout)), (WARD, str(ward_id))] + ([(CELL, cell)] if cell else [])
        for key in keys:
            usual[key] = usual.get(key, 0) + count
    return usual


def _open_incident(outage: Outage, now: datetime) -> ConnectivityIncident:
    """Open the group's incident; if a racing sweep opened it first, join theirs."""
    try:
        with transaction.atomic():
            incident = ConnectivityIncident.objects.create(
                group_kind=outage.kind,
                group_value=outage.value,
                label=group_label(outage.kind, outage.value),
                started_at=outage.started_at,
                opened_at=now,
                updated_at=now,
                silent_in_window=len(outage.device_ids),
                expected_in_window=round(outage.expected, 3),
            )
    except IntegrityError:
        return ConnectivityIncident.objects.get(
            state=IncidentState.OPEN, group_kind=outage.kind, group_value=outage.value
        )
    # Its own escalation ladder (technical) starts after commit; acknowledging it stops it.
    transaction.on_commit(partial(_advance_incident_ladder, incident.pk))
    return incident


def _advance_incident_ladder(incident_id: int) -> None:
    from rota.tasks import advance_incident_ladder  # rota builds on alerts, not the other way round

    advance_incident_ladder.delay(incident_id)


def group_label(kind: str, value: str) -> str:
    if kind == OPERATOR:
        return f"mobile network {value}"
    if kind == CELL:
        return "one mobile cell"  # the cell id is personal data: it stays on the patients' records
    if kind == WARD:
        ward = Ward.objects.filter(pk=int(value)).values_list("name", flat=True).first()
        return f"ward {ward or value}"
    return "every network at once (the platform's broker or network)"


def _fold(incident_pk: int, members: list[_Candidate], now: datetime) -> set[int]:
    # A device that came back and fell silent again while the incident is open rejoins it with
    # its new gap, whether or not a sweep has yet noted its return (the old gap stays recorded).
    IncidentMember.objects.filter(
        incident_id=incident_pk, device_id__in=[c.dropout.device_id for c in members]
    ).delete()
    columns = ["incident", "device", "patient", "gap", "alert", "silent_since", "joined_at", "risk", "news2_total",
               "spo2_scale", "on_oxygen"]  # fmt: skip
    rows = []
    for c in members:
        risk = c.risk
        rows.append(
            (incident_pk, c.dropout.device_id, c.patient_id, c.gap_id, c.alert_id, c.dropout.silent_since, now,
             risk["risk"], risk["news2_total"], risk["spo2_scale"], risk["on_oxygen"])
        )  # fmt: skip
    insert_rows(IncidentMember, columns, rows)
    earliest = min(c.dropout.silent_since for c in members)
    # Written only when the outage turns out to have begun earlier: a row lock taken on every
    # batch would make racing sweepers wait for each other's commits.
    ConnectivityIncident.objects.filter(pk=incident_pk, started_at__gt=earliest).update(
        started_at=earliest, updated_at=now
    )
    incident = ConnectivityIncident.objects.get(pk=incident_pk)
    inherit_on_fold(incident, [c.alert_id for c in members], now)
    _publish_incident(incident, {c.dropout.ward_id for c in members})
    return {c.alert_id for c in members}


def _risk_when_last_heard(risk: str | None, total: int | None, scale: int, sub_scores: Any) -> dict[str, Any]:
    """The patient's NEWS2 as it stood when their device fell silent: the order staff phone in."""
    if isinstance(sub_scores, str):  # a JSON column read through values_list on some backends
        sub_scores = json.loads(sub_scores)
    oxygen = ((sub_scores or {}).get("on_oxygen") or {}).get("value")
    return {"risk": risk or "", "news2_total": total, "spo2_scale": scale, "on_oxygen": bool(oxygen)}


def close_incidents(*, now: datetime) -> list[int]:
    """Note who came back; close incidents most of whose devices have; release the stragglers."""
    open_pks = list(ConnectivityIncident.objects.filter(state=IncidentState.OPEN).values_list("pk", flat=True))
    if not open_pks:
        return []
    ended = ConnectivityGap.objects.filter(pk=OuterRef("gap_id")).values("ended_at")[:1]
    IncidentMember.objects.filter(
        incident_id__in=open_pks, returned_at__isnull=True, released_at__isnull=True, gap__ended_at__isnull=False
    ).update(returned_at=Subquery(ended))
    tallies = ConnectivityIncident.objects.filter(pk__in=open_pks).annotate(
        total=Count("members"),
        back=Count("members", filter=Q(members__returned_at__isnull=False)),
        last_back=Max("members__returned_at"),
        last_join=Max("members__joined_at"),
    )
    closed = []
    for incident in tallies:
        quiet = max(filter(None, [incident.last_back, incident.last_join]), default=now)
        if incident.back == incident.total or (
            incident.back >= CLOSE_SHARE * incident.total and now - quiet >= STRAGGLER_WAIT
        ):
            _close(incident, now)
            closed.append(incident.pk)
    return closed


def _close(incident: ConnectivityIncident, now: datetime) -> None:
    incident.state, incident.closed_at, incident.updated_at = IncidentState.CLOSED, now, now
    incident.save(update_fields=["state", "closed_at", "updated_at"])
    stragglers = IncidentMember.objects.filter(incident=incident, returned_at__isnull=True, released_at__isnull=True)
    alert_pks = list(stragglers.exclude(alert__isnull=True).values_list("alert_id", flat=True))
    stragglers.update(released_at=now)
    note = (
        f"Connectivity incident {incident.pk} ({incident.label}) closed: most devices came back, this one did not. "
        "It now needs following up on its own."
    )
    wards = set(IncidentMember.objects.filter(incident=incident).values_list("patient__ward_id", flat=True))
    for alert in Alert.objects.select_related("patient", "device").filter(pk__in=alert_pks, state__in=LIVE_STATES):
        record_event(alert, AlertEvent.Action.NOTE, at=now, note=note, data={"incident_id": incident.pk})
        publish("alert.raised", ward_id=alert.patient.ward_id, patient_id=alert.patient_id, data=alert_to_dict(alert))
    _publish_incident(incident, wards)


def _publish_incident(incident: ConnectivityIncident, ward_ids: Iterable[int]) -> None:
    data = {"id": incident.pk, "state": incident.state, "label": incident.label}
    for ward_id in sorted(ward_ids):
        publish("incident.updated", ward_id=ward_id, data=data)
