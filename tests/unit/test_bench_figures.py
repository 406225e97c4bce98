"""The bench's arithmetic (scripts/benchlib/figures.py): percentiles, lateness, on time, table."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from benchlib import figures
from benchlib.figures import Started, Target


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert figures.percentile(values, 50) == 50.0
    assert figures.percentile(values, 99) == 99.0
    assert figures.percentile(values, 100) == 100.0
    assert figures.percentile([7.0], 99) == 7.0
    assert figures.percentile([], 50) == 0.0


def test_lateness_from_the_latest_slot() -> None:
    # offset 12.5 on a 60 s interval: slots at ...012.5, ...072.5
    assert figures.lateness(1_800_000_012.5 + 3.0, 12.5, 60) == pytest.approx(3.0)
    assert figures.lateness(1_800_000_072.5 + 0.25, 12.5, 60) == pytest.approx(0.25)
    # 59 s late is 59 s late, not early
    assert figures.lateness(1_800_000_012.5 + 59.0, 12.5, 60) == pytest.approx(59.0)


def test_lateness_tolerates_the_rounded_offset() -> None:
    # the broker reports offsets to 10 ms: a ping 4 ms "before" the rounded slot is on time
    assert figures.lateness(1_800_000_012.496, 12.5, 60) == pytest.approx(-0.004, abs=1e-6)


def test_on_time_counts_late_overrun_and_missing_slots() -> None:
    offsets = {"a": 0.0, "b": 30.0}
    pings = [
        Started("a", 600.0 + 1.0, "ok"),  # on time
        Started("b", 630.0 + 6.0, "ok"),  # 6 s late
        Started("a", 660.0, "overrun"),  # skipped slot
        Started("b", 690.0 + 0.5, "ok"),  # on time
        Started("a", 540.0 + 1.0, "ok"),  # slot before the window: ignored
        Started("x", 601.0, "ok"),  # not a line of ours: ignored
    ]
    seen = figures.on_time(pings, offsets, 60, (600.0, 720.0), expected=4)
    assert seen["values_seen"] == 4
    assert seen["on_time"] == 2
    assert seen["overruns"] == 1
    assert seen["on_time_pct"] == 50.0
    assert seen["lateness_s"]["max"] == 6.0
    # a slot with no value at all counts against on time
    fewer = figures.on_time(pings[:2], offsets, 60, (600.0, 720.0), expected=4)
    assert fewer["on_time_pct"] == 25.0


def test_check_and_markdown_verdicts() -> None:
    assert figures.check(99.95, ">=", 99.9) is True
    assert figures.check(1.2, "<=", 1.0) is False
    assert figures.check(None, "<=", 1.0) is None
    assert figures.check(24.0, "info", 0.0) is None
    table = figures.markdown(
        "2026-11-28T00:00:00Z",
        2,
        True,
        [
            Target("scale 1x1", "broker CPU", 0.5, "cores", "<= 1 core", True),
            Target("delivery", "Zabbix", None, "values/s", ">= 10,000/s", None),
            Target("client path", "bare python", 24.0, "ms", "(the floor)", None),
            Target("overhead", "median", 25.0, "ms", "<= 20 ms", False),
        ],
    )
    lines = table.splitlines()
    assert lines[0] == "linemon bench, 2026-11-28T00:00:00Z, 2 cores (--quick)"
    assert lines[4] == "| scale 1x1 | broker CPU | 0.5 cores | <= 1 core | met |"
    assert lines[5].endswith("| — | >= 10,000/s | not measured |")
    assert lines[6].endswith("| 24 ms | (the floor) | — |")
    assert lines[7].endswith("| missed |")


def test_ping_events_read_the_brokers_logfmt_lines() -> None:
    log = [
        'ts=2026-11-28T17:42:13.783Z level=info logger=linemon.sessions msg="session opened" '
        "router=r1 open_ms=307.6",
        "ts=2026-11-28T17:42:15.625Z level=info logger=linemon.broker msg=ping "
        "line=127.31.0.1-r0-0 router=127.31.0.1-r0 status=ok loss_pct=0.0 rtt_avg_ms=1.0 "
        "clock=1795887735.622279405",
        "ts=2026-11-28T17:42:16.000Z level=info logger=linemon.broker msg=ping line=l2 "
        "router=r status=overrun loss_pct=None rtt_avg_ms=None clock=1795887736.000000000",
    ]
    events = list(figures.ping_events(log))
    assert events == [
        Started("127.31.0.1-r0-0", 1795887735.622279405, "ok"),
        Started("l2", 1795887736.0, "overrun"),
    ]


def test_bucket_quantile_between_two_scrapes() -> None:
    text = "\n".join([
        "# TYPE linemon_socket_request_seconds histogram",
        'linemon_socket_request_seconds_bucket{le="0.001"} 10',
        'linemon_socket_request_seconds_bucket{le="0.002"} 10',
        'linemon_socket_request_seconds_bucket{le="0.005"} 10',
        'linemon_socket_request_seconds_bucket{le="+Inf"} 10',
        "linemon_socket_request_seconds_count 10",
    ])
    before = figures.buckets(text, "linemon_socket_request_seconds")
    assert before == {0.001: 10, 0.002: 10, 0.005: 10, float("inf"): 10}
    # then 100 more: 95 within 1 ms, 3 within 2 ms, 1 within 5 ms, 1 beyond
    after = {0.001: 105, 0.002: 108, 0.005: 109, float("inf"): 110}
    assert figures.bucket_quantile(before, after, 0.5) == 0.001
    assert figures.bucket_quantile(before, after, 0.98) == 0.002
    assert figures.bucket_quantile(before, after, 0.99) == 0.005
    assert figures.bucket_quantile(before, after, 1.0) == float("inf")
    assert figures.bucket_quantile(before, before, 0.99) == 0.0
