"""Interval scheduling: each line runs on its interval, a router's lines spread over it.

Planning is pure (``plan_offsets``, ``next_due``); ``Scheduler`` is the thin asyncio shell
that wakes at each due time, starts the line's task and detects overruns (a line whose previous
ping has not finished when its next slot comes is counted, logged and reported, never
silently queued twice). Overrun warnings are summarised: at most one log event per
``OVERRUN_LOG_INTERVAL`` seconds, with the count since the last one and a few line ids, so an
overloaded or cut-off broker writes a bounded log while its counters stay exact.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import math
import time
import zlib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from linemon_agent.models import Line, diff_keys

log = logging.getLogger("linemon.scheduler")

OVERRUN_LOG_INTERVAL = 60.0
OVERRUN_EXAMPLES = 5


def _phase(key: str) -> float:
    """A stable number in [0, 1) for ``key`` (the same across restarts)."""
    return (zlib.crc32(key.encode()) & 0xFFFFFFFF) / 2**32


def plan_offsets(lines: Iterable[Line]) -> dict[str, float]:
    """Offsets (seconds into the interval) spreading each router's lines evenly.

    Lines of one router and one interval are placed ``interval / n`` apart, starting at a
    phase derived from the router's name, so routers do not all start at second zero.
    """
    groups: dict[tuple[str, int], list[str]] = {}
    for line in lines:
        groups.setdefault((line.router, line.interval), []).append(line.id)
    offsets: dict[str, float] = {}
    for (router, interval), ids in groups.items():
        ids.sort()
        start = _phase(router) * interval
        step = interval / len(ids)
        for index, line_id in enumerate(ids):
            offsets[line_id] = (start + index * step) % interval
    return offsets


def next_due(now: float, interval: int, offset: float) -> float:
    """The first slot at or after ``now`` for a line (wall-clock aligned)."""
    slot = math.floor((now - offset) / interval) * interval + offset
    return slot if slot >= now else slot + interval


@dataclass
class SchedulerStats:
    dispatched: int = 0  # slots whose task was started
    overruns: int = 0  # slots not started: the line's previous task still ran


RunLine = Callable[[Line, float], Awaitable[None]]
OnOverrun = Callable[[Line, float], None]


class Scheduler:
    """Starts ``run(line, due)`` for every line at each of its slots."""

    def __init__(self, run: RunLine, on_overrun: OnOverrun, clock: Callable[[], float] = time.time):
        self._run = run
        self._on_overrun = on_overrun
        self._clock = clock
        self._lines: dict[str, Line] = {}
        self._offsets: dict[str, float] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._generation: dict[str, int] = {}
        self._in_flight: dict[str, asyncio.Task[None]] = {}
        self._wakeup = asyncio.Event()
        self._seq = 0
        self._overrun_log_at = -math.inf  # until then overruns are only counted
        self._overruns_unlogged: list[str] = []  # ids since the last summary (examples kept)
        self._overruns_unlogged_count = 0
        self.stats = SchedulerStats()

    @property
    def lines(self) -> Mapping[str, Line]:
        """The scheduled lines by id (a read-only view, not a copy)."""
        return MappingProxyType(self._lines)

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def offset(self, line_id: str) -> float | None:
        return self._offsets.get(line_id)

    def set_lines(self, lines: Iterable[Line]) -> tuple[int, int, int]:
        """Replace the line set; returns (added, changed, removed). Applies at once."""
        new = {line.id: line for line in lines}
        added, changed, removed = diff_keys(self._lines, new)
        self._lines = new
        self._offsets = plan_offsets(new.values())
        now = self._clock()
        for line_id in removed:
            self._generation.pop(line_id, None)
        for line_id in new:
            # Every line is re-queued: offsets move when a router's line count changes.
            self._push(line_id, next_due(now, new[line_id].interval, self._offsets[line_id]))
        self._wakeup.set()
        return len(added), len(changed), len(removed)

    def _push(self, line_id: str, due: float) -> None:
        self._seq += 1
        self._generation[line_id] = self._seq
        heapq.heappush(self._heap, (due, self._seq, line_id))

    async def run_forever(self) -> None:
        while True:
            next_at = self.dispatch_due()
            timeout = next_at - self._clock() if next_at is not None else 3600.0
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), max(0.0, timeout))

    def dispatch_due(self) -> float | None:
        """Start every line whose slot has come; return when the next slot is due."""
        now = self._clock()
        while self._heap and self._heap[0][0] <= now:
            due, seq, line_id = heapq.heappop(self._heap)
            if self._generation.get(line_id) != seq:
                continue  # superseded by a later plan, or the line was removed
            line = self._lines[line_id]
            self._push(line_id, due + line.interval)
            self._start(line, due, now)
        return self._heap[0][0] if self._heap else None

    def _start(self, line: Line, due: float, now: float) -> None:
        if line.id in self._in_flight:
            self.stats.overruns += 1
            self._log_overrun(line)
            self._on_overrun(line, due)
            return
        self.stats.dispatched += 1
        task = asyncio.get_running_loop().create_task(
            self._guarded(line, due), name=f"line-{line.id}"
        )
        self._in_flight[line.id] = task

    def _log_overrun(self, line: Line) -> None:
        """Count the overrun for the next summary; log one if the last is old enough."""
        self._overruns_unlogged_count += 1
        if len(self._overruns_unlogged) < OVERRUN_EXAMPLES:
            self._overruns_unlogged.append(line.id)
        now = self._clock()
        if now < self._overrun_log_at:
            return
        log.warning(
            "overrun: previous ping still running (summarised once a minute)",
            extra={
                "overruns": self._overruns_unlogged_count,  # since the last summary
                "lines": ",".join(self._overruns_unlogged),  # the first few of them
                "total_overruns": self.stats.overruns,
            },
        )
        self._overrun_log_at = now + OVERRUN_LOG_INTERVAL
        self._overruns_unlogged, self._overruns_unlogged_count = [], 0

    async def _guarded(self, line: Line, due: float) -> None:
        try:
            await self._run(line, due)
        except Exception:
            log.exception("line task failed", extra={"line": line.id, "router": line.router})
        finally:
            self._in_flight.pop(line.id, None)

    def running(self) -> list[asyncio.Task[None]]:
        """The lines' tasks still running (for shutdown to drain)."""
        return list(self._in_flight.values())
