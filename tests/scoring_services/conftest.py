import pytest
import redis
from django.core.cache import cache
from django.test import override_settings

from tests.scoring_services.builders import clean_cache, eager_tasks  # noqa: F401


@pytest.fixture(autouse=True)
def _isolated(clean_cache, eager_tasks):  # noqa: F811
    """Every test starts with no rescore marks and runs tasks in-process unless it says otherwise."""


@pytest.fixture
def redis_cache(redis_url):
    """Django's Redis cache on the test Redis (real under CI, fakeredis otherwise)."""
    location = redis_url
    with override_settings(
        CACHES={"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": location}}
    ):
        cache.clear()
        yield
        cache.clear()


@pytest.fixture
def round_trips(monkeypatch):
    """Counts pipelines executed and single SET commands sent to Redis."""
    counts = {"pipelines": 0, "single_sets": 0}
    execute, single_set = redis.client.Pipeline.execute, redis.Redis.set

    def counting_execute(self, *args, **kwargs):
        counts["pipelines"] += 1
        return execute(self, *args, **kwargs)

    def counting_set(self, *args, **kwargs):
        if not isinstance(self, redis.client.Pipeline):
            counts["single_sets"] += 1
        return single_set(self, *args, **kwargs)

    monkeypatch.setattr(redis.client.Pipeline, "execute", counting_execute)
    monkeypatch.setattr(redis.Redis, "set", counting_set)
    return counts
