"""Wards, patients and the vital-sign observations recorded for them."""

from __future__ import annotations

from datetime import date, datetime

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from patients.nhs_number import validate_nhs_number
from patients.record import (
    CarerAccess,
    NhsNumberStatus,
    PhoneKind,
    Relationship,
    Sex,
    validate_communication_needs,
    validate_language,
    validate_ods_practice_code,
    validate_phone,
)


class Pathway(models.TextChoices):
    FRAILTY = "frailty", "Frailty"
    RESPIRATORY = "respiratory", "Respiratory (ARI / COPD step-down)"


class Ward(models.Model):
    name = models.CharField(max_length=120, unique=True)
    pathway = models.CharField(max_length=20, choices=Pathway.choices)
    phone = models.CharField(max_length=40, blank=True, help_text="Shown to patients who need help.")
    # Capacity: the number of patients the ward's staff can safely hold ("virtual beds"). Empty
    # until set; occupancy is reported against it (NHS England's 80 % target).
    beds = models.PositiveIntegerField(null=True, blank=True, help_text="Virtual beds (capacity).")
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
    nhs_number_status = models.CharField(
        max_length=2, choices=NhsNumberStatus.choices, default=NhsNumberStatus.NOT_TRACED
    )
    sex = models.CharField(max_length=8, choices=Sex.choices, default=Sex.UNKNOWN)
    address_line_1 = models.CharField(max_length=100, blank=True)
    address_line_2 = models.CharField(max_length=100, blank=True)
    address_town = models.CharField(max_length=60, blank=True)
    gp_practice_code = models.CharField(
        max_length=6, blank=True, validators=[validate_ods_practice_code], help_text="ODS code, e.g. A81001."
    )
    gp_practice_name = models.CharField(max_length=120, blank=True)
    preferred_language = models.CharField(
        max_length=8, blank=True, default="en", validators=[validate_language], help_text="ISO 639 code."
    )
    interpreter_needed = models.BooleanField(default=False)
    # Accessible Information Standard: coded needs (patients.record.CommunicationNeed) and a note.
    communication_needs = models.JSONField(default=list, blank=True, validators=[validate_communication_needs])
    communication_note = models.CharField(max_length=300, blank=True)
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

    def age_on(self, day: date) -> int:
        born = self.date_of_birth
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))

    @property
    def age(self) -> int:
        """Whole years today, in the ward's time zone (a birthday starts at local midnight)."""
        return self.age_on(timezone.localdate())

    @property
    def open_stay(self) -> Stay | None:
        return self.stays.filter(discharged_at__isnull=True).order_by("-admitted_at").first()


class PatientPhone(models.Model):
    """One of the patient's phone numbers, in E.164 form; the preferred one is also ``Patient.phone``."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="phones")
    kind = models.CharField(max_length=8, choices=PhoneKind.choices, default=PhoneKind.MOBILE)
    number = models.CharField(max_length=20, validators=[validate_phone])
    preferred = models.BooleanField(default=False)
    note = models.CharField(max_length=100, blank=True, help_text="e.g. only after 10:00")

    class Meta:
        ordering = ["-preferred", "id"]
        constraints = [
            models.UniqueConstraint(fields=["patient", "number"], name="patient_phone_once"),
            models.UniqueConstraint(fields=["patient"], condition=Q(preferred=True), name="one_preferred_phone"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.number}"


class Contact(models.Model):
    """A next of kin or carer, and what the patient agreed they may see."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=120)
    relationship = models.CharField(max_length=16, choices=Relationship.choices)
    phone = models.CharField(max_length=20, validators=[validate_phone])
    email = models.EmailField(blank=True)
    is_next_of_kin = models.BooleanField(default=False)
    is_carer = models.BooleanField(default=False)
    may_see = models.CharField(max_length=16, choices=CarerAccess.choices, default=CarerAccess.CONTACT_ONLY)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-is_next_of_kin", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_relationship_display()})"


class Direction(models.TextChoices):
    STEP_UP = "step_up", "Step-up (admission avoidance)"
    STEP_DOWN = "step_down", "Step-down (early supported discharge)"
    NOT_RECORDED = "not_recorded", "Not recorded"


class ReferralSource(models.TextChoices):
    GP = "gp", "GP"
    NHS_111 = "nhs_111", "NHS 111"
    COMMUNITY = "community", "Community services"
    CARE_HOME = "care_home", "Care home"
    EMERGENCY_DEPARTMENT = "emergency_department", "Emergency department (admission avoided)"
    AMBULANCE = "ambulance", "Ambulance service"
    HOSPITAL_WARD = "hospital_ward", "Hospital ward (early discharge)"
    # Only for stays made from admissions recorded before stays existed (migration 0006).
    NOT_RECORDED = "not_recorded", "Not recorded"


