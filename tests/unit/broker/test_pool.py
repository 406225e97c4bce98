"""RouterPool with a fake opener: session limits, deadlines, backoff, rate limiting."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from linemon_agent import models
from linemon_agent.broker.sessions import RateLimiter, RouterPool
from linemon_agent.errors import SessionError
from linemon_agent.models import PingRequest, Router

OUTPUT = (
    "Type escape sequence to abort.\nSending 2, 100-byte ICMP Echos to 192.0.2.7, timeout is "
    "1 seconds:\n!!\nSuccess rate is 100 percent (2/2), round-trip min/avg/max = 1/2/3 ms\n"
)
ROUTER = Router(name="pe1", host="192.0.2.1", platform="cisco_iosxe", max_sessions=2)
REQUEST = PingRequest("192.0.2.7", count=2, timeout=1)


class FakeSession:
    def __init__(self, delay: float = 0.0, fail: SessionError | None = None) -> None:
        self.delay = delay
        self.fail = fail
        self.closed = False
        self.sent: list[str] = []

    async def send(self, command: str, timeout: float) -> str:
        self.sent.append(command)
        await asyncio.sleep(self.delay)
        if self.fail is not None:
            raise self.fail
        return OUTPUT

    async def close(self) -> None:
        self.closed = True

    def alive(self) -> bool:
        return not self.closed


def _pool(opener: object, grow: float = 0.0) -> RouterPool:
    """A pool that opens another session for any backlog (``grow``: the bound in seconds)."""
    return RouterPool(ROUTER, opener, RateLimiter(1000), 240.0, RateLimiter(1000), grow)  # type: ignore[arg-type]


def test_pings_share_at_most_max_sessions() -> None:
    opened: list[FakeSession] = []

    async def opener(router: Router) -> FakeSession:
        opened.append(FakeSession(delay=0.05))
        return opened[-1]

    async def scenario() -> list[models.PingResult]:
        pool = _pool(opener)
        outcomes = await asyncio.gather(*(pool.ping(REQUEST) for _ in range(6)))
        return [outcome.result for outcome in outcomes]

    results = asyncio.run(scenario())
    assert [r.status for r in results] == ["ok"] * 6
    assert len(opened) == 2
    assert sum(len(s.sent) for s in opened) == 6
    assert opened[0].sent[0] == "ping 192.0.2.7 repeat 2 timeout 1"


def test_failed_open_backs_off_and_fails_fast() -> None:
    calls = 0

    async def opener(router: Router) -> FakeSession:
        nonlocal calls
        calls += 1
        raise SessionError(router.name, models.STATUS_AUTH_ERROR, "login refused")

    async def scenario() -> list[models.PingResult]:
        pool = _pool(opener)
        first = (await pool.ping(REQUEST)).result
        started = time.monotonic()
        rest = [(await pool.ping(REQUEST)).result for _ in range(5)]
        assert time.monotonic() - started < 0.5
        assert pool.in_backoff()
        return [first, *rest]

    results = asyncio.run(scenario())
    assert calls == 1
    assert {r.status for r in results} == {models.STATUS_AUTH_ERROR}
    assert "in backoff" in (results[-1].error or "")


def test_broken_session_is_discarded_and_replaced() -> None:
    sessions = [
        FakeSession(fail=SessionError("pe1", models.STATUS_SESSION_ERROR, "closed")),
        FakeSession(),
    ]

    async def opener(router: Router) -> FakeSession:
        return sessions.pop(0)

    async def scenario() -> tuple[models.PingResult, models.PingResult, RouterPool]:
        pool = _pool(opener)
        return (await pool.ping(REQUEST)).result, (await pool.ping(REQUEST)).result, pool

    broken, fine, pool = asyncio.run(scenario())
    assert broken.status == models.STATUS_SESSION_ERROR and broken.loss_pct is None
    assert fine.status == models.STATUS_OK
    assert pool.sessions == 1 and pool.stats.reconnects == 1


def test_rate_limiter_spaces_acquisitions() -> None:
    async def scenario() -> float:
        limiter = RateLimiter(50.0, burst=1.0)
        started = time.monotonic()
        for _ in range(6):
            await limiter.acquire()
        return time.monotonic() - started

    assert asyncio.run(scenario()) >= 5 / 50.0 * 0.9


def test_idle_sessions_are_kept_warm_and_dead_ones_dropped() -> None:
    sessions = [FakeSession(), FakeSession()]

    async def opener(router: Router) -> FakeSession:
        return sessions.pop(0)

    async def scenario() -> RouterPool:
        pool = RouterPool(ROUTER, opener, RateLimiter(1000), 0.0, RateLimiter(1000), 0.0)  # type: ignore[arg-type]
        await asyncio.gather(*(pool.ping(REQUEST) for _ in range(3)))  # a backlog: 2 sessions
        first, second = (s for s, _ in pool._idle)
        second.fail = SessionError("pe1", models.STATUS_SESSION_ERROR, "gone")  # type: ignore[attr-defined]
        await pool.keep_warm()
        assert first.sent[-1] == "" and first.alive()  # type: ignore[attr-defined]
        return pool

    pool = asyncio.run(scenario())
    assert pool.stats.keepalives == 1 and pool.sessions == 1


# -- the router's queue (issue 11) ---------------------------------------------------------


def test_queued_pings_are_served_in_order_and_report_their_wait() -> None:
    one = Router(name="pe1", host="192.0.2.1", platform="cisco_iosxe", max_sessions=1)
    session = FakeSession(delay=0.05)

    async def opener(router: Router) -> FakeSession:
        return session

    async def scenario() -> list[Any]:
        pool = RouterPool(one, opener, RateLimiter(1000), 240.0, RateLimiter(1000))  # type: ignore[arg-type]
        requests = [PingRequest(f"192.0.2.{n}", count=2, timeout=1) for n in range(10, 14)]
        return list(await asyncio.gather(*(pool.ping(r) for r in requests)))

    outcomes = asyncio.run(scenario())
    assert [o.result.status for o in outcomes] == ["ok"] * 4
    assert [cmd.split()[1] for cmd in session.sent] == [f"192.0.2.{n}" for n in range(10, 14)]
    queued = [o.queued_s for o in outcomes]
    assert queued == sorted(queued) and queued[3] >= 0.14  # three pings of 0.05 s before it
    assert all(o.sent_at is not None and o.duration_s >= 0.04 for o in outcomes)


def test_a_ping_that_cannot_start_before_it_expires_is_skipped_never_sent() -> None:
    one = Router(name="pe1", host="192.0.2.1", platform="cisco_iosxe", max_sessions=1)
    session = FakeSession(delay=0.3)

    async def opener(router: Router) -> FakeSession:
        return session

    async def scenario() -> tuple[Any, Any, RouterPool]:
        pool = RouterPool(one, opener, RateLimiter(1000), 240.0, RateLimiter(1000))  # type: ignore[arg-type]
        busy = asyncio.ensure_future(pool.ping(REQUEST))
        await asyncio.sleep(0.01)
        late = await pool.ping(PingRequest("192.0.2.99"), expires=time.monotonic() + 0.1)
        return await busy, late, pool

    busy, late, pool = asyncio.run(scenario())
    assert busy.result.status == models.STATUS_OK
    assert late.result.status == models.STATUS_SKIPPED and late.sent_at is None
    assert "busy" in (late.result.error or "") and "max_sessions" in (late.result.error or "")
    assert late.queued_s >= 0.09 and late.result.loss_pct is None
    assert all("192.0.2.99" not in cmd for cmd in session.sent)  # never went to the router
    assert pool.stats.skipped == 1 and pool.stats.timeouts == 0
    assert pool.sessions == 1 and pool.waiting == 0


def test_a_broken_session_hands_its_slot_to_the_next_in_the_queue() -> None:
    one = Router(name="pe1", host="192.0.2.1", platform="cisco_iosxe", max_sessions=1)
    sessions = [
        FakeSession(delay=0.05, fail=SessionError("pe1", models.STATUS_SESSION_ERROR, "gone")),
        FakeSession(),
    ]

    async def opener(router: Router) -> FakeSession:
        return sessions.pop(0)

    async def scenario() -> list[Any]:
        pool = RouterPool(one, opener, RateLimiter(1000), 240.0, RateLimiter(1000))  # type: ignore[arg-type]
        return list(await asyncio.gather(pool.ping(REQUEST), pool.ping(REQUEST)))

    broken, next_one = asyncio.run(scenario())
    assert broken.result.status == models.STATUS_SESSION_ERROR
    assert next_one.result.status == models.STATUS_OK and not sessions


def test_follow_up_runs_on_the_same_session_in_the_same_turn() -> None:
    session = FakeSession()

    async def opener(router: Router) -> FakeSession:
        return session

    async def scenario() -> Any:
        pool = _pool(opener)
        probe = PingRequest("192.0.2.7", count=1, timeout=1)
        return await pool.ping(probe, follow_up=lambda result: REQUEST)

    outcome = asyncio.run(scenario())
    assert session.sent == [
        "ping 192.0.2.7 repeat 1 timeout 1",
        "ping 192.0.2.7 repeat 2 timeout 1",
    ]
    assert outcome.result.status == models.STATUS_OK


def test_one_login_at_a_time_and_the_pool_grows_while_pings_wait() -> None:
    opening, most_at_once, opened = 0, 0, []

    async def opener(router: Router) -> FakeSession:
        nonlocal opening, most_at_once
        opening += 1
        most_at_once = max(most_at_once, opening)
        await asyncio.sleep(0.02)
        opening -= 1
        opened.append(FakeSession(delay=0.2))
        return opened[-1]

    async def scenario() -> tuple[list[bool], int]:
        pool = _pool(opener, grow=0.1)  # 2 queued pings of 0.2 s: 0.4 s of work, grow
        saturated = [pool.saturated]
        first = asyncio.ensure_future(pool.ping(REQUEST))
        await asyncio.sleep(0)
        saturated.append(pool.saturated)  # a login under way: the next ping would wait
        rest = [asyncio.ensure_future(pool.ping(REQUEST)) for _ in range(3)]
        await asyncio.gather(first, *rest)
        saturated.append(pool.saturated)  # two idle sessions
        return saturated, pool.sessions

    saturated, sessions = asyncio.run(scenario())
    assert most_at_once == 1  # never two logins to one router at once
    assert sessions == len(opened) == 2  # grew to max_sessions while pings waited
    assert saturated == [False, True, False]


def test_quick_pings_queued_during_a_login_do_not_open_another_session() -> None:
    opened: list[FakeSession] = []

    async def opener(router: Router) -> FakeSession:
        await asyncio.sleep(0.2)  # a slow login (e.g. the open rate limit at a cold start)
        opened.append(FakeSession(delay=0.01))
        return opened[-1]

    async def scenario() -> None:
        pool = _pool(opener, grow=1.0)  # the default bound: 1 s of queued work
        first = asyncio.ensure_future(pool.ping(REQUEST))
        await asyncio.sleep(0.01)
        await asyncio.gather(first, *(pool.ping(REQUEST) for _ in range(5)))
        await pool.ping(REQUEST)

    asyncio.run(scenario())
    assert len(opened) == 1


def test_a_login_that_does_not_finish_is_a_session_error_not_a_timeout(monkeypatch: Any) -> None:
    monkeypatch.setattr("linemon_agent.broker.sessions.OPEN_TIMEOUT", 0.05)

    async def opener(router: Router) -> FakeSession:
        await asyncio.sleep(1.0)  # connected, no prompt
        return FakeSession()

    outcome = asyncio.run(_pool(opener).ping(REQUEST))
    assert outcome.sent_at is None  # never sent: not the line's `timeout`
    assert outcome.result.status == models.STATUS_SESSION_ERROR
    assert "login did not finish" in (outcome.result.error or "")
