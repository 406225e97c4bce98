"""Concurrent probes of new items: bound on requests in flight, one value per probe, and a
refused item among accepted ones, against a fake send that answers after a delay; and the
``zabbix.probe_concurrency`` setting."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from linemon_agent.broker.reporter import Reporter
from linemon_agent.broker.rounds import ItemState
from linemon_agent.broker.spool import Spool
from linemon_agent.config import parse_config
from linemon_agent.errors import ConfigError
from linemon_agent.models import TrapperValue


class SlowTrapper:
    """A send() answering after ``delay`` s, refusing ``refused`` keys, recording concurrency."""

    def __init__(self, delay: float, refused: set[str]) -> None:
        self.delay = delay
        self.refused = refused
        self.in_flight = 0
        self.peak = 0
        self.calls: list[list[dict[str, Any]]] = []

    async def __call__(self, values: list[dict[str, Any]]) -> tuple[int, int, int]:
        self.calls.append(values)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        await asyncio.sleep(self.delay)
        self.in_flight -= 1
        ok = sum(1 for v in values if v["key"] not in self.refused)
        return ok, len(values) - ok, len(values)


def test_probes_run_concurrently_within_the_bound(tmp_path: Path) -> None:
    zabbix = SlowTrapper(0.05, refused={"k7"})
    reporter = Reporter(
        Spool(tmp_path / "spool"),
        zabbix,
        flush_interval=0.02,
        probe_concurrency=4,
        reject_after=3600.0,
        probe_base=60.0,
    )
    # items probed alone before (never probed ones go in one group: test_reporter_groups.py)
    reporter.items.update({("h", f"k{i}"): ItemState() for i in range(20)})

    async def main() -> None:
        task = asyncio.create_task(reporter.run())
        for i in range(20):
            reporter.submit(TrapperValue("h", f"k{i}", "1", 1_700_000_000, 0))
        await asyncio.sleep(0.6)
        await reporter.stop(1.0)
        assert task.done()

    asyncio.run(main())
    probes = zabbix.calls[:20]
    assert all(len(call) == 1 for call in probes)  # one value per probe
    assert sorted(c[0]["key"] for c in probes) == sorted(f"k{i}" for i in range(20))
    assert zabbix.peak == 4  # concurrent, never above the bound
    stats = reporter.stats()
    assert stats["sent"] == 19 and stats["pending"] == 1  # k7 refused, kept for a retry


def _zabbix_doc(tmp_path: Path, **zabbix: Any) -> dict[str, Any]:
    return {
        "broker": {"socket": str(tmp_path / "b.sock"), "state_dir": str(tmp_path / "state")},
        "zabbix": {"server": "127.0.0.1", "port": 10051, **zabbix},
    }


def test_probe_concurrency_setting_is_read_and_bounded(tmp_path: Path) -> None:
    assert parse_config(_zabbix_doc(tmp_path), "t.toml", env={}).zabbix.probe_concurrency == 8
    doc = _zabbix_doc(tmp_path, probe_concurrency=3)
    assert parse_config(doc, "t.toml", env={}).zabbix.probe_concurrency == 3
    env = {"LINEMON_ZABBIX_PROBE_CONCURRENCY": "5"}
    assert parse_config(_zabbix_doc(tmp_path), "t.toml", env=env).zabbix.probe_concurrency == 5
    for bad in (0, 65):
        with pytest.raises(ConfigError, match=r"zabbix\.probe_concurrency"):
            parse_config(_zabbix_doc(tmp_path, probe_concurrency=bad), "t.toml", env={})


def test_concurrent_probes_failing_together_lose_nothing_and_back_off_once(
    tmp_path: Path,
) -> None:
    """Zabbix down for the first 4 requests, which are 4 probes in flight together: every
    value arrives once afterwards, and the backoff took one step, not four."""
    zabbix = SlowTrapper(0.02, refused=set())
    failures = [4]

    async def flaky(values: list[dict[str, Any]]) -> tuple[int, int, int]:
        if failures[0]:
            failures[0] -= 1
            await asyncio.sleep(0.02)
            raise ConnectionRefusedError("connection refused")
        return await zabbix(values)

    reporter = Reporter(Spool(tmp_path / "spool"), flaky, flush_interval=0.02,
                        probe_concurrency=4, retry_base=0.2, retry_cap=10.0)
    reporter.items.update({("h", f"k{i}"): ItemState() for i in range(12)})  # probed alone
    retry_after_failures: list[float] = []

    async def main() -> None:
        task = asyncio.create_task(reporter.run())
        for i in range(12):
            reporter.submit(TrapperValue("h", f"k{i}", str(i), 1_700_000_000 + i, 0))
        while reporter.stats()["send_errors"] < 4:
            await asyncio.sleep(0.005)
        retry_after_failures.append(reporter.stats()["retry_in_s"])
        while reporter.stats()["sent"] < 12:
            await asyncio.sleep(0.01)
        await reporter.stop(1.0)
        assert task.done()

    asyncio.run(asyncio.wait_for(main(), 10))
    delivered = [call[0]["key"] for call in zabbix.calls]
    assert sorted(delivered) == sorted(f"k{i}" for i in range(12))  # each once, none lost
    stats = reporter.stats()
    assert (stats["send_errors"], stats["sent"], stats["pending"]) == (4, 12, 0)
    assert retry_after_failures[0] <= 0.2  # one step (0.1-0.2 s); four would be 0.8-1.6 s
