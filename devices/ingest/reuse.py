"""A repeated ``msg_id`` that carries different readings: a device fault, never a resend.

Protocol v1 ("Delivery"): a resend of a message is answered with the ack stored the first
time; a message that reuses a ``msg_id`` with other readings is refused, the first copy kept,
and the refusal recorded where staff see it. Telling the two apart compares the readings of the
repeat with what the first copy left in the database: its observations, its item rejections,
or its whole-message rejection. Only repeats pay for this (one query per batch that has any).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from devices.ingest.messages import Parsed
from devices.models import IngestRejection
from patients.models import Observation

REUSED_MSG_ID = "msg_id reused with different content"

# Whether a reading is in the protocol's time window depends on when it arrives, not on what
# the device sent: a resend that arrives later may see one of these where the first saw none.
_TIME_WINDOW_REASONS = frozenset(
    {"measured_at is more than 5 minutes in the future", "measured_at is more than 7 days in the past"}
)

Key = tuple[int, str]  # (device pk, msg_id)
Reading = tuple[str, float | None, str, str, datetime]  # type, value, code, unit, measured_at


@dataclass(slots=True)
class Content:
    """What one message carried, index by index, as ingest judged it."""

    readings: dict[int, Reading] = field(default_factory=dict)
    refused: dict[int, str] = field(default_factory=dict)
    error: str | None = None


def content_of(parsed: Parsed) -> Content:
    if parsed.obs is None:
        return Content(error=parsed.error)
    return Content(
        readings={
            item.index: (item.type, item.value, item.code or "", item.unit, item.measured_at)
            for item in parsed.obs.observations
        },
        refused={item.index: item.reason for item in parsed.obs.rejections},
    )


def stored_contents(keys: Iterable[Key]) -> dict[Key, Content]:
    """What the first copy of each message left: its observations and its rejections."""
    wanted = set(keys)
    contents: dict[Key, Content] = {key: Content() for key in wanted}
    if not wanted:
        return contents
    devices, msg_ids = {pk for pk, _ in wanted}, {msg_id for _, msg_id in wanted}
    rows = Observation.objects.filter(device_id__in=devices, msg_id__in=msg_ids).values_list(
        "device_id", "msg_id", "msg_index", "type", "value", "code", "unit", "measured_at"
    )
    for pk, msg_id, index, obs_type, value, code, unit, measured_at in rows:
        if (pk, msg_id) in contents:
            contents[(pk, msg_id)].readings[index] = (obs_type, value, code or "", unit, measured_at)
    rejections = (
        IngestRejection.objects.filter(device_id__in=devices, msg_id__in=msg_ids)
        .exclude(index__isnull=True, reason=REUSED_MSG_ID)
        .values_list("device_id", "msg_id", "index", "reason")
    )
    for pk, msg_id, index, reason in rejections:
        content = contents.get((pk, msg_id))
        if content is None:
            continue
        if index is None:
            content.error = reason
        else:
            content.refused[index] = reason
    return contents


def same_readings(first: Content, again: Content) -> bool:
    """True when ``again`` carries what ``first`` did (a resend or a redelivery)."""
    if first.error is not None or again.error is not None:
        return first.error == again.error
    for index in first.readings.keys() | first.refused.keys() | again.readings.keys() | again.refused.keys():
        if first.refused.get(index) in _TIME_WINDOW_REASONS or again.refused.get(index) in _TIME_WINDOW_REASONS:
            continue
        if first.readings.get(index) != again.readings.get(index) or first.refused.get(index) != again.refused.get(
            index
        ):
            return False
    return True
