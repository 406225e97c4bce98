"""What the broker shows of itself: typed status and router views, line rows, LLD rows.

Pure shapes and builders, read by the socket's operations, ``/healthz`` and ``/metrics``;
nothing here changes state.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from linemon_agent.models import Line, Router


@dataclass
class RouterCounters:
    """What a router's pool counts (kept by the pool, shown in its view)."""

    opened: int = 0
    open_failures: int = 0
    reconnects: int = 0
    pings: int = 0
    timeouts: int = 0
    skipped: int = 0
    last_error: str = ""

    def counters(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(RouterCounters)}


@dataclass(kw_only=True)
class RouterView(RouterCounters):
    """One router: its sessions and queue now, its counters, and its load."""

    name: str
    host: str
    platform: str
    max_sessions: int
    sessions: int = 0
    busy: int = 0
    waiting: int = 0
    backoff_s: float = 0.0
    #: session time its lines need / session time it has (1.0: every session always busy)
    load: float = 0.0
    #: sessions that would bring the load under the warning threshold
    sessions_needed: int = 0

    @classmethod
    def unopened(cls, router: Router) -> RouterView:
        return cls(
            name=router.name,
            host=router.host,
            platform=router.platform,
            max_sessions=router.max_sessions,
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class BrokerStatus:
    """The broker's health and counters (``linemon status``, /healthz, /metrics)."""

    uptime_s: float
    routers: int
    lines: int
    sessions: int
    sessions_busy: int
    routers_in_backoff: int
    queue_depth: int
    in_flight: int
    pings_started: int  # commands sent to routers for scheduled slots
    pings_on_time: int  # of those, sent within ON_TIME_SECONDS of the slot
    pings_late: int  # sent later than that, or never sent (skipped)
    pings_skipped: int
    overruns: int
    max_lateness_s: float
    max_router_load: float
    results: dict[str, int]
    reconnects: int
    open_failures: int
    rejected_lines: int
    delivery: dict[str, Any]
    #: named extra sections (spool, sync, metrics), shown as they are
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        sections = data.pop("sections")
        return {**data, **sections}


def line_row(line: Line, offset: float, last: dict[str, Any] | None) -> dict[str, Any]:
    """One line as ``linemon lines`` shows it, with its last result (or None)."""
    return {
        "id": line.id,
        "router": line.router,
        "target": line.request.target,
        "vrf": line.request.vrf or "",
        "interval": line.interval,
        "zabbix_host": line.zabbix_host,
        "zabbix_key": line.zabbix_key,
        "origin": line.origin,
        "offset_s": round(offset, 2),
        "last": last,
    }


def discovery_row(line: Line) -> dict[str, Any]:
    """One line as a Zabbix LLD row."""
    return {
        "{#LINE.ID}": line.id,
        "{#LINE.TARGET}": line.request.target,
        "{#LINE.ROUTER}": line.router,
        "{#LINE.VRF}": line.request.vrf or "",
        "{#LINE.INTERVAL}": line.interval,
        "{#LINE.HOST}": line.zabbix_host,
        "{#LINE.KEY}": line.zabbix_key,
    }


def health(status: BrokerStatus, pending_age_limit: float) -> dict[str, Any]:
    """``/healthz``: ok, or the reasons values are not reaching Zabbix (then HTTP 503)."""
    delivery = status.delivery
    reasons = []
    if delivery.get("held"):
        reasons.append(
            f"the spool cannot be written: {delivery['held']} values held in memory "
            f"({delivery.get('last_error') or 'see the log'})"
        )
    age = float(delivery.get("oldest_pending_age_s") or 0.0)
    if age > pending_age_limit:
        reasons.append(
            f"values waiting for Zabbix for {age:.0f} s (more than {pending_age_limit:g} s): "
            f"{delivery.get('pending', 0)} pending; last error: "
            f"{delivery.get('last_error') or 'none'}"
        )
    return {"ok": not reasons, "reasons": reasons, **status.to_dict()}
