"""What the release command says of each published app endpoint: its /health asked once, against a real server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cloudops.endpoint_health import health_text
from cloudops.netutil import free_port


class Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server protocol
        body = json.dumps({"status": "ok", "version": "2026.01.02-1", "commit": "c" * 40}).encode()
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()


def test_an_answering_endpoint_gives_its_status_and_version(server: str) -> None:
    assert health_text(server) == f"answers 200, version 2026.01.02-1 (commit {'c' * 12})"


def test_an_endpoint_nothing_listens_at_says_so() -> None:
    text = health_text(f"http://127.0.0.1:{free_port()}", timeout=2)
    assert text.startswith("does not answer at http://127.0.0.1:") and text.endswith("ConnectError")


def test_it_waits_for_an_endpoint_that_starts_answering_within_the_wait() -> None:
    port = free_port()
    httpd: list[ThreadingHTTPServer] = []

    def start_late() -> None:
        time.sleep(2)
        httpd.append(ThreadingHTTPServer(("127.0.0.1", port), Health))
        httpd[0].serve_forever()

    threading.Thread(target=start_late, daemon=True).start()
    try:
        assert health_text(f"http://127.0.0.1:{port}", timeout=1, wait=20).startswith("answers 200, version ")
    finally:
        if httpd:
            httpd[0].shutdown()
