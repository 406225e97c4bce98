"""The broker's state: router pools, the line schedule, results and their delivery.

``Broker.apply`` takes a whole desired configuration and applies the difference live:
new routers get pools lazily, removed routers' sessions close, changed lines are re-planned.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from linemon_agent import models
from linemon_agent.config import Config
from linemon_agent.errors import SessionError
from linemon_agent.models import Line, PingRequest, PingResult, Router, TrapperValue

from .metrics import Histogram
from .reporter import Reporter
from .scheduler import Scheduler
from .sessions import RateLimiter, RouterPool
from .transport import HostKeys, Session, open_session

REPORTER_FINAL_S = 1.0  # the reporter's last try at shutdown, even past the deadline
SESSION_CLOSE_S = 3.0  # every session's polite close, all at once, at shutdown

log = logging.getLogger("linemon.broker")

Opener = Callable[[Router], Awaitable[Session]]


@dataclass(frozen=True)
class LastResult:
    clock: float
    duration_s: float
    result: PingResult


class Broker:
    """Everything the broker does, without the socket or the signals."""

    def __init__(self, config: Config, reporter: Reporter, opener: Opener | None = None) -> None:
        self.config = config
        self.reporter = reporter
        self._opener = opener or self._default_opener
        self._open_limiter = RateLimiter(config.broker.session_opens_per_second)
        self._ping_limiter = RateLimiter(config.broker.max_pings_per_second)
        self.pools: dict[str, RouterPool] = {}
        self.routers: dict[str, Router] = {}
        self.scheduler = Scheduler(self._run_line, self._overrun)
        self.last: dict[str, LastResult] = {}
        self.counts: dict[str, int] = {status: 0 for status in models.ALL_STATUSES}
        self.started = time.time()
        self.durations = Histogram()
        self.rejected_lines: dict[str, str] = {}
        self._tasks: list[asyncio.Task[Any]] = []
        # name -> callable adding a section to status (e.g. "sync" from the Zabbix syncer)
        self.status_sources: dict[str, Callable[[], dict[str, Any]]] = {}

    # -- configuration ----------------------------------------------------------------------

    async def apply(self, config: Config) -> dict[str, int]:
        """Make ``config`` the running configuration; returns what changed."""
        old_routers = self.routers
        self.routers = dict(config.routers)
        self.config = config
        removed = [n for n in old_routers if n not in config.routers]
        changed = [
            n for n in config.routers if n in old_routers and old_routers[n] != config.routers[n]
        ]
        for name in removed + changed:
            pool = self.pools.pop(name, None)
            if pool is not None:
                await pool.close()
        lines = [line for line in config.lines.values() if line.router in self.routers]
        added, changed_lines, removed_lines = self.scheduler.set_lines(lines)
        for line_id in list(self.last):
            if line_id not in config.lines:
                del self.last[line_id]
        summary = {
            "routers_removed": len(removed),
            "routers_changed": len(changed),
            "lines_added": added,
            "lines_changed": changed_lines,
            "lines_removed": removed_lines,
        }
        log.info("configuration applied", extra=summary)
        return summary

    async def _default_opener(self, router: Router) -> Session:
        creds = self.config.credentials.get(router.credentials)
        if creds is None:
            raise SessionError(
                router.name,
                models.STATUS_AUTH_ERROR,
                f"no credentials profile {router.credentials!r}",
            )
        transport = router.transport or self.config.broker.transport
        return await open_session(
            router, creds, HostKeys.from_settings(self.config.broker), transport
        )

    def pool(self, name: str) -> RouterPool:
        pool = self.pools.get(name)
        if pool is None:
            router = self.routers[name]
            pool = RouterPool(
                router,
                self._opener,
                self._open_limiter,
                self.config.broker.keepalive_interval,
                RateLimiter(self.config.broker.router_pings_per_second),
            )
            self.pools[name] = pool
        return pool

    # -- running ----------------------------------------------------------------------------

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self.scheduler.run_forever(), name="scheduler"),
            loop.create_task(self.reporter.run(), name="reporter"),
            loop.create_task(self._keepalive_loop(), name="keepalive"),
        ]

    async def _keepalive_loop(self) -> None:
        interval = max(5.0, self.config.broker.keepalive_interval / 4)
        while True:
            await asyncio.sleep(interval)
            for pool in list(self.pools.values()):
                try:
                    await pool.keep_warm()
                except Exception:
                    log.exception("keepalive failed", extra={"router": pool.router.name})

    async def ping(self, router: str, request: PingRequest) -> tuple[PingResult, float]:
        """Run one ping now on ``router``; returns the result and its start clock."""
        await self._ping_limiter.acquire()
        await self.pool(router).limiter.acquire()
        clock = time.time()
        result = await self.pool(router).ping(request)
        self.durations.observe(time.time() - clock)
        self.counts[result.status] = self.counts.get(result.status, 0) + 1
        return result, clock

    async def _run_line(self, line: Line, due: float) -> None:
        if line.router not in self.routers:
            return
        started = time.monotonic()
        result, clock = await self.ping(line.router, line.request)
        self.record(line, result, clock, time.monotonic() - started)

    def _overrun(self, line: Line, due: float) -> None:
        result = PingResult.failed(
            models.STATUS_OVERRUN,
            "the previous ping of this line had not finished at its next slot",
        )
        self.counts[models.STATUS_OVERRUN] += 1
        self.record(line, result, due, 0.0)

    def record(self, line: Line, result: PingResult, clock: float, duration: float) -> None:
        """Keep the line's last result and hand it to the reporter for Zabbix."""
        self.last[line.id] = LastResult(clock, duration, result)
        payload = result.to_dict()
        payload.update(
            line=line.id,
            router=line.router,
            target=line.request.target,
            duration_ms=round(duration * 1000, 1),
        )
        seconds = int(clock)
        ns = int((clock - seconds) * 1e9)
        self.reporter.submit(
            TrapperValue(
                host=line.zabbix_host,
                key=line.zabbix_key,
                value=json.dumps(payload, sort_keys=True, separators=(",", ":")),
                clock=seconds,
                ns=ns,
            )
        )
        if not log.isEnabledFor(logging.INFO):
            return  # one record per ping: skip building it when it would be dropped
        log.info(
            "ping",
            extra={
                "line": line.id,
                "router": line.router,
                "status": result.status,
                "loss_pct": result.loss_pct,
                "rtt_avg_ms": result.rtt_avg_ms,
                "clock": f"{seconds}.{ns:09d}",
            },
        )

    async def shutdown(self, timeout: float) -> dict[str, int]:
        """Stop scheduling and end within ``timeout`` plus a few seconds, however loaded.

        Running pings get until the deadline (then they are cancelled and counted: no value
        is sent for them); the reporter sends what it can in what is left (at least
        ``REPORTER_FINAL_S``; the spool keeps the rest for the next start); every router's
        sessions are closed at once, all within ``SESSION_CLOSE_S``.
        """
        deadline = time.monotonic() + timeout
        scheduler_task = self._tasks[0] if self._tasks else None
        if scheduler_task is not None:
            scheduler_task.cancel()
        cancelled = await self.scheduler.drain(timeout)
        await self.reporter.stop(max(deadline - time.monotonic(), REPORTER_FINAL_S))
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        closing = asyncio.gather(
            *(pool.close() for pool in self.pools.values()), return_exceptions=True
        )
        try:
            await asyncio.wait_for(closing, SESSION_CLOSE_S)
        except TimeoutError:
            log.warning("sessions still closing at exit", extra={"after_s": SESSION_CLOSE_S})
        return {"cancelled_pings": cancelled}

    # -- views ------------------------------------------------------------------------------

    def line_rows(self, router: str | None = None) -> list[dict[str, Any]]:
        rows = []
        for line in sorted(self.scheduler.lines.values(), key=lambda item: item.id):
            if router is not None and line.router != router:
                continue
            last = self.last.get(line.id)
            rows.append(
                {
                    "id": line.id,
                    "router": line.router,
                    "target": line.request.target,
                    "vrf": line.request.vrf or "",
                    "interval": line.interval,
                    "zabbix_host": line.zabbix_host,
                    "zabbix_key": line.zabbix_key,
                    "origin": line.origin,
                    "offset_s": round(self.scheduler.offset(line.id) or 0.0, 2),
                    "last": None
                    if last is None
                    else {
                        "clock": round(last.clock, 3),
                        "duration_ms": round(last.duration_s * 1000, 1),
                        **last.result.to_dict(),
                    },
                }
            )
        return rows

    def router_rows(self) -> list[dict[str, Any]]:
        rows = []
        for name, router in sorted(self.routers.items()):
            pool = self.pools.get(name)
            if pool is not None:
                rows.append(pool.describe())
            else:
                rows.append(
                    {
                        "name": name,
                        "host": router.host,
                        "platform": router.platform,
                        "sessions": 0,
                        "max_sessions": router.max_sessions,
                    }
                )
        return rows

    def status(self) -> dict[str, Any]:
        stats = self.scheduler.stats
        pools = list(self.pools.values())
        return {
            "uptime_s": round(time.time() - self.started, 1),
            "routers": len(self.routers),
            "lines": len(self.scheduler.lines),
            "sessions": sum(p.sessions for p in pools),
            "sessions_busy": sum(p.busy for p in pools),
            "routers_in_backoff": sum(1 for p in pools if p.in_backoff()),
            "queue_depth": sum(p.waiting for p in pools),
            "in_flight": self.scheduler.in_flight,
            "pings_started": stats.started,
            "pings_on_time": stats.on_time,
            "pings_late": stats.late,
            "overruns": stats.overruns,
            "max_lateness_s": round(stats.max_lateness, 3),
            "results": dict(self.counts),
            "reconnects": sum(p.stats.reconnects for p in pools),
            "open_failures": sum(p.stats.open_failures for p in pools),
            "rejected_lines": len(self.rejected_lines),
            "delivery": self.reporter.stats(),
            **{name: source() for name, source in self.status_sources.items()},
        }
