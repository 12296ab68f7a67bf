"""Ending a patient's remote monitoring at discharge: devices, credentials, alerts, kit.

Runs inside the discharge's transaction, so a discharge and the end of its monitoring commit
or roll back together: a discharged patient never keeps a device that can still publish.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import QuerySet

from accounts.access import AnyUser
from alerts.models import Alert, AlertState, Category
from alerts.services.core import auto_resolve
from devices import broker_auth
from devices.models import Device, KitTask
from devices.pairing import device_unpair
from patients.models import Patient

KIT_REASON = "Patient discharged: the device is no longer monitoring anyone."
KIT_REMEDY = "Collect the device from the patient's home, clean it and return it to stock."


@dataclass(frozen=True)
class MonitoringEnded:
    device_ids: list[int]
    alerts_closed: list[int]
    kit_tasks: list[int]


def monitored_devices(patient: Patient) -> QuerySet[Device]:
    """Devices still assigned to the patient and not revoked: what discharge must switch off."""
    return Device.objects.filter(patient=patient, revoked_at__isnull=True)


def monitoring_end(*, patient: Patient, user: AnyUser, at: datetime) -> MonitoringEnded:
    devices = list(monitored_devices(patient).order_by("pk"))
    for device in devices:
        # The same path as "Disconnect this device": revoked at once, certificates onto the CRL.
        device_unpair(device=device, user=user, reason="patient discharged", route="discharge", refresh_broker=False)
    if devices:
        # The broker's passwd, ACL and CRL are rewritten from the whole registry: once for all.
        transaction.on_commit(broker_auth.broker_refresh)
    closed = _technical_alerts_close(patient=patient, at=at)
    tasks = [_kit_task(device=device, patient=patient, at=at).pk for device in devices]
    return MonitoringEnded([device.pk for device in devices], closed, tasks)


def _technical_alerts_close(*, patient: Patient, at: datetime) -> list[int]:
    """A device offline, overdue readings, a low battery: none means anything once monitoring ends.

    Clinical alerts stay for a person to close with an outcome (RCP NEWS2: never automatically).
    """
    live = (
        Alert.objects.filter(
            patient=patient, category=Category.TECHNICAL, state__in=[AlertState.OPEN, AlertState.ACKNOWLEDGED]
        )
        .select_related("patient")
        .select_for_update(of=("self",))
    )
    closed = []
    for alert in live:
        done = auto_resolve(
            kind=alert.kind,
            patient_id=patient.pk,
            device_id=alert.device_id,
            now=at,
            note="Patient discharged: monitoring ended.",
            live={alert.kind: alert},
        )
        if done is not None:
            closed.append(done.pk)
    return closed


def _kit_task(*, device: Device, patient: Patient, at: datetime) -> KitTask:
    # One open task per device: a kit task already open (a dropping connection) becomes the
    # collection, rather than leaving two jobs for one visit.
    task = KitTask.objects.filter(device=device, state=KitTask.State.OPEN).first()
    if task is None:
        return KitTask.objects.create(
            device=device, patient=patient, reason=KIT_REASON, remedy=KIT_REMEDY, created_at=at
        )
    task.reason, task.remedy = KIT_REASON, KIT_REMEDY
    task.save(update_fields=["reason", "remedy"])
    return task


def kit_to_collect(patient: Patient) -> QuerySet[KitTask]:
    """The kit-collection list: devices of this patient still to be brought back."""
    return (
        KitTask.objects.filter(patient=patient, state=KitTask.State.OPEN, remedy=KIT_REMEDY)
        .select_related("device")
        .order_by("device__kind", "device__serial")
    )


def kit_collected(*, task: KitTask, user: AnyUser) -> KitTask:
    """The kit team brought the device back: the task is done and the device is stock again."""
    from django.core.exceptions import PermissionDenied
    from django.utils import timezone

    from accounts.access import can_act_on_patient
    from accounts.audit import audit_record

    if not can_act_on_patient(user, task.patient_id):
        raise PermissionDenied("You cannot record kit for this patient.")
    with transaction.atomic():
        done = KitTask.objects.filter(pk=task.pk, state=KitTask.State.OPEN).update(
            state=KitTask.State.DONE, done_at=timezone.now()
        )
        if done:
            audit_record(
                actor=user, action="kit.collected", patient=task.patient, obj=task.device,
                detail={"serial": task.device.serial},
            )  # fmt: skip
    task.refresh_from_db()
    return task
