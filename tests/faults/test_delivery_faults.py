"""Nothing lost, nothing doubled when the broker or an ingest process dies mid-load.

Each scenario drives steady load from devices that deliver through their outbox, through a
Mosquitto of the test's own (the platform's generated configuration, its own persistence) into
real `manage.py ingest` processes, kills one part with SIGKILL, brings it back (or not), and
then checks every published msg_id against the database: stored exactly once, every reading
once, every message acked. Each scenario takes well under a minute.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from devices import broker_auth
from devices.credentials import secret_generate
from tests.factories import DeviceFactory
from tests.faults.own_postgres import OwnPostgres, postgres_bin_dir, run_as
from tests.faults.rig import Broker, Fleet, Ingest, ingest_env, needs, shared_database_url, tally

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True), pytest.mark.timeout(90)]

RATE, SECONDS = 50.0, 10.0  # 500 messages, 750 readings, over ten seconds
SESSION_EXPIRY_S = 4  # scaled down from the deployed 60 s, as the devices' timeouts are


@dataclass
class Rig:
    tmp: Path
    database_url: str
    broker: Broker
    ingests: list[Ingest] = field(default_factory=list)
    fleets: list[Fleet] = field(default_factory=list)

    def ingest(self, client_id: str, group: str = "vw-fault", *, database_url: str = "") -> Ingest:
        account = broker_auth.platform_mqtt_account()
        env = ingest_env(database_url or self.database_url, self.broker, account, SESSION_EXPIRY_S)
        ingest = Ingest(env, client_id, group, self.tmp).start()
        self.ingests.append(ingest)
        return ingest

    def fleet(self, devices: int = 20) -> Fleet:
        account = broker_auth.simulator_mqtt_account()
        assert account is not None
        device_ids = [DeviceFactory().device_id for _ in range(devices)]
        fleet = Fleet(self.broker.url, account.username, account.password, device_ids)
        self.fleets.append(fleet)
        return fleet


@pytest.fixture
def rig(db, tmp_path, settings, monkeypatch) -> Iterator[Rig]:
    needs(broker_auth.mosquitto_binary() is None, "mosquitto is not installed (apt-get install mosquitto)")
    database_url = shared_database_url()
    needs(database_url is None, "ingest processes cannot share an in-memory SQLite test database")
    settings.VAR_DIR = tmp_path
    settings.MQTT_USERNAME, settings.MQTT_PASSWORD = "vw-platform", secret_generate()
    # The development simulator account plays every device (the generated ACL allows it).
    monkeypatch.setenv("VW_MQTT_SIMULATOR_ACCOUNT", "true")
    monkeypatch.setenv("MQTT_SIMULATOR_PASSWORD", secret_generate())
    broker = Broker(tmp_path / "broker")
    broker.start()
    rig = Rig(tmp_path, database_url or "", broker)
    try:
        yield rig
    finally:
        for fleet in rig.fleets:
            fleet.close()
        for ingest in rig.ingests:
            ingest.stop()
        broker.stop()


def test_a_broker_killed_mid_load_and_restarted_loses_no_reading_and_doubles_none(rig):
    # given an ingest process and twenty devices publishing 50 messages a second
    rig.ingest("vw-fault-ingest-1")
    fleet = rig.fleet()
    publisher = fleet.publish(RATE, SECONDS)

    # when the broker is killed (SIGKILL) four seconds in and started again a second later
    time.sleep(4)
    rig.broker.kill()
    time.sleep(1)
    rig.broker.start()
    fleet.wait_settled(publisher, timeout=40)

    # then every message is stored exactly once and acked; the devices had to resend some
    result = tally(fleet)
    assert result.lost == [] and result.doubled == [] and result.unacked == 0, str(result)
    assert result.published == RATE * SECONDS
    assert fleet.outbox.resends > 0


def test_an_ingest_killed_mid_load_and_restarted_loses_no_reading_and_doubles_none(rig):
    # given an ingest process and twenty devices publishing 50 messages a second
    ingest = rig.ingest("vw-fault-ingest-1")
    fleet = rig.fleet()
    publisher = fleet.publish(RATE, SECONDS)

    # when the ingest is killed (SIGKILL) four seconds in and restarted a second later, as the
    # supervisor or docker-compose would
    time.sleep(4)
    ingest.kill()
    time.sleep(1)
    ingest.start()
    fleet.wait_settled(publisher, timeout=40)

    # then every message is stored exactly once and acked
    result = tally(fleet)
    assert result.lost == [] and result.doubled == [] and result.unacked == 0, str(result)


def test_an_ingest_member_that_stays_dead_holds_no_reading_past_its_session_expiry_and_a_resend(rig):
    # given two ingest processes in one shared subscription, and the devices publishing
    rig.ingest("vw-fault-ingest-1")
    doomed = rig.ingest("vw-fault-ingest-2")
    fleet = rig.fleet()
    publisher = fleet.publish(RATE, SECONDS)

    # when one of them is killed three seconds in and never comes back
    time.sleep(3)
    doomed.kill()
    fleet.wait_settled(publisher, timeout=40)

    # then nothing is lost or doubled, and no reading waited longer than the session expiry plus
    # the longest resend wait (with its jitter) and a second's slack: the worst case, scaled down
    result = tally(fleet)
    assert result.lost == [] and result.doubled == [] and result.unacked == 0, str(result)
    bound = SESSION_EXPIRY_S + fleet.max_backoff_s * 1.1 + 1.0
    worst = fleet.latencies()[-1]
    print(f"dead member: worst publish->ack {worst:.2f} s (bound {bound:.1f} s), {fleet.outbox.resends} resends")
    assert worst <= bound


def test_a_database_crash_mid_load_loses_nothing_and_ingest_resumes_within_seconds_of_its_return(rig):
    bin_dir, prefix = postgres_bin_dir(), run_as()
    needs(bin_dir is None, "the PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    needs(prefix is None, "PostgreSQL will not run as root, and there is no 'postgres' user to run it as")
    assert bin_dir is not None and prefix is not None
    # given a PostgreSQL of the test's own holding the test's devices, ingest writing to it, and
    # the devices publishing
    fleet = rig.fleet()
    server = OwnPostgres(bin_dir, prefix)
    try:
        server.start()
        server.copy_test_database()
        rig.ingest("vw-fault-ingest-1", database_url=server.url)
        publisher = fleet.publish(RATE, SECONDS)

        # when the database crashes four seconds in and is back two seconds later
        time.sleep(4)
        server.crash()
        time.sleep(2)
        server.start()
        back = time.monotonic()
        fleet.wait_settled(publisher, timeout=40)

        # then nothing is lost or doubled, and ingest stored again within seconds of the return
        result = tally(fleet, server.counts)
        assert result.lost == [] and result.doubled == [] and result.unacked == 0, str(result)
        resumed = min(s.acked_at for s in fleet.sent.values() if s.acked_at and s.acked_at > back) - back
        print(f"database restart: first ack {resumed:.2f} s after PostgreSQL was back")
        assert resumed < 4.0
    finally:
        server.destroy()
