"""Connectivity: who we are hearing from, who went silent, and the gaps in between.

Like healthchecks' ``sendalerts``, each device stores ``overdue_at``, the moment it becomes
overdue: a continuous device by its connection (last heard + expected interval + grace), a
spot-check device by its reading schedule (last reading + expected interval + grace), so a
spot-check device that disconnects between readings is not "offline". The beat sweep claims
overdue devices with one conditional ``UPDATE ... WHERE overdue_at <= now AND connectivity <>
'offline' ... RETURNING`` per batch (devices.sweep); only the winner opens the gap and raises
the alert, so an episode alerts exactly once however many workers sweep. Detection needs
nothing but the clock: no other data has to arrive.
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from alerts.models import Alert, AlertKind
from alerts.services import (
    raise_device_offline,
    raise_low_battery,
    resolve_device_offline,
    resolve_low_battery,
)
from alerts.services.core import LIVE_STATES
from devices.models import Connectivity, ConnectivityGap, Device, DeviceMode
from devices.sweep import sweep_overdue
from frontend.events import publish
from virtualward.binary_rows import fetch_binary

logger = logging.getLogger(__name__)

# Battery readings jitter by a point or two; clearing only a few points above the threshold
# keeps a device hovering at the threshold from raising and resolving an alert every message.
LOW_BATTERY_CLEAR_MARGIN = 5
# A device heard from several times a second would otherwise be rewritten in every ingest batch.
# Its row is written when its state changes or a clock has moved this far since the stored one;
# in between, last_seen_at (and so overdue_at) lags by less than this, a small fraction of the
# grace period, so the sweep can never take a device that is still reporting for silent.
CONTACT_WRITE_SLACK = timedelta(seconds=2)
_CONTACT_FIELDS = [
    "connectivity",
    "last_seen_at",
    "last_reading_at",
    "offline_since",
    "battery",
    "battery_at",
    "overdue_at",
]
# A device's (or a _ContactView's) contact fields, in that order.
_contact_fields = operator.attrgetter(*_CONTACT_FIELDS)


def last_heard(device: Device | _ContactView) -> datetime | None:
    """What the device's schedule runs from: its last contact, or its last reading if spot-check."""
    if device.mode == DeviceMode.CONTINUOUS:
        return device.last_seen_at
    return device.last_reading_at or device.last_seen_at


def overdue_at(device: Device | _ContactView) -> datetime | None:
    """When the device becomes overdue: by connection if continuous, by schedule if spot-check."""
    base = last_heard(device)
    if base is None:
        return None  # never heard from: "unknown", not "offline"
    return base + timedelta(seconds=device.expected_interval_s + settings.VW_DEVICE_GRACE_SECONDS)


