"""The audit trail is a hash chain: any change, removal or insertion is found by audit_verify."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections

from accounts.audit import audit_record, audit_record_each
from accounts.audit_chain import GENESIS, audit_chain_verify, canonical_content, link_hash
from accounts.models import AuditEvent


def record_three(clinician, patient):
    return [
        audit_record(actor=clinician, action="patient.viewed", patient=patient, route="/patients/1/"),
        audit_record(actor=clinician, action="score.viewed", patient=patient, detail={"band": "high", "total": 7.0}),
        audit_record(actor=None, action="device.paired", patient=patient),
    ]


def verify(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command("audit_verify", *args, stdout=out)
    return out.getvalue()


def tamper(sql: str, params: list) -> None:
    """What a database owner could do: switch the append-only trigger off and rewrite rows."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The test's open transaction holds deferred foreign-key checks; ALTER needs none pending.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE accounts_auditevent DISABLE TRIGGER accounts_auditevent_append_only")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE accounts_auditevent ENABLE TRIGGER accounts_auditevent_append_only")


def test_each_event_links_to_the_one_before_with_sha256_of_its_canonical_content(clinician, patient):
    # given three events
    first, second, third = record_three(clinician, patient)

    # then they are numbered from 1 and each hash covers the previous hash and the event's content
    assert [first.seq, second.seq, third.seq] == [1, 2, 3]
    assert first.prev_hash == GENESIS and second.prev_hash == first.hash and third.prev_hash == second.hash
    stored = AuditEvent.objects.get(seq=2)
    expected = hashlib.sha256(first.hash.encode() + b"\n" + canonical_content(stored)).hexdigest()
    assert stored.hash == expected == link_hash(first.hash, stored)
    assert b'"action":"score.viewed"' in canonical_content(stored)


def test_an_intact_chain_verifies_and_prints_its_head(clinician, patient):
    # given events on record
    *_, last = record_three(clinician, patient)

    # when verified, then the command says so and names the head to keep as an anchor
    output = verify()
    assert f"intact: 3 events; head 3:{last.hash}" in output
    assert "anchor 3 found" in verify("--anchor", f"3:{last.hash}")


def test_a_chain_of_no_events_verifies(db):
    assert "intact: 0 events" in verify()


@pytest.mark.parametrize(
    ("sql", "problem"),
    [
        ("UPDATE accounts_auditevent SET action = 'nothing.happened' WHERE seq = 2", "no longer matches its hash"),
        ("UPDATE accounts_auditevent SET at = at - interval '1 hour' WHERE seq = 2", "no longer matches its hash"),
        ("DELETE FROM accounts_auditevent WHERE seq = 2", "events 2-2 are missing"),
        ("UPDATE accounts_auditevent SET prev_hash = hash WHERE seq = 2", "prev_hash is not the hash"),
    ],
    ids=["changed-action", "changed-time", "removed-row", "relinked-row"],
)
def test_a_tampered_row_is_reported_as_the_first_broken_link_with_exit_status_1(clinician, patient, sql, problem):
    # given three events, and someone with the owner's rights rewriting the second
    record_three(clinician, patient)
    if connection.vendor == "sqlite":
        sql = sql.replace("at - interval '1 hour'", "datetime(at, '-1 hour')")
    tamper(sql, [])

    # when verified, then the command fails at seq 2 and says why
    with pytest.raises(CommandError, match=rf"BROKEN at seq [23].*{problem}") as failure:
        verify()
    assert failure.value.returncode == 1
    report = audit_chain_verify()
    assert not report.intact and report.head_seq == 1


def test_a_trail_cut_short_or_emptied_is_caught_by_an_anchor_kept_elsewhere(clinician, patient):
    # given a head recorded after three events, then the last two removed
    *_, last = record_three(clinician, patient)
    tamper("DELETE FROM accounts_auditevent WHERE seq >= 2", [])

    # when verified with that anchor, then the removal is reported
    with pytest.raises(CommandError, match="chain ends at seq 1, before the anchor's seq 3"):
        verify("--anchor", f"3:{last.hash}")
    with pytest.raises(CommandError, match="must be SEQ:HASH") as failure:
        verify("--anchor", "three")
    assert failure.value.returncode == 2


def test_a_rewritten_event_with_a_recomputed_chain_differs_from_the_anchor(clinician, patient):
    # given an anchor, and every hash after a change recomputed to hide it
    *_, last = record_three(clinician, patient)
    tamper("UPDATE accounts_auditevent SET action = 'nothing.happened' WHERE seq = 3", [])
    changed = AuditEvent.objects.get(seq=3)
    tamper("UPDATE accounts_auditevent SET hash = %s WHERE seq = 3", [link_hash(changed.prev_hash, changed)])

    # then the chain holds on its own, but not against the anchor
    assert audit_chain_verify().intact
    with pytest.raises(CommandError, match="differs from the anchor"):
        verify("--anchor", f"3:{last.hash}")


def test_details_read_back_from_the_database_hash_the_same(clinician, patient):
    # given details whose JSON may change form in storage (floats, tuples, dates)
    detail = {"big": 1e16, "small": 1e-5, "pair": (1, 2), "when": dt.date(2026, 12, 4), "text": "é"}
    audit_record(actor=clinician, action="patient.viewed", patient=patient, detail=detail)

    # then the stored row verifies
    assert audit_chain_verify().intact


def test_a_list_seen_at_once_is_one_event_per_patient_in_consecutive_links(clinician, patient):
    from tests.factories import PatientFactory

    other = PatientFactory(ward=patient.ward)
    events = audit_record_each(actor=clinician, action="patient.listed", patients=[patient, other], route="/x/")
    assert [e.seq for e in events] == [1, 2] and events[1].prev_hash == events[0].hash
    assert audit_chain_verify().intact


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_never_fork_the_chain(postgresql, clinician, patient):
    # given eight threads appending at once, each on its own database connection
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(5):
                audit_record(actor=None, action="device.paired", patient=patient, detail={"writer": n, "i": i})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # then all forty are links of one chain, numbered without gaps
    assert errors == []
    assert sorted(AuditEvent.objects.values_list("seq", flat=True)) == list(range(1, 41))
    assert audit_chain_verify().intact
