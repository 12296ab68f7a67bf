"""Deploy checks of our own, run by ``manage.py check --deploy`` beside Django's."""

from __future__ import annotations

import os

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from devices.broker_tls import is_loopback
from virtualward.env import mqtt_endpoint


@register(Tags.security, deploy=True)
def secret_key_from_environment(app_configs, **kwargs):  # type: ignore[no-untyped-def]
    """Production must take its secret key from DJANGO_SECRET_KEY(_FILE), never the development key."""
    configured = os.environ.get("DJANGO_SECRET_KEY") or os.environ.get("DJANGO_SECRET_KEY_FILE")
    if not configured or settings.SECRET_KEY == settings.DEV_SECRET_KEY:
        return [
            Error(
                "DJANGO_SECRET_KEY is not set: the built-in development key is in use.",
                hint="Set DJANGO_SECRET_KEY to a long random value, e.g. "
                "python -c 'import secrets; print(secrets.token_urlsafe(50))'.",
                id="virtualward.E001",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def broker_credentials_from_environment(app_configs, **kwargs):  # type: ignore[no-untyped-def]
    """The platform's broker account must not fall back to a secret generated on disk."""
    if settings.MQTT_URL and not settings.MQTT_PASSWORD:
        return [
            Warning(
                "MQTT_URL is set but MQTT_PASSWORD is not: the platform's broker account would use a "
                "development secret generated into var/.",
                hint="Set MQTT_USERNAME and MQTT_PASSWORD for the platform's broker account.",
                id="virtualward.W001",
            )
        ]
    return []


@register(Tags.security, Tags.database, deploy=True)
def audit_trail_protected_from_the_application(app_configs, databases=None, **kwargs):  # type: ignore[no-untyped-def]
    """The role the platform connects as must not be able to empty or rewrite the audit trail.

    Needs the database, so it runs with ``manage.py check --deploy --database default``.
    """
    from accounts.db_roles import audit_trail_rights

    if not databases or "default" not in databases:
        return []
    rights = audit_trail_rights()
    if rights is None or not rights:
        return []
    return [
        Warning(
            f"The database role in use can {', '.join(rights)} the audit trail (accounts_auditevent).",
            hint="Run the platform as the application role that `manage.py db_roles` creates; keep the "
            "owner role for `manage.py migrate` (docs/security.md, 'Two database roles').",
            id="virtualward.W003",
        )
    ]


@register(Tags.security, deploy=True)
def broker_reached_over_tls(app_configs, **kwargs):  # type: ignore[no-untyped-def]
    """Plain MQTT carries vital signs in clear text: only to a broker on this machine."""
    if not settings.MQTT_URL:
        return []
    host, _, tls = mqtt_endpoint(settings.MQTT_URL)
    if tls or is_loopback(host):
        return []
    return [
        Warning(
            f"MQTT_URL={settings.MQTT_URL} is plain MQTT to another machine: readings would cross the network "
            "unencrypted.",
            hint="Use mqtts://host:8883 with MQTT_CA_FILE (docs/security.md).",
            id="virtualward.W002",
        )
    ]
