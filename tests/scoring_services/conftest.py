import pytest
import redis
from django.core.cache import cache
from django.test import override_settings

from scoring import services
from scoring.tasks import rescore_patients as rescore_task
from scoring.tasks import rescore_waiting as waiting_task
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


def waiting_now(kind: str = "prompt") -> list[int]:
    """The patients waiting for a rescore of this kind on Redis (none on any other cache)."""
    client = services._redis_client()
    return sorted(int(m) for m in client.smembers(services._waiting_key(kind))) if client is not None else []


@pytest.fixture
def tasks_sent(monkeypatch):
    """Rescore tasks sent to the broker, as (patient ids, send options), instead of running.

    On Redis a rescore of either kind is the one task for everyone waiting (services._ring): it
    is recorded with the patients waiting when it was sent, and its send options (the queue and
    countdown tell the kinds apart).
    """
    calls: list[tuple[list[int], dict]] = []
    monkeypatch.setattr(rescore_task, "apply_async", lambda args, **kw: calls.append((list(args[0]), kw)))
    monkeypatch.setattr(
        waiting_task, "apply_async", lambda kwargs, **kw: calls.append((waiting_now(kwargs["kind"]), kw))
    )
    return calls


def start_prompt_task(patient_ids, kind: str = "prompt") -> int:
    """Run a task as a worker does: take the patients waiting of its kind (on Redis), then rescore."""
    services.take_waiting("test-task", kind)
    created = rescore_task.run(list(patient_ids))
    services.finish_waiting("test-task", kind)
    return created


def start_routine_task(patient_ids) -> int:
    return start_prompt_task(patient_ids, kind="routine")
