"""The patient's daily check-in: questions (data, from fixtures/checkin_questions.json), personal
links, and every answer with who gave it."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from patients.models import Pathway


class CheckinQuestion(models.Model):
    """One question of a pathway's daily check-in, with its translations and red-flag answers.

    ``text``: {"en": "...", "cy": "..."}; ``choices``: [{"value": "worse", "label": {...},
    "red_flag": "medium", "flag": {"en": "breathing worse than yesterday"}}, ...]. Loaded from
    the fixture by a migration and by ``manage.py load_checkin_questions``; never written by code.
    """

    pathway = models.CharField(max_length=20, choices=Pathway.choices)
    key = models.SlugField(max_length=40)
    position = models.PositiveSmallIntegerField()
    text = models.JSONField()
    hint = models.JSONField(default=dict, blank=True)
    choices = models.JSONField()
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["pathway", "position"]
        constraints = [models.UniqueConstraint(fields=["pathway", "key"], name="one_question_per_pathway_key")]

    def __str__(self) -> str:
        return f"{self.pathway}: {self.key}"


class CheckinLink(models.Model):
    """A personal link to the patient's check-in pages: signed, expiring, revocable; only its
    SHA-256 is kept, so the database cannot hand the link to anyone."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="checkin_links")
    token_hash = models.CharField(max_length=64, unique=True)
    language = models.CharField(max_length=10, default="en")
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-issued_at"]
        indexes = [models.Index(fields=["patient", "revoked_at", "expires_at"], name="checkin_link_live")]

    def __str__(self) -> str:
        return f"Check-in link {self.pk} for patient {self.patient_id}"


class AnsweredBy(models.TextChoices):
    PATIENT = "patient", "The patient"
    CARER = "carer", "A carer"
    CLINICIAN_BY_PHONE = "clinician_phone", "A clinician, by phone"


class Checkin(models.Model):
    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="checkins")
    pathway = models.CharField(max_length=20, choices=Pathway.choices)
    # The local day the check-in counts for (the ward's day, Europe/London).
    for_date = models.DateField()
    answered_by = models.CharField(max_length=16, choices=AnsweredBy.choices)
    # By phone: who told the clinician (patient or carer), and the clinician who wrote it down.
    told_by = models.CharField(max_length=16, choices=AnsweredBy.choices, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    link = models.ForeignKey(CheckinLink, null=True, blank=True, on_delete=models.SET_NULL, related_name="checkins")
    language = models.CharField(max_length=10, default="en")
    started_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["patient", "for_date"], name="checkin_patient_day")]

    def __str__(self) -> str:
        return f"Check-in {self.for_date} for patient {self.patient_id}"


class CheckinAnswer(models.Model):
    checkin = models.ForeignKey(Checkin, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(CheckinQuestion, on_delete=models.PROTECT, related_name="+")
    value = models.CharField(max_length=40)
    # Kept as answered: a later change to the questions never rewrites what a patient said.
    question_text = models.TextField()
    answer_text = models.CharField(max_length=200)
    red_flag = models.CharField(max_length=12, blank=True)
    flag_text = models.CharField(max_length=200, blank=True)
    answered_at = models.DateTimeField()

    class Meta:
        ordering = ["question__position"]
        constraints = [models.UniqueConstraint(fields=["checkin", "question"], name="one_answer_per_question")]

    def __str__(self) -> str:
        return f"{self.question_text} – {self.answer_text}"
