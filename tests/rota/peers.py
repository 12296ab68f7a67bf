"""Real protocol peers, started by the tests on loopback: an SMTP server (aiosmtpd), an HTTP
server answering GOV.UK Notify's documented API (POST /v2/notifications/sms with its JWT), and a
Web Push endpoint that checks the VAPID token and decrypts the RFC 8291 payload (http_ece)."""

from __future__ import annotations

import base64
import contextlib
import email
import email.policy
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
import jwt
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from virtualward.embedded import free_port


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- SMTP -----------------------------------------------------------------------------------


@dataclass
class SmtpServer:
    port: int
    messages: list[email.message.EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 15) -> list[email.message.EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages


@contextlib.contextmanager
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer(port=free_port())
    controller = Controller(server, hostname="127.0.0.1", port=server.port)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


# --- HTTP peers -------------------------------------------------------------------------------


@dataclass
class HttpPeer:
    port: int
    requests: list[dict[str, Any]] = field(default_factory=list)
    answer_status: int = 201

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_for(self, count: int, timeout: float = 15) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.requests


@contextlib.contextmanager
def _serve(peer: HttpPeer, handle: Any) -> Iterator[HttpPeer]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status, answer = handle(self.path, self.headers, body)  # case-insensitive get
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", peer.port), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield peer
    finally:
        httpd.shutdown()
        httpd.server_close()


# --- GOV.UK Notify ------------------------------------------------------------------------


@dataclass
class NotifyServer(HttpPeer):
    service_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    secret: str = field(default_factory=lambda: str(uuid.uuid4()))
    template_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def api_key(self) -> str:
        # Notify's key format: {key name}-{service id}-{secret key}
        return f"vw_test-{self.service_id}-{self.secret}"


@contextlib.contextmanager
def notify_server() -> Iterator[NotifyServer]:
    """Answers POST /v2/notifications/sms as Notify documents it, checking the client's JWT."""
    peer = NotifyServer(port=free_port())

    def handle(path: str, headers: Any, body: bytes) -> tuple[int, dict]:
        token = headers.get("Authorization", "").removeprefix("Bearer ")
        try:
            claims = jwt.decode(token, peer.secret, algorithms=["HS256"], options={"require": ["iss", "iat"]})
        except jwt.PyJWTError as exc:
            return 403, {"status_code": 403, "errors": [{"error": "AuthError", "message": f"Invalid token: {exc}"}]}
        if claims["iss"] != peer.service_id or abs(time.time() - claims["iat"]) > 30:
            return 403, {"status_code": 403, "errors": [{"error": "AuthError", "message": "Invalid token: iss or iat"}]}
        if path != "/v2/notifications/sms":
            return 404, {"status_code": 404, "errors": [{"error": "NotFound", "message": path}]}
        data = json.loads(body)
        peer.requests.append({"path": path, "claims": claims, "json": data})
        if peer.answer_status != 201:
            return peer.answer_status, {
                "status_code": peer.answer_status,
                "errors": [
                    {"error": "BadRequestError", "message": "Can't send to this recipient using a team-only API key"}
                ],
            }
        notification_id = str(uuid.uuid4())
        return 201, {
            "id": notification_id,
            "reference": data.get("reference"),
            "content": {"body": data["personalisation"]["message"], "from_number": "GOVUK"},
            "uri": f"{peer.url}/v2/notifications/{notification_id}",
            "template": {
                "id": data["template_id"],
                "version": 1,
                "uri": f"{peer.url}/v2/template/{data['template_id']}",
            },
        }

    with _serve(peer, handle):
        yield peer


# --- Web Push -------------------------------------------------------------------------------


@dataclass
class PushEndpoint(HttpPeer):
    """A push service and the browser behind it: holds the subscription's private key."""

    receiver: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth_secret: bytes = field(default_factory=lambda: os.urandom(16))
    vapid_private: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))

    @property
    def endpoint(self) -> str:
        return f"{self.url}/push/{self.port}"

    @property
    def p256dh(self) -> str:
        return b64url(
            self.receiver.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )

    @property
    def auth(self) -> str:
        return b64url(self.auth_secret)

    @property
    def vapid_private_key(self) -> str:
        """As the server's VAPID_PRIVATE_KEY setting holds it: the raw 32-byte scalar, base64url."""
        return b64url(self.vapid_private.private_numbers().private_value.to_bytes(32, "big"))


@contextlib.contextmanager
def push_endpoint() -> Iterator[PushEndpoint]:
    peer = PushEndpoint(port=free_port())

    def handle(path: str, headers: Any, body: bytes) -> tuple[int, dict]:
        scheme, _, params = headers.get("Authorization", "").partition(" ")
        fields = dict(part.strip().split("=", 1) for part in params.split(","))
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(fields["k"]))
        claims = jwt.decode(fields["t"], public, algorithms=["ES256"], audience=peer.url)
        expected = peer.vapid_private.public_key().public_numbers()
        if scheme != "vapid" or public.public_numbers() != expected:
            return 401, {"error": "VAPID key does not match"}
        if headers.get("Content-Encoding") != "aes128gcm":
            return 400, {"error": "expected aes128gcm"}
        plain = http_ece.decrypt(body, private_key=peer.receiver, auth_secret=peer.auth_secret, version="aes128gcm")
        peer.requests.append({"path": path, "claims": claims, "ttl": headers.get("TTL"), "json": json.loads(plain)})
        return peer.answer_status, {}

    with _serve(peer, handle):
        yield peer
