"""WCAG 2.2 AA on every page of the platform, at desktop (1440 × 900) and phone (390 × 844) size:
axe-core runs in Chromium on each, and a serious or critical violation fails the suite.

Every URL name of the platform's own pages (frontend/urls.py, rota/urls.py, the sign-in page)
is either visited here or listed in NOT_PAGES with the reason it is not a page (a JSON answer,
a form's POST target, a redirect). A new page that is neither fails
``test_every_page_of_the_platform_is_checked``. The Django admin and the API's Swagger page are
third-party screens, not the platform's own, and are not checked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings
from playwright.sync_api import expect

from alerts.models import Alert
from devices.pairing import pairing_code_issue, status_token
from rota.links import ack_token
from tests.audit.test_every_patient_route_is_audited import url_names
from tests.browser.test_dashboard_in_chromium import DESKTOP, PASSWORD, PHONE, seed_ward
from tests.frontend.conftest import make_alert, make_patient

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("forget_failed_sign_ins"),
]


@dataclass
class Visit:
    browser: Any
    base: str
    cast: dict[str, Any]
    viewport: dict[str, int]

    def page(self, username: str | None = None) -> Any:
        page = self.browser.new_context(viewport=self.viewport).new_page()
        if username:
            page.goto(f"{self.base}/accounts/login/")
            page.get_by_label("Username").fill(username)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(lambda url: "/accounts/login/" not in url)
        return page

    def open(self, path: str, username: str | None = None) -> Any:
        """The page at `path` as `username` (or signed out) sees it; an error page would pass axe, so it fails here."""
        page = self.page(username)
        response = page.goto(f"{self.base}{path}")
        assert response is not None and response.ok, f"{path} answered {response and response.status}"
        assert username is None or "/accounts/login/" not in page.url, f"{path} sent {username} to sign in"
        return page

    def staff(self, path: str) -> Any:
        page = self.open(path, "nurse")
        expect(page.locator("main")).to_be_visible()
        return page


def _live(page: Any) -> Any:
    expect(page.locator("body")).to_have_attribute("data-live", "live", timeout=15000)
    return page


def _locked_out(v: Visit) -> Any:
    page = v.page()
    for _ in range(settings.AXES_FAILURE_LIMIT + 1):
        page.goto(f"{v.base}/accounts/login/")
        page.get_by_label("Username").fill("nurse")
        page.get_by_label("Password").fill("wrong-guess")
        page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("paused")
    return page


def _pair_device(v: Visit) -> Any:
    issued = pairing_code_issue(patient=v.cast["alex"], user=v.cast["nurse"])
    page = v.open("/pair/")
    page.locator("input[name=code]").fill(issued.code)
    page.locator("form button[type=submit]").first.click()
    page.wait_for_url("**/pair/device/")
    return page


def _pairing_code(v: Visit) -> Any:
    page = v.staff(f"/patients/{v.cast['alex'].pk}/pairing-code/")
    page.get_by_role("button", name="Issue").first.click()
    expect(page.locator("#pairing-code")).to_be_visible()
    return page


def _patient(v: Visit) -> Any:
    # the page in its fullest state: charts drawn, table open, rejected readings and a preview shown
    page = _live(v.staff(f"/patients/{v.cast['alex'].pk}/"))
    expect(page.locator(".chart-row .point").first).to_be_attached(timeout=15000)
    page.locator("#table-toggle").click()
    page.get_by_label("Show rejected readings").check()
    expect(page.locator("#rejections details")).to_have_count(1)
    page.locator("#rejections summary").click()
    page.locator("#id_respiratory_rate").fill("26")
    page.locator("#id_spo2").fill("190")
    expect(page.locator("#id_spo2-error")).to_be_visible(timeout=10000)
    page.locator("#id_spo2").focus()
    return page


def _acknowledge(v: Visit) -> Any:
    alert = Alert.objects.filter(patient__ward=v.cast["ward"]).first()
    return v.open(f"/ack/{ack_token(alert_id=alert.pk, person_id=v.cast['nurse'].pk)}/")


def _returns(v: Visit) -> Any:
    # the patient-level daily returns are an administrator's page
    from accounts.models import Role
    from tests.factories import UserFactory

    UserFactory(username="returns-admin", role=Role.ADMINISTRATOR)
    page = v.open("/returns/", "returns-admin")
    expect(page.locator("main")).to_be_visible()
    return page


# URL name -> how to open it as its user would see it.
PAGES: dict[str, Callable[[Visit], Any]] = {
    "login": lambda v: v.open("/accounts/login/"),
    "login:locked-out": _locked_out,
    "frontend:pair": lambda v: v.open("/pair/"),
    "frontend:pair-device": _pair_device,
    "frontend:pair-wait": lambda v: v.open(f"/pair/wait/{status_token(v.cast['oximeter'])}/"),
    "frontend:pairing-code": _pairing_code,
    "frontend:wards": lambda v: _live(v.staff("/wards/")),
    "frontend:ward": lambda v: _live(v.staff(f"/wards/{v.cast['ward'].pk}/")),
    "frontend:triage": lambda v: _live(v.staff("/triage/")),
    "frontend:triage-summary": lambda v: v.staff("/triage/summary/"),
    "frontend:patient": _patient,
    "rota:rota": lambda v: v.staff("/rota/"),
    "rota:handover": lambda v: v.staff("/handover/"),
    "rota:notifications": lambda v: v.staff("/notifications/"),
    "rota:acknowledge": _acknowledge,
    "frontend:admit": lambda v: v.staff("/patients/admit/"),
    "frontend:flow": lambda v: v.staff("/flow/"),
    "frontend:returns": _returns,
    "frontend:connectivity-areas": lambda v: v.staff("/connectivity/areas/"),
    "frontend:kit-tasks": lambda v: v.staff("/connectivity/kit-tasks/"),
}
NOT_PAGES = {
    "frontend:home": "a redirect to the user's board",
    "frontend:pair-status": "JSON polled by the waiting page",
    "frontend:device-unpair": "a form's POST target; answers with the pairing-code page",
    "frontend:alert-action": "a form's POST target; answers with JSON or the triage page",
    "frontend:patient-series": "the chart's JSON",
    "frontend:patient-preview": "JSON for the preview, shown inside the patient page (checked there)",
    "frontend:patient-observation": "a form's POST target; answers with JSON or the patient page",
    "frontend:patient-scale": "a form's POST target; answers with the patient page",
    "rota:shift-add": "a form's POST target; answers with the rota page",
    "rota:push-subscribe": "JSON for the browser's push subscription",
    "rota:handover-start": "a form's POST target; answers with the hand-over page",
    "rota:handover-accept": "a form's POST target; answers with the hand-over page",
    "frontend:flow-csv": "a CSV download of the flow page's figures",
    "frontend:return-download": "a CSV download of one day's return",
    "frontend:incident-action": "a form's POST target; answers with JSON or the triage page",
    "frontend:kit-task-done": "a form's POST target; answers with the kit-task page",
    "frontend:kit-collected": "a form's POST target; answers with the patient page",
    "frontend:pair-kit-add": "a form's POST target; answers with the pairing wait page (checked)",
    "frontend:patient-discharge": "a form's POST target on the patient page (checked there)",
    "frontend:patient-readmit": "a form's POST target on the patient page",
    "frontend:patient-expected-discharge": "a form's POST target on the patient page",
    "frontend:patient-record": "a form's POST target on the patient page",
    "frontend:patient-phone-add": "a form's POST target on the patient page",
    "frontend:patient-phone-remove": "a form's POST target on the patient page",
    "frontend:patient-contact-add": "a form's POST target on the patient page",
    "frontend:patient-contact-remove": "a form's POST target on the patient page",
}
# A page marked here fails for a known reason being fixed elsewhere: {URL name: the violation}.
# xfail(strict=True), so the mark must go as soon as the page passes.
KNOWN_FAILURES: dict[str, str] = {}


def test_every_page_of_the_platform_is_checked():
    from frontend import urls as frontend_urls
    from rota import urls as rota_urls

    names = url_names(frontend_urls.urlpatterns, "frontend") | url_names(rota_urls.urlpatterns, "rota") | {"login"}
    checked = {name.split(":locked-out")[0] for name in PAGES}
    assert names - checked - set(NOT_PAGES) == set(), "a page with no accessibility check; add it to PAGES"
    assert set(NOT_PAGES) & checked == set()


# The innermost elements that reach past the screen's right edge, named for the failure message.
_WIDER_THAN_THE_SCREEN = """width => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > width + 1 && ![...e.children].some(
      c => c.getBoundingClientRect().right > width + 1))
  .slice(0, 5)
  .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className && e.className.baseVal === undefined
      ? '.' + String(e.className).trim().split(/ +/).join('.') : '') + ' in #'
      + ((e.parentElement && e.parentElement.closest('[id]')) || {id: 'body'}).id
      + ' ' + Math.round(e.getBoundingClientRect().right))"""


def _cases() -> list[Any]:
    cases = []
    for name in PAGES:
        for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            known = KNOWN_FAILURES.get(name)
            marks = [pytest.mark.xfail(strict=True, reason=known)] if known else []
            cases.append(pytest.param(name, viewport, id=f"{name}-{size}", marks=marks))
    return cases


@pytest.mark.parametrize("name,viewport", _cases())
def test_no_serious_or_critical_wcag_violation(live_platform, chromium, accessible, name, viewport):
    # given the demo-like ward (a patient with a day of readings, alerts, a paired device) and a
    # patient at high risk with an open alert, so the red-on-pink rows and cards are checked too
    cast = seed_ward()
    high = make_patient(cast["ward"], risk="high", given_name="Hal", family_name="Septic")
    make_alert(high, severity=50, title="NEWS2 9 – high risk")
    visit = Visit(chromium, live_platform["url"], cast, viewport)

    # when the page is opened as its user would open it
    page = PAGES[name](visit)

    # then axe-core finds nothing serious or critical, and nothing scrolls sideways
    accessible(page, f"{name} at {viewport['width']}×{viewport['height']}")
    wide = page.evaluate(_WIDER_THAN_THE_SCREEN, viewport["width"])
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"], f"scrolls sideways: {wide}"
    page.context.close()
