"""Keeping an open websocket's access current after connect (docs/security.md).

A socket is checked at connect, but it then lives for hours. It is checked again whenever its
user's access may have changed: at once when the user logs out of that session (the
``user_logged_out`` receiver below) or when a service changes their role, wards or account
(``accounts.staffing``, through ``frontend.events``), and in any case every
``VW_SOCKET_RECHECK_SECONDS`` and at the moment its session expires, which also catches a
change made behind the services' back (a password change, a raw edit). The consumer
(``frontend.consumers.LiveConsumer``) closes the socket when the answer is no.
"""

from __future__ import annotations

import datetime as dt
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model, load_backend
from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver
from django.utils.crypto import constant_time_compare

from frontend.events import sockets_session_ended


@receiver(user_logged_out, dispatch_uid="vw-close-sockets-on-logout")
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None and getattr(user, "pk", None) is not None:
        session = getattr(request, "session", None)
        sockets_session_ended(user_id=user.pk, session_key=getattr(session, "session_key", None))


def _session_store(session_key: str) -> Any:
    return import_module(settings.SESSION_ENGINE).SessionStore(session_key)


def socket_user_now(*, user_id: int, session_key: str | None) -> Any | None:
    """The socket's user as the server sees them now, or None when they are no longer signed in.

    With a session (every browser socket), the session must still exist, be unexpired and
    still name the same active user with the same password, as a page request would find it.
    Without one (a socket opened with the user already in scope), the account must still be
    active.
    """
    if not session_key:
        return get_user_model().objects.filter(pk=user_id, is_active=True).first()
    # Read-only, unlike django.contrib.auth.get_user, which may rotate or flush the session it
    # reads: this check must never change the session the user's browser holds.
    data = _session_store(session_key).load()  # empty when the session is gone or expired
    backend_path = data.get(BACKEND_SESSION_KEY)
    if str(data.get(SESSION_KEY)) != str(user_id) or backend_path not in settings.AUTHENTICATION_BACKENDS:
        return None
    user = load_backend(backend_path).get_user(user_id)  # None for an inactive account
    if user is None or not _password_unchanged(user, data.get(HASH_SESSION_KEY) or ""):
        return None
    return user


def _password_unchanged(user: Any, session_hash: str) -> bool:
    hashes = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
    return bool(session_hash) and any(constant_time_compare(session_hash, known) for known in hashes)


def session_expires_at(session_key: str | None) -> dt.datetime | None:
    """When a database-backed session expires (None for other session engines or no session)."""
    if not session_key:
        return None
    store = _session_store(session_key)
    model = getattr(store, "get_model_class", None)
    if model is None:
        return None
    return model().objects.filter(session_key=session_key).values_list("expire_date", flat=True).first()
