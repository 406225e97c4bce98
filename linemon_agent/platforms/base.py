"""The Platform contract (data plus two pure functions) and parse helpers shared by platforms.

A platform never does I/O. It declares what scrapli needs to drive the device (driver name,
prompt, failure strings), which ping options its command line can express, how to build the
command and how to read the answer. Everything vendor-specific lives in a platform module.
"""

from __future__ import annotations

import abc
import math
import re
from collections.abc import Callable
from typing import Any, ClassVar

from linemon_agent.errors import CommandError, LinemonError, ParseError, UnsupportedOptionError
from linemon_agent.models import PingRequest, PingResult
from linemon_agent.options import PLATFORM_OPTIONS
from linemon_agent.validate import MAX_SIZE

# Every option beyond ``target`` and ``count`` that a request may carry.
OPTIONS = PLATFORM_OPTIONS

# The last line of defence: a built command may contain only these characters, whatever a
# platform module does. Validation has already canonicalised every value before this point.
_SAFE_COMMAND = re.compile(r"[A-Za-z0-9 _.:/=-]{1,512}\Z")

# Shared grammar pieces (BSD/iputils style), for platforms whose output follows them.
# Apply them to one line at a time (bounded length): they never cross a line break.
TRANSMITTED_RE = re.compile(
    r"(?P<sent>\d+)[ \t]+packets?[ \t]+transmitted,[ \t]+(?P<received>\d+)[ \t]+"
    r"(?:packets?[ \t]+)?received",
    re.IGNORECASE,
)
RTT_RE = re.compile(
    r"(?:round-trip|rtt)[ \t]+min/avg/max(?:/(?:mdev|stddev|std-dev))?[ \t]*=[ \t]*"
    r"(?P<min>\d+(?:[.,]\d+)?)/(?P<avg>\d+(?:[.,]\d+)?)/(?P<max>\d+(?:[.,]\d+)?)"
    r"(?:/(?P<stddev>\d+(?:[.,]\d+)?))?[ \t]*(?P<unit>ms|us|s)?\b",
    re.IGNORECASE,
)


# Longer lines are never matched against the grammar (keeps every regex linear).
MAX_LINE = 300
UNIT_TO_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
LOSS_RE = re.compile(r"(\d+(?:[.,]\d+)?)\s*%\s*packet\s+loss", re.IGNORECASE)
DUPLICATES_RE = re.compile(r"\+(\d+)\s+duplicates?", re.IGNORECASE)
ERRORS_RE = re.compile(r"\+(\d+)\s+errors?", re.IGNORECASE)


def split_lines(output: str) -> list[str]:
    """The output's lines, whatever its line endings."""
    return output.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def rtt_values(match: re.Match[str] | None) -> list[float | None]:
    """[min, avg, max, stddev] in milliseconds from an RTT_RE match (a missing unit is ms)."""
    if match is None:
        return [None, None, None, None]
    scale = UNIT_TO_MS[(match.group("unit") or "ms").lower()]
    return [
        None if match.group(key) is None else to_float(match.group(key)) * scale
        for key in ("min", "avg", "max", "stddev")
    ]


def to_float(text: str) -> float:
    """A decimal number as a device prints it: '1.5', '1,5' (localized), '632'."""
    return float(text.replace(",", "."))


