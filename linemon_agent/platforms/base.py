"""The Platform contract (data plus two pure functions) and parse helpers shared by platforms.

A platform never does I/O. It declares what scrapli needs to drive the device (driver name,
prompt, failure strings), which ping options its command line can express, how to build the
command and how to read the answer. Everything vendor-specific lives in a platform module.
"""

from __future__ import annotations

import abc
import ipaddress
import math
import re
from typing import Any, ClassVar

from linemon_agent.errors import CommandError, LinemonError, ParseError, UnsupportedOptionError
from linemon_agent.models import PingRequest, PingResult
from linemon_agent.options import PLATFORM_OPTIONS
from linemon_agent.validate import MAX_SIZE

# Every option beyond ``target`` and ``count`` that a request may carry.
OPTIONS = PLATFORM_OPTIONS
EVERY_OPTION = frozenset(OPTIONS)

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


# "5 packet(s) transmitted" and "4 packet(s) received", one fact a line (Huawei VRP, H3C
# Comware 5) or on one comma-separated line (Comware 7, a few VRP builds).
PACKETS_SENT_RE = re.compile(r"(\d+)\s+packets?(?:\(s\))?\s+transmitted", re.IGNORECASE)
PACKETS_RECEIVED_RE = re.compile(r"(\d+)\s+packets?(?:\(s\))?\s+received", re.IGNORECASE)
# How far below the "transmitted" line the "received" line may be.
_RECEIVED_WITHIN = 3


def split_lines(output: str) -> list[str]:
    """The output's lines, whatever its line endings."""
    return output.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def bounded_lines(output: str) -> list[str]:
    """The output's lines, each longer than :data:`MAX_LINE` blanked (never read as one)."""
    return [line if len(line) <= MAX_LINE else "" for line in split_lines(output)]


# A "rapid" ping's marks (JunOS, SR OS): '!' a reply, '.' a probe that timed out.
_RAPID_MARKS = frozenset("!.")


def rapid_marks(lines: list[str]) -> str:
    """The marks of the lines made of nothing but ``!`` and ``.``, in order."""
    return "".join(
        line.strip() for line in lines if line.strip() and set(line.strip()) <= _RAPID_MARKS
    )


def family(text: str | None) -> int | None:
    """4 or 6 for an IP address, None for a host name (or nothing)."""
    if text is None:
        return None
    try:
        return ipaddress.ip_address(text).version
    except ValueError:
        return None


def whole_seconds(timeout: float) -> int:
    """A per-probe timeout in whole seconds, rounded up: a probe is never cut shorter."""
    return math.ceil(timeout)


def milliseconds(seconds: float) -> int:
    """A per-probe timeout in whole milliseconds (Huawei, H3C ``-t``), rounded up."""
    return math.ceil(round(seconds * 1000.0, 3))


