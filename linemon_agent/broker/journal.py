"""What the broker writes about its lines: changes at info, every ping only at debug.

At ``info`` the log grows with what changes, not with the number of lines: a line that
stops answering, answers again, or cannot be measured (with the result that changed it),
and one summary a minute (pings and results by status since the last, values delivered and
waiting, sessions, the busiest router's load). Each ping is one ``ping`` record at
``debug``. Statuses that say something about the router rather than the line (it refused a
session, is unreachable, is in backoff, was too busy: ``skipped``, ``overrun``) leave the
line's state as it was: the pools, the overrun summary and the summary line report those, so
a router outage or an overload is a few lines, not one per line.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from linemon_agent import models
from linemon_agent.models import Line, PingResult

log = logging.getLogger("linemon.lines")

SUMMARY_INTERVAL = 60.0

ANSWERING = "answering"
NOT_ANSWERING = "not answering"
UNMEASURABLE = "cannot be measured"

# A result with one of these says nothing new about the line itself.
_ROUTER_STATUSES = frozenset(
    {
        models.STATUS_UNREACHABLE,
        models.STATUS_AUTH_ERROR,
        models.STATUS_HOST_KEY_ERROR,
        models.STATUS_SESSION_ERROR,
        models.STATUS_SESSION_REFUSED,
        models.STATUS_OVERRUN,
        models.STATUS_SKIPPED,
    }
)


def line_state(result: PingResult) -> str | None:
    """The line's state this result shows, or None when it shows nothing about the line."""
    if result.status in _ROUTER_STATUSES:
        return None
    if result.status == models.STATUS_OK:
        return ANSWERING
    if result.status == models.STATUS_NO_REPLY:
        return NOT_ANSWERING
    return UNMEASURABLE


class Journal:
    """Logs each line's state changes and a summary a minute; every ping at debug."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._states: dict[str, str] = {}
        self._since: Counter[str] = Counter()
        self._next_summary = clock() + SUMMARY_INTERVAL

    def result(self, line: Line, result: PingResult, clock: str) -> None:
        """One result of ``line``; ``clock`` is its Zabbix clock as "seconds.nanoseconds"."""
        self._since[result.status] += 1
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "ping",
                extra={
                    "line": line.id,
                    "router": line.router,
                    "status": result.status,
                    "loss_pct": result.loss_pct,
                    "rtt_avg_ms": result.rtt_avg_ms,
                    "clock": clock,
                },
            )
        state = line_state(result)
        if state is None:
            return
        before = self._states.get(line.id)
        self._states[line.id] = state
        if state == before or (before is None and state == ANSWERING):
            return  # unchanged, or a new line that answers: nothing to say
        level = logging.INFO if state == ANSWERING else logging.WARNING
        log.log(
            level,
            f"line {state}",
            extra={
                "line": line.id,
                "router": line.router,
                "target": line.request.target,
                "was": before or "new",
                "status": result.status,
                "loss_pct": result.loss_pct,
                "error": result.error or "",
            },
        )

    def forget(self, line_ids: Iterable[str]) -> None:
        for line_id in line_ids:
            self._states.pop(line_id, None)

    def summary_due(self) -> bool:
        return self._clock() >= self._next_summary

    def summarise(self, figures: dict[str, Any]) -> None:
        """The minute's summary: ``figures`` (sessions, delivery, load) plus the pings."""
        self._next_summary = self._clock() + SUMMARY_INTERVAL
        pings, self._since = self._since, Counter()
        log.info(
            "summary (once a minute)",
            extra={
                "pings": sum(pings.values()),
                "results": ",".join(f"{k}:{v}" for k, v in sorted(pings.items())) or "-",
                "lines_not_answering": sum(1 for s in self._states.values() if s != ANSWERING),
                **figures,
            },
        )