class Platform(abc.ABC):
    """One router OS family: scrapli data, a ping command builder and a ping output parser."""

    #: registry name, e.g. ``cisco_iosxe``
    name: ClassVar[str]
    #: one line for ``linemon platforms``
    description: ClassVar[str]
    #: scrapli (core or community) platform name; ``generic`` for the GenericDriver
    scrapli_platform: ClassVar[str]
    #: prompt regex for the generic driver (``None``: the scrapli platform's own)
    prompt_pattern: ClassVar[str | None] = None
    #: substrings that mark a command as failed on this device
    failed_when_contains: ClassVar[tuple[str, ...]] = ()
    #: commands sent after login (e.g. to turn paging off) beyond what scrapli does
    on_open_commands: ClassVar[tuple[str, ...]] = ()
    #: a harmless command that keeps a session warm and proves it is alive
    keepalive_command: ClassVar[str] = ""
    #: the options of :data:`OPTIONS` this platform's ping command can express
    supports: ClassVar[frozenset[str]] = frozenset()
    #: payload sizes the device accepts
    size_range: ClassVar[tuple[int, int]] = (0, MAX_SIZE)
    #: per-probe timeouts (seconds) the device accepts
    timeout_range: ClassVar[tuple[float, float]] = (1.0, 60.0)
    #: the device's own per-probe timeout (seconds) when the request sets none
    default_timeout: ClassVar[float] = 2.0
    #: the device's own gap between probes (seconds)
    probe_interval: ClassVar[float] = 0.0

    def build_ping(self, request: PingRequest) -> str:
        """The exact command line for ``request``; raises on options the device cannot take."""
        self.check(request)
        command = self._build(request)
        if not _SAFE_COMMAND.match(command):
            raise UnsupportedOptionError(
                self.name, "command", command, "built command has characters outside the safe set"
            )
        return command

    def check(self, request: PingRequest) -> None:
        """Refuse options the platform cannot express and values outside its ranges."""
        for option, value in request.options().items():
            if option not in self.supports:
                raise UnsupportedOptionError(self.name, option, value)
        if request.size is not None:
            low, high = self.size_range
            if not low <= request.size <= high:
                raise UnsupportedOptionError(
                    self.name, "size", request.size, f"{self.name} accepts sizes {low}-{high}"
                )
        if request.timeout is not None:
            lo, hi = self.timeout_range
            if not lo <= request.timeout <= hi:
                raise UnsupportedOptionError(
                    self.name,
                    "timeout",
                    request.timeout,
                    f"{self.name} accepts timeouts {lo:g}-{hi:g} s",
                )

    def worst_case_seconds(self, request: PingRequest) -> float:
        """How long the device may take to answer ``request`` (every probe timing out)."""
        per_probe = request.timeout if request.timeout is not None else self.default_timeout
        return request.count * (math.ceil(per_probe) + self.probe_interval) + 5.0

    @abc.abstractmethod
    def _build(self, request: PingRequest) -> str:
        """The command line for a request already checked against :attr:`supports`."""

    @abc.abstractmethod
    def parse_ping(self, output: str, request: PingRequest | None = None) -> PingResult:
        """Read the device's answer. Raises :class:`ParseError` or :class:`CommandError` only."""

    def count(self, digits: str, output: str) -> int:
        """A packet count from the device; an implausibly long one is a parse error."""
        if len(digits) > 9:
            raise self.parse_error(f"implausible packet count {digits[:12]}...", output)
        return int(digits)

    def refusal(
        self, lines: list[str], output: str, is_error: Callable[[str], bool], missing: str
    ) -> LinemonError:
        """The error for an answer without a summary: the device's own error line when one
        says why (CommandError), else a ParseError saying ``missing``."""
        if not output.strip():
            return self.parse_error("empty output", output)
        for line in lines:
            text = line.strip()
            if is_error(text):
                return self.command_error(text[:200], output)
        return self.parse_error(missing, output)

    def bsd_statistics(
        self, lines: list[str], at: int, summary: re.Match[str], output: str, **extra: Any
    ) -> PingResult:
        """A result from BSD/iputils statistics: ``summary`` is TRANSMITTED_RE on line ``at``;
        the round-trip line is searched line by line after it, so a line without a unit never
        borrows one from the next (a prompt such as ``sw1>`` starts with an s)."""
        rtt = next(
            (
                match
                for line in lines[at + 1 :]
                if len(line) <= MAX_LINE and (match := RTT_RE.search(line))
            ),
            None,
        )
        loss = LOSS_RE.search(lines[at])
        duplicates = DUPLICATES_RE.search(lines[at])
        errors = ERRORS_RE.search(lines[at])
        return PingResult.measured(
            self.count(summary.group("sent"), output),
            self.count(summary.group("received"), output),
            *rtt_values(rtt),
            duplicates=self.count(duplicates.group(1), output) if duplicates else 0,
            errors=self.count(errors.group(1), output) if errors else 0,
            extra={"device_loss_pct": to_float(loss.group(1))} if loss else {},
            **extra,
        )

    def parse_error(self, reason: str, output: str) -> ParseError:
        return ParseError(self.name, reason, output)

    def command_error(self, message: str, output: str) -> CommandError:
        return CommandError(self.name, message, output)
