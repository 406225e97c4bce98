"""Plain data shared by every layer: routers, lines, ping requests (always validated),
normalized results and the trapper values they become. No I/O, no broker or config import."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from linemon_agent import options, validate

# Result statuses. ``ok`` and ``no_reply`` are measurements; the others say why there is none.
STATUS_OK = "ok"
STATUS_NO_REPLY = "no_reply"
STATUS_PARSE_ERROR = "parse_error"
STATUS_COMMAND_ERROR = "command_error"
STATUS_TIMEOUT = "timeout"
STATUS_UNREACHABLE = "router_unreachable"
STATUS_AUTH_ERROR = "auth_error"
STATUS_HOST_KEY_ERROR = "host_key_error"
STATUS_SESSION_ERROR = "session_error"
STATUS_SESSION_REFUSED = "session_refused"  # the router answered but refused a session
STATUS_OVERRUN = "overrun"
# never sent: the router's sessions were busy with earlier pings until the line's next slot
STATUS_SKIPPED = "skipped"
STATUS_INVALID = "invalid_request"
MEASUREMENT_STATUSES = frozenset({STATUS_OK, STATUS_NO_REPLY})
ALL_STATUSES = (
    STATUS_OK,
    STATUS_NO_REPLY,
    STATUS_PARSE_ERROR,
    STATUS_COMMAND_ERROR,
    STATUS_TIMEOUT,
    STATUS_UNREACHABLE,
    STATUS_AUTH_ERROR,
    STATUS_HOST_KEY_ERROR,
    STATUS_SESSION_ERROR,
    STATUS_OVERRUN,
    STATUS_INVALID,
    STATUS_SESSION_REFUSED,
    STATUS_SKIPPED,
)

DEFAULT_COUNT = 5
DEFAULT_ITEM_KEY = "linemon.result"


@dataclass(frozen=True)
class PingRequest:
    """One ping to run on a router. Every field is validated on construction.

    ``timeout`` is the per-probe wait in seconds; ``size`` the payload size in bytes as the
    platform counts it. ``None`` means "the device's default".
    """

    target: str
    count: int = DEFAULT_COUNT
    size: int | None = None
    timeout: float | None = None
    vrf: str | None = None
    source: str | None = None
    source_interface: str | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "target", validate.target(self.target))
        set_(self, "count", validate.count(self.count))
        if self.size is not None:
            set_(self, "size", validate.size(self.size))
        if self.timeout is not None:
            set_(self, "timeout", validate.timeout(self.timeout))
        if self.vrf is not None:
            set_(self, "vrf", validate.vrf(self.vrf))
        if self.source is not None:
            set_(self, "source", validate.address(self.source, "source"))
        if self.source_interface is not None:
            set_(self, "source_interface", validate.interface(self.source_interface))

    @classmethod
    def from_strings(cls, values: Mapping[str, object]) -> PingRequest:
        """Build a request from loosely typed values (CLI flags, TOML, Zabbix macros).

        Empty strings and ``None`` mean "not set". Unknown keys are an error.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, raw in values.items():
            if key not in known:
                raise validate.ValidationError("option", key, f"unknown; known: {sorted(known)}")
            if raw is None or (isinstance(raw, str) and raw.strip() == ""):
                continue
            kind = _OPTION_KINDS.get(key, "str")
            if kind == "int":
                kwargs[key] = validate.integer(raw, key)
            elif kind == "float":
                kwargs[key] = validate.number(raw, key)
            else:
                kwargs[key] = raw
        if "target" not in kwargs:
            raise validate.ValidationError("target", "", "is required")
        return cls(**kwargs)

    def options(self) -> dict[str, object]:
        """The options set on this request beyond target and count, by name."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in ("target", "count") and getattr(self, f.name) is not None
        }


def loss_percent(sent: int, received: int) -> float:
    """Loss as a percentage of ``sent`` with 3 decimals; never negative, 100 when nothing sent."""
    if sent <= 0:
        return 100.0
    return max(0.0, round(100.0 * (sent - received) / sent, 3))


@dataclass(frozen=True)
class PingResult:
    """The normalized answer of one ping, the same for every platform.

    ``sent``/``received`` come from the device's own summary. RTTs are milliseconds, or
    ``None`` when nothing came back or the platform prints no such figure.
    """

    status: str
    sent: int | None = None
    received: int | None = None
    loss_pct: float | None = None
    rtt_min_ms: float | None = None
    rtt_avg_ms: float | None = None
    rtt_max_ms: float | None = None
    rtt_stddev_ms: float | None = None
    duplicates: int = 0
    errors: int = 0
    marks: str | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def measured(
        cls,
        sent: int,
        received: int,
        rtt_min_ms: float | None = None,
        rtt_avg_ms: float | None = None,
        rtt_max_ms: float | None = None,
        rtt_stddev_ms: float | None = None,
        **kwargs: Any,
    ) -> PingResult:
        """A measurement from a device summary; RTTs are dropped when nothing came back."""
        if received <= 0:
            rtt_min_ms = rtt_avg_ms = rtt_max_ms = rtt_stddev_ms = None
        return cls(
            status=STATUS_OK if received > 0 else STATUS_NO_REPLY,
            sent=sent,
            received=received,
            loss_pct=loss_percent(sent, received),
            rtt_min_ms=_ms(rtt_min_ms),
            rtt_avg_ms=_ms(rtt_avg_ms),
            rtt_max_ms=_ms(rtt_max_ms),
            rtt_stddev_ms=_ms(rtt_stddev_ms),
            **kwargs,
        )

    @classmethod
    def failed(cls, status: str, error: str) -> PingResult:
        """A result that carries no measurement, only why."""
        return cls(status=status, error=error)

    @property
    def is_measurement(self) -> bool:
        return self.status in MEASUREMENT_STATUSES

    def to_dict(self) -> dict[str, Any]:
        # Shallow rather than dataclasses.asdict, which deep-copies every field: it was a
        # visible share of the broker's CPU per ping (issue 6 profile).
        data = {name: getattr(self, name) for name in _RESULT_FIELDS}
        if self.extra:
            data["extra"] = copy.deepcopy(self.extra)
        else:
            del data["extra"]
        for key in ("marks", "error"):
            if data[key] is None:
                del data[key]
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PingResult:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


_RESULT_FIELDS = tuple(field.name for field in dataclasses.fields(PingResult))


def _ms(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    if math.isnan(value) or math.isinf(value) or value < 0:
        return None
    return round(value, 3)


_OPTION_KINDS = {option.name: option.kind for option in options.PING_OPTIONS}


@dataclass(frozen=True)
class Router:
    name: str
    host: str
    platform: str
    credentials: str = "default"
    port: int = 22
    max_sessions: int = 2
    transport: str = ""


@dataclass(frozen=True)
class Line:
    """One monitored line: what to ping, from which router, how often, and where to report."""

    id: str
    router: str
    request: PingRequest
    interval: int = 60
    zabbix_host: str = ""
    zabbix_key: str = DEFAULT_ITEM_KEY
    origin: str = "config"
    #: probes sent first when the last ping had no reply (None: the broker's setting; 0: off)
    down_probe_count: int | None = None


@dataclass(frozen=True)
class TrapperValue:
    """One value for a Zabbix trapper item, with the measurement's own clock and ns."""

    host: str
    key: str
    value: str
    clock: int
    ns: int

    def __post_init__(self) -> None:
        if not 0 <= self.ns <= 999_999_999:
            raise validate.ValidationError("ns", self.ns, "must be 0-999999999")

    @property
    def item(self) -> tuple[str, str]:
        """The (host, key) pair Zabbix stores the value under."""
        return (self.host, self.key)

    def as_dict(self) -> dict[str, str | int]:
        """The value as the Zabbix sender protocol's ``data`` element."""
        return {
            "host": self.host,
            "key": self.key,
            "value": self.value,
            "clock": self.clock,
            "ns": self.ns,
        }


class Diff(NamedTuple):
    """Keys added, changed (value differs) and removed between two mappings."""

    added: list[str]
    changed: list[str]
    removed: list[str]


def diff_keys(old: Mapping[str, object], new: Mapping[str, object]) -> Diff:
    """What it takes to go from ``old`` to ``new``, key by key (pure)."""
    return Diff(
        [key for key in new if key not in old],
        [key for key in new if key in old and old[key] != new[key]],
        [key for key in old if key not in new],
    )


def result_payload(
    line: Line, result: PingResult, clock: float, duration_s: float, queued_s: float = 0.0
) -> dict[str, Any]:
    """The one shape of a line's result: sent to Zabbix, kept as its last, answered to clients.

    ``clock`` is when the command went to the router (or the slot, for a ping never sent),
    ``duration_ms`` how long the router took, ``queued_ms`` how long the ping waited for a
    free session before that.
    """
    payload = result.to_dict()
    payload.update(
        line=line.id,
        router=line.router,
        target=line.request.target,
        clock=round(clock, 3),
        duration_ms=round(duration_s * 1000, 1),
        queued_ms=round(queued_s * 1000, 1),
    )
    return payload