def protocol_words(request: PingRequest, ipv4_keyword: str) -> list[str]:
    """The protocol keyword a ``ping [ip|ipv6] X`` grammar (IOS, IOS-XR, H3C) needs, if any.

    An IPv6 address gets ``ipv6``. A host name always gets one (``ipv6`` when pinged from an
    IPv6 source, else the IPv4 keyword), so that it resolves in the right family and a
    one-label name that is also a keyword of ``ping`` (``ip``, ``mpls``, ``vrf``...) is
    never read as that keyword. An IPv4 address needs none.
    """
    target_family = family(request.target)
    if target_family == 6:
        return ["ipv6"]
    if target_family is None:
        return ["ipv6" if family(request.source) == 6 else ipv4_keyword]
    return []


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
    #: scrapli-community variant of ``scrapli_platform`` (``None``: its default)
    scrapli_variant: ClassVar[str | None] = None
    #: prompt regex for the generic driver (``None``: the scrapli platform's own)
    prompt_pattern: ClassVar[str | None] = None
    #: what the device prints when it refuses or cannot run a command, as it prints it. The
    #: one list: the broker hands it to scrapli (whose ``failed`` flag and the on-open checks
    #: use it, case-sensitive) and the parser reads an answer without a summary with it
    #: (ignoring case), so a refusal is a CommandError rather than a ParseError.
    failed_when_contains: ClassVar[tuple[str, ...]] = ()
    #: line starts that mark a refusal too (``%``, ``Error:``, ``ping:``); the parser's only:
    #: a bare ``%`` would mark every summary failed for scrapli
    failed_when_starts_with: ClassVar[tuple[str, ...]] = ()
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

    def per_probe_seconds(self, request: PingRequest) -> float:
        """The wait for one probe's reply: the request's timeout, else the platform's."""
        return request.timeout if request.timeout is not None else self.default_timeout

    def worst_case_seconds(self, request: PingRequest) -> float:
        """How long the device may take to answer ``request`` (every probe timing out), with
        whole seconds per probe and a margin: the command's deadline."""
        per_probe = math.ceil(self.per_probe_seconds(request))
        return request.count * (per_probe + self.probe_interval) + 5.0

    def probe_words(
        self, request: PingRequest, count: str, size: str = "size", timeout: str = "timeout"
    ) -> list[str]:
        """``COUNT N [SIZE S] [TIMEOUT T]`` for a keyword grammar whose timeout is whole
        seconds (IOS, EOS, NX-OS, SR OS), with the device's own keywords."""
        words = [count, str(request.count)]
        if request.size is not None:
            words += [size, str(request.size)]
        if request.timeout is not None:
            words += [timeout, str(whole_seconds(request.timeout))]
        return words

    def source_words(
        self, request: PingRequest, address: str, interface: str | None = None
    ) -> list[str]:
        """Where the probes leave from, for a ping that takes one source: the address after
        the ``address`` keyword or the interface after ``interface`` (the same keyword when
        None, as IOS's ``source`` takes either). A request that sets both is refused."""
        if request.source is not None and request.source_interface is not None:
            raise UnsupportedOptionError(
                self.name,
                "source_interface",
                request.source_interface,
                f"{self.name} ping takes one source (an address or an interface), not both",
            )
        if request.source is not None:
            return [address, request.source]
        if request.source_interface is not None:
            return [interface or address, request.source_interface]
        return []

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

    def rtt(self, number: str, output: str) -> float:
        """A round-trip time from the device; an implausibly long one is a parse error."""
        if len(number.partition(".")[0]) > 9:
            raise self.parse_error(f"implausible round-trip time {number[:12]}...", output)
        return to_float(number)

    def is_refusal(self, line: str) -> bool:
        """Whether ``line`` (stripped) is the device saying why it refused or could not run."""
        if line.startswith(self.failed_when_starts_with):
            return True
        lowered = line.lower()
        return any(phrase.lower() in lowered for phrase in self.failed_when_contains)

    def refusal(self, lines: list[str], output: str, missing: str) -> LinemonError:
        """The error for an answer without a summary: the device's own error line when one
        says why (CommandError), else a ParseError saying ``missing``."""
        if not output.strip():
            return self.parse_error("empty output", output)
        for line in lines:
            text = line.strip()
            if len(text) <= MAX_LINE and self.is_refusal(text):
                return self.command_error(text[:200], output)
        return self.parse_error(missing, output)

    def bsd_summaries(self, lines: list[str], output: str) -> list[tuple[int, re.Match[str]]]:
        """Every BSD/iputils ``N packets transmitted, N received`` line (index, match); raises
        the refusal when there is none."""
        summaries = [
            (at, match)
            for at, line in enumerate(lines)
            if len(line) <= MAX_LINE
            and "transmitted" in line.lower()
            and (match := TRANSMITTED_RE.search(line))
        ]
        if not summaries:
            raise self.refusal(lines, output, "no 'packets transmitted' statistics line")
        return summaries

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

    def packet_statistics(self, output: str) -> PingResult:
        """A result from the ``N packet(s) transmitted`` / ``N packet(s) received`` /
        ``X% packet loss`` / ``round-trip min/avg/max[/std-dev]`` facts that VRP and Comware
        print, one a line or on one comma-separated line. The last block is this ping's;
        reply and ``Request time out`` lines are never counted: the summary is the truth."""
        lines = bounded_lines(output)
        starts = [at for at, line in enumerate(lines) if PACKETS_SENT_RE.search(line)]
        if not starts:
            raise self.refusal(lines, output, "no 'packet(s) transmitted' statistics line")
        at = starts[-1]
        sent = PACKETS_SENT_RE.search(lines[at])
        received = next(
            (
                match
                for line in lines[at : at + _RECEIVED_WITHIN + 1]
                if (match := PACKETS_RECEIVED_RE.search(line))
            ),
            None,
        )
        if sent is None or received is None:
            raise self.parse_error("statistics without a 'packet(s) received' line", output)
        block = lines[at:]
        loss = next((m for line in block if (m := LOSS_RE.search(line))), None)
        rtt = next((m for line in block if (m := RTT_RE.search(line))), None)
        return PingResult.measured(
            self.count(sent.group(1), output),
            self.count(received.group(1), output),
            *rtt_values(rtt),
            extra={"device_loss_pct": to_float(loss.group(1))} if loss else {},
        )

    def parse_error(self, reason: str, output: str) -> ParseError:
        return ParseError(self.name, reason, output)

    def command_error(self, message: str, output: str) -> CommandError:
        return CommandError(self.name, message, output)
