"""A router's session budget (pure): what its lines cost, what it has, what it would need.

A router serves its lines through ``max_sessions`` sessions, so it has ``max_sessions``
session-seconds every second. A line costs the session time of its ping (an EWMA of its
recent durations; a line not measured yet counts its worst case, every probe timing out)
once per interval. ``load`` = cost per second / sessions: 1.0 means every session busy all
the time, and above that pings queue until they are skipped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from linemon_agent.models import Line
from linemon_agent.platforms.base import Platform

EWMA_WEIGHT = 0.3  # of the newest duration
LOAD_WARN = 0.9  # a router above this is warned about (and sized for)


def ewma(previous: float | None, sample: float) -> float:
    return sample if previous is None else previous + EWMA_WEIGHT * (sample - previous)


def worst_case(line: Line, platform: Platform) -> float:
    """A line's session time if every probe times out (before it has been measured)."""
    return line.request.count * (platform.per_probe_seconds(line.request) + platform.probe_interval)


@dataclass(frozen=True)
class Load:
    demand: float  # session-seconds the lines need per second
    load: float  # demand / max_sessions
    sessions_needed: int  # the fewest sessions that keep load <= LOAD_WARN


def router_load(costs: Iterable[tuple[float, int]], max_sessions: int) -> Load:
    """The load of a router whose lines cost ``(seconds, interval)`` each."""
    demand = sum(seconds / interval for seconds, interval in costs)
    needed = max(1, math.ceil(demand / LOAD_WARN - 1e-9)) if demand else 0
    return Load(demand, demand / max(1, max_sessions), needed)


def advice(router: str, load: Load, max_sessions: int) -> str:
    """What to change when a router's lines need more session time than it has."""
    return (
        f"router {router} needs {load.demand:.2f} session-seconds per second with "
        f"{max_sessions} sessions (load {load.load:.2f}): raise max_sessions to "
        f"{load.sessions_needed} (if the router allows that many vty sessions), lengthen "
        "the lines' intervals, or send fewer probes per ping"
    )
