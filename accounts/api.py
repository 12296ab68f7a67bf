"""Administrator's export of the audit trail: GET /api/v1/audit/export.csv?since=&until=.

``since`` and ``until`` are ISO 8601 dates (midnight UTC) or date-times with an offset;
the range is [since, until). The CSV streams, so a year of records never sits in memory.
"""

from __future__ import annotations

import itertools

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.audit import audit_csv_lines, audit_events, audit_record, parse_bound
from accounts.permissions import IsAdministrator


class AuditExportView(APIView):
    permission_classes = [IsAdministrator]

    @extend_schema(
        parameters=[
            OpenApiParameter("since", OpenApiTypes.STR, description="ISO 8601 date or date-time with offset"),
            OpenApiParameter("until", OpenApiTypes.STR, description="ISO 8601 date or date-time with offset"),
        ],
        responses={200: OpenApiResponse(OpenApiTypes.STR, description="text/csv")},
        tags=["audit"],
    )
    def get(self, request: Request) -> StreamingHttpResponse | Response:
        try:
            since = parse_bound(request.query_params.get("since"), "since")
            until = parse_bound(request.query_params.get("until"), "until")
        except ValueError as error:
            return Response({"detail": str(error)}, status=400)
        # Exporting the record of who saw what is itself something to record.
        audit_record(
            actor=request.user,
            action="audit.exported",
            route=request.path,
            detail={"since": since.isoformat() if since else None, "until": until.isoformat() if until else None},
        )
        lines = audit_csv_lines(audit_events(since=since, until=until))
        # The query runs before the first byte is sent: a database error is then an error
        # response, not a download that stops half way and leaves the client waiting.
        first = list(itertools.islice(lines, 2))
        response = StreamingHttpResponse(itertools.chain(first, lines), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="audit.csv"'
        return response
