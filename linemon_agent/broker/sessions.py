"""Per-router session pools: one FIFO of pings per router, served by up to ``max_sessions``.

A router's pings wait in one queue, in the order they were asked for, and each free session
takes the first. A ping that cannot get a session before it ``expires`` (for a scheduled
ping: its line's next slot) is never sent and comes back ``skipped``, saying how busy the
router was: a ping that was not sent is never a ``timeout``. Each outcome carries the moment
the command went to the router and how long it waited, so lateness is measured where it
happens.

Sessions open lazily at a bounded rate, one login at a time per router. The pool grows by
one session (up to ``max_sessions``) when a session comes free and the pings still queued
would take the sessions there are longer than ``GROW_BACKLOG_S`` (by the pool's recent time
per ping): a few quick pings that queued during a login (the open rate limit at a cold
start) are no reason for another, so a router whose lines one session serves keeps one, and
its vty lines and AAA server see no login storm. A session that overruns its deadline or
breaks is dropped and the next ping opens another. Failed opens back off exponentially with
jitter (auth failures start long); while a router is in backoff its pings fail at once with
the last error. No lock is held while a session closes: closing is handed to a background task.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import cast

from linemon_agent import models
from linemon_agent.errors import CommandError, ParseError, SessionError
from linemon_agent.models import PingRequest, PingResult, Router
from linemon_agent.platforms import get_platform

from .transport import Session
from .views import RouterCounters, RouterView

log = logging.getLogger("linemon.sessions")

Opener = Callable[[Router], Awaitable[Session]]
#: after a ping's result, the request to run next on the same session (or None)
FollowUp = Callable[[PingResult], PingRequest | None]

BACKOFF_FIRST = 1.0
BACKOFF_MAX = 300.0
AUTH_BACKOFF_FIRST = 60.0
OPEN_TIMEOUT = 45.0
KEEPALIVE_TIMEOUT = 10.0
GROW_BACKLOG_S = 1.0  # queued work (seconds of session time) that opens another session
PING_EWMA_WEIGHT = 0.2


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
class PoolStats(RouterCounters):
    keepalives: int = 0
    last_status: str = ""
    open_seconds: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    """What became of one ping: its result, when it went to the router, how long it waited."""

    result: PingResult
    sent_at: float | None  # wall clock when the command was sent; None: never sent
    queued_s: float  # waiting for a session (including a login), before the command went
    duration_s: float  # from the command sent to its answer (0 when never sent)


class _Skipped(Exception):
    """The ping's time to start passed while it waited for a session."""


_OPEN = object()  # a grant to a waiter: a session slot is free, open a new session


