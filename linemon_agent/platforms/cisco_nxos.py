"""Cisco NX-OS: how a Nexus switch runs ``ping``/``ping6`` and how its BSD-style answer reads."""

from __future__ import annotations

import ipaddress
import math
import re
from typing import ClassVar

from linemon_agent.errors import LinemonError, UnsupportedOptionError
from linemon_agent.models import PingRequest, PingResult
from linemon_agent.platforms.base import RTT_RE, TRANSMITTED_RE, Platform, to_float

# What NX-OS prints instead of a summary when it refuses or cannot run the ping: CLI parser
# errors ("% Invalid ..."), and the ping process's own ("ping: bad context CUST" for an unknown
# VRF, "can't bind to address" for a source it does not own, "Invalid host/interface" for a
# name or interface it does not know). Only consulted when no statistics line was printed.
_ERROR_PREFIXES = ("%", "ping:", "ping6:", "connect:")
_ERROR_PHRASES = (
    "bad context",
    "bind to address",
    "not permitted",
    "invalid host",
    "unknown host",
    "does not exist",
    "not found",
    "network is unreachable",
    "no route to host",
)
# Statistics and round-trip lines are short; longer lines are never read as one (this also
# keeps the regular expressions linear on hostile input).
_MAX_LINE = 300
_LOSS = re.compile(r"(\d+(?:[.,]\d+)?)\s*%\s*packet\s+loss", re.IGNORECASE)
_DUPLICATES = re.compile(r"\+(\d+)\s+duplicates?", re.IGNORECASE)
_ERRORS = re.compile(r"\+(\d+)\s+errors?", re.IGNORECASE)
_UNIT_TO_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _family(text: str | None) -> int | None:
    """4 or 6 for an IP address, None for a host name (or nothing)."""
    if text is None:
        return None
    try:
        return ipaddress.ip_address(text).version
    except ValueError:
        return None


class CiscoNXOS(Platform):
    """Nexus switches: ``ping``/``ping6`` with vrf, source or source-interface, count, size."""

    name: ClassVar[str] = "cisco_nxos"
    description: ClassVar[str] = "Cisco NX-OS (Nexus): ping / ping6 ... vrf V count N"
    scrapli_platform: ClassVar[str] = "cisco_nxos"
    # scrapli's own NX-OS list (its on_open already sets terminal length 0 and width 511).
    failed_when_contains: ClassVar[tuple[str, ...]] = (
        "% Ambiguous command",
        "% Incomplete command",
        "% Invalid input detected",
        "% Invalid command at",
        "% Invalid parameter",
    )
    keepalive_command: ClassVar[str] = ""
    supports: ClassVar[frozenset[str]] = frozenset(
        {"size", "timeout", "vrf", "source", "source_interface"}
    )
    # packet-size <1-65468>; timeout <1-60> whole seconds (default 2); one probe a second.
    size_range: ClassVar[tuple[int, int]] = (1, 65468)
    timeout_range: ClassVar[tuple[float, float]] = (1.0, 60.0)
    default_timeout: ClassVar[float] = 2.0
    probe_interval: ClassVar[float] = 1.0

    def _build(self, request: PingRequest) -> str:
        # ping6 for IPv6 targets, and for a host name that must resolve to IPv6 because the
        # source address is IPv6. Option order follows what NX-OS and its parsers use.
        family = _family(request.target) or _family(request.source)
        ipv6 = family == 6
        words = ["ping6" if ipv6 else "ping", request.target]
        if request.vrf is not None:
            words += ["vrf", request.vrf]
        if request.source is not None:
            words += ["source", request.source]
        if request.source_interface is not None:
            if not ipv6 and request.source is not None:
                raise UnsupportedOptionError(
                    self.name,
                    "source_interface",
                    request.source_interface,
                    "NX-OS ping takes either a source address or a source-interface, not both",
                )
            # ping6 names its egress interface "interface"; IPv4 ping has "source-interface".
            words += ["interface" if ipv6 else "source-interface", request.source_interface]
        words += ["count", str(request.count)]
        if request.size is not None:
            words += ["packet-size", str(request.size)]
        if request.timeout is not None:
            words += ["timeout", str(math.ceil(request.timeout))]
        return " ".join(words)

    def parse_ping(self, output: str, request: PingRequest | None = None) -> PingResult:
        lines = output.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        summaries = [
            (at, match)
            for at, line in enumerate(lines)
            if len(line) <= _MAX_LINE
            and "transmitted" in line.lower()
            and (match := TRANSMITTED_RE.search(line))
        ]
        if not summaries:
            raise self._refusal(lines, output)
        at, summary = summaries[-1]  # the last statistics block is this ping's
        # Line by line, so that a round-trip line without a unit never borrows one from the
        # next line (a prompt such as "sw1>" starts with an s).
        rtt = next(
            (
                match
                for line in lines[at + 1 :]
                if len(line) <= _MAX_LINE and (match := RTT_RE.search(line))
            ),
            None,
        )
        values: list[float | None] = [None, None, None, None]
        if rtt is not None:
            scale = _UNIT_TO_MS[(rtt.group("unit") or "ms").lower()]
            values = [
                None if rtt.group(key) is None else to_float(rtt.group(key)) * scale
                for key in ("min", "avg", "max", "stddev")
            ]
        loss = _LOSS.search(lines[at])
        duplicates = _DUPLICATES.search(lines[at])
        errors = _ERRORS.search(lines[at])
        return PingResult.measured(
            self._count(summary.group("sent"), output),
            self._count(summary.group("received"), output),
            *values,
            duplicates=self._count(duplicates.group(1), output) if duplicates else 0,
            errors=self._count(errors.group(1), output) if errors else 0,
            extra={"device_loss_pct": to_float(loss.group(1))} if loss else {},
        )

    def _count(self, digits: str, output: str) -> int:
        if len(digits) > 9:
            raise self.parse_error(f"implausible packet count {digits[:12]}...", output)
        return int(digits)

    def _refusal(self, lines: list[str], output: str) -> LinemonError:
        """The error to raise for an answer without statistics."""
        if not output.strip():
            return self.parse_error("empty output", output)
        for line in lines:
            text = line.strip()
            lowered = text.lower()
            if text.startswith(_ERROR_PREFIXES) or any(p in lowered for p in _ERROR_PHRASES):
                return self.command_error(text[:200], output)
        return self.parse_error("no 'packets transmitted' statistics line", output)
