"""Snapshots a live screen asks for on every (re)connect: the data and its rendered HTML.

A dashboard never patches itself from events alone: each event prompts a fresh snapshot, so a
screen that missed events during a network blip is whole again as soon as it reconnects. The
HTML comes from the same templates as the first page load, so there is one renderer, not two.
Snapshots are rendered without a request; the page's script supplies the CSRF token to the
forms they contain.
"""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone

from accounts.access import AnyUser
from alerts.outcomes import PERSON_OUTCOMES
from frontend import board_query, cards, selectors
from frontend.board_query import BoardQuery
from frontend.forms import REVIEW_CHOICES
from rota.selectors import on_duty


def board_snapshot(*, user: AnyUser, ward_id: int | None, query: BoardQuery | None = None) -> dict[str, Any]:
    """The board as its query asks for it; the alert reminders always cover every patient.

    A filter narrows the rows, never the reminder banner: an unacknowledged high-risk alert
    keeps reminding whatever the board is filtered to, and the board says how many HIGH-risk
    patients the filter hides.
    """
    query = query or BoardQuery()
    every_row = selectors.ward_board(user=user, ward_id=ward_id)
    rows = board_query.apply(every_row, query)
    incidents = selectors.board_incidents(user=user, ward_id=ward_id)
    shown = {row["id"] for row in rows}
    hidden_high = sum(1 for row in every_row if row["id"] not in shown and _is_high(row))
    context = {
        "rows": rows,
        "show_ward": ward_id is None,
        "incidents": incidents,
        "query": query,
        "total": len(every_row),
        "hidden_high": hidden_high,
    }
    return {
        "rows": rows,
        "total": len(every_row),
        "alerts": [alert for row in every_row for alert in row["alerts"]],
        "incidents": [{"id": i["id"], "headline": i["headline"]} for i in incidents],
        "html": render_to_string("frontend/_board_rows.html", context),
        "generated_at": timezone.now().isoformat(),
    }


def _is_high(row: dict[str, Any]) -> bool:
    return selectors.board_rank(row) >= selectors.RISK_RANK["high"]


def triage_snapshot(*, user: AnyUser) -> dict[str, Any]:
    alerts = selectors.triage_queue(user=user)
    return {
        "alerts": [selectors.alert_summary(alert) for alert in alerts],
        "html": render_to_string("frontend/_queue.html", triage_context(user=user, alerts=alerts)),
        "generated_at": timezone.now().isoformat(),
    }


def triage_context(*, user: AnyUser, alerts: list) -> dict[str, Any]:
    duty = {ward_id: on_duty(ward_id=ward_id) for ward_id in {alert.patient.ward_id for alert in alerts}}
    return {
        "alerts": alerts,
        "cards": [{**card, "on_duty": duty[card["alert"].patient.ward_id]} for card in cards.alert_cards(alerts)],
        "outcomes": PERSON_OUTCOMES,
        "review_choices": REVIEW_CHOICES,
        "assignees": selectors.assignable_staff(user=user),
        "me": user,
        # Folded dropouts are not in the queue one by one: their incident heads it.
        "incidents": selectors.board_incidents(user=user),
    }


def patient_snapshot(*, user: AnyUser, patient_id: int) -> dict[str, Any]:
    patient = selectors.patient_for_page(user=user, patient_id=patient_id)
    if patient is None:
        return {"error": "not-visible"}
    page = selectors.patient_page(patient=patient)
    live_alerts = [a for a in page["alerts"] if a.state != "resolved"]
    return {
        "alerts": [selectors.alert_summary(alert) for alert in live_alerts],
        "html": render_to_string("frontend/_patient_live.html", {"patient": patient, **page}),
        "generated_at": timezone.now().isoformat(),
    }
