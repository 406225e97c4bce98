"""Cisco IOS and IOS-XE: the ``ping [vrf V] X repeat N ...`` command and its answer."""

from __future__ import annotations

import re
from typing import ClassVar

from linemon_agent.models import PingRequest, PingResult
from linemon_agent.platforms.base import EVERY_OPTION, UNIT_TO_MS, Platform, protocol_words

# Counts and RTTs are ASCII digits ([0-9], not \d, which also matches other scripts' digits).
_NUMBER = r"[0-9]+(?:\.[0-9]+)?"
# Whitespace inside the summary may include a line break (a narrow terminal wraps it); the
# unit may not be preceded by one, or a prompt such as "sw1#" on the next line would read as
# the unit "s".
_SUMMARY = re.compile(
    r"Success\s+rate\s+is\s+(?P<pct>[0-9]{1,3})\s+percent\s+"
    r"\((?P<received>[0-9]+)\s*/\s*(?P<sent>[0-9]+)\)"
    rf"(?:\s*,\s*round[- ]trip\s+min/avg/max\s*=\s*(?P<min>{_NUMBER})\s*/\s*(?P<avg>{_NUMBER})"
    rf"\s*/\s*(?P<max>{_NUMBER})(?:[ \t]*(?P<unit>ms|us|s)\b)?)?",
    re.IGNORECASE,
)
_SENDING = re.compile(r"Sending\s+(?P<count>[0-9]+)\s*,\s*[0-9]+-byte", re.IGNORECASE)
# One character per probe. IPv4: ! reply, . timeout, U unreachable, Q source quench,
# M could not fragment, ? unknown packet, & lifetime exceeded, C congestion experienced,
# I interrupted. IPv6 adds @ A B H N P R T (unreachable reasons, packet too big, ...).
_MARKS = "!.?@&ABCHIMNPQRTU"
_MARK_LINE = re.compile(rf"^[ \t]*([{re.escape(_MARKS)}]+)[ \t]*$", re.MULTILINE)
_MULTICAST = re.compile(
    r"(?P<replies>[0-9]+)\s+multicast\s+repl(?:y|ies)\s+and\s+(?P<errors>[0-9]+)\s+errors?",
    re.IGNORECASE,
)
# A line the ping (or the CLI parser) prints to say why it refused or stopped; not a syslog
# message such as "%LINK-3-UPDOWN: ..." (printed without a timestamp prefix on some routers).
_PERCENT_LINE = re.compile(r"^[ \t]*%(?![A-Z][A-Z0-9_-]*-[0-7]-)[ \t]*(\S.*)$", re.MULTILINE)


