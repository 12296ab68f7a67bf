import pytest

from tests.scoring_services.builders import clean_cache, eager_tasks  # noqa: F401


@pytest.fixture(autouse=True)
def _isolated(clean_cache, eager_tasks):  # noqa: F811
    """No rescore marks leak between tests; tasks run in-process."""
