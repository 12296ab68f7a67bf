"""Changing who a member of staff is: role, ward membership, account. Each change reaches the
person's open websockets after commit, so a socket never outlives the access it was opened with
(frontend/socket_access.py; the sockets' own timer is only the safety net)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts.audit import audit_record
from accounts.models import Role, StaffProfile
from frontend.events import sockets_access_changed


def staff_role_set(*, user: Any, role: str | None, by: Any = None) -> None:
    """Give ``user`` a role, or take every role away with ``role=None``."""
    if role is not None and role not in Role.values:
        raise ValueError(f"{role!r} is not a role (one of {', '.join(Role.values)}).")
    with transaction.atomic():
        before = StaffProfile.objects.filter(user=user).values_list("role", flat=True).first()
        if role is None:
            StaffProfile.objects.filter(user=user).delete()
        else:
            StaffProfile.objects.update_or_create(user=user, defaults={"role": role})
        audit_record(actor=by, action="staff.role_changed", obj=user, detail={"from": before, "to": role})
        sockets_access_changed(user_id=user.pk)


def ward_staff_add(*, ward: Any, user: Any, by: Any = None) -> None:
    with transaction.atomic():
        ward.staff.add(user)
        audit_record(actor=by, action="ward.staff_added", obj=ward, detail={"user": user.pk})
        sockets_access_changed(user_id=user.pk)


def ward_staff_remove(*, ward: Any, user: Any, by: Any = None) -> None:
    with transaction.atomic():
        ward.staff.remove(user)
        audit_record(actor=by, action="ward.staff_removed", obj=ward, detail={"user": user.pk})
        sockets_access_changed(user_id=user.pk)


def staff_deactivate(*, user: Any, by: Any = None) -> None:
    """Switch an account off: it can no longer sign in, and its open sockets close."""
    with transaction.atomic():
        type(user).objects.filter(pk=user.pk).update(is_active=False)
        user.is_active = False
        audit_record(actor=by, action="staff.deactivated", obj=user)
        sockets_access_changed(user_id=user.pk)
