import pytest

from tests.ingest.test_e2e import EMBEDDED_BROKER, Wire, database_url, ingests  # noqa: F401 - the e2e test's fixtures
from tests.scoring_services.builders import clean_cache, eager_tasks  # noqa: F401


@pytest.fixture
def wire(mqtt_url: str) -> Wire:
    """The outage test's ingest speaks plain MQTT to the suite's broker (TLS is tested in tests/ingest)."""
    return Wire(mqtt_url, embedded=EMBEDDED_BROKER)


@pytest.fixture(autouse=True)
def _isolated(clean_cache, eager_tasks):  # noqa: F811
    """Every test starts with no rescore marks and runs tasks in-process unless it says otherwise."""
