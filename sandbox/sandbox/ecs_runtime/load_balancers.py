"""The sandbox's stand-in for an Application Load Balancer: each listener a TCP proxy on the balancer's own
loopback address, forwarding each connection to the next healthy target of its target group; a target is
healthy when its health check path answers 200.

NOTE: an ALB speaks HTTP and checks a target twice (HealthyThresholdCount) before it counts; the sandbox
forwards TCP (HTTP passes through unchanged) and counts a target from its first good answer, so a deploy
is not slowed by the thresholds. With no healthy target it answers 503, as an ALB does.
"""

from __future__ import annotations

import asyncio
import http.client
import itertools
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from sandbox.ecs_runtime.moto_view import Listener

NO_TARGET = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
Target = tuple[str, int]


def check(target: Target, path: str, timeout: float = 2.0) -> tuple[str, str]:
    """A target's health as an ALB states it: ("healthy", "") or ("unhealthy", its reason)."""
    connection = http.client.HTTPConnection(target[0], target[1], timeout=timeout)
    try:
        connection.request("GET", path)
        status = connection.getresponse().status
    except TimeoutError:
        return "unhealthy", "Target.Timeout"
    except OSError:
        return "unhealthy", "Target.FailedHealthChecks"
    finally:
        connection.close()
    return ("healthy", "") if status == 200 else ("unhealthy", "Target.ResponseCodeMismatch")


class LoadBalancers:
    """Every listener's proxy, on an event loop of its own thread (idle, it costs nothing)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.servers: dict[tuple[str, int], asyncio.Server] = {}
        self.routes: dict[tuple[str, int], str] = {}
        self.healthy: dict[str, list[Target]] = {}
        self.turns: dict[str, Iterator[int]] = {}
        threading.Thread(target=self.loop.run_forever, name="sandbox-load-balancers", daemon=True).start()

    def sync(self, listeners: list[Listener], healthy: dict[str, list[Target]]) -> None:
        """Listen where ``listeners`` say (and nowhere else), forwarding to ``healthy`` targets by target group."""
        asyncio.run_coroutine_threadsafe(self._sync(listeners, healthy), self.loop).result(timeout=30)

    async def _sync(self, listeners: list[Listener], healthy: dict[str, list[Target]]) -> None:
        self.healthy = {arn: sorted(targets) for arn, targets in healthy.items()}
        wanted = {(item.address, item.port): item.target_group_arn for item in listeners}
        for where in set(self.servers) - set(wanted):
            self.servers.pop(where).close()
        for where, group in wanted.items():
            self.routes[where] = group
            if where not in self.servers:
                self.servers[where] = await asyncio.start_server(self._handler(where), host=where[0], port=where[1])

    def _handler(
        self, where: tuple[str, int]
    ) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Coroutine[Any, Any, None]]:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._forward(where, reader, writer)

        return handle

    def _next_target(self, where: tuple[str, int]) -> Target | None:
        targets = self.healthy.get(self.routes.get(where, ""), [])
        if not targets:
            return None
        turn = self.turns.setdefault(self.routes[where], itertools.count())
        return targets[next(turn) % len(targets)]

    async def _forward(
        self, where: tuple[str, int], reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        target = self._next_target(where)
        if target is None:
            writer.write(NO_TARGET)
            await writer.drain()
            writer.close()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*target)
        except OSError:
            writer.write(NO_TARGET.replace(b"503 Service Unavailable", b"502 Bad Gateway"))
            await writer.drain()
            writer.close()
            return
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()
