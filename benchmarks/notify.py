"""`make bench BENCH_ARGS="--notify"`: publish → the e-mail a person is sent, received by a real SMTP server.

The bench starts an SMTP server (aiosmtpd, as tests/rota/peers.py does) on loopback, points the
platform's processes at it (EMAIL_HOST, EMAIL_PORT) and puts one ward clinician on duty with an
e-mail address. Each alerting reading then raises a HIGH alert whose ladder's first rung ("at
once") e-mails that clinician through the Celery task, as in production; the time counted is
from the fleet's publish to the moment the SMTP server has the whole message (its DATA), the
link in the message naming the alert.
"""

from __future__ import annotations

import email
import email.policy
import logging
import re
import threading
import time
from datetime import timedelta
from typing import Any

from aiosmtpd.controller import Controller
from django.utils import timezone

from virtualward.embedded import free_port

_ALERT_LINK = re.compile(r"#alert-(\d+)")


class MailWatch:
    """An SMTP server that notes when the first message about each alert arrived."""

    def __init__(self) -> None:
        self.port = free_port()
        self.arrived: dict[int, float] = {}
        self.messages = 0
        self._lock = threading.Lock()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command at INFO
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def environment(self) -> dict[str, str]:
        return {"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(self.port), "EMAIL_TIMEOUT": "10"}

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        arrived = time.time()
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        with self._lock:
            self.messages += 1
            if found := _ALERT_LINK.search(text):
                self.arrived.setdefault(int(found.group(1)), arrived)
        return "250 Message accepted for delivery"


def put_clinician_on_duty() -> None:
    """One ward clinician on duty for every ward for the day, with an e-mail address: the ladder's first rung."""
    from django.contrib.auth import get_user_model

    from accounts.models import Role, StaffProfile
    from patients.models import Ward
    from rota.models import DutyRole, Shift

    person = get_user_model().objects.create_user(
        username="bench-clinician", email="bench-clinician@bench.invalid", first_name="Bench", last_name="Clinician"
    )
    StaffProfile.objects.create(user=person, role=Role.CLINICIAN)
    now = timezone.now()
    for ward in Ward.objects.all():
        ward.staff.add(person)
        Shift.objects.create(
            person=person, role=DutyRole.WARD_CLINICIAN, ward=ward, starts_at=now - timedelta(hours=1),
            ends_at=now + timedelta(hours=23),
        )  # fmt: skip


def alert_ids_of(patient_ids: list[int]) -> dict[int, int]:
    """Each patient's HIGH NEWS2 alert, the one whose ladder e-mails the clinician: {alert id: patient id}."""
    from alerts.models import Alert, AlertKind, Severity

    alerts = Alert.objects.filter(patient_id__in=patient_ids, kind=AlertKind.NEWS2_RISK, severity=Severity.HIGH)
    return dict(alerts.values_list("pk", "patient_id"))


def wait_for_mail(watch: MailWatch, alert_ids: list[int], timeout_s: float) -> None:
    ends = time.monotonic() + timeout_s
    while time.monotonic() < ends and not set(alert_ids) <= set(watch.arrived):
        time.sleep(0.05)
