"""An HTTP proxy on 127.0.0.1 that puts faults between the pipeline and a server of the sandbox (moto, a registry).

It relays each request to its upstream as it is, on a connection of its own, and the answer back; until told
otherwise it changes nothing. :meth:`FaultProxy.inject` arms a fault for the next ``times`` requests that match:

- ``throttle``: answered at once, never relayed, as AWS answers a caller over its rate (``Throttling`` for the
  query and XML protocols, ``ThrottlingException`` for the JSON ones, ``SlowDown`` with 503 for S3; a registry
  gets 429 ``TOOMANYREQUESTS``).
- ``500`` and ``503``: answered at once with that status (``InternalError``, ``ServiceUnavailable``).
- ``reset``: relayed; the answer's head and half its body reach the client, then the connection is reset
  (RST): the upstream did the work, the caller does not know it.
- ``drop``: the request is read and the connection reset before any answer; nothing is relayed.
- ``slow``: relayed after ``delay`` seconds.

What it did is counted (:attr:`FaultProxy.applied`, per fault; :attr:`FaultProxy.relayed`), so a test can tell a
fault that happened from one that did not. It runs its own event loop in a thread, for a test's ``with`` block.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import struct
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Self

Fault = Literal["throttle", "500", "503", "reset", "drop", "slow"]
FAULTS: tuple[Fault, ...] = ("throttle", "500", "503", "reset", "drop", "slow")
HEAD_LIMIT = 64 * 1024


@dataclass(frozen=True)
class Request:
    """What a fault can be matched on: the request line and headers (names in lower case)."""

    method: str
    target: str
    headers: dict[str, str]

    @property
    def service(self) -> str:
        """The AWS service the request is signed for (``s3``, ``ecs`` ...), or ``""`` (a registry's)."""
        found = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", self.headers.get("authorization", ""))
        return found.group(1) if found else ""

    @property
    def operation(self) -> str:
        """The JSON protocols' ``X-Amz-Target`` operation (``AmazonSSM.PutParameter`` -> ``PutParameter``)."""
        return self.headers.get("x-amz-target", "").rpartition(".")[2]


@dataclass
class Armed:
    fault: Fault
    times: int
    match: Callable[[Request], bool]
    delay: float


@dataclass
class FaultProxy:
    """A proxy to ``upstream_port`` on 127.0.0.1 (``port`` 0: a free one)."""

    upstream_port: int
    port: int = 0
    applied: Counter[str] = field(default_factory=Counter)
    relayed: int = 0
    _armed: list[Armed] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _loop: asyncio.AbstractEventLoop | None = None
    _server: asyncio.Server | None = None
    _thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def inject(
        self,
        fault: Fault,
        times: int = 1,
        match: Callable[[Request], bool] = lambda request: True,
        delay: float = 5.0,
    ) -> None:
        """Arm ``fault`` for the next ``times`` requests for which ``match`` is true."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}: use one of {', '.join(FAULTS)}")
        with self._lock:
            self._armed.append(Armed(fault, times, match, delay))

    def pending(self) -> int:
        """How many armed faults have not happened yet."""
        with self._lock:
            return sum(armed.times for armed in self._armed)

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()

    def _take(self, request: Request) -> Armed | None:
        with self._lock:
            for armed in self._armed:
                if armed.times > 0 and armed.match(request):
                    armed.times -= 1
                    self.applied[armed.fault] += 1
                    return armed
        return None

    # -- running -------------------------------------------------------------------------------

    def __enter__(self) -> Self:
        started = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            self._server = loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", self.port))
            self.port = self._server.sockets[0].getsockname()[1]
            started.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name=f"fault-proxy-{self.upstream_port}", daemon=True)
        self._thread.start()
        started.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        loop, server = self._loop, self._server
        if loop is None or server is None:
            return

        async def stop() -> None:
            server.close()
            serving = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for connection in serving:  # the clients' open connections
                connection.cancel()
            await asyncio.gather(*serving, return_exceptions=True)
            await server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    # -- one client connection -----------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await read_request(reader, writer)
                if request is None:
                    return
                head, body, parsed = request
                armed = self._take(parsed)
                if armed is None or armed.fault == "slow":
                    if armed is not None:
                        await asyncio.sleep(armed.delay)
                    keep = await self._relay(head, body, writer, cut=False)
                elif armed.fault == "reset":
                    await self._relay(head, body, writer, cut=True)
                    keep = False
                elif armed.fault == "drop":
                    reset(writer)
                    keep = False
                else:
                    writer.write(error_answer(armed.fault, parsed))
                    await writer.drain()
                    keep = True
                if not keep:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            if not writer.is_closing():
                writer.close()

    async def _relay(self, head: bytes, body: bytes, writer: asyncio.StreamWriter, cut: bool) -> bool:
        """Send the request upstream and its answer back (``cut``: half its body, then a reset); True when the
        client's connection can take another request."""
        self.relayed += 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        try:
            up_writer.write(with_header(head, "Connection", "close") + body)
            await up_writer.drain()
            answer = await up_reader.readuntil(b"\r\n\r\n")
            length = header(answer, "content-length")
            framed = length is not None or "chunked" in (header(answer, "transfer-encoding") or "")
            rest = await up_reader.read()
            if cut:
                writer.write(answer + rest[: max(1, len(rest) // 2)])
                await writer.drain()
                reset(writer)
                return False
            writer.write(answer + rest)
            await writer.drain()
            return framed
        finally:
            up_writer.close()


async def read_request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> tuple[bytes, bytes, Request] | None:
    """The next request on a client connection: its head, its body, what it is; None at the connection's end.

    A client that asks ``Expect: 100-continue`` (botocore's S3 uploads) is told to go on here, and the request is
    relayed without the header: its whole body is read first."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    if len(head) > HEAD_LIMIT:
        raise ConnectionError("request head too long")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = (lines[0].split(" ", 2) + ["", ""])[:3]
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if headers.get("expect", "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        await writer.drain()
        head = re.sub(rb"\r\nexpect:[^\r\n]*", b"", head, flags=re.IGNORECASE)
    if "chunked" in headers.get("transfer-encoding", ""):
        body = await read_chunked(reader)
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
    return head, body, Request(method, target, headers)


async def read_chunked(reader: asyncio.StreamReader) -> bytes:
    """A chunked body as it came (chunk sizes and all): relayed as is."""
    parts = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        parts.append(size_line)
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            parts.append(await reader.readuntil(b"\r\n"))  # the trailer's end (no trailers here)
            return b"".join(parts)
        parts.append(await reader.readexactly(size + 2))


def header(head: bytes, name: str) -> str | None:
    found = re.search(rb"\r\n" + name.encode() + rb":\s*([^\r\n]*)", head, re.IGNORECASE)
    return found.group(1).decode("latin-1") if found else None


def with_header(head: bytes, name: str, value: str) -> bytes:
    """``head`` with header ``name`` set to ``value`` (replaced where it was)."""
    without = re.sub(rb"\r\n" + name.encode() + rb":[^\r\n]*", b"", head, flags=re.IGNORECASE)
    return without[:-4] + f"\r\n{name}: {value}\r\n\r\n".encode()


def reset(writer: asyncio.StreamWriter) -> None:
    """Close the client's connection with a reset (RST), as a dropped connection or a crashed server does."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def error_answer(fault: Fault, request: Request) -> bytes:
    """The answer AWS (or a registry) gives for ``fault``, in the protocol of ``request``."""
    service = request.service
    if fault == "throttle":
        status, code, message = (
            (503, "SlowDown", "Please reduce your request rate.")
            if service == "s3"
            else ((400, "Throttling", "Rate exceeded") if service else (429, "TOOMANYREQUESTS", "too many requests"))
        )
    elif fault == "500":
        status, code, message = 500, "InternalError", "We encountered an internal error. Please try again."
    else:
        status, code, message = 503, "ServiceUnavailable", "Service is unavailable. Please try again."
    if not service:  # a registry: the distribution API's error body
        body = json.dumps({"errors": [{"code": code, "message": message}]}).encode()
        content_type = "application/json"
    elif "json" in request.headers.get("content-type", ""):
        exception = "ThrottlingException" if fault == "throttle" else code
        body = json.dumps({"__type": exception, "message": message}).encode()
        content_type = "application/x-amz-json-1.1"
    elif service == "s3":
        body = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>".encode()
        content_type = "application/xml"
    else:
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            "<RequestId>cloudops-fault-proxy</RequestId></ErrorResponse>"
        ).encode()
        content_type = "text/xml"
    reason = {400: "Bad Request", 429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}
    head = (
        f"HTTP/1.1 {status} {reason[status]}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        "x-amzn-RequestId: cloudops-fault-proxy\r\n\r\n"
    )
    return head.encode() + body