class CiscoIOSXE(Platform):
    """IOS and IOS-XE routers and switches: ``ping [vrf V] [ip|ipv6] X repeat N ...``.

    ``source`` takes an address or an interface name, so a request may set one of them.
    ``timeout`` is whole seconds (0-3600): fractions are rounded up. ``size`` is the whole
    datagram (IP header included), 36-18024 bytes.
    """

    name: ClassVar[str] = "cisco_iosxe"
    description: ClassVar[str] = "Cisco IOS / IOS-XE: ping [vrf V] X repeat N size S timeout T"
    scrapli_platform: ClassVar[str] = "cisco_iosxe"
    # scrapli's own IOS-XE list (its on_open already sets terminal length 0 and width 512),
    # then what IOS prints instead of a summary when it refuses or cannot run the ping ("%
    # Unrecognized host or address, or protocol not running.", "% Invalid source address- IP
    # address not on any of our up interfaces", "% VRF X does not have a usable source
    # address"). Any "%" line that is no syslog message counts too (see is_refusal).
    failed_when_contains: ClassVar[tuple[str, ...]] = (
        "% Ambiguous command",
        "% Incomplete command",
        "% Invalid input detected",
        "% Unknown command",
        "Unrecognized host",
        "Invalid source",
        "usable source address",
        "No valid source address",
        "Unable to find vrf",
    )
    supports: ClassVar[frozenset[str]] = EVERY_OPTION
    size_range: ClassVar[tuple[int, int]] = (36, 18024)
    timeout_range: ClassVar[tuple[float, float]] = (0.0, 3600.0)
    default_timeout: ClassVar[float] = 2.0
    # the next probe leaves as soon as the previous one is answered or timed out
    probe_interval: ClassVar[float] = 0.0
    #: the word before the probe count, and the protocol word a host name gets for IPv4
    count_keyword: ClassVar[str] = "repeat"
    ipv4_keyword: ClassVar[str] = "ip"

    def _build(self, request: PingRequest) -> str:
        words = ["ping"]
        if request.vrf is not None:
            words += ["vrf", request.vrf]
        words += protocol_words(request, self.ipv4_keyword)
        words.append(request.target)
        words += self.probe_words(request, self.count_keyword)
        words += self.source_words(request, "source")
        return " ".join(words)

    def is_refusal(self, line: str) -> bool:
        return _PERCENT_LINE.match(line) is not None or super().is_refusal(line)

    def parse_ping(self, output: str, request: PingRequest | None = None) -> PingResult:
        """Read the last ``Success rate`` summary of ``output`` and the marks printed before it.

        IOS, IOS-XE and IOS-XR print the same answer (IOS-XR after a timestamp line)::

            Type escape sequence to abort.
            Sending 5, 100-byte ICMP Echos to 192.0.2.7, timeout is 2 seconds:
            Packet sent with a source address of 192.0.2.1
            !!.U!
            Success rate is 60 percent (3/5), round-trip min/avg/max = 1/2/4 ms

        The summary is the only authority: its ``(R/S)`` gives received and sent (S is
        smaller than the ``Sending N`` header when the ping stopped early), its percentage is
        truncated (999/1000 prints 99), the average is truncated to whole milliseconds and the
        round-trip clause is absent when nothing came back. One mark per probe is printed,
        wrapped at 70 a line; verbose and multicast pings print ``Reply to request N`` lines
        instead.
        """
        text = output.replace("\r\n", "\n").replace("\r", "\n")
        summaries = list(_SUMMARY.finditer(text))
        if not summaries:
            missing = "no 'Success rate is P percent (R/S)' summary"
            raise self.refusal(text.split("\n"), output, missing)
        summary = summaries[-1]  # the last summary is this ping's
        block = text[summaries[-2].end() if len(summaries) > 1 else 0 : summary.start()]
        headers = list(_SENDING.finditer(block))
        if headers:
            block = block[headers[-1].end() :]
        sent = self.count(summary.group("sent"), output)
        received = self.count(summary.group("received"), output)
        rtts: list[float | None] = [None, None, None]
        if summary.group("min") is not None:
            scale = UNIT_TO_MS[(summary.group("unit") or "ms").lower()]
            rtts = [self.rtt(summary.group(key), output) * scale for key in ("min", "avg", "max")]
        extra: dict[str, object] = {"device_success_pct": int(summary.group("pct"))}
        if headers:
            requested = self.count(headers[-1].group("count"), output)
            if requested != sent:
                extra["requested"] = requested
        message = _PERCENT_LINE.search(block)
        if message is not None:
            extra["device_message"] = message.group(1).strip()[:200]
        errors = 0
        multicast = _MULTICAST.search(text, summary.end())
        if multicast is not None:
            extra["multicast_replies"] = self.count(multicast.group("replies"), output)
            errors = self.count(multicast.group("errors"), output)
        # One mark per probe: a stream of another length was cut or interleaved (a syslog line
        # split a mark line, a trimmed capture) and would misplace every loss in it.
        marks = "".join(match.group(1) for match in _MARK_LINE.finditer(block))
        return PingResult.measured(
            sent,
            received,
            *rtts,
            errors=errors,
            marks=marks if len(marks) == sent else None,
            extra=extra,
        )
