"""REST API for wards, patients and observations: translate HTTP, call selectors and services.

Every queryset comes from ``patients.selectors``, which start from who-may-see-what, so a
patient on someone else's ward is a 404 here exactly as if it did not exist.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django_filters.fields import IsoDateTimeField
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.access import visible_patients, visible_wards
from accounts.audit_hooks import AuditedReadsMixin
from patients import record_services, selectors, services, stays
from patients.models import Observation, Patient, Stay, VitalType, Ward
from patients.serializers import (
    NAIVE_MESSAGE,
    ContactSerializer,
    ExpectedDischargeSerializer,
    ManualObservationSerializer,
    ObservationSerializer,
    PatientAdmitSerializer,
    PatientDischargeSerializer,
    PatientPhoneSerializer,
    PatientReadmitSerializer,
    PatientRecordSerializer,
    PatientSerializer,
    SpO2ScaleChangeSerializer,
    SpO2ScaleInputSerializer,
    StaySerializer,
    WardSerializer,
    lacks_offset,
)
from scoring.serializers import CurrentScoreSerializer, EarlyWarningScoreSerializer, current_score_data
from virtualward.datetimes import aware_datetime_problem
from virtualward.pagination import ObservationPagination


class FhirJSONRenderer(JSONRenderer):
    media_type = "application/fhir+json"
    format = "fhir"


FHIR_RENDERERS = [FhirJSONRenderer, JSONRenderer]


@contextmanager
def service_errors() -> Iterator[None]:
    """Turn a service's Django ValidationError into DRF's field-keyed 400."""
    try:
        yield
    except DjangoValidationError as exc:
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        raise serializers.ValidationError(detail) from None


# --- filters ----------------------------------------------------------------------------------


# In a query string an unencoded "+" arrives as a space; "10:00:00 01:00" can only mean +01:00.
_SPACE_FOR_PLUS = re.compile(r"(T[0-9:.]+) ([0-9]{2}:?[0-9]{2})$")


class AwareIsoDateTimeField(IsoDateTimeField):
    default_error_messages = {"naive": NAIVE_MESSAGE}

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str):
            value = _SPACE_FOR_PLUS.sub(r"\1+\2", value.strip())
            # django-filter would place a naive time in the server's zone; we refuse to guess.
            if lacks_offset(value):
                raise DjangoValidationError(self.error_messages["naive"], code="naive")
        parsed = super().to_python(value)
        problem = aware_datetime_problem(parsed) if parsed is not None else None
        if problem:
            raise DjangoValidationError(problem, code="out_of_range")
        return parsed


class AwareIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = AwareIsoDateTimeField


class StrictBooleanFilter(django_filters.TypedChoiceFilter):
    """``true`` or ``false``; anything else is a 400, not silently ignored as django-filter would."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=[("true", "true"), ("false", "false")], coerce=lambda raw: raw == "true", **kwargs)


def _request_wards(request: Request | None) -> QuerySet[Ward]:
    return visible_wards(request.user) if request is not None else Ward.objects.none()


def _request_patients(request: Request | None) -> QuerySet[Patient]:
    return visible_patients(request.user) if request is not None else Patient.objects.none()


class PatientFilter(django_filters.FilterSet):
    ward = django_filters.ModelChoiceFilter(queryset=_request_wards, help_text="Only this ward's patients.")
    active = StrictBooleanFilter(method="filter_active", help_text="true: not discharged; false: discharged.")

    class Meta:
        model = Patient
        fields = ["ward", "active"]

    def filter_active(self, queryset: QuerySet[Patient], name: str, value: bool) -> QuerySet[Patient]:
        return queryset.filter(discharged_at__isnull=value)


class ObservationFilter(django_filters.FilterSet):
    patient = django_filters.ModelChoiceFilter(queryset=_request_patients)
    type = django_filters.ChoiceFilter(choices=VitalType.choices)
    since = AwareIsoDateTimeFilter(field_name="measured_at", lookup_expr="gte", help_text="measured_at ≥, with offset.")
    until = AwareIsoDateTimeFilter(field_name="measured_at", lookup_expr="lte", help_text="measured_at ≤, with offset.")

    class Meta:
        model = Observation
        fields = ["patient", "type", "since", "until"]


