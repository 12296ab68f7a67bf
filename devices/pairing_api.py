"""Machine API for pairing: gateways present a code and serial and receive their credentials.

    POST /api/v1/pairing/          {"code": "ABCD-2345", "serial": "SN-000123"}  -> 201 credentials
    POST /api/v1/pairing/collect/  {"serial": "SN-000123"}                       -> 200 credentials
    POST /api/v1/devices/<pk>/unpair/ {"reason": "lost"}  (staff)                -> 200

No log-in: the code is the authority, so both anonymous endpoints are throttled per IP (DRF
"pairing" rate) on top of the service's own per-IP and per-code-prefix guessing limit.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from accounts.access import visible_patients
from accounts.permissions import IsStaff
from devices.models import Device
from devices.pairing import PairingError, device_credentials_collect, device_unpair, pairing_complete


class PairingRequest(serializers.Serializer):
    code = serializers.CharField(max_length=32)
    serial = serializers.CharField(max_length=64)
    csr = serializers.CharField(
        max_length=16_000,
        required=False,
        default="",
        trim_whitespace=False,
        help_text="Optional PEM certificate signing request for the device's own key: the response then "
        "carries a client certificate for mutual TLS (its subject is set to the device id).",
    )


class CollectRequest(serializers.Serializer):
    serial = serializers.CharField(max_length=64)


class UnpairRequest(serializers.Serializer):
    reason = serializers.CharField(max_length=200)


def client_ip(request: Any) -> str:
    # REMOTE_ADDR only: X-Forwarded-For is client-controlled unless a trusted proxy rewrites it,
    # and a spoofable key would let a guesser dodge the limit.
    return request.META.get("REMOTE_ADDR", "")


def refused(error: PairingError) -> Response:
    code = status.HTTP_429_TOO_MANY_REQUESTS if error.reason == "too_many_attempts" else status.HTTP_400_BAD_REQUEST
    return Response({"reason": error.reason, "detail": error.message}, status=code)


class _Anonymous(APIView):
    authentication_classes: list = []  # no session, so no CSRF: gateways are not browsers
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "pairing"


class PairingResponse(serializers.Serializer):
    device_id = serializers.CharField()
    secret = serializers.CharField(help_text="Shown once. Only a hash is kept.")
    mqtt = serializers.DictField(help_text="host, port, tls")
    topics = serializers.DictField(child=serializers.CharField())
    config = serializers.DictField()
    certificate = serializers.CharField(required=False, help_text="PEM client certificate, when a CSR was sent.")
    ca_certificate = serializers.CharField(required=False, help_text="PEM CA that signs the broker's certificate.")


class RefusalResponse(serializers.Serializer):
    reason = serializers.CharField()
    detail = serializers.CharField()


REFUSALS = {400: OpenApiResponse(RefusalResponse), 429: OpenApiResponse(RefusalResponse)}


class PairingView(_Anonymous):
    @extend_schema(request=PairingRequest, responses={201: PairingResponse, **REFUSALS}, tags=["pairing"])
    def post(self, request: Request) -> Response:
        body = PairingRequest(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            result = pairing_complete(
                code=body.validated_data["code"],
                serial=body.validated_data["serial"],
                client_ip=client_ip(request),
                csr=body.validated_data["csr"],
            )
        except PairingError as error:
            return refused(error)
        return Response(result.as_api(), status=status.HTTP_201_CREATED)


class CollectView(_Anonymous):
    @extend_schema(request=CollectRequest, responses={200: PairingResponse, **REFUSALS}, tags=["pairing"])
    def post(self, request: Request) -> Response:
        body = CollectRequest(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            result = device_credentials_collect(serial=body.validated_data["serial"], client_ip=client_ip(request))
        except PairingError as error:
            return refused(error)
        return Response(result.as_api())


class DeviceUnpairView(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        request=UnpairRequest, responses={200: OpenApiResponse(description="device_id, revoked_at")}, tags=["devices"]
    )
    def post(self, request: Request, pk: int) -> Response:
        body = UnpairRequest(data=request.data)
        body.is_valid(raise_exception=True)
        device = Device.objects.filter(pk=pk, patient__in=visible_patients(request.user)).first()
        if device is None:
            raise Http404("No such device.")
        device = device_unpair(
            device=device, user=request.user, reason=body.validated_data["reason"], route=request.path
        )
        return Response({"device_id": device.device_id, "revoked_at": device.revoked_at})
