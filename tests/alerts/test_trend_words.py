"""A change in NEWS2 in words and a neutral colour: "worse since 10:40 (+2, was 5)", never a green arrow."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from alerts.present import trend_in_words


def _today_at(hour: int, minute: int) -> dt.datetime:
    return timezone.localtime().replace(hour=hour, minute=minute, second=0, microsecond=0)


@pytest.mark.parametrize(
    "current,previous,direction,text",
    [
        (7, 5, "worse", "worse since 10:40 (+2, was 5)"),
        (15, 16, "better", "better since 10:40 (-1, was 16)"),
        (3, 3, "same", "no change since 10:40"),
        (1, 0, "worse", "worse since 10:40 (+1, was 0)"),
    ],
)
def test_a_change_reads_as_a_word_and_a_time(current, previous, direction, text):
    words = trend_in_words(current, previous, _today_at(10, 40))
    assert words["direction"] == direction and words["text"] == text


def test_a_change_since_an_alert_was_raised_names_the_baseline():
    words = trend_in_words(15, 7, _today_at(9, 5), baseline="raised")
    assert words["text"] == "worse since raised at 09:05 (+8, was 7)"


def test_a_change_since_an_earlier_day_names_the_day():
    yesterday = timezone.localtime() - dt.timedelta(days=1)
    assert f"since {yesterday:%a %H:%M}" in trend_in_words(4, 2, yesterday)["text"]


@pytest.mark.parametrize("current,previous", [(None, 3), (3, None), (None, None)])
def test_no_score_on_either_side_gives_no_trend_rather_than_a_guess(current, previous):
    assert trend_in_words(current, previous, timezone.now()) is None
