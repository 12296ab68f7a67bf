"""Personal check-in links: signed like the acknowledge links (rota.links), expiring, revocable.

A token is the site's signature over the link's id and 24 random bytes. Only its SHA-256 is
stored (CheckinLink.token_hash): a copy of the database holds nothing that opens a patient's
pages, and revoking a link (or issuing a new one, which revokes the old) stops it at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from checkins.models import CheckinLink

SALT = "vw.checkins.link"


class BadLink(Exception):
    """A link that opens nothing, with the plain reason a patient is shown."""


def new_token(link_id: int) -> str:
    return signing.dumps({"l": link_id, "n": secrets.token_urlsafe(24)}, salt=SALT, compress=True)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link_url(token: str) -> str:
    return settings.VW_BASE_URL.rstrip("/") + reverse("checkins:start", args=[token])


def read_link(token: str) -> CheckinLink:
    """The live link this token opens, or BadLink saying why not (never which patient)."""
    max_age = settings.VW_CHECKIN_LINK_DAYS * 86400
    try:
        data = signing.loads(token, salt=SALT, max_age=max_age)
    except signing.SignatureExpired:
        raise BadLink("This check-in link has expired. Please call the ward for a new one.") from None
    except signing.BadSignature:
        raise BadLink("This check-in link is not valid. Please check you copied all of it, or call the ward.") from None
    link = CheckinLink.objects.select_related("patient__ward").filter(pk=data.get("l")).first()
    if link is None or not hmac.compare_digest(link.token_hash, token_hash(token)):
        raise BadLink("This check-in link is not valid. Please check you copied all of it, or call the ward.")
    if link.revoked_at is not None:
        raise BadLink("This check-in link has been replaced or stopped. Please call the ward for a new one.")
    if link.expires_at <= timezone.now():
        raise BadLink("This check-in link has expired. Please call the ward for a new one.")
    if link.patient.discharged_at is not None:
        raise BadLink("You have been discharged from the virtual ward, so check-ins have stopped.")
    return link
