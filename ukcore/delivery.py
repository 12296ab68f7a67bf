"""POSTing FHIR to another system, and recording how each sending went.

A 2xx is delivered. A 4xx other than 408 and 429 means the receiver refused this payload and
will refuse it again: it fails at once. Anything else (5xx, 408, 429, a timeout, a refused
connection) is retried with doubling back-off up to VW_FHIR_RETRIES times, then fails. Every
state change is a conditional UPDATE from the state it expects, so a task that runs twice
(acks_late after a worker died) cannot record a sending twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Model
from django.utils import timezone

from ukcore.models import Delivery

FHIR_JSON = "application/fhir+json"


class DeliveryError(Exception):
    """The receiver may accept it later: retry."""


class PermanentDeliveryError(DeliveryError):
    """The receiver refused this payload: do not retry."""


@dataclass(frozen=True)
class Receipt:
    status: int
    location: str


def post_fhir(url: str, body: dict[str, Any]) -> Receipt:
    # Imported here, not at the top: scoring imports this module (through ukcore.push) in every
    # process, the MQTT listener's included, and the HTTP client alone is ~45 ms of start-up that
    # only a worker sending FHIR ever uses.
    import requests

    headers = {"Content-Type": f"{FHIR_JSON}; charset=utf-8", "Accept": FHIR_JSON}
    if settings.VW_FHIR_TOKEN:
        headers["Authorization"] = f"Bearer {settings.VW_FHIR_TOKEN}"
    try:
        response = requests.post(
            url, data=json.dumps(body).encode(), headers=headers, timeout=settings.VW_FHIR_TIMEOUT_SECONDS
        )
    except requests.RequestException as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}"[:500]) from exc
    if 200 <= response.status_code < 300:
        return Receipt(response.status_code, response.headers.get("Location", ""))
    reason = f"HTTP {response.status_code} from {url}: {response.text[:300]}"
    if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
        raise PermanentDeliveryError(reason)
    raise DeliveryError(reason)


def mark(model: type[Model], pk: int, *, state: str, attempts: int, error: str = "", status: int | None = None) -> bool:
    """Move a sending to ``state`` if it is still queued or retrying; False if another got there first."""
    now = timezone.now()
    changes: dict[str, Any] = {"state": state, "attempts": attempts}
    if error:
        changes["last_error"] = error[:2000]
    if status is not None:
        changes["response_status"] = status
    if state == Delivery.SENT:
        changes["sent_at"] = now
    if state == Delivery.FAILED:
        changes["failed_at"] = now
    live = (Delivery.QUEUED, Delivery.RETRYING)
    return model.objects.filter(pk=pk, state__in=live).update(**changes) == 1  # type: ignore[attr-defined]


def backoff_seconds(attempt: int) -> int:
    return settings.VW_FHIR_RETRY_SECONDS * 2 ** (attempt - 1)
