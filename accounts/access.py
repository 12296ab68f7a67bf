"""Who may see what: one set of selectors used by pages, the API and websockets alike.

Clinicians see the patients of the wards they are members of; command-centre operators and
administrators see every ward. Anyone else (anonymous, inactive, or a user with no staff
profile) sees nothing. Every route asks these selectors, so a boundary holds the same way
whether a record is read from a page, the API or a websocket.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import QuerySet

from accounts.models import Role
from patients.models import Patient, Ward

AnyUser = AbstractBaseUser | AnonymousUser


def role_of(user: AnyUser | None) -> str | None:
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if getattr(user, "is_superuser", False):
        return Role.ADMINISTRATOR
    try:
        profile = user.staff_profile  # type: ignore[union-attr]
    except ObjectDoesNotExist:  # a login without a staff role sees nothing
        return None
    return profile.role if profile.role in Role.values else None


def sees_all_wards(user: AnyUser | None) -> bool:
    return role_of(user) in (Role.OPERATOR, Role.ADMINISTRATOR)


def is_administrator(user: AnyUser | None) -> bool:
    return role_of(user) == Role.ADMINISTRATOR


def visible_wards(user: AnyUser | None) -> QuerySet[Ward]:
    role = role_of(user)
    if role is None:
        return Ward.objects.none()
    if role in (Role.OPERATOR, Role.ADMINISTRATOR):
        return Ward.objects.all()
    return Ward.objects.filter(staff=user)


def visible_patients(user: AnyUser | None) -> QuerySet[Patient]:
    role = role_of(user)
    if role is None:
        return Patient.objects.none()
    if role in (Role.OPERATOR, Role.ADMINISTRATOR):
        return Patient.objects.all()
    return Patient.objects.filter(ward__staff=user)


def visible_ward_ids(user: AnyUser | None) -> set[int] | None:
    """The ids of the wards ``user`` may see; None means every ward (operators, administrators)."""
    if sees_all_wards(user):
        return None
    return set(visible_wards(user).values_list("pk", flat=True))


def can_view_ward(user: AnyUser | None, ward_id: Any) -> bool:
    pk = parse_pk(ward_id)
    return pk is not None and visible_wards(user).filter(pk=pk).exists()


def can_view_patient(user: AnyUser | None, patient_id: Any) -> bool:
    pk = parse_pk(patient_id)
    return pk is not None and visible_patients(user).filter(pk=pk).exists()


def can_triage(user: AnyUser | None) -> bool:
    """Whether ``user`` may act on alerts at all (the patient must still be visible to them)."""
    return role_of(user) is not None


def can_act_on_patient(user: AnyUser | None, patient_id: Any) -> bool:
    """Acting on a patient's alerts or devices: operators and administrators anywhere,
    clinicians on their own wards only."""
    return can_triage(user) and can_view_patient(user, patient_id)


def parse_pk(value: Any) -> int | None:
    # Ids arrive from URLs, query strings and websocket paths; anything that is not a
    # positive whole number is simply not visible, never an error that leaks which ids exist.
    if isinstance(value, bool):
        return None
    try:
        pk = int(value)
    except (TypeError, ValueError):
        return None
    return pk if pk > 0 else None
