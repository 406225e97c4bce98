"""Health and Prometheus metrics: a histogram type, the text rendering, a loopback HTTP server."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

from .views import BrokerStatus, RouterView

log = logging.getLogger("linemon.metrics")

DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
# client socket requests: from the whole request read to the answer written
REQUEST_BUCKETS = (0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.25, 1.0)


class Histogram:
    """A cumulative Prometheus-style histogram."""

    def __init__(self, buckets: tuple[float, ...] = DURATION_BUCKETS) -> None:
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.total = 0.0
        self.n = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value
        self.n += 1

    def lines(self, name: str) -> list[str]:
        out = []
        running = 0
        for bound, count in zip(self.buckets, self.counts, strict=False):
            running += count
            out.append(f'{name}_bucket{{le="{bound:g}"}} {running}')
        out.append(f'{name}_bucket{{le="+Inf"}} {self.n}')
        out.append(f"{name}_sum {self.total:.6f}")
        out.append(f"{name}_count {self.n}")
        return out


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(
    status: BrokerStatus,
    routers: list[RouterView],
    durations: Histogram,
    requests: Histogram,
) -> str:
    """The Prometheus text exposition of the broker's state."""
    out: list[str] = []

    def metric(name: str, kind: str, help_: str, samples: list[tuple[str, float]]) -> None:
        out.append(f"# HELP linemon_{name} {help_}")
        out.append(f"# TYPE linemon_{name} {kind}")
        out.extend(f"linemon_{name}{labels} {value}" for labels, value in samples)

    metric("routers", "gauge", "Routers configured.", [("", status.routers)])
    metric("lines", "gauge", "Lines scheduled.", [("", status.lines)])
    metric(
        "sessions",
        "gauge",
        "Open router sessions.",
        [(f'{{router="{_label(r.name)}"}}', r.sessions) for r in routers],
    )
    metric(
        "queue_depth", "gauge", "Pings waiting for a free session.", [("", status.queue_depth)]
    )
    metric(
        "overruns_total",
        "counter",
        "Line slots skipped because the previous ping still ran.",
        [("", status.overruns)],
    )
    metric(
        "pings_total",
        "counter",
        "Ping results by status.",
        [(f'{{status="{_label(s)}"}}', n) for s, n in sorted(status.results.items())],
    )
    metric(
        "reconnects_total",
        "counter",
        "Sessions dropped and reopened.",
        [("", status.reconnects)],
    )
    metric(
        "session_open_failures_total",
        "counter",
        "Failed session opens (backoff follows).",
        [("", status.open_failures)],
    )
    metric(
        "routers_in_backoff",
        "gauge",
        "Routers waiting out a reconnect backoff.",
        [("", status.routers_in_backoff)],
    )
    by_router = [(f'{{router="{_label(r.name)}"}}', r) for r in routers]
    metric(
        "router_open_failures_total",
        "counter",
        "Failed session opens per router.",
        [(labels, r.open_failures) for labels, r in by_router],
    )
    metric(
        "router_backoff_seconds",
        "gauge",
        "Seconds until a router's next session open may be tried (0: not in backoff).",
        [(labels, r.backoff_s) for labels, r in by_router],
    )
    metric(
        "router_load",
        "gauge",
        "Session time a router's lines need / session time it has (1: every session busy).",
        [(labels, r.load) for labels, r in by_router],
    )
    metric(
        "router_skipped_total",
        "counter",
        "Pings never sent because the router's sessions were busy until the next slot.",
        [(labels, r.skipped) for labels, r in by_router],
    )
    metric(
        "pings_late_total",
        "counter",
        "Scheduled pings sent more than 5 s after their slot, or skipped.",
        [("", status.pings_late)],
    )
    metric(
        "pings_on_time_total",
        "counter",
        "Scheduled pings sent to the router within 5 s of their slot.",
        [("", status.pings_on_time)],
    )
    delivery = status.delivery
    for key, kind in (
        ("sent", "counter"),
        ("failed", "counter"),
        ("rejected", "counter"),
        ("pending", "gauge"),
        ("send_errors", "counter"),
        ("held", "gauge"),
        ("lost", "counter"),
        ("spool_errors", "counter"),
    ):
        if isinstance(delivery.get(key), int | float):
            name = f"values_{key}" + ("_total" if kind == "counter" else "")
            metric(name, kind, f"Zabbix values {key}.", [("", delivery[key])])
    out.append("# HELP linemon_ping_duration_seconds Time from start of a ping to its result.")
    out.append("# TYPE linemon_ping_duration_seconds histogram")
    out.extend(f"linemon_{line}" for line in durations.lines("ping_duration_seconds"))
    out.append(
        "# HELP linemon_socket_request_seconds Time the broker takes to answer a client request"
        " (whole request read to answer written; a ping --wait includes its ping)."
    )
    out.append("# TYPE linemon_socket_request_seconds histogram")
    out.extend(f"linemon_{line}" for line in requests.lines("socket_request_seconds"))
    return "\n".join(out) + "\n"


class MetricsServer:
    """GET /healthz and /metrics on a loopback address."""

    def __init__(
        self, listen: str, healthz: Callable[[], dict[str, Any]], metrics: Callable[[], str]
    ) -> None:
        host, _, port = listen.rpartition(":")
        self.host = host.strip("[]") or "127.0.0.1"
        self.port = int(port)
        self._healthz = healthz
        self._metrics = metrics
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._client, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5.0)
            while (await asyncio.wait_for(reader.readline(), 5.0)) not in (b"\r\n", b"\n", b""):
                pass
            parts = request.decode("latin-1").split()
            path = parts[1] if len(parts) >= 2 else ""
            if path == "/healthz":
                health = self._healthz()
                code = "200 OK" if health.get("ok") else "503 Service Unavailable"
                body, ctype = json.dumps(health).encode(), "application/json"
            elif path == "/metrics":
                code, body, ctype = "200 OK", self._metrics().encode(), "text/plain; version=0.0.4"
            else:
                code, body, ctype = "404 Not Found", b"not found\n", "text/plain"
            writer.write(
                f"HTTP/1.0 {code}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (TimeoutError, ConnectionError, OSError):
            pass
        finally:
            writer.close()
