"""Pure scheduling: offsets spread a router's lines; slots are wall-clock aligned."""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any

from linemon_agent.broker.scheduler import Scheduler, next_due, plan_offsets
from linemon_agent.models import Line, PingRequest


def _line(i: int, router: str = "pe1", interval: int = 60) -> Line:
    return Line(id=f"l{i:03d}", router=router, request=PingRequest(f"192.0.2.{i % 250 + 1}"),
                interval=interval, zabbix_host=f"l{i}")


def test_offsets_spread_evenly_per_router() -> None:
    lines = [_line(i) for i in range(12)]
    offsets = sorted(plan_offsets(lines).values())
    gaps = [round(b - a, 6) for a, b in itertools.pairwise(offsets)]
    assert len(offsets) == 12 and all(0 <= o < 60 for o in offsets)
    assert all(abs(g - 5.0) < 1e-6 for g in gaps)


def test_offsets_are_stable_and_routers_get_different_phases() -> None:
    a = [_line(i, "pe1") for i in range(3)]
    b = [_line(i + 100, "pe2") for i in range(3)]
    first = plan_offsets(a + b)
    assert first == plan_offsets(list(reversed(a + b)))
    assert first["l000"] != first["l100"]


def test_next_due() -> None:
    assert next_due(1000.0, 60, 10.0) == 1030.0
    assert next_due(1030.0, 60, 10.0) == 1030.0
    assert next_due(1030.5, 60, 10.0) == 1090.0


def test_scheduler_runs_lines_at_their_slots_and_counts_overruns() -> None:
    """A fake clock drives the real scheduler; slow pings produce overruns, not a backlog."""
    now = [0.0]
    started: list[tuple[str, float]] = []
    overruns: list[str] = []
    release = asyncio.Event()

    async def run(line: Line, due: float) -> None:
        started.append((line.id, due))
        if line.id == "l001":
            await release.wait()  # this line's ping never finishes during the test

    async def scenario() -> None:
        sched = Scheduler(run, lambda line, due: overruns.append(line.id), clock=lambda: now[0])
        sched.set_lines([_line(0, interval=10), _line(1, interval=10)])
        for step in range(1, 36):
            now[0] = step
            sched.dispatch_due()
            await asyncio.sleep(0)
        release.set()
        assert sched.stats.overruns == len(overruns)

    asyncio.run(scenario())
    runs0 = [due for line_id, due in started if line_id == "l000"]
    assert len(runs0) == 3 and runs0[1] - runs0[0] == 10
    assert [i for i, _ in started].count("l001") == 1
    assert overruns.count("l001") >= 2


def test_overrun_warnings_are_summarised_and_counts_stay_exact(caplog: Any) -> None:
    """100 stuck lines over 10 minutes: every overrun counted, one warning a minute at most."""
    now = [0.0]
    overruns: list[str] = []
    release = asyncio.Event()

    async def run(line: Line, due: float) -> None:
        await release.wait()  # every ping hangs (a silent router)

    async def scenario() -> Scheduler:
        sched = Scheduler(run, lambda line, due: overruns.append(line.id), clock=lambda: now[0])
        sched.set_lines([_line(i, interval=10) for i in range(100)])
        for step in range(1, 601):
            now[0] = step
            sched.dispatch_due()
            await asyncio.sleep(0)
        release.set()
        await asyncio.sleep(0)
        return sched

    with caplog.at_level(logging.WARNING, logger="linemon.scheduler"):
        sched = asyncio.run(scenario())
    warnings = [r for r in caplog.records if r.getMessage().startswith("overrun")]
    assert sched.stats.overruns == len(overruns) == 100 * 59  # 60 slots, the first one ran
    assert 10 <= len(warnings) <= 11  # the first at once, then one a minute
    assert sum(r.__dict__["overruns"] for r in warnings) <= sched.stats.overruns
    assert warnings[-1].__dict__["total_overruns"] <= sched.stats.overruns
    assert warnings[0].__dict__["overruns"] == 1 and warnings[0].__dict__["lines"]
    assert all(len(r.__dict__["lines"].split(",")) <= 5 for r in warnings)