def device_status_to_dict(device: Device) -> dict[str, Any]:
    def iso(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    return {
        "id": device.pk,
        "device_id": device.device_id,
        "kind": device.kind,
        "mode": device.mode,
        "patient_id": device.patient_id,
        "connectivity": device.connectivity,
        "last_seen_at": iso(device.last_seen_at),
        "last_reading_at": iso(device.last_reading_at),
        "offline_since": iso(device.offline_since),
        "overdue_at": iso(device.overdue_at),
        "battery": device.battery,
        "battery_at": iso(device.battery_at),
    }


def record_contact(
    *,
    contacts: Mapping[int, datetime],
    readings: Mapping[int, datetime],
    batteries: Mapping[int, tuple[int, datetime]],
) -> None:
    """Note what a batch of messages told us about devices; call inside the ingest transaction.

    One plain read sorts the devices (:func:`_plan_contacts`): most change nothing worth writing
    (CONTACT_WRITE_SLACK); a device whose clocks alone moved far enough is written by one
    conditional update for the whole batch, without a lock; only devices that come back, change
    battery or connectivity, or whose row changed since the read, take the locking pass.
    """
    plan = _plan_contacts(sorted(set(contacts) | set(readings) | set(batteries)), contacts, readings, batteries)
    locking = plan.locking + _write_clocks(plan.clocks_only)
    if locking:
        with transaction.atomic():
            _record_contact_locked(sorted(locking), contacts, readings, batteries)


@dataclass(slots=True)
class _ContactView:
    """A device's contact fields, read without a lock; ``_apply`` moves them like a Device's."""

    pk: int
    mode: str
    expected_interval_s: int
    connectivity: str
    last_seen_at: datetime | None
    last_reading_at: datetime | None
    offline_since: datetime | None
    battery: int | None
    battery_at: datetime | None
    overdue_at: datetime | None


@dataclass(slots=True)
class _ContactPlan:
    """What a batch's contact does to each device it names (devices it does not change: nothing)."""

    locking: list[int] = field(default_factory=list)
    # (the device as it becomes, its contact fields as read): only clocks moved, past the slack
    clocks_only: list[tuple[_ContactView, tuple]] = field(default_factory=list)


def _plan_contacts(
    pks: list[int],
    contacts: Mapping[int, datetime],
    readings: Mapping[int, datetime],
    batteries: Mapping[int, tuple[int, datetime]],
) -> _ContactPlan:
    """Sort the devices by what this contact changes, in one plain read.

    A device that keeps reporting would change nothing but clocks within CONTACT_WRITE_SLACK,
    and locking it only to find that out costs a locking read of every device in every batch.
    Skipping it cannot race the offline sweep: the sweep only takes a device whose stored
    overdue_at has passed, and such a device's clocks move by more than the slack here, so it
    is never skipped. A device whose clocks alone moved by more than the slack is written
    without a lock, on condition that its row is still as read (:func:`_write_clocks`). A
    changed state, a return, or a low battery is always handled under the lock, beside its alerts.
    """
    now = timezone.now()
    low_or_clearing = settings.VW_LOW_BATTERY_PERCENT + LOW_BATTERY_CLEAR_MARGIN
    plan = _ContactPlan()
    for row in _contact_views(pks):
        view = _ContactView(*row)
        before = _contact_fields(view)
        state = _contact_state(view)
        came_back = _apply(view, contacts.get(view.pk), readings.get(view.pk), batteries.get(view.pk), now)
        if (
            came_back
            or state[:3] != _contact_state(view)[:3]
            or (view.battery is not None and view.battery < low_or_clearing)
        ):
            plan.locking.append(view.pk)
        elif _clocks_moved(state, view):
            plan.clocks_only.append((view, before))
    return plan


def _write_clocks(moves: list[tuple[_ContactView, tuple]]) -> list[int]:
    """Write devices whose clocks alone moved, if their rows are still as read; the rest's pks.

    The condition is the whole contact state as read, so this is exactly what the locking pass
    would have written from the same row. A row that changed in between (the sweep took the
    device offline, another ingest process wrote it) is left alone and returned, for the
    locking pass to judge afresh. The sweep's own claim is conditional on overdue_at, so
    whichever update comes second finds the row changed and steps aside.
    """
    if not moves:
        return []
    written = _update_contacts(moves)
    return sorted(view.pk for view, _ in moves if view.pk not in written)


def _update_contacts(rows: list[tuple[Device | _ContactView, tuple | None]]) -> set[int]:
    """Store each device's contact fields, where its row still holds the expected ones (None:
    always); returns the pks written. One ``UPDATE ... FROM (VALUES ...)`` on PostgreSQL:
    ``bulk_update`` builds a CASE WHEN per field per row in Python, which cost a large share of
    the ingest worker's time. Elsewhere (SQLite in tests) ``bulk_update``, or an update per
    device where a condition applies.
    """
    conditional = rows[0][1] is not None
    if connection.vendor != "postgresql" and not conditional:
        Device.objects.bulk_update([device for device, _ in rows], _CONTACT_FIELDS)
        return {device.pk for device, _ in rows}
    if connection.vendor != "postgresql":
        written = set()
        for device, expected in rows:
            condition = dict(zip(_CONTACT_FIELDS, expected, strict=True))
            if Device.objects.filter(pk=device.pk, **condition).update(
                **dict(zip(_CONTACT_FIELDS, _contact_fields(device), strict=True))
            ):
                written.add(device.pk)
        return written
    meta, quote = Device._meta, connection.ops.quote_name
    columns = [meta.get_field(name) for name in _CONTACT_FIELDS]
    table, pk = quote(meta.db_table), quote(meta.pk.column)
    old = columns if conditional else []
    casts = [f"%s::{field.cast_db_type(connection)}" for field in [meta.pk, *columns, *old]]
    names = ["pk", *(f"new_{field.column}" for field in columns), *(f"old_{field.column}" for field in old)]
    assignments = ", ".join(f"{quote(field.column)} = v.new_{field.column}" for field in columns)
    where = [f"{table}.{pk} = v.pk"]
    where += [f"{table}.{quote(field.column)} IS NOT DISTINCT FROM v.old_{field.column}" for field in old]
    # Plain values, bound by the server: psycopg quoting some two hundred parameters into the
    # statement in Python was most of this update's cost.
    params: list[Any] = []
    for device, expected in rows:
        params.append(device.pk)
        params.extend(_contact_fields(device))
        if conditional:
            params.extend(expected)
    values = ", ".join(["(" + ", ".join(casts) + ")"] * len(rows))
    written = fetch_binary(
        f"UPDATE {table} SET {assignments} FROM (VALUES {values}) AS v({', '.join(names)}) "  # noqa: S608 - model names only
        f"WHERE {' AND '.join(where)} RETURNING {table}.{pk}",
        params,
    )
    return {row[0] for row in written}


def _contact_views(pks: list[int]) -> list[tuple]:
    names = [f.name for f in fields(_ContactView)]
    if connection.vendor != "postgresql":
        return list(Device.objects.filter(pk__in=pks).order_by().values_list(*names))
    # Written out on PostgreSQL: the ORM's compile step cost more than the query, every batch.
    meta, quote = Device._meta, connection.ops.quote_name
    columns = ", ".join(quote((meta.pk if name == "pk" else meta.get_field(name)).column) for name in names)
    # Five timestamps a device: read in binary, where psycopg decodes them in C.
    return fetch_binary(
        f"SELECT {columns} FROM {quote(meta.db_table)} WHERE {quote(meta.pk.column)} = ANY(%s)",  # noqa: S608 - model names only
        [pks],
    )


def _record_contact_locked(
    pks: list[int],
    contacts: Mapping[int, datetime],
    readings: Mapping[int, datetime],
    batteries: Mapping[int, tuple[int, datetime]],
) -> None:
    now = timezone.now()
    # Locked in primary-key order so concurrent ingest batches cannot deadlock, and so the
    # sweep's conditional UPDATE waits for us and then sees the new overdue_at and loses.
    # FOR NO KEY UPDATE, not FOR UPDATE: every stored reading and receipt takes a KEY SHARE
    # lock on its device (the foreign key), which FOR UPDATE would wait for, and two ingest
    # processes holding each other's devices that way deadlocked under load.
    locking = Device.objects.select_for_update(of=("self",), no_key=True)
    devices = list(locking.select_related("patient").filter(pk__in=pks).order_by("pk"))
    live_low = set(
        Alert.objects.filter(kind=AlertKind.LOW_BATTERY, state__in=LIVE_STATES, device_id__in=pks).values_list(
            "device_id", flat=True
        )
    )
    changes, dirty = [], []
    for device in devices:
        before = _contact_state(device)
        came_back = _apply(device, contacts.get(device.pk), readings.get(device.pk), batteries.get(device.pk), now)
        changed = before[:3] != _contact_state(device)[:3]
        if changed or _clocks_moved(before, device):
            dirty.append(device)
        changes.append((device, came_back, changed))
    if dirty:
        _write_contacts(dirty)
    for device, came_back, changed in changes:
        if came_back:
            _end_episode(device, now)
        _check_battery(device, device.pk in live_low, now)
        if changed:
            _publish_device(device)


def _write_contacts(devices: list[Device]) -> None:
    """Store the locked devices' contact fields."""
    _update_contacts([(device, None) for device in devices])


def _contact_state(device: Device | _ContactView) -> tuple:
    """What a contact can change: (connectivity, battery, offline_since) then the clocks."""
    return (
        device.connectivity,
        device.battery,
        device.offline_since,
        device.last_seen_at,
        device.last_reading_at,
        device.battery_at,
    )


def _write_slack() -> timedelta:
    # A tenth of the grace period, and never more than CONTACT_WRITE_SLACK: the stored
    # overdue_at then trails the truth by far less than the grace the sweep allows.
    return min(CONTACT_WRITE_SLACK, timedelta(seconds=settings.VW_DEVICE_GRACE_SECONDS) / 10)


def _clocks_moved(before: tuple, device: Device | _ContactView) -> bool:
    """True when a clock moved far enough to be worth a write (or was set for the first time)."""
    slack = _write_slack()
    after = _contact_state(device)
    for old, new in zip(before[3:], after[3:], strict=True):
        if new != old and (old is None or new is None or abs(new - old) >= slack):
            return True
    return False


def _apply(
    device: Device | _ContactView,
    contact: datetime | None,
    reading: datetime | None,
    battery: tuple[int, datetime] | None,
    now: datetime,
) -> bool:
    """Move the device's clock fields forward; returns True if it came back from offline."""
    if contact is not None and (device.last_seen_at is None or contact > device.last_seen_at):
        device.last_seen_at = contact
    if reading is not None and (device.last_reading_at is None or reading > device.last_reading_at):
        device.last_reading_at = reading
    if (
        battery is not None
        and battery[0] is not None
        and (device.battery_at is None or battery[1] >= device.battery_at)
    ):
        device.battery, device.battery_at = battery
    device.overdue_at = overdue_at(device)
    # Back (or here for the first time) only once it is no longer overdue: a spot-check
    # device that merely reconnects, or uploads old readings, is still behind its schedule.
    if device.overdue_at is None or device.overdue_at <= now or device.connectivity == Connectivity.ONLINE:
        return False
    came_back = device.connectivity == Connectivity.OFFLINE
    device.connectivity = Connectivity.ONLINE
    device.offline_since = None
    return came_back


def _check_battery(device: Device, has_live_alert: bool, now: datetime) -> None:
    if device.battery is None or device.patient is None:
        return
    threshold = settings.VW_LOW_BATTERY_PERCENT
    if device.battery < threshold and not has_live_alert:
        raise_low_battery(device=device, now=now)
    elif device.battery >= threshold + LOW_BATTERY_CLEAR_MARGIN and has_live_alert:
        resolve_low_battery(device=device, now=now)


def _end_episode(device: Device, now: datetime) -> None:
    gap = ConnectivityGap.objects.filter(device=device, ended_at__isnull=True).first()
    if gap is not None:
        # The data gap ends with the first contact (continuous) or reading (spot-check) back.
        back = device.last_seen_at if device.mode == DeviceMode.CONTINUOUS else device.last_reading_at
        gap.ended_at = max(back or now, gap.started_at)
        gap.save(update_fields=["ended_at"])
    resolve_device_offline(device=device, gap=gap, now=now)


def record_status(*, device_pk: int, state: str, battery: int | None, at: datetime) -> None:
    """A status message: "online" is contact; "offline" is the Last Will, an episode starting now."""
    if state not in ("online", "offline"):
        raise ValueError(f"device status state must be 'online' or 'offline', got {state!r}")
    batteries = {device_pk: (battery, at)} if battery is not None else {}
    if state == "online":
        record_contact(contacts={device_pk: at}, readings={}, batteries=batteries)
        return
    if batteries:
        record_contact(contacts={}, readings={}, batteries=batteries)
    with transaction.atomic():
        locking = Device.objects.select_for_update(of=("self",), no_key=True)  # see _record_contact_locked
        device = locking.select_related("patient").filter(pk=device_pk).first()
        if device is None or device.mode != DeviceMode.CONTINUOUS or device.connectivity == Connectivity.OFFLINE:
            return  # a spot-check device is judged by its schedule, not its connection
        if device.last_seen_at is not None and device.last_seen_at > at:
            return  # a retained Last Will older than the device's latest contact is history
        _take_offline(device, cause=ConnectivityGap.Cause.LAST_WILL, started_at=at, now=timezone.now())


def sweep_connectivity(*, now: datetime | None = None) -> int:
    """Beat task body: take every overdue device offline; returns how many episodes began.

    Set-based (devices.sweep): one conditional UPDATE claims a batch, bulk writes follow, and
    mass dropouts are grouped into connectivity incidents.
    """
    return sweep_overdue(now=now).started


def _take_offline(device: Device, *, cause: str, started_at: datetime, now: datetime) -> bool:
    """Claim the episode; only the claimant opens the gap and raises the one alert."""
    claimed = Device.objects.filter(
        pk=device.pk, connectivity=device.connectivity, overdue_at=device.overdue_at
    ).update(connectivity=Connectivity.OFFLINE, offline_since=started_at)
    if not claimed:
        return False
    device.connectivity, device.offline_since = Connectivity.OFFLINE, started_at
    gap = ConnectivityGap.objects.filter(device=device, ended_at__isnull=True).first()
    if gap is None:
        gap = ConnectivityGap.objects.create(device=device, patient=device.patient, cause=cause, started_at=started_at)
    raise_device_offline(device=device, gap=gap, now=now)
    _publish_device(device)
    logger.info("device %s offline (%s) since %s", device.device_id, cause, started_at.isoformat())
    return True


def _publish_device(device: Device) -> None:
    if device.patient is not None:
        publish(
            "device.updated",
            ward_id=device.patient.ward_id,
            patient_id=device.patient_id,
            data=device_status_to_dict(device),
        )