class ScoreHistoryFilter(django_filters.FilterSet):
    since = AwareIsoDateTimeFilter(field_name="as_of", lookup_expr="gte")
    until = AwareIsoDateTimeFilter(field_name="as_of", lookup_expr="lte")


# --- views ------------------------------------------------------------------------------------


@extend_schema_view(list=extend_schema(summary="Wards you can see"), retrieve=extend_schema(summary="One ward"))
@extend_schema(tags=["Wards"])
class WardViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = WardSerializer

    def get_queryset(self) -> QuerySet[Ward]:
        return selectors.ward_list(user=self.request.user)


@extend_schema_view(
    list=extend_schema(summary="Patients you can see"),
    retrieve=extend_schema(summary="One patient"),
    create=extend_schema(summary="Admit a patient", request=PatientAdmitSerializer, responses={201: PatientSerializer}),
)
@extend_schema(tags=["Patients"])
class PatientViewSet(AuditedReadsMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = PatientSerializer
    filterset_class = PatientFilter
    audit_actions = {
        "score": "patient.score_viewed",
        "scores": "patient.scores_viewed",
        "spo2_scale": "patient.spo2_scale_viewed",
        # Sharing a record outside the platform is the access most worth tracing.
        "fhir": "patient.fhir_exported",
        "stays": "patient.stays_viewed",
        "phones": "patient.phones_viewed",
        "contacts": "patient.contacts_viewed",
    }

    def get_queryset(self) -> QuerySet[Patient]:
        return selectors.patient_list(user=self.request.user)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        given = PatientAdmitSerializer(data=request.data, context=self.get_serializer_context())
        given.is_valid(raise_exception=True)
        with service_errors():
            patient = services.patient_admit(user=request.user, **given.validated_data)
        return Response(self._fresh(request, patient), status=status.HTTP_201_CREATED)

    def _fresh(self, request: Request, patient: Patient) -> dict[str, Any]:
        return PatientSerializer(selectors.patient_list(user=request.user).get(pk=patient.pk)).data

    @extend_schema(
        summary="Readmit a discharged patient (a new stay on the same record)",
        request=PatientReadmitSerializer,
        responses={201: StaySerializer},
    )
    @action(detail=True, methods=["post"])
    def readmit(self, request: Request, pk: str | None = None) -> Response:
        given = PatientReadmitSerializer(data=request.data, context=self.get_serializer_context())
        given.is_valid(raise_exception=True)
        data = dict(given.validated_data)
        ward, admitted_at = data.pop("ward"), data.pop("admitted_at", None)
        with service_errors():
            stay = stays.patient_readmit(
                patient=self.get_object(), user=request.user, ward=ward, details=stays.StayDetails(**data),
                admitted_at=admitted_at,
            )  # fmt: skip
        return Response(StaySerializer(stay).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="The patient's stays, newest first", responses=StaySerializer(many=True), filters=False)
    @action(detail=True, methods=["get"], pagination_class=None)
    def stays(self, request: Request, pk: str | None = None) -> Response:
        patient = self.get_object()
        return Response(StaySerializer(selectors.stay_list_of(patient=patient), many=True).data)

    @extend_schema(
        summary="Change parts of the patient's record", request=PatientRecordSerializer, responses=PatientSerializer
    )
    @action(detail=True, methods=["patch"])
    def record(self, request: Request, pk: str | None = None) -> Response:
        given = PatientRecordSerializer(data=request.data, partial=True)
        given.is_valid(raise_exception=True)
        with service_errors():
            patient = record_services.patient_record_update(
                patient=self.get_object(), user=request.user, changes=dict(given.validated_data)
            )
        return Response(self._fresh(request, patient))

    @extend_schema(
        methods=["GET"],
        summary="The patient's phone numbers",
        responses=PatientPhoneSerializer(many=True),
        filters=False,
    )
    @extend_schema(
        methods=["POST"],
        summary="Add a phone number",
        request=PatientPhoneSerializer,
        responses={201: PatientPhoneSerializer},
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def phones(self, request: Request, pk: str | None = None) -> Response:
        patient = self.get_object()
        if request.method == "GET":
            return Response(PatientPhoneSerializer(patient.phones.all(), many=True).data)
        given = PatientPhoneSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        with service_errors():
            phone = record_services.patient_phone_add(patient=patient, user=request.user, **given.validated_data)
        return Response(PatientPhoneSerializer(phone).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        methods=["GET"], summary="Next of kin and carers", responses=ContactSerializer(many=True), filters=False
    )
    @extend_schema(
        methods=["POST"],
        summary="Add a next of kin or carer",
        request=ContactSerializer,
        responses={201: ContactSerializer},
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def contacts(self, request: Request, pk: str | None = None) -> Response:
        patient = self.get_object()
        if request.method == "GET":
            return Response(ContactSerializer(patient.contacts.all(), many=True).data)
        given = ContactSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        with service_errors():
            contact = record_services.contact_add(patient=patient, user=request.user, **given.validated_data)
        return Response(ContactSerializer(contact).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Discharge a patient", request=PatientDischargeSerializer, responses=PatientSerializer)
    @action(detail=True, methods=["post"])
    def discharge(self, request: Request, pk: str | None = None) -> Response:
        given = PatientDischargeSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        with service_errors():
            patient = services.patient_discharge(patient=self.get_object(), user=request.user, **given.validated_data)
        return Response(self._fresh(request, patient))

    @extend_schema(
        summary="The patient's current NEWS2",
        description="Always 200: `score` is null, with a `reason`, until a score has been computed.",
        responses=CurrentScoreSerializer,
        filters=False,
    )
    @action(detail=True, methods=["get"])
    def score(self, request: Request, pk: str | None = None) -> Response:
        patient = self.get_object()
        current = selectors.patient_current_score(patient=patient)
        return Response(CurrentScoreSerializer(current_score_data(patient.pk, current)).data)

    @extend_schema(
        summary="The patient's NEWS2 history, newest first",
        responses=EarlyWarningScoreSerializer(many=True),
        parameters=[
            OpenApiParameter("since", OpenApiTypes.DATETIME, description="as_of ≥, ISO 8601 with offset."),
            OpenApiParameter("until", OpenApiTypes.DATETIME, description="as_of ≤, ISO 8601 with offset."),
        ],
        filters=False,
    )
    @action(detail=True, methods=["get"])
    def scores(self, request: Request, pk: str | None = None) -> Response:
        scores = selectors.patient_score_history(patient=self.get_object())
        history = ScoreHistoryFilter(request.query_params, queryset=scores)
        if not history.is_valid():
            raise serializers.ValidationError(history.errors)
        page = self.paginate_queryset(history.qs)
        return self.get_paginated_response(EarlyWarningScoreSerializer(page, many=True).data)

    @extend_schema(
        methods=["GET"], summary="SpO2 scale decisions, newest first", responses=SpO2ScaleChangeSerializer(many=True),
        filters=False,
    )  # fmt: skip
    @extend_schema(
        methods=["POST"],
        summary="Set the SpO2 scale (clinicians of the ward and administrators)",
        request=SpO2ScaleInputSerializer,
        responses={201: SpO2ScaleChangeSerializer},
    )
    @action(detail=True, methods=["get", "post"], url_path="spo2-scale", pagination_class=None)
    def spo2_scale(self, request: Request, pk: str | None = None) -> Response:
        patient = self.get_object()
        if request.method == "GET":
            changes = patient.scale_changes.select_related("changed_by")
            return Response(SpO2ScaleChangeSerializer(changes, many=True).data)
        given = SpO2ScaleInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        with service_errors():
            change = services.patient_set_spo2_scale(patient=patient, user=request.user, **given.validated_data)
        return Response(SpO2ScaleChangeSerializer(change).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="The patient as a FHIR R4 UK Core Patient (also at /fhir/R4/Patient/{id}, docs/fhir.md)",
        responses=OpenApiTypes.OBJECT,
        filters=False,
    )
    @action(detail=True, methods=["get"], renderer_classes=FHIR_RENDERERS)
    def fhir(self, request: Request, pk: str | None = None) -> Response:
        from ukcore.resources.patient import patient_resource

        return Response(patient_resource(self.get_object()))


class StayFilter(django_filters.FilterSet):
    ward = django_filters.ModelChoiceFilter(queryset=_request_wards, help_text="Only this ward's stays.")
    open = StrictBooleanFilter(method="filter_open", help_text="true: not yet discharged; false: ended.")
    readmission = StrictBooleanFilter(method="filter_readmission", help_text="true: readmissions within 30 days.")
    admitted_since = AwareIsoDateTimeFilter(field_name="admitted_at", lookup_expr="gte")
    admitted_until = AwareIsoDateTimeFilter(field_name="admitted_at", lookup_expr="lte")

    class Meta:
        model = Stay
        fields = ["ward", "open", "readmission", "pathway", "direction", "referral_source", "outcome"]

    def filter_open(self, queryset: QuerySet[Stay], name: str, value: bool) -> QuerySet[Stay]:
        return queryset.filter(discharged_at__isnull=value)

    def filter_readmission(self, queryset: QuerySet[Stay], name: str, value: bool) -> QuerySet[Stay]:
        return queryset.filter(readmission_of__isnull=not value)


@extend_schema_view(list=extend_schema(summary="Stays on the wards you can see, newest first"),
                    retrieve=extend_schema(summary="One stay"))  # fmt: skip
@extend_schema(tags=["Stays"])
class StayViewSet(AuditedReadsMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = StaySerializer
    filterset_class = StayFilter

    def get_queryset(self) -> QuerySet[Stay]:
        return selectors.stay_list(user=self.request.user)

    @extend_schema(
        summary="Set or clear the open stay's expected discharge date",
        request=ExpectedDischargeSerializer,
        responses=StaySerializer,
    )
    @action(detail=True, methods=["post"], url_path="expected-discharge")
    def expected_discharge(self, request: Request, pk: str | None = None) -> Response:
        given = ExpectedDischargeSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        with service_errors():
            stay = stays.stay_set_expected_discharge(stay=self.get_object(), user=request.user, **given.validated_data)
        return Response(StaySerializer(stay).data)


@extend_schema_view(
    list=extend_schema(summary="Observations of patients you can see, newest first"),
    retrieve=extend_schema(summary="One observation"),
    create=extend_schema(
        summary="Enter an observation by hand",
        description="For readings taken in person or on a call (e.g. consciousness, on oxygen). "
        "Same types, units and plausible ranges as the device protocol.",
        request=ManualObservationSerializer,
        responses={201: ObservationSerializer},
    ),
)
@extend_schema(tags=["Observations"])
class ObservationViewSet(AuditedReadsMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = ObservationSerializer
    filterset_class = ObservationFilter
    pagination_class = ObservationPagination
    audit_actions = {"fhir": "observation.fhir_exported"}

    def get_queryset(self) -> QuerySet[Observation]:
        return selectors.observation_list(user=self.request.user)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        given = ManualObservationSerializer(data=request.data, context=self.get_serializer_context())
        given.is_valid(raise_exception=True)
        with service_errors():
            observation = services.observation_record_manual(user=request.user, **given.validated_data)
        return Response(ObservationSerializer(observation).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="The observation as a FHIR R4 UK Core Observation (a blood pressure: its panel; docs/fhir.md)",
        responses=OpenApiTypes.OBJECT,
        filters=False,
    )
    @action(detail=True, methods=["get"], renderer_classes=FHIR_RENDERERS)
    def fhir(self, request: Request, pk: str | None = None) -> Response:
        from ukcore.resources.observations import observation_resource
        from ukcore.selectors import blood_pressure_partners

        observation = self.get_object()
        return Response(observation_resource(observation, blood_pressure_partners([observation]).get(observation.pk)))
