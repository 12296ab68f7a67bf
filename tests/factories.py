"""factory_boy factories for the ward's domain. NHS numbers come from the 999 test range."""

from __future__ import annotations

import datetime as dt

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from accounts.models import Role, StaffProfile
from devices.models import Device, DeviceKind, DeviceMode
from patients.models import (
    Direction,
    DischargeOutcome,
    Observation,
    Pathway,
    Patient,
    ReferralSource,
    Stay,
    Ward,
)
from patients.nhs_number import nhs_check_digit


def test_nhs_number(n: int) -> str:
    """The n-th valid NHS number in the 999 test range (never issued to a real person)."""
    # Two prefixes per n: when a prefix's check value is 10 (never issued) the next one is always
    # valid (its weighted sum differs by 2), so every n gets its own number.
    base = 999_000_000 + 2 * n
    while True:
        first_nine = str(base)
        check = nhs_check_digit(first_nine)
        if check is not None:
            return f"{first_nine}{check}"
        base += 1


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    class Params:
        role = Role.CLINICIAN

    username = factory.Sequence(lambda n: f"staff{n}")
    first_name = "Sam"
    last_name = factory.Sequence(lambda n: f"Staff{n}")
    password = factory.django.Password("correct-horse-battery")
    staff_profile = factory.RelatedFactory(
        "tests.factories.StaffProfileFactory", factory_related_name="user", role=factory.SelfAttribute("..role")
    )


class StaffProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StaffProfile
        django_get_or_create = ("user",)

    role = Role.CLINICIAN


class WardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Ward

    name = factory.Sequence(lambda n: f"Virtual Ward {n}")
    pathway = Pathway.RESPIRATORY
    phone = "0300 123 4567"


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient
        skip_postgeneration_save = True

    nhs_number = factory.Sequence(test_nhs_number)
    given_name = "Alex"
    family_name = factory.Sequence(lambda n: f"Patient{n}")
    date_of_birth = dt.date(1944, 5, 17)
    ward = factory.SubFactory(WardFactory)
    admitted_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=2))
    # Every patient has the stay their record mirrors, as patients.stays keeps it.
    stay = factory.RelatedFactory("tests.factories.StayFactory", factory_related_name="patient")


class StayFactory(factory.django.DjangoModelFactory):
    """The stay mirroring a patient's record (ward, admitted_at, discharged_at)."""

    class Meta:
        model = Stay

    patient = factory.SubFactory(PatientFactory, stay=None)
    ward = factory.SelfAttribute("patient.ward")
    pathway = factory.SelfAttribute("patient.ward.pathway")
    direction = Direction.STEP_UP
    referral_source = ReferralSource.GP
    reason = "Exacerbation of COPD"
    # A test that sets only a discharge time may leave it before the default admission.
    admitted_at = factory.LazyAttribute(lambda stay: min(filter(None, [stay.patient.admitted_at, stay.discharged_at])))
    discharged_at = factory.SelfAttribute("patient.discharged_at")
    outcome = factory.LazyAttribute(lambda stay: DischargeOutcome.RECOVERED if stay.discharged_at else "")


class DeviceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Device

    kind = DeviceKind.PULSE_OXIMETER
    serial = factory.Sequence(lambda n: f"SN-{n:06d}")
    patient = factory.SubFactory(PatientFactory)
    mode = DeviceMode.CONTINUOUS
    expected_interval_s = 60
    paired_at = factory.LazyFunction(timezone.now)
    secret_hash = "unset"


class ObservationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Observation

    patient = factory.SubFactory(PatientFactory)
    type = "heart_rate"
    value = 72.0
    unit = "/min"
    measured_at = factory.LazyFunction(timezone.now)
    received_at = factory.LazyFunction(timezone.now)
    device = factory.SubFactory(DeviceFactory, patient=factory.SelfAttribute("..patient"))
    msg_id = factory.Sequence(lambda n: f"msg-{n}")
    msg_index = 0
