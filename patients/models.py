"""Wards, patients and the vital-sign observations recorded for them."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q

from patients.nhs_number import validate_nhs_number


class Pathway(models.TextChoices):
    FRAILTY = "frailty", "Frailty"
    RESPIRATORY = "respiratory", "Respiratory (ARI / COPD step-down)"


class Ward(models.Model):
    name = models.CharField(max_length=120, unique=True)
    pathway = models.CharField(max_length=20, choices=Pathway.choices)
    phone = models.CharField(max_length=40, blank=True, help_text="Shown to patients who need help.")
    # Clinicians see only the wards they are members of; operators and administrators see all.
    staff = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="wards", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SpO2Scale(models.IntegerChoices):
    SCALE_1 = 1, "Scale 1"
    SCALE_2 = 2, "Scale 2 (hypercapnic, target 88–92 %)"


class Patient(models.Model):
    nhs_number = models.CharField(max_length=10, unique=True, validators=[validate_nhs_number])
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    ward = models.ForeignKey(Ward, on_delete=models.PROTECT, related_name="patients")
    admitted_at = models.DateTimeField()
    discharged_at = models.DateTimeField(null=True, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    # The home's postcode (upper case, one space): places the patient for outage and not-spot
    # views by postcode district. Personal data, shown only to those who may see the patient.
    postcode = models.CharField(max_length=8, blank=True)
    # Scale 2 only by a clinician's decision, recorded with who and when: scoring a patient on
    # the wrong SpO2 scale is a known clinical hazard (RCP NEWS2 2017, chart 1 notes).
    spo2_scale = models.PositiveSmallIntegerField(choices=SpO2Scale.choices, default=SpO2Scale.SCALE_1)
    spo2_scale_set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    spo2_scale_set_at = models.DateTimeField(null=True, blank=True)
    # The newest early-warning score, kept here so a ward of fifty sorts in one query.
    current_score = models.ForeignKey(
        "scoring.EarlyWarningScore", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["family_name", "given_name"]
        indexes = [models.Index(fields=["ward", "discharged_at"])]

    def __str__(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def is_active(self) -> bool:
        return self.discharged_at is None


class SpO2ScaleChange(models.Model):
    """Every change of SpO2 scale, kept so the decision can always be traced."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="scale_changes")
    scale = models.PositiveSmallIntegerField(choices=SpO2Scale.choices)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    changed_at = models.DateTimeField()
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-changed_at"]

    def __str__(self) -> str:
        return f"Scale {self.scale} for {self.patient} by {self.changed_by} at {self.changed_at:%Y-%m-%d %H:%M}"


class VitalType(models.TextChoices):
    RESPIRATORY_RATE = "respiratory_rate", "Respiratory rate"
    SPO2 = "spo2", "SpO2"
    ON_OXYGEN = "on_oxygen", "On oxygen"
    O2_FLOW_RATE = "o2_flow_rate", "Oxygen flow rate"
    SYSTOLIC_BP = "systolic_bp", "Systolic blood pressure"
    DIASTOLIC_BP = "diastolic_bp", "Diastolic blood pressure"
    HEART_RATE = "heart_rate", "Heart rate"
    TEMPERATURE = "temperature", "Temperature"
    CONSCIOUSNESS = "consciousness", "Consciousness (ACVPU)"
    WEIGHT = "weight", "Weight"
    FALL_DETECTED = "fall_detected", "Fall detected"


class ObservationQuerySet(models.QuerySet):
    def in_window(self, start: datetime, end: datetime | None = None) -> ObservationQuerySet:
        """Readings measured in [start, end): the rule for every read of history.

        ``measured_at`` is the partition key (history.partitions): a query bounded by it reads
        only the months it names, so its cost does not grow with the years kept. Every list,
        chart and search over observations must go through this (or bound ``measured_at``
        itself); an unbounded one visits every partition.
        """
        if start.tzinfo is None or (end is not None and end.tzinfo is None):
            raise ValueError("an observation window needs time-zone aware bounds")
        window = self.filter(measured_at__gte=start)
        return window if end is None else window.filter(measured_at__lt=end)


class Observation(models.Model):
    """One vital sign. Booleans are stored as 1.0 / 0.0 in ``value``; ACVPU letters in ``code``."""

    # The foreign keys carry no single-column indexes: every reading would pay for three more
    # index entries. Look-ups by patient use the (patient, ...) indexes below, by device the
    # unique (device, msg_id, msg_index) one, by person the partial index on entered_by.
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="observations", db_index=False)
    type = models.CharField(max_length=20, choices=VitalType.choices)
    value = models.FloatField(null=True, blank=True)
    code = models.CharField(max_length=1, blank=True)
    unit = models.CharField(max_length=10, blank=True)
    measured_at = models.DateTimeField()
    received_at = models.DateTimeField()
    # Source: a device message (device + msg_id + index make redelivery idempotent) or a person.
    device = models.ForeignKey(
        "devices.Device", null=True, blank=True, on_delete=models.PROTECT, related_name="observations", db_index=False
    )
    msg_id = models.CharField(max_length=64, blank=True)
    msg_index = models.PositiveIntegerField(null=True, blank=True)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    # Arrived well after it was measured (store-and-forward after a not-spot).
    is_late = models.BooleanField(default=False)

    objects = ObservationQuerySet.as_manager()

    class Meta:
        ordering = ["-measured_at", "-id"]
        indexes = [
            models.Index(fields=["patient", "type", "-measured_at"], name="obs_patient_type_time"),
            models.Index(fields=["patient", "-measured_at"], name="obs_patient_time"),
            models.Index(fields=["entered_by"], name="obs_entered_by", condition=Q(entered_by__isnull=False)),
        ]
        constraints = [
            # measured_at is the partition key (history.partitions), and PostgreSQL's unique
            # indexes on a partitioned table must include it. A redelivery carries the same
            # readings at the same times, so it still collides; a msg_id reused for other
            # readings is refused before storing (devices.ingest.reuse).
            models.UniqueConstraint(
                fields=["device", "msg_id", "msg_index", "measured_at"],
                condition=Q(device__isnull=False),
                name="obs_unique_device_message_item",
            ),
            models.CheckConstraint(
                condition=Q(device__isnull=False) | Q(entered_by__isnull=False),
                name="obs_has_a_source",
            ),
        ]

    def __str__(self) -> str:
        shown = self.code or self.value
        return f"{self.type}={shown} at {self.measured_at:%Y-%m-%d %H:%M}"

    @property
    def display_value(self) -> str | float | bool | None:
        if self.type == VitalType.CONSCIOUSNESS:
            return self.code
        if self.type in (VitalType.ON_OXYGEN, VitalType.FALL_DETECTED):
            return bool(self.value)
        return self.value
