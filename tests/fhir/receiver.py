"""A FHIR receiver on loopback (port 0) for the end-to-end tests: it keeps every POST, and can be
told to fail the next few with a status of our choosing."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Receiver:
    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)  # statuses to answer before accepting
    attempts: int = 0


@contextlib.contextmanager
def fhir_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                receiver.attempts += 1
                status = receiver.fail_next.pop(0) if receiver.fail_next else 0
                if not status:
                    receiver.received.append(json.loads(body))
                    receiver.headers.append(dict(self.headers))
            if status:
                outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "transient"}]}
                self._answer(status, outcome)
                return
            accepted = {
                "resourceType": "OperationOutcome",
                "issue": [{"severity": "information", "code": "informational"}],
            }
            self._answer(201, accepted, location="Bundle/received-1")

        def _answer(self, status: int, body: dict, location: str = "") -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", str(len(data)))
            if location:
                self.send_header("Location", location)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{httpd.server_address[1]}/fhir/Bundle"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
