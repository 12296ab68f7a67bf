"""The device registry, pairing, the record of every message received, and connectivity."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q


def new_device_id() -> str:
    # Short, unguessable and safe as an MQTT topic level and a broker username.
    return "dev-" + secrets.token_hex(6)


class DeviceKind(models.TextChoices):
    PULSE_OXIMETER = "pulse_oximeter", "Pulse oximeter"
    BP_MONITOR = "bp_monitor", "Blood-pressure monitor"
    THERMOMETER = "thermometer", "Thermometer"
    WEARABLE_PATCH = "wearable_patch", "Wearable patch"
    SCALES = "scales", "Scales"
    FALL_SENSOR = "fall_sensor", "Fall sensor"


class DeviceMode(models.TextChoices):
    CONTINUOUS = "continuous", "Continuous"
    SPOT_CHECK = "spot_check", "Spot check"


class Connectivity(models.TextChoices):
    UNKNOWN = "unknown", "Not yet heard from"
    ONLINE = "online", "Online"
    OFFLINE = "offline", "Offline"


class Device(models.Model):
    device_id = models.CharField(max_length=64, unique=True, default=new_device_id)
    kind = models.CharField(max_length=20, choices=DeviceKind.choices)
    serial = models.CharField(max_length=64, unique=True)
    patient = models.ForeignKey(
        "patients.Patient", null=True, blank=True, on_delete=models.PROTECT, related_name="devices"
    )
    mode = models.CharField(max_length=12, choices=DeviceMode.choices, default=DeviceMode.SPOT_CHECK)
    expected_interval_s = models.PositiveIntegerField(default=300)

    # The factory key (claim token) the device holds from the supplier: it proves the device
    # itself asks for its credentials at /api/v1/pairing/collect/, where the serial printed on
    # the box would not. Only a SHA-256 hash is kept (docs/pairing.md).
    claim_key_hash = models.CharField(max_length=80, blank=True)
    # Broker credentials: only a hash is kept; the secret is shown once, at pairing.
    secret_hash = models.CharField(max_length=256, blank=True)
    credentials_issued_at = models.DateTimeField(null=True, blank=True)
    paired_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    # Connectivity, moved only by the device services and the sweep.
    connectivity = models.CharField(max_length=10, choices=Connectivity.choices, default=Connectivity.UNKNOWN)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    last_reading_at = models.DateTimeField(null=True, blank=True)
    offline_since = models.DateTimeField(null=True, blank=True)
    battery = models.PositiveSmallIntegerField(null=True, blank=True)
    battery_at = models.DateTimeField(null=True, blank=True)
    # When this device becomes overdue; the sweep claims rows past it (indexed, see sweep).
    overdue_at = models.DateTimeField(null=True, blank=True, db_index=True)

    # How the device last said it is connected (status "network", protocol v1); blank: never said.
    # The outage grouping reads these when the device goes silent (alerts.grouping).
    network_type = models.CharField(max_length=10, blank=True)
    network_operator = models.CharField(max_length=6, blank=True, help_text="Mobile network MCC+MNC.")
    network_rssi_dbm = models.SmallIntegerField(null=True, blank=True)
    network_technology = models.CharField(max_length=16, blank=True)
    network_cell = models.CharField(max_length=32, blank=True, help_text="Personal data: it places the home.")
    network_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["kind", "serial"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.serial}"

    @property
    def is_paired(self) -> bool:
        return self.patient_id is not None and self.revoked_at is None and bool(self.secret_hash)


class PairingCode(models.Model):
    """A short, single-use, expiring code a patient types to pair a device. Only its hash is kept."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="pairing_codes")
    code_hash = models.CharField(max_length=128, unique=True)
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    device = models.ForeignKey(Device, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-issued_at"]

    def __str__(self) -> str:
        return f"Pairing code for patient {self.patient_id}, expires {self.expires_at:%H:%M}"


class ReceivedMessage(models.Model):
    """One row per (device, msg_id): the outcome, so a redelivery is answered, not re-stored."""

    # No index of its own: the unique (device, msg_id) index serves every look-up by device.
    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="messages", db_index=False)
    msg_id = models.CharField(max_length=64)
    received_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    accepted = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["device", "msg_id"], name="received_unique_device_msg")]

    def __str__(self) -> str:
        return f"{self.msg_id} from device {self.device_id}: {self.accepted} accepted, {self.rejected} rejected"