class RouterPool:
    """The sessions of one router and the queue of pings that run on them."""

    def __init__(
        self,
        router: Router,
        opener: Opener,
        open_limiter: RateLimiter,
        keepalive_interval: float = 240.0,
        limiter: RateLimiter | None = None,
        grow_backlog_s: float = GROW_BACKLOG_S,
    ) -> None:
        self.router = router
        self.platform = get_platform(router.platform)
        self._opener = opener
        self._open_limiter = open_limiter
        self._keepalive_interval = keepalive_interval
        #: this router's own rate of pings (the broker also has a global one)
        self.limiter = limiter or RateLimiter(10.0)
        self._idle: list[tuple[Session, float]] = []
        self._count = 0  # sessions open, opening or granted to a waiter
        self._opening = 0  # logins under way or granted to a waiter (at most one)
        self._queue: collections.deque[asyncio.Future[object]] = collections.deque()
        self._ping_s: float | None = None  # session time per ping, recent (EWMA)
        self._grow_backlog_s = grow_backlog_s
        self._backoff_until = 0.0
        self._backoff = 0.0
        self._closed = False
        self._closing: set[asyncio.Task[None]] = set()
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
        return sum(1 for waiter in self._queue if not waiter.done())

    @property
    def saturated(self) -> bool:
        """A ping asked for now would have to wait: others already wait, or no session is
        idle and none can be opened at once (all in use, or a login is under way)."""
        if self.waiting:
            return True
        return not self._idle and (self._count >= self.router.max_sessions or self._opening > 0)

    def in_backoff(self) -> bool:
        return time.monotonic() < self._backoff_until

    def view(self) -> RouterView:
        return RouterView(
            name=self.router.name,
            host=self.router.host,
            platform=self.router.platform,
            sessions=self._count,
            busy=self.busy,
            waiting=self.waiting,
            max_sessions=self.router.max_sessions,
            backoff_s=round(max(0.0, self._backoff_until - time.monotonic()), 1),
            **self.stats.counters(),
        )

    async def ping(
        self,
        request: PingRequest,
        expires: float | None = None,
        follow_up: FollowUp | None = None,
    ) -> Outcome:
        """Run one ping when a session is free; never raises for router trouble.

        ``expires`` (monotonic) is the last moment the ping may still start; by default its
        own worst-case duration from now. ``follow_up`` may name a second request to run at
        once on the same session (the full ping after a down probe that got a reply).
        """
        try:
            command = self.platform.build_ping(request)
        except Exception as exc:
            return Outcome(PingResult.failed(models.STATUS_INVALID, str(exc)), None, 0.0, 0.0)
        queued_at = time.monotonic()
        if expires is None:
            expires = queued_at + self.platform.worst_case_seconds(request)
        try:
            session = await self._acquire(expires)
        except _Skipped:
            self.stats.skipped += 1
            message = (
                f"not sent: router {self.router.name} was busy until this line's next slot "
                f"(all {self.router.max_sessions} sessions in use, {self.waiting} pings "
                "queued); raise max_sessions or lengthen intervals"
            )
            return Outcome(
                PingResult.failed(models.STATUS_SKIPPED, message),
                None,
                time.monotonic() - queued_at,
                0.0,
            )
        except SessionError as exc:
            self._note(exc)
            return Outcome(
                PingResult.failed(exc.status, str(exc)), None, time.monotonic() - queued_at, 0.0
            )
        queued_s = time.monotonic() - queued_at
        sent_at = time.time()
        started = time.monotonic()
        result, usable = await self._run(session, request, command)
        if usable and follow_up is not None:
            again = follow_up(result)
            if again is not None:
                result, usable = await self._run(session, again, self.platform.build_ping(again))
        duration = time.monotonic() - started
        if self._ping_s is None:
            self._ping_s = duration
        else:
            self._ping_s += PING_EWMA_WEIGHT * (duration - self._ping_s)
        if usable:
            self._release(session)
        else:
            self._discard()
        return Outcome(result, sent_at, queued_s, duration)

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
                await session.send(self.platform.keepalive_command, KEEPALIVE_TIMEOUT)
            except SessionError as exc:
                self.stats.last_error = exc.message
                self._discard()
                continue
            self.stats.keepalives += 1
            self._release(session)

    async def close(self) -> None:
        """Close every idle session (busy ones close when their ping ends); wake the queue."""
        self._closed = True
        idle, self._idle = self._idle, []
        self._count -= len(idle)
        while self._queue:
            waiter = self._queue.popleft()
            if not waiter.done():
                waiter.set_exception(self._removed())
        closing = [asyncio.ensure_future(session.close()) for session, _ in idle]
        closing.extend(self._closing)
        if closing:
            await asyncio.gather(*closing, return_exceptions=True)

    # -- internals --------------------------------------------------------------------------

    async def _run(
        self, session: Session, request: PingRequest, command: str
    ) -> tuple[PingResult, bool]:
        """Send one command; the result and whether the session can be used again."""
        self.stats.pings += 1
        try:
            output = await session.send(command, self.platform.worst_case_seconds(request))
        except SessionError as exc:
            if exc.status == models.STATUS_TIMEOUT:
                self.stats.timeouts += 1
            self._note(exc)
            return PingResult.failed(exc.status, str(exc)), False
        try:
            return self.platform.parse_ping(output, request), True
        except ParseError as exc:
            return PingResult.failed(models.STATUS_PARSE_ERROR, str(exc)), True
        except CommandError as exc:
            return PingResult.failed(models.STATUS_COMMAND_ERROR, str(exc)), True

    def _note(self, exc: SessionError) -> None:
        self.stats.last_error = exc.message
        self.stats.last_status = exc.status

    def _removed(self) -> SessionError:
        return SessionError(
            self.router.name, models.STATUS_UNREACHABLE, "router removed from configuration"
        )

    async def _acquire(self, expires: float) -> Session:
        """A session for the next ping: an idle one, a new one, or the first one freed."""
        if self._closed:
            raise self._removed()
        if not self.waiting:  # nobody queued ahead: take what is free now
            while self._idle:
                session, _ = self._idle.pop()
                if session.alive():
                    return session
                self._count -= 1
                self.stats.reconnects += 1
                self._close_later(session)
            if self._count < self.router.max_sessions and not self._opening:
                self._count += 1
                self._opening += 1
                return await self._open_granted()
        waiter: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._queue.append(waiter)
        try:
            async with asyncio.timeout_at(expires):
                grant = await waiter
        except TimeoutError:
            if not waiter.done() or waiter.cancelled():
                raise _Skipped() from None
            grant = waiter.result()  # granted as the time ran out: use it
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._give_back(waiter.result())
            raise
        if grant is _OPEN:
            return await self._open_granted()
        return cast(Session, grant)

    async def _open_granted(self) -> Session:
        """Log in, in a slot already counted (with its login); give the slot back if that
        fails. Either way the next waiter may then open another session."""
        try:
            if self.in_backoff():
                raise SessionError(
                    self.router.name,
                    self.stats.last_status or models.STATUS_UNREACHABLE,
                    f"in backoff for {self._backoff_until - time.monotonic():.0f} s "
                    f"after: {self.stats.last_error}",
                )
            session = await self._open()
        except BaseException:
            self._opening -= 1
            self._count -= 1
            self._grant_slot()
            raise
        self._opening -= 1
        return session

    def _give_back(self, grant: object) -> None:
        if grant is _OPEN:
            self._opening -= 1
            self._count -= 1
            self._grant_slot()
        else:
            self._release(grant)  # type: ignore[arg-type]

    def _release(self, session: Session) -> None:
        """A session is free: hand it to the first waiter, else keep it idle."""
        if self._closed:
            self._count -= 1
            self._close_later(session)
            return
        while self._queue:
            waiter = self._queue.popleft()
            if not waiter.done():
                waiter.set_result(session)
                self._grow()
                return
        self._idle.append((session, time.monotonic()))

    def _grow(self) -> None:
        """Open one more session if the pings still queued would keep the sessions there are
        busy for longer than the grow bound (queued ones that gave up are counted too: a
        bound, not a count, and cheap)."""
        if self._queue and self._ping_s is not None:
            backlog = len(self._queue) * self._ping_s / max(1, self._count)
            if backlog > self._grow_backlog_s:
                self._grant_slot()

    def _discard(self) -> None:
        """Forget a session that broke (it closed itself); its slot goes to the next waiter."""
        self._count -= 1
        self.stats.reconnects += 1
        self._grant_slot()

    def _grant_slot(self) -> None:
        """A session slot is free and no login is under way: let the first waiter log in."""
        while self._queue and self._count < self.router.max_sessions and not self._opening:
            waiter = self._queue.popleft()
            if not waiter.done():
                self._count += 1
                self._opening += 1
                waiter.set_result(_OPEN)
                return

    def _close_later(self, session: Session) -> None:
        task = asyncio.get_running_loop().create_task(
            session.close(), name=f"close-{self.router.name}"
        )
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _open(self) -> Session:
        await self._open_limiter.acquire()
        started = time.monotonic()
        try:
            session = await asyncio.wait_for(self._opener(self.router), OPEN_TIMEOUT)
        except TimeoutError:
            exc = SessionError(  # no ping was sent: a session's failure, not a `timeout`
                self.router.name,
                models.STATUS_SESSION_ERROR,
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
        self._note(exc)
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

