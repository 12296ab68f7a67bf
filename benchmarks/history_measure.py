"""What `make bench-history` times at each size: the ward's hot paths and ingest against the baseline."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
from django.conf import settings
from django.db import connection
from django.test import Client
from rest_framework.authtoken.models import Token

from accounts.models import Role, StaffProfile
from benchmarks import baseline
from benchmarks.history import CONTINUOUS_BEDS, Ward300
from benchmarks.messages import obs_payload, ordinary_readings, rfc3339
from benchmarks.stats import summarise_latencies
from devices.ingest.batch import handle_batch
from devices.ingest.messages import Incoming
from patients.models import Observation
from scoring.services import rescore_patients

INGEST_BATCHES = 30
INGEST_BATCH = 100  # messages of 4 readings


def _ok(response) -> None:
    if response.status_code != 200:
        raise RuntimeError(f"{response.request['PATH_INFO']} answered {response.status_code}")


def path_runners(ward: Ward300) -> dict[str, Callable[[], object]]:
    """Each hot path as a call, for a patient admitted within the last week (same rows at both sizes)."""
    user = _operator()
    web = Client()
    web.force_login(user)
    api = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    bed = next(b for b in range(CONTINUOUS_BEDS) if b % 14 == 5)  # admitted 5 days ago: inside the first week
    patient = ward.stays[(bed, 0)]
    since = (ward.now - timedelta(days=30)).isoformat()
    newest = Observation.objects.in_window(ward.now - timedelta(days=1)).filter(patient_id=patient).first()
    current = [ward.stays[(b, 0)] for b in range(0, 300, 6)]  # 50 patients, both kinds of kit
    rescore_patients(current, now=ward.now)
    return {
        "ward_board": lambda: _ok(web.get(f"/wards/{ward.ward_id}/")),
        "patient_page": lambda: _ok(web.get(f"/patients/{patient}/")),
        "chart_30_days": lambda: _ok(web.get(f"/patients/{patient}/series.json", {"since": since})),
        "rescore_batch_of_50": lambda: rescore_patients(current, now=ward.now),
        "api_observation_page": lambda: _ok(
            api.get("/api/v1/observations/", {"patient": patient, "cursor": "", "page_size": 100})
        ),
        "fhir_observation_read": lambda: _ok(api.get(f"/api/v1/observations/{newest.pk}/fhir/")),
    }


def once(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def summarise(samples: list[float]) -> dict:
    summary = summarise_latencies(samples)
    return {"p50_ms": summary.p50_ms, "p99_ms": summary.p99_ms, "max_ms": summary.max_ms, "count": summary.count}


def measure_ingest(ward: Ward300, tag: str) -> dict:
    """Messages/s through the platform's handle_batch and through the baseline's bare COPY, same messages."""
    now = datetime.now(UTC)
    import random

    rng = random.Random(7)
    batches = []
    for b in range(INGEST_BATCHES):
        batch = []
        for m in range(INGEST_BATCH):
            bed = (b * INGEST_BATCH + m) % 300
            at = rfc3339(now - timedelta(seconds=b))
            payload = obs_payload(f"{tag}-{b}-{m}", at, 90, ordinary_readings(rng, at))
            batch.append((f"dev-history-{bed:03d}", payload))
        batches.append(batch)
    started = time.perf_counter()
    for batch in batches:
        handle_batch([Incoming(f"vw/v1/devices/{dev}/obs", payload, now, False) for dev, payload in batch])
    platform_s = time.perf_counter() - started
    conn = psycopg.connect(_database_url())
    try:
        baseline.ensure_table(conn)
        started = time.perf_counter()
        for n, batch in enumerate(batches):
            baseline.write_batch(
                conn,
                [
                    baseline.Delivery(n * INGEST_BATCH + i, 1, f"{baseline.BASELINE_ROOT}{dev}/obs", payload, now)
                    for i, (dev, payload) in enumerate(batch)
                ],
            )
        baseline_s = time.perf_counter() - started
    finally:
        conn.close()
    messages = INGEST_BATCHES * INGEST_BATCH
    return {
        "messages": messages,
        "platform_msg_per_s": round(messages / platform_s),
        "baseline_msg_per_s": round(messages / baseline_s),
        "ratio": round(baseline_s / platform_s, 3),
    }


def disk_figures() -> dict:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(pg_table_size(relid)), 0), coalesce(sum(pg_indexes_size(relid)), 0) "
            "FROM pg_partition_tree('patients_observation') WHERE isleaf"
        )
        table, indexes = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM patients_observation")
        rows = cursor.fetchone()[0]
    return {"rows": rows, "table_bytes": table, "index_bytes": indexes}


def _operator():
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(username="history-bench")
    StaffProfile.objects.update_or_create(user=user, defaults={"role": Role.OPERATOR})
    return user


def _database_url() -> str:
    return settings.DATABASE_URL


def as_json(value: object) -> str:
    return json.dumps(value, indent=2, default=str)