# Only a hospital ward steps a patient down; every other source keeps them out of hospital.
STEP_DOWN_SOURCES = frozenset({ReferralSource.HOSPITAL_WARD})


def direction_of(source: str) -> str:
    if source == ReferralSource.NOT_RECORDED:
        return Direction.NOT_RECORDED
    return Direction.STEP_DOWN if source in STEP_DOWN_SOURCES else Direction.STEP_UP


class DischargeOutcome(models.TextChoices):
    RECOVERED = "recovered", "Recovered: discharged to GP care"
    OTHER_SERVICE = "other_service", "Transferred to another community service"
    HOSPITAL = "hospital", "Transferred to hospital"
    DIED = "died", "Died"
    SELF_DISCHARGED = "self_discharged", "Self-discharged"
    NOT_RECORDED = "not_recorded", "Not recorded"


class Stay(models.Model):
    """One admission to a virtual ward, from referral to discharge. A readmission is a new stay.

    While a stay is open the patient's ``ward``, ``admitted_at`` and ``discharged_at`` mirror it
    (much of the platform reads those); ``patients.stays`` keeps the two in step.
    """

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="stays")
    ward = models.ForeignKey(Ward, on_delete=models.PROTECT, related_name="stays")
    pathway = models.CharField(max_length=20, choices=Pathway.choices)
    direction = models.CharField(max_length=12, choices=Direction.choices)
    referral_source = models.CharField(max_length=24, choices=ReferralSource.choices)
    referrer = models.CharField(max_length=120, blank=True, help_text="Who referred: practice, hospital ward, team.")
    reason = models.TextField()
    admitted_at = models.DateTimeField()
    admitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="The admitting clinician (empty for stays recorded before stays existed).",
    )  # fmt: skip
    expected_discharge_on = models.DateField(null=True, blank=True)
    discharged_at = models.DateTimeField(null=True, blank=True)
    discharged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    outcome = models.CharField(max_length=16, choices=DischargeOutcome.choices, blank=True)
    destination = models.CharField(max_length=120, blank=True, help_text="e.g. the hospital or service.")
    discharge_note = models.TextField(blank=True)
    # The stay this one readmits within 30 days of its discharge (patients.stays.READMISSION_DAYS).
    readmission_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="readmissions"
    )

    class Meta:
        ordering = ["-admitted_at", "-id"]
        indexes = [
            models.Index(fields=["ward", "admitted_at"], name="stay_ward_admitted"),
            models.Index(fields=["ward", "discharged_at"], name="stay_ward_discharged"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["patient"], condition=Q(discharged_at__isnull=True), name="one_open_stay"),
            models.CheckConstraint(
                condition=Q(discharged_at__isnull=True) | Q(discharged_at__gte=F("admitted_at")),
                name="stay_discharged_after_admitted",
            ),
            models.CheckConstraint(
                condition=Q(discharged_at__isnull=True, outcome="") | Q(discharged_at__isnull=False) & ~Q(outcome=""),
                name="stay_outcome_iff_discharged",
            ),
        ]

    def __str__(self) -> str:
        return f"Stay of patient {self.patient_id} on ward {self.ward_id} from {self.admitted_at:%Y-%m-%d}"

    @property
    def is_open(self) -> bool:
        return self.discharged_at is None

    @property
    def is_readmission(self) -> bool:
        return self.readmission_of_id is not None

    def length_of_stay_days(self, now: datetime | None = None) -> int:
        """Calendar days in the ward's time zone, as bed-days are counted: admitted and
        discharged the same day is 0."""
        end = self.discharged_at or now or timezone.now()
        return (timezone.localdate(end) - timezone.localdate(self.admitted_at)).days

    @property
    def is_due_for_discharge(self) -> bool:
        return (
            self.is_open
            and self.expected_discharge_on is not None
            and (self.expected_discharge_on <= timezone.localdate())
        )


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


class DailyReturn(models.Model):
    """One day's patient-level return (modelled on the Virtual Ward Minimum Data Set), stored once.

    Made by ``patients.daily_return.daily_return_make``: the first run for a day writes it, every
    later run returns the same row, so the file sent for a day never changes under anyone.
    """

    day = models.DateField(unique=True, help_text="The reporting day, Europe/London.")
    identifier = models.CharField(max_length=12, help_text="nhs_number or pseudonym (VW_RETURN_IDENTIFIER).")
    content = models.TextField(help_text="The CSV file, exactly as downloaded.")
    sha256 = models.CharField(max_length=64)
    rows = models.PositiveIntegerField()
    # Whose data the file holds: each download is audited against these patients.
    patient_ids = models.JSONField(default=list)
    generated_at = models.DateTimeField()

    class Meta:
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"Daily return for {self.day:%Y-%m-%d} ({self.rows} rows)"
