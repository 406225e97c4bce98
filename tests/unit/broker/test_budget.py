"""A router's load (pure) and the broker's use of it: measured costs, worst case for new
lines, one warning a minute per router over budget (on a fake clock)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from linemon_agent.broker import budget
from linemon_agent.broker.core import Broker
from linemon_agent.broker.reporter import Reporter
from linemon_agent.broker.spool import Spool
from linemon_agent.models import Line, PingRequest, Router
from linemon_agent.platforms import get_platform
from linemon_agent.settings import Config


def test_load_is_session_time_needed_over_session_time_had() -> None:
    # 2,000 lines at 180 s: 1,900 healthy (0.15 s), 100 dead (10 s) on 4 sessions
    costs = [(0.15, 180)] * 1900 + [(10.0, 180)] * 100
    load = budget.router_load(costs, 4)
    assert load.demand == pytest.approx((1900 * 0.15 + 100 * 10) / 180)
    assert load.load == pytest.approx(load.demand / 4)
    assert load.load > 1.0 and load.sessions_needed == 8  # 7.14 / 0.9 -> 8
    assert budget.router_load(costs, 8).load <= budget.LOAD_WARN


def test_no_lines_no_load() -> None:
    assert budget.router_load([], 2) == budget.Load(0.0, 0.0, 0)


def test_ewma_follows_new_durations() -> None:
    value = None
    for sample in (10.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0):
        value = budget.ewma(value, sample)
    assert value is not None and 1.0 < value < 1.5


def test_worst_case_is_every_probe_timing_out() -> None:
    platform = get_platform("cisco_iosxe")
    line = Line("l1", "pe1", PingRequest("192.0.2.1", count=5, timeout=2))
    assert budget.worst_case(line, platform) == pytest.approx(5 * (2 + platform.probe_interval))


def _broker(tmp_path: Path, lines: int, max_sessions: int) -> Broker:
    async def send(values: list[dict[str, Any]]) -> tuple[int, int, int]:
        return len(values), 0, len(values)

    router = Router("pe1", "192.0.2.1", "cisco_iosxe", max_sessions=max_sessions)
    config = Config(
        routers={"pe1": router},
        lines={
            f"l{n}": Line(f"l{n}", "pe1", PingRequest(f"192.0.2.{n}", count=5, timeout=2), 30)
            for n in range(10, 10 + lines)
        },
    )
    return Broker(config, Reporter(Spool(tmp_path / "spool"), send))


def test_broker_load_uses_measured_costs_and_worst_case_for_new_lines(tmp_path: Path) -> None:

    broker = _broker(tmp_path, 12, 2)
    asyncio.run(broker.apply(broker.config))
    worst = budget.worst_case(broker.config.lines["l10"], get_platform("cisco_iosxe"))
    assert broker.loads()["pe1"].demand == pytest.approx(12 * worst / 30)
    for line_id in broker.config.lines:
        broker.costs[line_id] = 0.2
    assert broker.loads()["pe1"].demand == pytest.approx(12 * worst / 30)  # cached a while
    assert broker.loads(max_age=0)["pe1"].load == pytest.approx(12 * 0.2 / 30 / 2)


def test_one_load_warning_a_minute_per_router(tmp_path: Path, caplog: Any) -> None:

    broker = _broker(tmp_path, 12, 1)
    asyncio.run(broker.apply(broker.config))  # 12 lines x worst case 10+ s per 30 s: load > 4
    caplog.set_level(logging.WARNING, "linemon.broker")
    for second in range(0, 180, 5):  # three minutes on a fake clock, checked every 5 s
        broker.warn_loads(now=1000.0 + second)
    warnings = [r for r in caplog.records if "session budget" in r.getMessage()]
    assert len(warnings) == 3
    advice = warnings[0].__dict__["advice"]
    assert "raise max_sessions to" in advice and "pe1" in advice
    assert warnings[0].__dict__["sessions_needed"] >= 5
