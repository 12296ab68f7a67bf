"""The demo's care plans (fixtures/demo_careplan.py), on the demo's cast without its history."""

import pytest

from accounts.models import Role
from alerts.models import Alert, AlertKind
from careplan.models import AgreedLimit, EscalationPlan
from careplan.reviews import sweep_agreed_reviews
from checkins.models import Checkin, CheckinLink
from fixtures import demo_careplan, demo_plan
from patients.models import Pathway
from tests.factories import PatientFactory, UserFactory, WardFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def cast(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    wards = {}
    for name, pathway in ((demo_plan.RESPIRATORY_WARD, Pathway.RESPIRATORY), (demo_plan.FRAILTY_WARD, Pathway.FRAILTY)):
        wards[name] = WardFactory(name=name, pathway=pathway)
        wards[name].staff.add(UserFactory(role=Role.CLINICIAN))
    for spec in demo_plan.demo_patients(2026):
        PatientFactory(nhs_number=spec.nhs_number, ward=wards[spec.ward], spo2_scale=spec.spo2_scale)
    return tmp_path


def test_the_demo_agrees_parameters_writes_plans_and_issues_check_in_links_once(cast):
    counts = demo_careplan.load_care_plans()
    assert counts == {"plans": 20, "limits": 5, "links": 6}
    assert AgreedLimit.objects.filter(ended_at__isnull=True).count() == 5
    assert EscalationPlan.objects.count() == 20 and CheckinLink.objects.count() == 6
    assert Checkin.objects.filter(completed_at__isnull=False).count() == 6  # yesterday's
    assert Alert.objects.filter(kind=AlertKind.CHECKIN_RED_FLAG).count() == 1
    assert sweep_agreed_reviews()["raised"] == 1  # the agreement past its review date
    assert (cast / demo_careplan.LINKS_FILE).read_text().count("/checkin/") == 6
    assert demo_careplan.load_care_plans() == {"plans": 0, "limits": 0, "links": 0}
