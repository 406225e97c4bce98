"""Per-router session pools: lazy, rate-limited opening, warm keeping, deadlines, backoff.

A pool runs pings for one router on at most ``max_sessions`` sessions. A command that
overruns its deadline or breaks closes its session; the next ping opens a new one. Failed
opens back off exponentially with jitter (auth failures start long), and while a router is
in backoff its pings fail at once with the last error instead of hammering it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from linemon_agent import models
from linemon_agent.errors import CommandError, ParseError, SessionError
from linemon_agent.models import PingRequest, PingResult, Router
from linemon_agent.platforms import get_platform

from .transport import Session

log = logging.getLogger("linemon.sessions")

Opener = Callable[[Router], Awaitable[Session]]

BACKOFF_FIRST = 1.0
BACKOFF_MAX = 300.0
AUTH_BACKOFF_FIRST = 60.0
OPEN_TIMEOUT = 45.0


class RateLimiter:
    """A token bucket: ``acquire`` waits until one of ``rate`` tokens per second is free."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = max(rate, 0.001)
        self.capacity = burst if burst is not None else max(1.0, rate)
        self.tokens = self.capacity
        self.stamp = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
                self.stamp = now
                if self.tokens >= 1.0:
                    self.tokens -= 1.0
                    return
                await asyncio.sleep((1.0 - self.tokens) / self.rate)


@dataclass
class PoolStats:
    opened: int = 0
    open_failures: int = 0
    reconnects: int = 0
    pings: int = 0
    timeouts: int = 0
    keepalives: int = 0
    last_error: str = ""
    last_status: str = ""
    open_seconds: list[float] = field(default_factory=list)


