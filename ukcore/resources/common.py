"""What every resource shares: ``meta`` (profile, version, last change), references, instants."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from ukcore.codes import PROFILE


def instant(moment: datetime) -> str:
    # FHIR instants need an offset; every stored time is aware UTC, shown as such.
    return moment.astimezone(UTC).isoformat()


def reference(resource_type: str, resource_id: Any, display: str | None = None) -> dict[str, str]:
    ref = {"reference": f"{resource_type}/{resource_id}"}
    if display:
        ref["display"] = display
    return ref


def version_of(resource: dict[str, Any]) -> str:
    """A version id that changes whenever what we serve changes: a digest of the content.

    The platform keeps no history table for these records, so a digest is the honest version:
    two reads that show the same content carry the same ETag, and any change gives a new one.
    """
    body = {key: value for key, value in resource.items() if key != "meta"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:16]


def finish(resource: dict[str, Any], *, profile: str, last_updated: datetime) -> dict[str, Any]:
    """Put ``meta`` first (readers look there first), with the profile the resource claims."""
    meta = {"versionId": version_of(resource), "lastUpdated": instant(last_updated), "profile": [PROFILE[profile]]}
    return {"resourceType": resource["resourceType"], "id": resource["id"], "meta": meta, **resource}


def narrative(text: str) -> dict[str, str]:
    from django.utils.html import escape

    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{escape(text)}</div>'}
