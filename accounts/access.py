"""Who may see what: one set of selectors used by pages, the API and websockets alike.

Clinicians see the patients of the wards they are members of; command-centre operators and
administrators see every ward. Anyone else (including a user with no staff profile) sees nothing.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from accounts.models import Role
from patients.models import Patient, Ward

AnyUser = AbstractBaseUser | AnonymousUser


def role_of(user: AnyUser) -> str | None:
    if not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return Role.ADMINISTRATOR
    profile = getattr(user, "staff_profile", None)
    return profile.role if profile is not None else None


def sees_all_wards(user: AnyUser) -> bool:
    return role_of(user) in (Role.OPERATOR, Role.ADMINISTRATOR)


def visible_wards(user: AnyUser) -> QuerySet[Ward]:
    role = role_of(user)
    if role is None:
        return Ward.objects.none()
    if role in (Role.OPERATOR, Role.ADMINISTRATOR):
        return Ward.objects.all()
    return Ward.objects.filter(staff=user)


def visible_patients(user: AnyUser) -> QuerySet[Patient]:
    role = role_of(user)
    if role is None:
        return Patient.objects.none()
    if role in (Role.OPERATOR, Role.ADMINISTRATOR):
        return Patient.objects.all()
    return Patient.objects.filter(ward__staff=user)


def can_view_ward(user: AnyUser, ward_id: int) -> bool:
    return visible_wards(user).filter(pk=ward_id).exists()


def can_view_patient(user: AnyUser, patient_id: int) -> bool:
    return visible_patients(user).filter(pk=patient_id).exists()


def can_triage(user: AnyUser) -> bool:
    """Acting on alerts: operators and administrators anywhere, clinicians on their own wards."""
    return role_of(user) is not None
