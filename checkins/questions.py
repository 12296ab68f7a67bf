"""The check-in's questions and screen words, read from data (fixtures/checkin_questions.json).

Questions live in the database (CheckinQuestion) so a stored answer always points at the
question it answered; the fixture is their source, loaded by migration 0002 and by
``manage.py load_checkin_questions`` after an edit. The screen words (``ui``) are read from the
fixture directly. A text missing in the patient's language falls back to English, never to
nothing.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from django.conf import settings

FIXTURE = Path(settings.BASE_DIR) / "fixtures" / "checkin_questions.json"
SEVERITIES = ("low-medium", "medium", "high")
FALLBACK = "en"


class QuestionDataError(ValueError):
    pass


@functools.cache
def fixture_data(path: str = str(FIXTURE)) -> dict[str, Any]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    check_fixture(data)
    return data


def check_fixture(data: dict[str, Any]) -> None:
    """Refuse a fixture a patient could be harmed by: an unknown severity, a choice-less question."""
    languages = data.get("languages") or {}
    if FALLBACK not in languages:
        raise QuestionDataError("the fixture must list English ('en') among its languages")
    for pathway, questions in (data.get("pathways") or {}).items():
        keys = [question["key"] for question in questions]
        if len(keys) != len(set(keys)):
            raise QuestionDataError(f"{pathway}: question keys repeat")
        for question in questions:
            where = f"{pathway}/{question['key']}"
            if FALLBACK not in question.get("text", {}):
                raise QuestionDataError(f"{where}: no English text")
            choices = question.get("choices") or []
            if len(choices) < 2:
                raise QuestionDataError(f"{where}: a question needs at least two answers")
            for choice in choices:
                if choice.get("red_flag") not in (None, *SEVERITIES):
                    raise QuestionDataError(f"{where}/{choice.get('value')}: red_flag must be null or {SEVERITIES}")
                if choice.get("red_flag") and not choice.get("flag"):
                    raise QuestionDataError(f"{where}/{choice['value']}: a red flag needs its words for staff")


def languages() -> dict[str, str]:
    return dict(fixture_data()["languages"])


def words(language: str) -> dict[str, str]:
    """Every screen word in ``language``, English where it has no translation."""
    return {key: pick(texts, language) for key, texts in fixture_data()["ui"].items()}


def pick(texts: dict[str, str], language: str) -> str:
    return texts.get(language) or texts.get(FALLBACK) or ""


def load_questions(apps: Any = None, *, path: str | None = None) -> dict[str, int]:
    """Create or update every question of the fixture; questions no longer in it are retired.

    ``apps``: a migration's app registry (None: the real models).
    """
    data = fixture_data(path) if path else fixture_data()
    model = apps.get_model("checkins", "CheckinQuestion") if apps else _model()
    counts = {"created": 0, "updated": 0, "retired": 0}
    kept = []
    for pathway, questions in data["pathways"].items():
        for position, question in enumerate(questions, start=1):
            row, created = model.objects.update_or_create(
                pathway=pathway,
                key=question["key"],
                defaults={
                    "position": position, "text": question["text"], "hint": question.get("hint", {}),
                    "choices": question["choices"], "active": True,
                },
            )  # fmt: skip
            kept.append(row.pk)
            counts["created" if created else "updated"] += 1
    counts["retired"] = model.objects.exclude(pk__in=kept).filter(active=True).update(active=False)
    return counts


def _model() -> Any:
    from checkins.models import CheckinQuestion

    return CheckinQuestion
