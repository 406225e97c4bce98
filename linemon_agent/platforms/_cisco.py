"""Cisco ping grammar shared by IOS, IOS-XE and IOS-XR: command words and the answer."""

from __future__ import annotations

import ipaddress
import math
import re

from linemon_agent.errors import LinemonError, UnsupportedOptionError
from linemon_agent.models import PingRequest, PingResult
from linemon_agent.platforms.base import Platform

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
_UNIT_TO_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
_MAX_DIGITS = 9


def _family(text: str | None) -> int | None:
    """4 or 6 for an IP address, None for a host name (or nothing)."""
    if text is None:
        return None
    try:
        return ipaddress.ip_address(text).version
    except ValueError:
        return None


def protocol_words(request: PingRequest, ipv4_keyword: str) -> list[str]:
    """The protocol keyword to put before the target, if any.

    An IPv6 address gets ``ipv6``. A host name always gets one (``ipv6`` when pinged from an
    IPv6 source, else the IPv4 keyword), so that it resolves in the right family and a
    one-label name that is also a keyword of ``ping`` (``ip``, ``mpls``, ``vrf``...) is
    never read as that keyword, which could start the interactive dialog. An IPv4 address
    needs none.
    """
    target_family = _family(request.target)
    if target_family == 6:
        return ["ipv6"]
    if target_family is None:
        return ["ipv6" if _family(request.source) == 6 else ipv4_keyword]
    return []


def source_words(platform: str, request: PingRequest) -> list[str]:
    """``source X``: Cisco's one ``source`` keyword takes an address or an interface."""
    if request.source is not None and request.source_interface is not None:
        raise UnsupportedOptionError(
            platform,
            "source_interface",
            request.source_interface,
            f"{platform} ping takes one 'source' (an address or an interface), not both",
        )
    source = request.source if request.source is not None else request.source_interface
    return [] if source is None else ["source", source]


def whole_seconds(timeout: float) -> int:
    """Cisco's ping timeout is whole seconds: round up, so a probe is never cut shorter."""
    return math.ceil(timeout)


def parse_success_rate(platform: Platform, output: str, refusals: tuple[str, ...]) -> PingResult:
    """Read the last ``Success rate`` summary of ``output`` and the marks printed before it.

    Both families print the same answer (IOS-XR after a timestamp line)::

        Type escape sequence to abort.
        Sending 5, 100-byte ICMP Echos to 192.0.2.7, timeout is 2 seconds:
        Packet sent with a source address of 192.0.2.1
        !!.U!
        Success rate is 60 percent (3/5), round-trip min/avg/max = 1/2/4 ms

    The summary is the only authority: its ``(R/S)`` gives received and sent (S is smaller
    than the ``Sending N`` header when the ping stopped early), its percentage is truncated
    (999/1000 prints 99), the average is truncated to whole milliseconds and the round-trip
    clause is absent when nothing came back. One mark per probe is printed, wrapped at 70 a
    line; verbose and multicast pings print ``Reply to request N`` lines instead.

    Without a summary, raises the platform's CommandError when the device printed a ``%``
    line or one of ``refusals`` (lower-case phrases), else its ParseError.
    """
    text = output.replace("\r\n", "\n").replace("\r", "\n")
    summaries = list(_SUMMARY.finditer(text))
    if not summaries:
        raise _refusal(platform, text, output, refusals)
    summary = summaries[-1]  # the last summary is this ping's
    block = text[summaries[-2].end() if len(summaries) > 1 else 0 : summary.start()]
    headers = list(_SENDING.finditer(block))
    if headers:
        block = block[headers[-1].end() :]
    sent = _count(platform, summary.group("sent"), output)
    received = _count(platform, summary.group("received"), output)
    rtts: list[float | None] = [None, None, None]
    if summary.group("min") is not None:
        scale = _UNIT_TO_MS[(summary.group("unit") or "ms").lower()]
        rtts = [_rtt(platform, summary.group(key), output) * scale for key in ("min", "avg", "max")]
    extra: dict[str, object] = {"device_success_pct": int(summary.group("pct"))}
    if headers:
        requested = _count(platform, headers[-1].group("count"), output)
        if requested != sent:
            extra["requested"] = requested
    message = _PERCENT_LINE.search(block)
    if message is not None:
        extra["device_message"] = message.group(1).strip()[:200]
    errors = 0
    multicast = _MULTICAST.search(text, summary.end())
    if multicast is not None:
        extra["multicast_replies"] = _count(platform, multicast.group("replies"), output)
        errors = _count(platform, multicast.group("errors"), output)
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


def _count(platform: Platform, digits: str, output: str) -> int:
    if len(digits) > _MAX_DIGITS:
        raise platform.parse_error(f"implausible packet count {digits[:12]}...", output)
    return int(digits)


def _rtt(platform: Platform, number: str, output: str) -> float:
    if len(number.partition(".")[0]) > _MAX_DIGITS:
        raise platform.parse_error(f"implausible round-trip time {number[:12]}...", output)
    return float(number)


def _refusal(platform: Platform, text: str, output: str, refusals: tuple[str, ...]) -> LinemonError:
    """The error to raise for an answer without a summary."""
    if not text.strip():
        return platform.parse_error("empty output", output)
    message = _PERCENT_LINE.search(text)
    if message is not None:
        return platform.command_error(message.group(0).strip()[:200], output)
    for line in text.split("\n"):
        lowered = line.lower()
        if any(phrase in lowered for phrase in refusals):
            return platform.command_error(line.strip()[:200], output)
    return platform.parse_error("no 'Success rate is P percent (R/S)' summary", output)
