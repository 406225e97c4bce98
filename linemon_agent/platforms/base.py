"""The Platform contract (data plus two pure functions) and parse helpers shared by platforms.

A platform never does I/O. It declares what scrapli needs to drive the device (driver name,
prompt, failure strings), which ping options its command line can express, how to build the
command and how to read the answer. Everything vendor-specific lives in a platform module.
"""

from __future__ import annotations

import abc
import math
import re
from typing import ClassVar

from linemon_agent.errors import CommandError, ParseError, UnsupportedOptionError
from linemon_agent.models import PingRequest, PingResult
from linemon_agent.validate import MAX_SIZE

# Every option beyond ``target`` and ``count`` that a request may carry.
OPTIONS = ("size", "timeout", "vrf", "source", "source_interface")

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

    def parse_error(self, reason: str, output: str) -> ParseError:
        return ParseError(self.name, reason, output)

    def command_error(self, message: str, output: str) -> CommandError:
        return CommandError(self.name, message, output)
