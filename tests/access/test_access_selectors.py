"""The access selectors themselves: odd users and odd ids see nothing, and never raise."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from accounts import access
from accounts.models import Role


@pytest.mark.parametrize("bad_id", ["abc", "", None, -1, 0, "1.5", True, [1]])
def test_an_id_that_is_not_a_positive_whole_number_is_simply_not_visible(world, bad_id):
    operator = world["actors"]["operator"]
    assert access.can_view_patient(operator, bad_id) is False
    assert access.can_view_ward(operator, bad_id) is False


def test_an_id_from_a_url_as_text_is_understood(world):
    assert access.can_view_patient(world["actors"]["own_clinician"], str(world["patient"].pk))


def test_an_inactive_clinician_sees_nothing(world):
    user = world["actors"]["own_clinician"]
    user.is_active = False
    user.save()
    assert access.role_of(user) is None and not access.visible_patients(user).exists()


@pytest.mark.parametrize("user", [None, AnonymousUser()])
def test_nobody_and_anonymous_see_nothing(world, user):
    assert not access.visible_wards(user).exists() and not access.can_triage(user)


def test_a_superuser_without_a_profile_is_an_administrator(world, django_user_model):
    root = django_user_model.objects.create_superuser("root", password="x-long-password")
    assert access.role_of(root) == Role.ADMINISTRATOR and access.is_administrator(root)


def test_a_clinician_sees_only_their_wards_ids_and_an_operator_all(world):
    assert access.visible_ward_ids(world["actors"]["own_clinician"]) == {world["ward"].pk}
    assert access.visible_ward_ids(world["actors"]["operator"]) is None


def test_a_clinician_acts_only_on_their_own_wards_patients(world):
    patient = world["patient"].pk
    assert access.can_act_on_patient(world["actors"]["own_clinician"], patient)
    assert not access.can_act_on_patient(world["actors"]["other_wards_clinician"], patient)
    assert access.can_act_on_patient(world["actors"]["operator"], patient)
