"""Read back what each system stored for a step: the ground truth for loss, from the database."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection

from alerts.models import CLINICAL_KINDS, Alert
from benchmarks.baseline import TABLE
from devices.models import Device, ReceivedMessage
from patients.models import Observation
from scoring.models import EarlyWarningScore


@dataclass(frozen=True)
class Stored:
    messages: int
    observations: int


def _prefix(tag: str) -> str:
    return f"{tag}."


def platform_stored(tag: str) -> Stored:
    """Messages and observations the platform holds for a step, by the step's msg_id prefix."""
    return Stored(
        messages=ReceivedMessage.objects.filter(msg_id__startswith=_prefix(tag)).count(),
        observations=Observation.objects.filter(msg_id__startswith=_prefix(tag)).count(),
    )


def baseline_stored(tag: str) -> Stored:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(DISTINCT msg_id), count(*) FROM {TABLE} WHERE msg_id LIKE %s",  # noqa: S608 - constant
            [_prefix(tag) + "%"],
        )
        messages, observations = cursor.fetchone()
    return Stored(messages=messages, observations=observations)


def scoring_rows() -> tuple[int, int]:
    """(EarlyWarningScore rows, Alert rows) now: their growth over a step is its scoring work."""
    return EarlyWarningScore.objects.count(), Alert.objects.count()


def unscored(device_ids: Iterable[str]) -> int:
    """How many of these devices' patients have no NEWS2 score yet."""
    return Device.objects.filter(device_id__in=list(device_ids), patient__current_score__isnull=True).count()


def patients_of(device_ids: Iterable[str]) -> dict[str, int]:
    return dict(Device.objects.filter(device_id__in=list(device_ids)).values_list("device_id", "patient_id"))


def alerts_opened(patient_ids: Iterable[int]) -> dict[int, float]:
    """Epoch seconds each patient's first clinical alert was opened, for those that have one."""
    opened: dict[int, float] = {}
    rows = Alert.objects.filter(patient_id__in=list(patient_ids), kind__in=list(CLINICAL_KINDS)).values_list(
        "patient_id", "opened_at"
    )
    for patient_id, opened_at in rows:
        moment = opened_at.timestamp()
        opened[patient_id] = min(moment, opened.get(patient_id, moment))
    return opened
