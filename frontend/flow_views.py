"""Capacity and flow (per ward, against the 80 % occupancy target) and the daily returns.

Flow shows counts, never a patient; the daily return is patient-level, so only administrators
may list and download it, and each download is audited against every patient in the file.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.access import is_administrator, parse_pk, visible_wards
from accounts.permissions import staff_required
from patients.daily_return import daily_return_download
from patients.flow import FlowPeriodError, flow_csv, ward_flow
from patients.models import DailyReturn

PERIODS = {"7d": 7, "30d": 30, "90d": 90}


def flow_arguments(user: Any, params: Any) -> tuple[Any, date, date, str | None]:
    """The wards and period a request asks for; an error in words for what cannot be read."""
    wards = visible_wards(user)
    error = None
    ward = params.get("ward")
    if ward:
        pk = parse_pk(ward)
        wards = wards.filter(pk=pk) if pk is not None and pk < 2**31 else wards.none()
        if not wards.exists():
            raise Http404("No such ward.")
    until = timezone.localdate()
    days = PERIODS.get(params.get("period") or "30d")
    if days is None:
        error, days = f"Unknown period; use one of {', '.join(PERIODS)}.", 30
    since = until - timedelta(days=days - 1)
    try:
        if params.get("since"):
            since = date.fromisoformat(params["since"])
        if params.get("until"):
            until = date.fromisoformat(params["until"])
    except ValueError:
        error = "Give dates as YYYY-MM-DD."
        until = timezone.localdate()
        since = until - timedelta(days=29)
    return wards, since, until, error


@staff_required
@require_GET
def flow(request: HttpRequest) -> HttpResponse:
    wards, since, until, error = flow_arguments(request.user, request.GET)
    try:
        report = ward_flow(wards=wards, since=since, until=until)
    except FlowPeriodError as exc:
        error = str(exc)
        until = timezone.localdate()
        report = ward_flow(wards=wards, since=until - timedelta(days=29), until=until)
    context = {
        "report": report,
        "error": error,
        "wards": visible_wards(request.user).order_by("name"),
        "ward_id": request.GET.get("ward", ""),
        "period": request.GET.get("period", "30d"),
        "periods": PERIODS,
        "query": request.GET.urlencode(),
        "can_download_returns": is_administrator(request.user),
    }
    return render(request, "frontend/flow.html", context, status=400 if error else 200)


@staff_required
@require_GET
def flow_csv_view(request: HttpRequest) -> HttpResponse:
    wards, since, until, error = flow_arguments(request.user, request.GET)
    try:
        report = ward_flow(wards=wards, since=since, until=until)
    except FlowPeriodError as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    if error:
        return HttpResponse(error, status=400, content_type="text/plain; charset=utf-8")
    return flow_csv_response(report)


def flow_csv_response(report: dict[str, Any]) -> HttpResponse:
    """The flow report as a CSV download (the page's link and the API's ``?format=csv``)."""
    response = HttpResponse(flow_csv(report), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="flow-{report["since"]}-{report["until"]}.csv"'
    return response


@staff_required
@require_GET
def returns(request: HttpRequest) -> HttpResponse:
    if not is_administrator(request.user):
        raise PermissionDenied("Only administrators may see the patient-level daily returns.")
    listed = DailyReturn.objects.only("day", "rows", "identifier", "sha256", "generated_at")[:90]
    return render(request, "frontend/returns.html", {"returns": listed})


@staff_required
@require_GET
def return_download(request: HttpRequest, day: str) -> HttpResponse:
    if not is_administrator(request.user):
        raise PermissionDenied("Only administrators may download the patient-level daily returns.")
    return daily_return_response(day, user=request.user, route=request.path)


def daily_return_response(day: str, *, user: Any, route: str) -> HttpResponse:
    """One day's stored return as a CSV download, audited per patient (page and API alike)."""
    try:
        wanted = date.fromisoformat(day)
    except ValueError:
        raise Http404("No such return.") from None
    stored = daily_return_download(day=wanted, user=user, route=route)
    if stored is None:
        raise Http404("No return has been made for that day.")
    response = HttpResponse(stored.content, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="virtual-ward-return-{stored.day}.csv"'
    response["ETag"] = f'"{stored.sha256}"'
    return response
