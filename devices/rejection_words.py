"""A rejected reading's reason in words a clinician reads at a glance.

The ingest parser (devices/protocol.py) words each rejection for whoever supports the device
("measured_at '2026-11-23T10:30:00' has no offset or Z"). The patient page shows the plain
sentence from here first, with that technical reason one click away: the clinician needs to
know that a reading was not used and whether it matters; the support team needs the detail.
"""

from __future__ import annotations

import re

from patients.models import VitalType

# (pattern over the parser's reason, plain sentence). First match wins; {label} is the vital
# sign's name when the reason starts with one.
NOT_USED = "so it was not used."
CHECK = "The device may need checking."
_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^(\w+) value .* outside "), f"The {{label}} reading was out of human range, {NOT_USED} {CHECK}"),
    (re.compile(r"^(\w+) unit "), f"The {{label}} reading came in a unit the platform does not accept, {NOT_USED}"),
    (re.compile(r"^(\w+) value (is not|missing)"), f"The {{label}} reading had no readable value, {NOT_USED}"),
    (re.compile(r"measured_at .*(no offset|not a valid|not an RFC)"), f"The reading's time was unclear, {NOT_USED}"),
    (re.compile(r"measured_at missing"), f"The reading had no time, {NOT_USED}"),
    (re.compile(r"in the future"), f"The reading was dated in the future (a wrong clock?), {NOT_USED}"),
    (re.compile(r"days in the past"), f"The reading was more than 7 days old when it arrived, {NOT_USED}"),
    (re.compile(r"^unknown type|^type "), "The device sent a kind of reading the platform does not record."),
    (re.compile(r"^battery "), "The device's battery level could not be read."),
    (re.compile(r"payload|msg_id|observations|JSON object"), f"A device message was unreadable. {CHECK}"),
]  # fmt: skip
FALLBACK = "A reading from the device could not be used."


def in_plain_words(reason: str) -> str:
    """The clinician's sentence for a parser's reason; never empty, never the jargon itself."""
    for pattern, sentence in _RULES:
        match = pattern.search(reason or "")
        if match:
            field = match.group(1) if match.groups() else ""
            return sentence.format(label=_label(field))
    return FALLBACK


def _label(field: str) -> str:
    label = dict(VitalType.choices).get(field)
    if label is None:
        return "device's"
    return label if label.startswith("SpO") else label[0].lower() + label[1:]