class IngestRejection(models.Model):
    """Everything the platform refused, kept where staff can see it. Never patient data."""

    device = models.ForeignKey(Device, null=True, blank=True, on_delete=models.PROTECT, related_name="rejections")
    device_ref = models.CharField(max_length=200, blank=True, help_text="The id the topic named.")
    topic = models.CharField(max_length=300)
    msg_id = models.CharField(max_length=64, blank=True)
    index = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: the whole message.")
    reason = models.CharField(max_length=300)
    received_at = models.DateTimeField(db_index=True)
    excerpt = models.TextField(blank=True, help_text="The start of the payload, for diagnosis.")

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            # received_at is the partition key (history.partitions): a partitioned table's unique
            # indexes must include it. Item rejections are written only by the batch whose
            # receipt for the message was new, so a redelivery never writes them twice.
            models.UniqueConstraint(
                fields=["device", "msg_id", "index", "received_at"],
                condition=Q(device__isnull=False, index__isnull=False),
                name="rejection_unique_device_msg_item",
            )
        ]

    def __str__(self) -> str:
        return f"{self.device_ref or self.topic} {self.msg_id}: {self.reason}"


class ConnectivityGap(models.Model):
    """An episode of silence from a device: the gap in its data is recorded, not hidden."""

    class Cause(models.TextChoices):
        LAST_WILL = "last_will", "Device went offline (Last Will)"
        TIMEOUT = "timeout", "Nothing received within the expected interval"

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="gaps")
    patient = models.ForeignKey("patients.Patient", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    cause = models.CharField(max_length=12, choices=Cause.choices)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["device"], condition=Q(ended_at__isnull=True), name="one_open_gap_per_device"
            )
        ]

    def __str__(self) -> str:
        return f"Gap on device {self.device_id} from {self.started_at:%Y-%m-%d %H:%M}"


class DeviceCertificate(models.Model):
    """A client certificate the platform's CA issued to a device (mutual TLS, docs/security.md).

    Only the certificate's identity is kept, never a key: the device made its own. Revoking
    (unpairing, a new pairing of the same device) puts the serial number on the CRL the broker
    checks, until the certificate would have expired anyway.
    """

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="certificates")
    common_name = models.CharField(max_length=64)  # the device id it was issued for
    serial_number = models.CharField(max_length=40, unique=True)  # hex
    fingerprint_sha256 = models.CharField(max_length=64)
    issued_at = models.DateTimeField()
    not_after = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-issued_at"]

    def __str__(self) -> str:
        return f"Certificate {self.serial_number} for {self.common_name}"


class NetworkReport(models.Model):
    """Each network report a device sent with its status: the history behind the not-spot view.

    ``cell`` is personal data (a cell or access point places the patient's home): it is shown
    with the patient's record and counted in the area view, never listed there one by one.
    """

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="network_reports")
    patient = models.ForeignKey(
        "patients.Patient", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()
    type = models.CharField(max_length=10, blank=True)
    operator = models.CharField(max_length=6, blank=True)
    rssi_dbm = models.SmallIntegerField(null=True, blank=True)
    technology = models.CharField(max_length=16, blank=True)
    cell = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["device", "-at"], name="network_report_device_time")]

    def __str__(self) -> str:
        return f"Network of device {self.device_id} at {self.at:%Y-%m-%d %H:%M}"


class KitTask(models.Model):
    """Work for the kit team: a patient whose kit keeps dropping, with the remedy suggested."""

    class State(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Done"

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="kit_tasks")
    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="kit_tasks")
    state = models.CharField(max_length=8, choices=State.choices, default=State.OPEN)
    reason = models.CharField(max_length=300)
    remedy = models.CharField(max_length=300)
    created_at = models.DateTimeField()
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["device"], condition=Q(state="open"), name="one_open_kit_task_per_device")
        ]

    def __str__(self) -> str:
        return f"Kit task for device {self.device_id}: {self.remedy}"
