"""The arithmetic behind the bench's figures: percentiles, lateness, targets, the table.

Pure functions over plain data, so they are tested without a broker (tests/unit).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

ON_TIME_S = 5.0


def percentile(values: Sequence[float], pct: float) -> float:
    """The nearest-rank percentile (``pct`` in 0..100) of ``values``; 0.0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100.0 * len(ordered)))
    return float(ordered[min(rank, len(ordered)) - 1])


def summary(values: Sequence[float], digits: int = 2) -> dict[str, float]:
    """Median, p99 and max of ``values`` (milliseconds or seconds, as given)."""
    return {
        "median": round(percentile(values, 50), digits),
        "p99": round(percentile(values, 99), digits),
        "max": round(max(values, default=0.0), digits),
    }


def lateness(clock: float, offset: float, interval: float, rounding: float = 0.011) -> float:
    """Seconds from a line's nearest planned slot (``offset`` + k * ``interval``) to ``clock``.

    Slots are wall-clock aligned as in the broker's scheduler (linemon_agent.broker.scheduler):
    a line with offset o and interval i is due at every t with t mod i == o. The broker
    reports offsets rounded to 10 ms, so a ping up to ``rounding`` before the rounded slot is
    that slot's ping, started on time (a small negative lateness), not one a whole interval late.
    """
    delay = (clock - offset) % interval
    return delay - interval if delay > interval - rounding else delay


@dataclass(frozen=True)
class Started:
    """One ping as the broker logged it: its line, its start clock, its status."""

    line: str
    clock: float
    status: str


PING_EVENT = re.compile(
    r"\bmsg=ping line=(?P<line>\S+) .*?\bstatus=(?P<status>\S+) .*?\bclock=(?P<clock>[0-9.]+)"
)


def ping_events(log_lines: Iterable[str]) -> Iterator[Started]:
    """The broker's per-ping log events (logfmt, level info): line, start clock, status."""
    for row in log_lines:
        match = PING_EVENT.search(row)
        if match:
            yield Started(match["line"], float(match["clock"]), match["status"])


def on_time(
    pings: Iterable[Started],
    offsets: Mapping[str, float],
    interval: float,
    window: tuple[float, float],
    expected: int,
) -> dict[str, Any]:
    """On-time figures for the pings whose slot falls in ``window`` (start, end) wall clock.

    A ping is on time when it went to the router (its result's clock) within ON_TIME_S of its
    slot. An overrun or a skipped ping (never sent; its value carries the slot as clock) is
    not; a slot with no value at all is not either: the denominator is ``expected`` (lines x
    intervals in the window) or the values seen, whichever is larger.
    """
    start, end = window
    late: list[float] = []
    seen = good = overruns = 0
    for ping in pings:
        if ping.line not in offsets:
            continue
        delay = lateness(ping.clock, offsets[ping.line], interval)
        slot = ping.clock - delay
        if not start <= slot < end:
            continue
        seen += 1
        if ping.status in ("overrun", "skipped"):  # never sent at its slot
            overruns += 1
            continue
        late.append(delay)
        if delay <= ON_TIME_S:
            good += 1
    slots = max(expected, seen)
    return {
        "slots": slots,
        "values_seen": seen,
        "on_time": good,
        "on_time_pct": round(100.0 * good / slots, 3) if slots else 0.0,
        "overruns": overruns,
        "lateness_s": summary(late, 3),
    }


@dataclass(frozen=True)
class Target:
    """One figure of the results checked against the issue's target."""

    scenario: str
    figure: str
    value: float | None
    unit: str
    target: str
    met: bool | None  # None: not measured (skipped or failed), or no target (informational)


def buckets(metrics_text: str, name: str) -> dict[float, int]:
    """A Prometheus histogram's cumulative bucket counts from /metrics text: {le: count}."""
    pattern = re.compile(rf'^{re.escape(name)}_bucket{{le="([^"]+)"}} (\d+)$', re.M)
    return {float(le): int(count) for le, count in pattern.findall(metrics_text)}


def bucket_quantile(before: Mapping[float, int], after: Mapping[float, int], q: float) -> float:
    """The upper bound of the bucket holding quantile ``q`` of what was observed between two
    scrapes (inf when it lies beyond the last finite bound; 0 with nothing observed)."""
    delta = {le: after[le] - before.get(le, 0) for le in sorted(after)}
    total = delta.get(math.inf, 0)
    if not total:
        return 0.0
    return next(le for le, count in delta.items() if count >= q * total)


def check(value: float | None, op: str, bound: float) -> bool | None:
    """``value`` against ``bound`` with ``op`` (">=" or "<="); None without a value or for
    op "info" (a figure reported beside the targets, e.g. the bare interpreter's start)."""
    if value is None or op == "info":
        return None
    return value >= bound if op == ">=" else value <= bound


def markdown(date: str, cores: int | None, quick: bool, targets: Sequence[Target]) -> str:
    """The table for the README: date, cores, each figure, its target, met or missed."""
    head = [
        f"linemon bench, {date}, {cores} cores{' (--quick)' if quick else ''}",
        "",
        "| scenario | figure | value | target | met |",
        "| --- | --- | --- | --- | --- |",
    ]
    rows = []
    for row in targets:
        value = "—" if row.value is None else f"{row.value:g} {row.unit}".strip()
        if row.met is None:
            verdict = "not measured" if row.value is None else "—"
        else:
            verdict = "met" if row.met else "missed"
        rows.append(f"| {row.scenario} | {row.figure} | {value} | {row.target} | {verdict} |")
    return "\n".join(head + rows)
