"""The FHIR R4 REST endpoint at /fhir/R4/: translate HTTP, call the handlers, answer in FHIR.

Documented for integrators in docs/fhir.md, by its CapabilityStatement, and in the OpenAPI
schema at /api/v1/schema/ (tag "FHIR R4 (UK Core)").

Same authentication (token or session), roles and ward scoping as /api/v1/, and every
successful read or search is audited per patient shown. Every answer, error or not, is
``application/fhir+json``; every error is an OperationOutcome with the HTTP status FHIR's
RESTful API gives it (400 bad search, 401, 403, 404, 405, 406, 500).
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any
from urllib.parse import urlencode

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.audit_hooks import audit_note, audit_request
from accounts.permissions import IsStaff
from ukcore import handlers, search
from ukcore.capability import capability_statement
from ukcore.resources.common import instant

logger = logging.getLogger(__name__)
FHIR_JSON = "application/fhir+json"


def fhir_response(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False), status=status, content_type=f"{FHIR_JSON}; charset=utf-8"
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def operation_outcome(status: int, code: str, message: str) -> dict[str, Any]:
    severity = "fatal" if status >= 500 else "error"
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": message}],
    }


def outcome_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> HttpResponse:
    return fhir_response(operation_outcome(status, code, message), status, headers)


_DRF_CODES = {401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported", 406: "not-supported",
              415: "not-supported", 429: "throttled"}  # fmt: skip


class FhirJSONRenderer(JSONRenderer):
    media_type = FHIR_JSON
    format = "fhir"


class FhirView(APIView):
    permission_classes = [IsStaff]
    renderer_classes = [FhirJSONRenderer, JSONRenderer]
    resource_type = ""
    audit_verb = ""

    def handle_exception(self, exc: Exception) -> HttpResponse:
        if isinstance(exc, search.SearchError):
            return outcome_response(exc.status, exc.code, exc.message)
        if isinstance(exc, handlers.NotFound):
            return outcome_response(
                404, "not-found", f"{self.resource_type}/{self.kwargs.get('resource_id')} is not known."
            )
        if isinstance(exc, exceptions.APIException):
            headers = {}
            if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
                exc.status_code = 401
                headers["WWW-Authenticate"] = self.get_authenticate_header(self.request) or "Token"
            detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
            return outcome_response(
                exc.status_code, _DRF_CODES.get(exc.status_code, "processing"), str(detail), headers
            )
        logger.exception("FHIR request failed: %s", self.request.path)
        return outcome_response(500, "exception", "The server could not answer; the failure is logged.")

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        if self.audit_verb:
            audit_request(request, response, f"fhir.{self.resource_type.lower()}_{self.audit_verb}")
        return response

    def http_method_not_allowed(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        raise exceptions.MethodNotAllowed(request.method, detail="This FHIR endpoint is read-only: GET (and HEAD).")


class ReadView(FhirView):
    audit_verb = "read"

    def get(self, request: Request, resource_id: str) -> HttpResponse:
        shown = handlers.READ[self.resource_type](request.user, resource_id)
        resource = shown.resources[0]
        audit_note(request, *shown.patient_ids)
        etag = f'W/"{resource["meta"]["versionId"]}"'
        if etag in [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]:
            response = HttpResponse(status=304)
            response["ETag"] = etag
            return response
        return fhir_response(
            resource, headers={"ETag": etag, "Last-Modified": _http_date(resource["meta"]["lastUpdated"])}
        )


class SearchView(FhirView):
    audit_verb = "searched"

    def get(self, request: Request) -> HttpResponse:
        params = request.query_params
        count = search.count_of(params)
        cursor = search.one(params, "_page")
        shown = handlers.SEARCH[self.resource_type](request.user, params, count, cursor)
        audit_note(request, *shown.patient_ids)
        return fhir_response(self.bundle(request, shown))

    def bundle(self, request: Request, shown: handlers.Shown) -> dict[str, Any]:
        base = request.build_absolute_uri(f"/fhir/R4/{self.resource_type}")
        kept = [(name, value) for name, value in request.query_params.lists() if name != "_page"]
        flat = [(name, value) for name, values in kept for value in values]
        links = [{"relation": "self", "url": f"{base}?{urlencode(flat)}" if flat else base}]
        if shown.next_cursor:
            links.append({"relation": "next", "url": f"{base}?{urlencode([*flat, ('_page', shown.next_cursor)])}"})
        bundle: dict[str, Any] = {
            "resourceType": "Bundle",
            "id": str(uuid.uuid4()),
            "meta": {"lastUpdated": instant(timezone.now())},
            "type": "searchset",
            "total": shown.total,
            "link": links,
        }
        if shown.resources:  # FHIR's JSON has no empty arrays
            bundle["entry"] = [
                {
                    "fullUrl": request.build_absolute_uri(f"/fhir/R4/{r['resourceType']}/{r['id']}"),
                    "resource": r,
                    "search": {"mode": "match"},
                }
                for r in shown.resources
            ]
        return bundle


class MetadataView(FhirView):
    # The CapabilityStatement is public (FHIR servers serve it so clients can learn how to log in).
    permission_classes: list = []
    authentication_classes: list = []
    resource_type = "CapabilityStatement"

    @extend_schema(
        operation_id="fhir_metadata",
        summary="The FHIR CapabilityStatement: every resource, interaction and search parameter served",
        tags=["FHIR R4 (UK Core)"],
        request=None,
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="CapabilityStatement")},
    )
    def get(self, request: Request) -> HttpResponse:
        return fhir_response(capability_statement(request.build_absolute_uri("/fhir/R4")))


class UnknownView(FhirView):
    resource_type = "Resource"

    @extend_schema(exclude=True)
    def get(self, request: Request, rest: str = "") -> HttpResponse:
        return outcome_response(
            404, "not-supported", f"/fhir/R4/{rest} is not served here; see /fhir/R4/metadata for what is."
        )


def _http_date(fhir_instant: str) -> str:
    from datetime import datetime

    from django.utils.http import http_date

    return http_date(datetime.fromisoformat(fhir_instant).timestamp())


# --- the OpenAPI description (/api/v1/schema/, tag "FHIR R4 (UK Core)") ------------------------

TAG = "FHIR R4 (UK Core)"
_OUTCOME = OpenApiResponse(
    OpenApiTypes.OBJECT, description="OperationOutcome (docs/fhir.md#paging-versions-and-errors)"
)
_ERRORS = {status: _OUTCOME for status in (400, 401, 403, 404, 405, 406)}
_COMMON = [
    OpenApiParameter("_count", str, description=f"Page size, 0-{search.MAX_COUNT} (default {search.DEFAULT_COUNT})."),
    OpenApiParameter("_page", str, description="The cursor of a Bundle's `next` link (opaque)."),
    OpenApiParameter(
        "_lastUpdated", str, description="A prefix (eq, gt, ge, lt, le) and a date or dateTime with offset."
    ),
]


def read_view(kind: str) -> type[ReadView]:
    doc = extend_schema(
        operation_id=f"fhir_{kind.lower()}_read",
        summary=f"Read a {kind} (UK Core)",
        tags=[TAG],
        request=None,
        parameters=[OpenApiParameter("resource_id", str, OpenApiParameter.PATH, description=f"The {kind}'s id.")],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description=f"A FHIR {kind}"), **_ERRORS},
    )

    def get(self: ReadView, request: Request, resource_id: str) -> HttpResponse:
        return ReadView.get(self, request, resource_id)

    return type(f"{kind}ReadView", (ReadView,), {"resource_type": kind, "get": doc(get)})


def search_view(kind: str) -> type[SearchView]:
    from ukcore.handlers import SEARCH_PARAMETERS

    own = [
        OpenApiParameter(name, str, description=f"FHIR {kind_} search parameter (docs/fhir.md#searches).")
        for name, kind_ in SEARCH_PARAMETERS[kind].items()
    ]
    doc = extend_schema(
        operation_id=f"fhir_{kind.lower()}_search",
        summary=f"Search {kind} (a searchset Bundle)",
        tags=[TAG],
        request=None,
        parameters=own + _COMMON,
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="A searchset Bundle"), **_ERRORS},
    )

    def get(self: SearchView, request: Request) -> HttpResponse:
        return SearchView.get(self, request)

    return type(f"{kind}SearchView", (SearchView,), {"resource_type": kind, "get": doc(get)})
