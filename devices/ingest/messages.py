"""What ingest takes in, what it gives back, and the pure first step: parsing each message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from devices.protocol import MessageRejected, ObsMessage, StatusMessage, parse_obs, parse_status, parse_topic


@dataclass(frozen=True, slots=True)
class Incoming:
    """A message as the broker delivered it; ``retained`` marks a replay of the broker's store."""

    topic: str
    payload: bytes
    received_at: datetime
    retained: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one message, and the ``ack`` to send the device (None: send nothing)."""

    incoming: Incoming
    reply_topic: str | None = None
    reply: bytes | None = None
    accepted: int = 0
    rejected: int = 0
    duplicate: bool = False
    error: str | None = None
    # False only when even the rejection could not be recorded: then the message is not
    # acknowledged, and the broker redelivers it after the next reconnect.
    stored: bool = True


@dataclass(frozen=True, slots=True)
class Parsed:
    """One message after parsing, before any database work."""

    incoming: Incoming
    device_ref: str  # the id the topic named; "" when the topic is not a protocol topic
    channel: str | None
    obs: ObsMessage | None = None
    status: StatusMessage | None = None
    msg_id: str | None = None  # known even when the message is rejected whole, if it was valid
    error: str | None = None  # the reason the whole message is rejected

    @property
    def is_obs(self) -> bool:
        return self.channel == "obs"


def parse_incoming(incoming: Incoming) -> Parsed:
    ref = parse_topic(incoming.topic)
    if ref is None:
        return Parsed(incoming, "", None, error="topic is not a device protocol topic")
    if ref.channel == "obs":
        try:
            obs = parse_obs(incoming.payload, received_at=incoming.received_at)
        except MessageRejected as exc:
            return Parsed(incoming, ref.device_id, ref.channel, msg_id=exc.msg_id, error=exc.reason)
        return Parsed(incoming, ref.device_id, ref.channel, obs=obs, msg_id=obs.msg_id)
    if ref.channel == "status":
        try:
            status = parse_status(incoming.payload)
        except MessageRejected as exc:
            return Parsed(incoming, ref.device_id, ref.channel, error=exc.reason)
        return Parsed(incoming, ref.device_id, ref.channel, status=status)
    # ack and config flow from the platform to devices; a device publishing there is refused.
    return Parsed(incoming, ref.device_id, ref.channel, error=f"devices may not publish on {ref.channel}")
