"""The stateless NEWS2 calculator: vitals in, score and clinical response out, nothing stored."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from scoring.news2 import Vitals, score
from scoring.serializers import News2InputSerializer, News2ResultSerializer

ALL_PARAMETERS_EXAMPLE = {
    "respiratory_rate": 22,
    "spo2": 95,
    "on_oxygen": False,
    "systolic_bp": 108,
    "heart_rate": 112,
    "consciousness": "A",
    "temperature": 38.4,
    "spo2_scale": 1,
}


class News2CalculatorView(APIView):
    @extend_schema(
        operation_id="news2_calculate",
        summary="Calculate a NEWS2 score",
        description=(
            "Scores one set of vitals by the RCP NEWS2 (2017) chart. Any parameter may be omitted: "
            "the result is then `complete: false`, lists it in `missing`, and `total` and `risk` are "
            "lower bounds — a missing parameter is never assumed normal. Nothing is stored."
        ),
        tags=["NEWS2"],
        request=News2InputSerializer,
        responses={200: News2ResultSerializer},
        examples=[
            OpenApiExample(
                "All parameters",
                request_only=True,
                value=ALL_PARAMETERS_EXAMPLE,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        given = News2InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            result = score(Vitals(**given.validated_data))
        except ValueError as exc:  # the serializer should have caught it; never a 500 for bad input
            raise serializers.ValidationError({"non_field_errors": [str(exc)]}) from None
        return Response(News2ResultSerializer(result).data)
