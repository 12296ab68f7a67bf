"""Signed links in notifications: open the alert (after log-in), or acknowledge it from the message.

An acknowledge link names one alert and one person, is signed with the site's secret and
expires after ``VW_ACK_LINK_HOURS``; it lets that person acknowledge that alert and nothing
else, through a page that asks them to press a button (a link preview or mail scanner that
fetches the URL acknowledges nothing).
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "vw.rota.acknowledge-link"


def absolute(path: str) -> str:
    return settings.VW_BASE_URL.rstrip("/") + path


def alert_link(alert_id: int) -> str:
    return absolute(reverse("frontend:triage") + f"#alert-{alert_id}")


def incident_link(incident_id: int) -> str:
    return absolute(reverse("frontend:triage") + f"#incident-{incident_id}")


def ack_token(*, alert_id: int, person_id: int) -> str:
    return signing.dumps({"a": alert_id, "p": person_id}, salt=SALT, compress=True)


def ack_link(*, alert_id: int, person_id: int) -> str:
    return absolute(reverse("rota:acknowledge", args=[ack_token(alert_id=alert_id, person_id=person_id)]))


class BadLink(Exception):
    pass


def read_ack_token(token: str) -> tuple[int, int]:
    """(alert id, person id) from a token; BadLink with a plain reason if it cannot be trusted."""
    try:
        data = signing.loads(token, salt=SALT, max_age=settings.VW_ACK_LINK_HOURS * 3600)
    except signing.SignatureExpired:
        raise BadLink("This link has expired. Sign in to see the alert.") from None
    except signing.BadSignature:
        raise BadLink("This link is not valid. Sign in to see the alert.") from None
    return int(data["a"]), int(data["p"])
