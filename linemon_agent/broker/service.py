"""The operations the broker's socket offers, as one small API (supervisor's rpcinterface).

Handlers parse a request's arguments and call exactly one method here; nothing else of the
broker is theirs to touch. Errors leave as ``LinemonError`` subclasses whose ``kind`` the
socket edge turns into an error code.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from typing import Any

from linemon_agent import models
from linemon_agent.errors import LinemonError, NotFoundError
from linemon_agent.models import Line, PingRequest

from .core import Broker
from .lineset import LineSource
from .views import BrokerStatus, RouterView, discovery_row, line_row

#: how long a ``ping --wait`` waits beyond the ping's own worst case (queue, login)
WAIT_MARGIN_S = 30.0


class PingTimeoutError(LinemonError):
    """A waited-for ping did not end within its worst case plus the margin."""

    kind = "timeout"


class Service:
    """Ping, results, views, sync and reload, for the socket's handlers."""

    def __init__(self, broker: Broker, lines: LineSource) -> None:
        self.broker = broker
        self.lines = lines
        #: name -> a status section from elsewhere (spool path, metrics address)
        self.sections: dict[str, Callable[[], dict[str, Any]]] = {}

    # -- pings ------------------------------------------------------------------------------

    def line(self, line_id: str) -> Line:
        line = self.broker.scheduler.lines.get(line_id)
        if line is None:
            raise NotFoundError(f"no line {line_id!r}")
        return line

    def adhoc_line(
        self, router: str, request: PingRequest, zabbix_host: str, zabbix_key: str
    ) -> Line:
        """An on-demand line (not scheduled); sent to Zabbix only if it names a host."""
        if router not in self.broker.pools:
            known = ", ".join(sorted(self.broker.pools.routers)) or "none"
            raise NotFoundError(f"no router {router!r}; known: {known}")
        return Line(
            id=f"adhoc-{router}-{request.target}",
            router=router,
            request=request,
            zabbix_host=zabbix_host,
            zabbix_key=zabbix_key or models.DEFAULT_ITEM_KEY,
            origin="adhoc",
        )

    async def ping(self, line: Line, wait: bool) -> Any:
        """Start the ping now; with ``wait``, its result payload, else 1 at once."""
        task = self.broker.run_adhoc(line)
        if not wait:
            return 1
        platform = self.broker.pools.get(line.router).platform
        limit = platform.worst_case_seconds(line.request) + WAIT_MARGIN_S
        try:
            return await asyncio.wait_for(asyncio.shield(task), limit)
        except TimeoutError:
            raise PingTimeoutError(
                f"the ping on {line.router} did not end within {limit:.0f} s (its worst case "
                "plus the wait for a session); it goes on, see `linemon result` or the log"
            ) from None

    def result(self, line_id: str) -> dict[str, Any] | None:
        self.line(line_id)
        return self.broker.last.get(line_id)

    # -- views ------------------------------------------------------------------------------

    def line_rows(self, router: str | None = None) -> list[dict[str, Any]]:
        scheduler = self.broker.scheduler
        return [
            line_row(line, scheduler.offset(line.id) or 0.0, self.broker.last.get(line.id))
            for line in sorted(scheduler.lines.values(), key=lambda item: item.id)
            if router is None or line.router == router
        ]

    def discover(self, router: str | None = None) -> list[dict[str, Any]]:
        lines = sorted(self.broker.scheduler.lines.values(), key=lambda item: item.id)
        return [discovery_row(line) for line in lines if router is None or line.router == router]

    def routers(self) -> list[RouterView]:
        loads = self.broker.loads()
        views = []
        for name, view in self.broker.pools.views().items():
            load = loads.get(name)
            if load is not None:
                view = dataclasses.replace(
                    view, load=round(load.load, 3), sessions_needed=load.sessions_needed
                )
            views.append(view)
        return views

    def status(self) -> BrokerStatus:
        broker = self.broker
        pools = broker.pools.opened()
        sends = broker.sends
        loads = broker.loads()
        sections = {name: source() for name, source in self.sections.items()}
        if self.lines.syncer is not None:
            sections["sync"] = self.lines.syncer.status()
        return BrokerStatus(
            uptime_s=round(time.time() - broker.started, 1),
            routers=len(broker.pools.routers),
            lines=len(broker.scheduler.lines),
            sessions=sum(p.sessions for p in pools),
            sessions_busy=sum(p.busy for p in pools),
            routers_in_backoff=sum(1 for p in pools if p.in_backoff()),
            queue_depth=sum(p.waiting for p in pools),
            in_flight=broker.scheduler.in_flight,
            pings_started=sends.sent,
            pings_on_time=sends.on_time,
            pings_late=sends.late,
            pings_skipped=sends.skipped,
            overruns=broker.scheduler.stats.overruns,
            max_lateness_s=round(sends.max_lateness, 3),
            max_router_load=round(max((lo.load for lo in loads.values()), default=0.0), 3),
            results=dict(broker.counts),
            reconnects=sum(p.stats.reconnects for p in pools),
            open_failures=sum(p.stats.open_failures for p in pools),
            rejected_lines=len(self.lines.rejected),
            delivery=broker.reporter.stats(),
            sections=sections,
        )

    # -- configuration ----------------------------------------------------------------------

    async def reload(self) -> dict[str, Any]:
        return await self.lines.reload(self.broker.apply, self.broker.prepare_sender)

    async def sync(self) -> dict[str, Any]:
        if self.lines.syncer is None:
            raise NotFoundError("no Zabbix API sync is configured ([zabbix_api] url)")
        return await self.lines.sync(self.broker.apply)
