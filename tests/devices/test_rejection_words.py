"""Rejected readings in words a clinician reads at a glance, for every kind of reason the parser gives."""

from __future__ import annotations

import pytest

from devices.rejection_words import FALLBACK, in_plain_words


@pytest.mark.parametrize(
    "reason,expected",
    [
        ("spo2 value 150 outside 50-100 %", "The SpO2 reading was out of human range"),
        ("temperature value 120 [degF] (48.9 Cel) outside 25-45 Cel", "The temperature reading was out of human range"),
        ("heart_rate unit 'bpm' not accepted (expected /min)", "The heart rate reading came in a unit"),
        ("heart_rate unit missing", "The heart rate reading came in a unit"),
        ("consciousness value is not one of A C V P U (got 'X')", "consciousness (ACVPU) reading had no readable"),
        ("respiratory_rate value missing", "The respiratory rate reading had no readable value"),
        ("measured_at '2026-11-23T10:30:00' has no offset or Z", "The reading's time was unclear"),
        ("measured_at 'yesterday' is not an RFC 3339 timestamp", "The reading's time was unclear"),
        ("measured_at missing", "The reading had no time"),
        ("measured_at is more than 5 minutes in the future", "dated in the future"),
        ("measured_at is more than 7 days in the past", "more than 7 days old"),
        ("unknown type 'glucose'", "a kind of reading the platform does not record"),
        ("payload is not valid JSON", "was unreadable"),
        ("msg_id missing", "was unreadable"),
        ("observations is empty", "was unreadable"),
    ],
)
def test_each_parser_reason_reads_as_a_plain_sentence(reason, expected):
    plain = in_plain_words(reason)
    assert expected in plain
    # never the jargon itself
    assert "measured_at" not in plain and "msg_id" not in plain and "Cel" not in plain


def test_an_unknown_reason_still_says_the_reading_was_not_used():
    assert in_plain_words("something new") == FALLBACK
    assert in_plain_words("") == FALLBACK
