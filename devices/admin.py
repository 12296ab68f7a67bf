"""Admin for devices, pairing codes and the record of what ingest received and refused.

Credentials are never shown or edited here: pairing issues them and keeps only a hash. A device
added here is given its factory key, shown once on the next page (``manage.py register_device``
does the same from the command line).
"""

from __future__ import annotations

from django.contrib import admin, messages

from devices.models import (
    ConnectivityGap,
    Device,
    DeviceCertificate,
    IngestRejection,
    PairingCode,
    ReceivedMessage,
)
from devices.registry import device_claim_key_set
from patients.admin import ReadOnlyAdmin


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = ["device_id", "kind", "serial", "patient", "mode", "connectivity", "last_seen_at", "battery"]
    list_filter = ["kind", "mode", "connectivity", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["device_id", "serial", "patient__nhs_number", "patient__family_name"]
    list_select_related = ["patient"]
    exclude = ["secret_hash", "claim_key_hash"]  # hashes only; never shown or edited
    # Connectivity is moved only by ingest and the sweep; editing it here would fake the record.
    readonly_fields = [
        "device_id", "credentials_issued_at", "paired_at", "revoked_at", "connectivity", "last_seen_at",
        "last_reading_at", "offline_since", "battery", "battery_at", "overdue_at",
    ]  # fmt: skip

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        super().save_model(request, obj, form, change)
        if not change:  # a device put in stock here gets its factory key now, shown this once
            key = device_claim_key_set(device=obj)
            messages.warning(request, f"Factory key for {obj.serial} (shown once, load it into the device): {key}")


@admin.register(PairingCode)
class PairingCodeAdmin(ReadOnlyAdmin):
    list_display = ["patient", "issued_by", "issued_at", "expires_at", "used_at", "cancelled_at", "device"]
    list_filter = [("used_at", admin.EmptyFieldListFilter), ("cancelled_at", admin.EmptyFieldListFilter)]
    search_fields = ["patient__nhs_number", "patient__family_name"]
    exclude = ["code_hash"]


@admin.register(ReceivedMessage)
class ReceivedMessageAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "device", "msg_id", "accepted", "rejected"]
    search_fields = ["device__device_id", "msg_id"]
    date_hierarchy = "received_at"
    list_select_related = ["device"]


@admin.register(IngestRejection)
class IngestRejectionAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "device", "device_ref", "msg_id", "index", "reason"]
    list_filter = [("device", admin.EmptyFieldListFilter)]
    search_fields = ["device__device_id", "device_ref", "msg_id", "reason"]
    date_hierarchy = "received_at"
    list_select_related = ["device"]


@admin.register(ConnectivityGap)
class ConnectivityGapAdmin(ReadOnlyAdmin):
    list_display = ["device", "patient", "cause", "started_at", "ended_at"]
    list_filter = ["cause", ("ended_at", admin.EmptyFieldListFilter)]
    search_fields = ["device__device_id", "patient__nhs_number"]
    list_select_related = ["device", "patient"]


@admin.register(DeviceCertificate)
class DeviceCertificateAdmin(ReadOnlyAdmin):
    """Issued at pairing, revoked by unpairing: never edited here (the CRL follows the registry)."""

    list_display = ["common_name", "device", "serial_number", "issued_at", "not_after", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["common_name", "serial_number", "fingerprint_sha256", "device__serial"]
    list_select_related = ["device"]
