"""The broker's engine: runs each line's ping on its router's pool, keeps and delivers results.

``Broker`` owns the running state (pools, schedule, last results, counters, its tasks) and
the life of a ping: the down probe for lines that stopped answering, lateness measured when
the command goes to the router, the result's one payload handed to the reporter. What the
socket offers lives in ``service``; what status looks like in ``views``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from linemon_agent import models
from linemon_agent.errors import ShuttingDownError
from linemon_agent.models import Line, PingRequest, PingResult, TrapperValue, result_payload
from linemon_agent.settings import Config

from . import budget
from .journal import Journal
from .metrics import Histogram
from .pools import Pools, SessionFactory
from .reporter import Reporter
from .scheduler import Scheduler
from .sender import zabbix_sender
from .sessions import FollowUp, Opener, Outcome, RateLimiter

ON_TIME_SECONDS = 5.0  # a scheduled ping sent this long after its slot still counts on time
SKIP_MARGIN_S = 0.5  # a queued scheduled ping gives up this long before its next slot
REPORTER_FINAL_S = 1.0  # the reporter's last try at shutdown, even past the deadline
LOAD_LOG_INTERVAL = 60.0  # one load warning a minute per router, at most
# Loads are figured over every line: at 100,000 lines that is ~0.1 s of CPU, so status,
# /metrics and the warnings share one figure at most this old. (The 5,000 x 100,000 bench
# step polls status while its routers log in: uncached, the polls starved the event loop.)
LOAD_CACHE_S = 5.0
DRAIN_CANCELLED_S = 2.0  # how long cancelled pings get to unwind at shutdown

log = logging.getLogger("linemon.broker")


@dataclass
class SendStats:
    """Scheduled pings by what happened at the router."""

    sent: int = 0
    on_time: int = 0
    late: int = 0
    skipped: int = 0
    max_lateness: float = 0.0

    def account(self, lateness: float | None) -> None:
        """One scheduled slot: sent ``lateness`` seconds after it, or never (None: skipped)."""
        if lateness is None:
            self.skipped += 1
            self.late += 1
            return
        self.sent += 1
        self.max_lateness = max(self.max_lateness, lateness)
        if lateness <= ON_TIME_SECONDS:
            self.on_time += 1
        else:
            self.late += 1


class Broker:
    """The running broker, without the socket or the signals."""

    def __init__(self, config: Config, reporter: Reporter, opener: Opener | None = None) -> None:
        self.config = config
        self.reporter = reporter
        self._factory = SessionFactory(config)
        self.pools = Pools(opener or self._factory, config)
        self._ping_limiter = RateLimiter(config.broker.max_pings_per_second)
        self.scheduler = Scheduler(self._run_line, self._overrun)
        self.last: dict[str, dict[str, Any]] = {}  # line id -> its last result payload
        self.costs: dict[str, float] = {}  # line id -> session seconds a ping takes (EWMA)
        self.counts: dict[str, int] = {status: 0 for status in models.ALL_STATUSES}
        self.sends = SendStats()
        self.started = time.time()
        self.durations = Histogram()
        self._tasks: dict[str, asyncio.Task[Any]] = {}
        self._adhoc: set[asyncio.Task[Any]] = set()
        self._load_warned: dict[str, float] = {}
        self._loads: tuple[float, dict[str, budget.Load]] = (-LOAD_CACHE_S, {})
        self.journal = Journal()
        self.stopping = False

    # -- configuration ----------------------------------------------------------------------

    async def apply(self, config: Config) -> dict[str, int]:
        """Make ``config`` the running configuration; returns what changed."""
        self.config = config
        self._factory.config = config
        routers = await self.pools.apply(config.routers, config)
        lines = [line for line in config.lines.values() if line.router in self.pools]
        added, changed, removed = self.scheduler.set_lines(lines)
        gone = [i for i in self.last if i not in config.lines]
        for line_id in gone:
            self.last.pop(line_id, None)
            self.costs.pop(line_id, None)
        self.journal.forget(gone)
        self._loads = (-LOAD_CACHE_S, {})
        summary = {
            "routers_added": len(routers.added),
            "routers_removed": len(routers.removed),
            "routers_changed": len(routers.changed),
            "lines_added": added,
            "lines_changed": changed,
            "lines_removed": removed,
        }
        # a sync that changed nothing is not news (it runs every few minutes)
        level = logging.INFO if any(summary.values()) else logging.DEBUG
        log.log(level, "configuration applied", extra=summary)
        return summary

    def prepare_sender(self, config: Config) -> Callable[[], None]:
        """The Zabbix sender for ``config`` (raises on bad TLS files), to install on reload:
        a changed server or TLS setting applies at once, to values already spooled too."""
        send = zabbix_sender(config.zabbix)

        def install() -> None:
            self.reporter.send = send

        return install

    # -- running ----------------------------------------------------------------------------

    def start(self) -> None:
        self.spawn(self.scheduler.run_forever(), "scheduler")
        self.spawn(self.reporter.run(), "reporter")
        self.spawn(self._housekeeping(), "housekeeping")

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Start a named task that shutdown stops and awaits."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks[name] = task
        return task

    async def _housekeeping(self) -> None:
        """Keep idle sessions warm; warn about routers whose lines need more than they have;
        write the summary a minute."""
        interval = min(max(5.0, self.config.broker.keepalive_interval / 4), 30.0)
        while True:
            await asyncio.sleep(interval)
            await self.pools.keep_warm()
            self.warn_loads()
            if self.journal.summary_due():
                self.journal.summarise(self.summary_figures())

    def summary_figures(self) -> dict[str, Any]:
        """Sessions, delivery and load for the summary line."""
        pools = self.pools.opened()
        delivery = self.reporter.stats()
        loads = self.loads()
        return {
            "lines": len(self.scheduler.lines),
            "sessions": sum(p.sessions for p in pools),
            "queued": sum(p.waiting for p in pools),
            "skipped_total": self.sends.skipped,
            "overruns_total": self.scheduler.stats.overruns,
            "values_sent_total": delivery.get("sent", 0),
            "values_pending": delivery.get("pending", 0),
            "values_held": delivery.get("held", 0),
            "max_router_load": round(max((lo.load for lo in loads.values()), default=0.0), 2),
        }

    def warn_loads(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        for name, load in self.loads().items():
            if load.load <= budget.LOAD_WARN or now < self._load_warned.get(name, -1e18):
                continue
            self._load_warned[name] = now + LOAD_LOG_INTERVAL
            router = self.pools.routers[name]
            log.warning(
                "router over its session budget (once a minute)",
                extra={
                    "router": name,
                    "load": round(load.load, 2),
                    "sessions_needed": load.sessions_needed,
                    "advice": budget.advice(name, load, router.max_sessions),
                },
            )

    def loads(self, max_age: float = LOAD_CACHE_S) -> dict[str, budget.Load]:
        """Every router's load from its lines' measured (or worst-case) session time, as
        figured at most ``max_age`` seconds ago."""
        now = time.monotonic()
        if now - self._loads[0] < max_age:
            return self._loads[1]
        costs: dict[str, list[tuple[float, int]]] = {name: [] for name in self.pools.routers}
        for line in self.scheduler.lines.values():
            if line.router not in costs:
                continue
            cost = self.costs.get(line.id)
            if cost is None:
                cost = budget.worst_case(line, self.pools.get(line.router).platform)
            costs[line.router].append((cost, line.interval))
        loads = {
            name: budget.router_load(items, self.pools.routers[name].max_sessions)
            for name, items in costs.items()
        }
        self._loads = (now, loads)
        return loads

    async def ping(
        self,
        router: str,
        request: PingRequest,
        expires: float | None = None,
        follow_up: FollowUp | None = None,
    ) -> Outcome:
        """Run one ping on ``router`` when one of its sessions is free."""
        await self._ping_limiter.acquire()
        pool = self.pools.get(router)
        await pool.limiter.acquire()
        outcome = await pool.ping(request, expires, follow_up)
        if outcome.sent_at is not None:
            self.durations.observe(outcome.duration_s)
        status = outcome.result.status
        self.counts[status] = self.counts.get(status, 0) + 1
        return outcome

    def run_adhoc(self, line: Line) -> asyncio.Task[dict[str, Any]]:
        """Start an on-demand ping now; recorded (sent to Zabbix) when it names a host."""
        if self.stopping:
            raise ShuttingDownError("the broker is stopping; ask again once it is back")

        async def run() -> dict[str, Any]:
            queued_at = time.time()
            outcome = await self.ping(line.router, line.request)
            clock = outcome.sent_at if outcome.sent_at is not None else queued_at
            payload = result_payload(
                line, outcome.result, clock, outcome.duration_s, outcome.queued_s
            )
            if line.zabbix_host:
                self._deliver(line, payload, outcome.result)
            return payload

        task = asyncio.get_running_loop().create_task(run(), name=f"adhoc-{line.id}")
        self._adhoc.add(task)
        task.add_done_callback(self._adhoc.discard)
        return task

    async def _run_line(self, line: Line, due: float) -> None:
        if line.router not in self.pools:
            return
        # Give up (skipped) just before the next slot, so a queued ping is never an overrun.
        expires = time.monotonic() + (due + line.interval - SKIP_MARGIN_S - time.time())
        request, follow_up, went_on = line.request, None, []
        probe = self._down_probe_count(line)
        if probe:
            request = dataclasses.replace(line.request, count=probe)

            def follow_up(result: PingResult) -> PingRequest | None:
                if not result.received:
                    return None
                went_on.append(True)
                return line.request

        outcome = await self.ping(line.router, request, expires, follow_up)
        result = outcome.result
        if probe and not went_on and result.is_measurement:
            result = dataclasses.replace(result, extra={**result.extra, "down_probe": True})
        if outcome.sent_at is not None:
            self.sends.account(outcome.sent_at - due)
            self.costs[line.id] = budget.ewma(self.costs.get(line.id), outcome.duration_s)
            clock = outcome.sent_at
        else:
            if result.status == models.STATUS_SKIPPED:
                self.sends.account(None)
            clock = due
        payload = result_payload(line, result, clock, outcome.duration_s, outcome.queued_s)
        self._deliver(line, payload, result)

    def _down_probe_count(self, line: Line) -> int:
        """Probes to send first (0: the full ping at once): when the line's last ping got no
        reply, or when it has no result yet and its router's sessions are all taken (a new
        line may be dead: on a busy router its first ping must not hold a session for the
        whole count of timeouts before that is known)."""
        count = line.down_probe_count
        if count is None:
            count = self.config.broker.down_probe_count
        if not count or count >= line.request.count:
            return 0
        last = self.last.get(line.id)
        if last is None:
            return count if self.pools.get(line.router).saturated else 0
        return count if last["status"] == models.STATUS_NO_REPLY else 0

    def _overrun(self, line: Line, due: float) -> None:
        result = PingResult.failed(
            models.STATUS_OVERRUN,
            "the previous ping of this line had not finished at its next slot",
        )
        self.counts[models.STATUS_OVERRUN] += 1
        self._deliver(line, result_payload(line, result, due, 0.0), result)

    def _deliver(self, line: Line, payload: dict[str, Any], result: PingResult) -> None:
        """Keep the line's last result and hand it to the reporter for Zabbix."""
        self.last[line.id] = payload
        clock = payload["clock"]
        seconds = int(clock)
        ns = min(999_999_999, round((clock - seconds) * 1e9))
        self.journal.result(line, result, f"{seconds}.{ns:09d}")
        self.reporter.submit(
            TrapperValue(
                host=line.zabbix_host,
                key=line.zabbix_key,
                value=json.dumps(payload, sort_keys=True, separators=(",", ":")),
                clock=seconds,
                ns=ns,
            )
        )

    # -- stopping ---------------------------------------------------------------------------

    async def shutdown(self, timeout: float) -> dict[str, int]:
        """Stop scheduling and end within ``timeout`` plus a few seconds, however loaded.

        Running pings, scheduled and on-demand alike, get until the deadline (then they are
        cancelled and counted: no value is sent for them); the reporter sends what it can in
        what is left (at least ``REPORTER_FINAL_S``; the spool keeps the rest for the next
        start); every task the broker started is stopped and awaited; every router's
        sessions are closed at once.
        """
        deadline = time.monotonic() + timeout
        self.stopping = True  # no new on-demand pings (a connection already open may ask)
        scheduler = self._tasks.pop("scheduler", None)
        if scheduler is not None:
            scheduler.cancel()
        cancelled = await _drain(self.scheduler.running() + list(self._adhoc), timeout)
        reporter = self._tasks.pop("reporter", None)
        await self.reporter.stop(max(deadline - time.monotonic(), REPORTER_FINAL_S))
        rest = [t for t in [scheduler, reporter, *self._tasks.values()] if t is not None]
        for task in rest:
            task.cancel()
        await asyncio.gather(*rest, return_exceptions=True)
        self._tasks.clear()
        await self.pools.close_all()
        return {"cancelled_pings": cancelled}


async def _drain(tasks: list[asyncio.Task[Any]], timeout: float) -> int:
    """Wait up to ``timeout`` for ``tasks``; cancel the rest and return how many."""
    if not tasks:
        return 0
    _, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending, timeout=DRAIN_CANCELLED_S)
    return len(pending)