class RouterPool:
    """The sessions of one router and the pings that run on them."""

    def __init__(
        self,
        router: Router,
        opener: Opener,
        open_limiter: RateLimiter,
        keepalive_interval: float = 240.0,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.router = router
        self.platform = get_platform(router.platform)
        self._opener = opener
        self._open_limiter = open_limiter
        self._keepalive_interval = keepalive_interval
        #: this router's own rate of pings (the broker also has a global one)
        self.limiter = limiter or RateLimiter(10.0)
        self._idle: list[tuple[Session, float]] = []
        self._count = 0
        self._waiters = 0
        self._available = asyncio.Condition()
        self._backoff_until = 0.0
        self._backoff = 0.0
        self._closed = False
        self.stats = PoolStats()

    # -- public -----------------------------------------------------------------------------

    @property
    def sessions(self) -> int:
        return self._count

    @property
    def busy(self) -> int:
        return self._count - len(self._idle)

    @property
    def waiting(self) -> int:
        return self._waiters

    def in_backoff(self) -> bool:
        return time.monotonic() < self._backoff_until

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.router.name,
            "host": self.router.host,
            "platform": self.router.platform,
            "sessions": self._count,
            "busy": self.busy,
            "waiting": self._waiters,
            "max_sessions": self.router.max_sessions,
            "backoff_s": round(max(0.0, self._backoff_until - time.monotonic()), 1),
            "opened": self.stats.opened,
            "open_failures": self.stats.open_failures,
            "reconnects": self.stats.reconnects,
            "pings": self.stats.pings,
            "timeouts": self.stats.timeouts,
            "last_error": self.stats.last_error,
        }

    async def ping(self, request: PingRequest) -> PingResult:
        """Run one ping on a session of this router; never raises for router trouble."""
        try:
            command = self.platform.build_ping(request)
        except Exception as exc:
            return PingResult.failed(models.STATUS_INVALID, str(exc))
        deadline = self.platform.worst_case_seconds(request)
        try:
            session = await self._acquire(deadline)
        except SessionError as exc:
            self.stats.last_error = exc.message
            self.stats.last_status = exc.status
            return PingResult.failed(exc.status, str(exc))
        self.stats.pings += 1
        try:
            output = await session.send(command, deadline)
        except SessionError as exc:
            await self._discard()
            if exc.status == models.STATUS_TIMEOUT:
                self.stats.timeouts += 1
            self.stats.last_error = exc.message
            self.stats.last_status = exc.status
            return PingResult.failed(exc.status, str(exc))
        await self._release(session)
        try:
            return self.platform.parse_ping(output, request)
        except ParseError as exc:
            return PingResult.failed(models.STATUS_PARSE_ERROR, str(exc))
        except CommandError as exc:
            return PingResult.failed(models.STATUS_COMMAND_ERROR, str(exc))

    async def keep_warm(self) -> None:
        """Send the keepalive on sessions idle for longer than the keepalive interval."""
        now = time.monotonic()
        stale = [(s, t) for s, t in self._idle if now - t >= self._keepalive_interval]
        for entry in stale:
            if entry not in self._idle:
                continue
            self._idle.remove(entry)
            session = entry[0]
            try:
                await session.send(self.platform.keepalive_command, 10.0)
            except SessionError as exc:
                self.stats.last_error = exc.message
                await self._discard()
                continue
            self.stats.keepalives += 1
            await self._release(session)

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        self._count -= len(idle)
        await asyncio.gather(*(session.close() for session, _ in idle))
        async with self._available:
            self._available.notify_all()

    # -- internals --------------------------------------------------------------------------

    async def _acquire(self, deadline: float) -> Session:
        give_up = time.monotonic() + deadline
        async with self._available:
            self._waiters += 1
            try:
                while True:
                    if self._closed:
                        raise SessionError(
                            self.router.name,
                            models.STATUS_UNREACHABLE,
                            "router removed from configuration",
                        )
                    while self._idle:
                        session, _ = self._idle.pop()
                        if session.alive():
                            return session
                        self._count -= 1
                        self.stats.reconnects += 1
                        await session.close()
                    if self._count < self.router.max_sessions:
                        if self.in_backoff():
                            raise SessionError(
                                self.router.name,
                                self.stats.last_status or models.STATUS_UNREACHABLE,
                                f"in backoff for {self._backoff_until - time.monotonic():.0f} s "
                                f"after: {self.stats.last_error}",
                            )
                        self._count += 1
                        break
                    remaining = give_up - time.monotonic()
                    if remaining <= 0:
                        raise SessionError(
                            self.router.name,
                            models.STATUS_TIMEOUT,
                            "all sessions busy until the deadline",
                        )
                    # asyncio.timeout, not wait_for: wait() must re-take the lock in this task
                    # (wait_for ran it as another task; under load, the timeout left the lock
                    # released here: "RuntimeError: Lock is not acquired" in scripts/bench).
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(remaining):
                            await self._available.wait()
            finally:
                self._waiters -= 1
        try:
            return await self._open()
        except BaseException:
            async with self._available:
                self._count -= 1
                self._available.notify()
            raise

    async def _open(self) -> Session:
        await self._open_limiter.acquire()
        started = time.monotonic()
        try:
            session = await asyncio.wait_for(self._opener(self.router), OPEN_TIMEOUT)
        except TimeoutError:
            exc = SessionError(
                self.router.name,
                models.STATUS_TIMEOUT,
                f"login did not finish within {OPEN_TIMEOUT:g} s",
            )
            self._failed_open(exc)
            raise exc from None
        except SessionError as exc:
            self._failed_open(exc)
            raise
        elapsed = time.monotonic() - started

        self.stats.opened += 1
        self.stats.open_seconds.append(elapsed)
        del self.stats.open_seconds[:-100]
        self._backoff = 0.0
        self._backoff_until = 0.0
        log.info(
            "session opened",
            extra={"router": self.router.name, "open_ms": round(elapsed * 1000, 1)},
        )
        return session

    def _failed_open(self, exc: SessionError) -> None:
        """Count a failed open and back off: exponential with jitter, long for auth errors."""
        self.stats.open_failures += 1
        self.stats.last_error = exc.message
        self.stats.last_status = exc.status
        first = AUTH_BACKOFF_FIRST if exc.status == models.STATUS_AUTH_ERROR else BACKOFF_FIRST
        self._backoff = min(BACKOFF_MAX, max(first, self._backoff * 2))
        jittered = self._backoff * random.uniform(0.8, 1.2)
        self._backoff_until = time.monotonic() + jittered
        log.warning(
            "session open failed",
            extra={
                "router": self.router.name,
                "status": exc.status,
                "error": exc.message,
                "backoff_s": round(jittered, 1),
            },
        )

    async def _release(self, session: Session) -> None:
        async with self._available:
            if self._closed:
                self._count -= 1
                await session.close()
            else:
                self._idle.append((session, time.monotonic()))
            self._available.notify()

    async def _discard(self) -> None:
        """Forget a session that broke (it closed itself) and let a waiter open another."""
        async with self._available:
            self._count -= 1
            self.stats.reconnects += 1
            self._available.notify()
