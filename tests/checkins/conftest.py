import pytest

from tests.scoring_services.builders import clean_cache, eager_tasks  # noqa: F401


@pytest.fixture(autouse=True)
def _isolated(clean_cache, eager_tasks):  # noqa: F811
    """No rescore marks leak between tests; tasks run in-process."""


@pytest.fixture(autouse=True)
def _questions(request):
    """The questions migration 0002 loads; a transactional test elsewhere may have flushed them."""
    if "db" in request.fixturenames or request.node.get_closest_marker("django_db"):
        from checkins.questions import load_questions

        request.getfixturevalue("db")
        load_questions()


@pytest.fixture
def nurse_and_patient(db):
    from accounts.models import Role
    from tests.factories import PatientFactory, UserFactory

    patient = PatientFactory()
    nurse = UserFactory(role=Role.CLINICIAN)
    patient.ward.staff.add(nurse)
    return nurse, patient
