"""The patient's check-in pages (no account: the personal link is the key) and the staff pages.

Patient pages: one question per screen, large text, no script, a few kilobytes each (the page
weight budget in docs/care-plan.md, measured by tests/checkins/test_pages.py). Every page that
shows the patient's data is audited with no actor and the link named (the link is the
credential); a link that opens nothing shows a plain reason and names no patient.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from accounts.audit import audit_record
from accounts.audit_hooks import audited, noted_patient
from accounts.permissions import staff_required
from careplan.selectors import plan_of
from checkins import questions as data
from checkins import services
from checkins.forms import PhoneCheckinForm
from checkins.links import BadLink, link_url, read_link
from checkins.models import AnsweredBy, CheckinLink

# --- the patient's pages -----------------------------------------------------------------------


def _context(link: CheckinLink, **extra: Any) -> dict[str, Any]:
    language = link.language
    return {
        "t": data.words(language),
        "lang": language,
        "ward_phone": link.patient.ward.phone,
        "first_name": link.patient.given_name,
        **extra,
    }


def _bad(request: HttpRequest, error: BadLink) -> HttpResponse:
    return render(request, "checkins/bad_link.html", {"error": str(error), "t": data.words("en")}, status=404)


def _with_link(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A patient's page: the link its token names, or the bad-link page (404)."""

    @wraps(view)
    def wrapper(request: HttpRequest, token: str, **kwargs: Any) -> HttpResponse:
        try:
            link = read_link(token)
        except BadLink as error:
            return _bad(request, error)
        return view(request, link, token, **kwargs)

    return wrapper


def _viewed(request: HttpRequest, link: CheckinLink, page: str) -> None:
    audit_record(
        actor=None, action="checkin.page_viewed", patient=link.patient, obj=link, route=request.path,
        detail={"page": page},
    )  # fmt: skip


@require_http_methods(["GET", "HEAD", "POST"])
@_with_link
def start(request: HttpRequest, link: CheckinLink, token: str) -> HttpResponse:
    today = services.todays_checkin(patient=link.patient)
    if request.method == "POST":
        try:
            services.checkin_start(link=link, answered_by=request.POST.get("answered_by", ""), route=request.path)
        except ValidationError:
            _viewed(request, link, "start")
            return render(request, "checkins/start.html", _context(link, token=token, error=True), status=400)
        return redirect("checkins:question", token=token, number=1)
    _viewed(request, link, "start")
    if today is not None and today.completed_at is not None:
        return render(
            request, "checkins/done.html", _context(link, token=token, already=True, plan=plan_of(patient=link.patient))
        )
    return render(request, "checkins/start.html", _context(link, token=token))


@require_http_methods(["GET", "HEAD", "POST"])
@_with_link
def question(request: HttpRequest, link: CheckinLink, token: str, number: int) -> HttpResponse:
    checkin = services.todays_checkin(patient=link.patient)
    asked = services.pathway_questions(link.patient.ward.pathway)
    if checkin is None or checkin.completed_at is not None or not 1 <= number <= len(asked):
        return redirect("checkins:start", token=token)
    current = asked[number - 1]
    error = False
    if request.method == "POST":
        try:
            services.checkin_answer(
                checkin=checkin, question=current, value=request.POST.get("value", ""), route=request.path
            )
        except ValidationError:
            error = True
        else:
            if number < len(asked):
                return redirect("checkins:question", token=token, number=number + 1)
            try:
                services.checkin_complete(checkin=checkin, route=request.path)
            except ValidationError:
                return redirect("checkins:start", token=token)  # a skipped question: start again
            return redirect("checkins:done", token=token)
    _viewed(request, link, f"question {number}")
    previous = checkin.answers.filter(question=current).values_list("value", flat=True).first()
    choices = [{"value": c["value"], "label": data.pick(c["label"], link.language)} for c in current.choices]
    context = _context(
        link, token=token, number=number, total=len(asked), text=data.pick(current.text, link.language),
        choices=choices, chosen=previous, error=error,
        progress=data.words(link.language)["question"].format(n=number, total=len(asked)),
    )  # fmt: skip
    return render(request, "checkins/question.html", context, status=400 if error else 200)


@require_http_methods(["GET", "HEAD"])
@_with_link
def done(request: HttpRequest, link: CheckinLink, token: str) -> HttpResponse:
    checkin = services.todays_checkin(patient=link.patient)
    if checkin is None or checkin.completed_at is None:
        return redirect("checkins:start", token=token)
    _viewed(request, link, "done")
    flagged = checkin.answers.exclude(red_flag="").exists()
    return render(
        request, "checkins/done.html", _context(link, token=token, flagged=flagged, plan=plan_of(patient=link.patient))
    )


@require_http_methods(["GET", "HEAD"])
@_with_link
def plan(request: HttpRequest, link: CheckinLink, token: str) -> HttpResponse:
    _viewed(request, link, "plan")
    return render(request, "checkins/plan.html", _context(link, token=token, plan=plan_of(patient=link.patient)))


# --- staff pages -------------------------------------------------------------------------------


def _back(patient: Any) -> HttpResponse:
    return redirect(reverse("frontend:patient", args=[patient.pk]) + "#checkins")


@staff_required
@require_POST
def link_issue(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = noted_patient(request, patient_id)
    try:
        link, token = services.checkin_link_issue(
            patient=patient, user=request.user, language=request.POST.get("language") or None
        )
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
        return _back(patient)
    # Shown once: only the link's hash is kept. no-store (NoStoreMiddleware) keeps it out of caches.
    context = {"patient": patient, "link": link, "url": link_url(token), "language": data.languages()[link.language]}
    return render(request, "checkins/link_issued.html", context)


@staff_required
@require_POST
def link_revoke(request: HttpRequest, patient_id: int, link_id: int) -> HttpResponse:
    patient = noted_patient(request, patient_id)
    link = CheckinLink.objects.filter(pk=link_id, patient=patient).select_related("patient").first()
    if link is None:
        raise Http404("No such link.")
    try:
        services.checkin_link_revoke(link=link, user=request.user)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
    else:
        messages.success(request, "Check-in link stopped: it no longer opens anything.")
    return _back(patient)


@staff_required
@require_http_methods(["GET", "HEAD", "POST"])
@audited("checkin.phone_form_viewed")
def record_by_phone(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = noted_patient(request, patient_id)
    asked = services.pathway_questions(patient.ward.pathway)
    form = PhoneCheckinForm(request.POST or None, questions=asked)
    if request.method == "POST" and form.is_valid():
        answers = {q.key: form.cleaned_data[f"q_{q.key}"] for q in asked}
        try:
            services.checkin_record_by_phone(
                patient=patient, user=request.user, told_by=form.cleaned_data["told_by"], answers=answers
            )
        except (ValidationError, PermissionDenied) as exc:
            form.add_error(None, " ".join(getattr(exc, "messages", [str(exc)])))
        else:
            messages.success(request, "Check-in recorded from the phone call.")
            return _back(patient)
    status = 400 if request.method == "POST" else 200
    return render(request, "checkins/phone.html", {"patient": patient, "form": form}, status=status)


__all__ = ["AnsweredBy", "done", "link_issue", "link_revoke", "plan", "question", "record_by_phone", "start"]
