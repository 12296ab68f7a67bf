"""Machine API for pairing: gateways present a code and serial and receive their credentials.

    POST /api/v1/pairing/          {"code": "ABCD-2345", "serial": "SN-000123"}  -> 201 credentials
    POST /api/v1/pairing/collect/  {"serial": "SN-000123", "claim_key": "..."}   -> 200 credentials
    (either may carry "csr": a PEM request for the device's own key -> a client certificate too)
    POST /api/v1/devices/<pk>/unpair/ {"reason": "lost"}  (staff)                -> 200

No log-in: the code (or, to collect, the device's factory key) is the authority, so both
anonymous endpoints are throttled per source (DRF "pairing" rate) on top of the service's own
per-source guessing limit. The source is the client's address as virtualward/client_ip.py
finds it: forwarded headers count only from VW_TRUSTED_PROXIES.
"""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import Throttled
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from accounts.access import visible_patients
from accounts.permissions import IsStaff
from devices.models import Device
from devices.pairing import PairingError, device_credentials_collect, device_unpair, pairing_complete
from virtualward.client_ip import client_ip, source_key


def csr_field() -> serializers.CharField:
    return serializers.CharField(
        max_length=16_000,
        required=False,
        default="",
        trim_whitespace=False,
        help_text="Optional PEM certificate signing request for the device's own key: the response then "
        "carries a client certificate for mutual TLS (its subject is set to the device id).",
    )


class PairingRequest(serializers.Serializer):
    code = serializers.CharField(max_length=32)
    serial = serializers.CharField(max_length=64)
    csr = csr_field()


class CollectRequest(serializers.Serializer):
    serial = serializers.CharField(max_length=64)
    claim_key = serializers.CharField(max_length=128, help_text="The factory key the device was supplied with.")
    csr = csr_field()


class UnpairRequest(serializers.Serializer):
    reason = serializers.CharField(max_length=200)


class PairingThrottle(ScopedRateThrottle):
    """DRF's scoped throttle keyed on the source, not on a forwarded header anyone can write."""

    def get_ident(self, request: Request) -> str:
        return source_key(client_ip(request))


def refused(error: PairingError) -> Response:
    code = status.HTTP_429_TOO_MANY_REQUESTS if error.reason == "too_many_attempts" else status.HTTP_400_BAD_REQUEST
    return Response({"reason": error.reason, "detail": error.message}, status=code)


class _Anonymous(APIView):
    authentication_classes: list = []  # no session, so no CSRF: gateways are not browsers
    permission_classes = [AllowAny]
    throttle_classes = [PairingThrottle]
    throttle_scope = "pairing"

    def handle_exception(self, exc: Exception) -> Response:
        # A malformed or throttled request is refused in the documented shape of every refusal
        # (reason, detail); field errors stay beside them, Retry-After stays on a 429.
        if isinstance(exc, serializers.ValidationError) and isinstance(exc.detail, dict):
            words = "; ".join(f"{field}: {' '.join(map(str, errors))}" for field, errors in exc.detail.items())
            return Response({"reason": "invalid_request", "detail": words, **exc.detail}, status=400)
        response = super().handle_exception(exc)
        if isinstance(exc, Throttled):
            response.data = {"reason": "too_many_attempts", "detail": str(exc.detail)}
        return response


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
            result = device_credentials_collect(
                serial=body.validated_data["serial"],
                claim_key=body.validated_data["claim_key"],
                client_ip=client_ip(request),
                csr=body.validated_data["csr"],
            )
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
