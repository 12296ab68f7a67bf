"""`make bench --notify`: the SMTP server notes when each alert's e-mail arrived."""

import smtplib
import time
from email.message import EmailMessage

from benchmarks.notify import MailWatch


def _send(port: int, body: str) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "vw@bench.invalid", "nurse@bench.invalid", "alert"
    message.set_content(body)
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(message)


def test_the_first_e_mail_about_each_alert_is_timed_and_the_platform_is_pointed_at_the_server():
    watch = MailWatch()
    watch.start()
    try:
        before = time.time()
        _send(watch.port, "HIGH clinical alert.\nOpen (sign-in needed): http://x/triage/#alert-42\nAcknowledge: …")
        first = watch.arrived[42]
        _send(watch.port, "Again: http://x/triage/#alert-42")
        _send(watch.port, "About no alert at all")
    finally:
        watch.stop()
    assert before <= first <= time.time()
    assert watch.arrived == {42: first}  # the first arrival counts; a message naming no alert is counted only
    assert watch.messages == 3
    assert watch.environment()["EMAIL_PORT"] == str(watch.port)
