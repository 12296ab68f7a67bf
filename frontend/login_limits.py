"""Log-in limits per source, across usernames: one password sprayed over many accounts.

django-axes locks a username only from the source that failed (``AXES_LOCKOUT_PARAMETERS``),
so a stranger cannot lock a clinician out from elsewhere. That alone never stops one source
trying one password against every username; this module does: after
``VW_LOGIN_SOURCE_FAILURE_LIMIT`` failed log-ins from one source (an IPv4 address or an IPv6
/64, behind trusted proxies only, see virtualward/client_ip.py) within
``VW_LOGIN_SOURCE_COOLOFF_MINUTES``, every log-in from it is refused until the window ends,
the right password included. Counts live in the Django cache (Redis in production).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from virtualward.client_ip import client_ip, source_key

SOURCE_LIMITED = "vw_login_source_limited"
MESSAGE = (
    "Too many failed sign-ins from your network. Please wait {minutes} minutes and try again; "
    "if you cannot wait, call {contact}."
)


def _key(request: Any) -> str | None:
    source = source_key(client_ip(request)) if request is not None else ""
    return f"vw:login:fail:src:{source}" if source else None


def source_is_limited(request: Any) -> bool:
    key = _key(request)
    return key is not None and int(cache.get(key, 0)) >= settings.VW_LOGIN_SOURCE_FAILURE_LIMIT


def source_failed(request: Any) -> None:
    key = _key(request)
    if key is None or getattr(request, SOURCE_LIMITED, False):
        return  # a refusal because of the limit does not extend it
    timeout = settings.VW_LOGIN_SOURCE_COOLOFF_MINUTES * 60
    cache.add(key, 0, timeout=timeout)  # a fixed window from the first failure
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=timeout)


class SourceLimitBackend:
    """First in AUTHENTICATION_BACKENDS: refuses every log-in from a source over its limit."""

    def authenticate(self, request: Any, username: str | None = None, password: str | None = None, **kwargs: Any):  # type: ignore[no-untyped-def]
        if request is not None and source_is_limited(request):
            setattr(request, SOURCE_LIMITED, True)
            raise PermissionDenied("too many failed log-ins from this source")
        return None  # no get_user(): this backend never signs anyone in


@receiver(user_login_failed, dispatch_uid="vw-login-source-limit")
def _count_failure(sender: Any, credentials: dict, request: Any = None, **kwargs: Any) -> None:
    if request is not None:
        source_failed(request)


class SignInForm(AuthenticationForm):
    """Django's log-in form, saying so in words when the source, not the password, was refused."""

    def clean(self) -> dict[str, Any]:
        try:
            return super().clean()
        except ValidationError:
            if self.request is not None and getattr(self.request, SOURCE_LIMITED, False):
                minutes = settings.VW_LOGIN_SOURCE_COOLOFF_MINUTES
                message = MESSAGE.format(minutes=minutes, contact=support_contact())
                raise ValidationError(message, code="source_limited") from None
            raise


def support_contact() -> str:
    """Whom a locked-out clinician calls, in words: the service desk, with its number if set."""
    phone = settings.VW_SUPPORT_PHONE
    return f"{settings.VW_SUPPORT_CONTACT} on {phone}" if phone else settings.VW_SUPPORT_CONTACT


def locked_out(request: HttpRequest, original_response: Any = None, credentials: Any = None) -> HttpResponse:
    """django-axes' lock-out answer (AXES_LOCKOUT_CALLABLE): how long, why, and whom to call.

    A clinician locked out mid-shift needs the wait in minutes and a number, not a status code.
    """
    minutes = max(1, int(settings.AXES_COOLOFF_TIME.total_seconds() // 60))
    context = {
        "minutes": minutes,
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "contact": settings.VW_SUPPORT_CONTACT,
        "phone": settings.VW_SUPPORT_PHONE,
    }
    return render(request, "registration/locked_out.html", context, status=429)
