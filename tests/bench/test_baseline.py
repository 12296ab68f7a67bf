"""The baseline writes every observation of every message with COPY, in one transaction a batch."""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime

import pytest
from django.db import connection

from benchmarks.baseline import TABLE, Delivery, ensure_table, main, rows_of, write_batch
from benchmarks.messages import alert_readings, encode_msg_id, obs_payload, ordinary_readings, rfc3339

NOW = datetime(2026, 11, 23, 10, 31, 2, tzinfo=UTC)


def _delivery(seq: int, readings: list[dict], device: str = "dev-bench-00001") -> Delivery:
    msg_id = encode_msg_id("b0r250", seq, NOW.timestamp())
    payload = obs_payload(msg_id, rfc3339(NOW), 77, readings)
    return Delivery(mid=seq + 1, qos=1, topic=f"vwbench/v1/devices/{device}/obs", payload=payload, received_at=NOW)


def test_a_message_becomes_one_row_per_reading_with_booleans_and_codes_kept_apart():
    # given the alert message (numbers, a boolean and an ACVPU letter)
    delivery = _delivery(0, alert_readings(rfc3339(NOW)))
    # when turned into rows
    msg_id, rows = rows_of(delivery)
    # then each reading is a row; the letter is a code, the boolean a number
    assert msg_id is not None and msg_id.startswith("b0r250.0.")
    assert len(rows) == len(alert_readings(rfc3339(NOW)))
    by_type = {row[3]: row for row in rows}
    assert by_type["consciousness"][4:6] == (None, "A")
    assert by_type["on_oxygen"][4:6] == (0.0, None)
    assert by_type["spo2"][4:7] == (90.0, None, "%")
    assert {row[0] for row in rows} == {"dev-bench-00001"}


def test_a_payload_that_is_not_a_message_gives_no_rows_instead_of_stopping_the_baseline():
    broken = Delivery(mid=1, qos=1, topic="vwbench/v1/devices/d/obs", payload=b"{not json", received_at=NOW)
    assert rows_of(broken) == (None, [])


def _require_postgresql() -> None:
    if connection.vendor != "postgresql":
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run the baseline writer against PostgreSQL (DATABASE_URL)")
        pytest.skip("the baseline writes with PostgreSQL COPY: set DATABASE_URL to run this test")


@pytest.mark.django_db
def test_a_batch_is_copied_to_postgresql_whole():
    _require_postgresql()
    # given a table and a batch of 50 ordinary messages and one alert message
    connection.ensure_connection()
    raw = connection.connection
    ensure_table(raw)
    rng = random.Random(7)
    batch = [_delivery(seq, ordinary_readings(rng, rfc3339(NOW))) for seq in range(50)]
    batch.append(_delivery(50, alert_readings(rfc3339(NOW)), device="dev-bench-00002"))
    # when written
    outcomes = write_batch(raw, batch)
    # then every message reports its rows, and every reading is in the table
    assert [written for _, _, written in outcomes] == [4] * 50 + [8]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(DISTINCT msg_id), count(*), min(measured_at) FROM {TABLE}")
        messages, rows, measured_at = cursor.fetchone()
    assert (messages, rows) == (51, 208)
    assert measured_at == NOW


def test_the_baseline_refuses_a_switch_interval_that_is_not_positive(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["--database-url", "postgres://x/y", "--mqtt-url", "mqtt://x:1883", "--switch-interval-us", "0"])
    assert stopped.value.code == 2
    assert "--switch-interval-us must be a positive number of microseconds, got 0" in capsys.readouterr().err
