"""Huawei VRP: the ``ping`` / ``ping ipv6`` command line and its one-fact-per-line answer."""

from __future__ import annotations

import ipaddress
import math
import re
from typing import ClassVar

from linemon_agent.models import PingRequest, PingResult
from linemon_agent.platforms.base import RTT_RE, Platform, rtt_values, to_float

# The statistics block prints one fact a line (older and newer VRP alike):
#     --- 10.1.1.1 ping statistics ---          (also "--10.1.1.1 ping statistics--")
#       5 packet(s) transmitted
#       4 packet(s) received
#       20.00% packet loss
#     round-trip min/avg/max = 10/32/50 ms      (also "min/avg/max=1/23/115 ms")
# A few builds put the first three facts on one comma-separated line; the same expressions
# read both. Reply and "Request time out" lines are never counted: the summary is the truth.
_TRANSMITTED = re.compile(r"(\d+)\s+packets?(?:\(s\))?\s+transmitted", re.IGNORECASE)
_RECEIVED = re.compile(r"(\d+)\s+packets?(?:\(s\))?\s+received", re.IGNORECASE)
_LOSS = re.compile(r"(\d+(?:[.,]\d+)?)\s*%\s*packet\s+loss", re.IGNORECASE)
# How far below the "transmitted" line the "received" line may be.
_RECEIVED_WITHIN = 3
# What VRP prints instead of statistics when it refuses the command: the CLI parser's
# "Error: Unrecognized command / Wrong parameter / Incomplete command / Too many parameters
# found at '^' position." under a caret line, and the ping module's own "Error: ..." lines
# (unknown VPN instance, source address not local, host name that does not resolve).
# Only consulted when no statistics were printed.
_ERROR_PREFIXES = ("error:",)
_ERROR_PHRASES = (
    "unrecognized command",
    "wrong parameter",
    "incomplete command",
    "too many parameters",
    "ambiguous command",
    "does not exist",
    "unknown host",
    "failed to resolve",
    "invalid source",
)


def _is_error(text: str) -> bool:
    lowered = text.lower()
    return lowered.startswith(_ERROR_PREFIXES) or any(p in lowered for p in _ERROR_PHRASES)


# Statistics lines are short; longer lines are never read as one (this also keeps the
# regular expressions linear on hostile input).
_MAX_LINE = 300


def _family(text: str | None) -> int | None:
    """4 or 6 for an IP address, None for a host name (or nothing)."""
    if text is None:
        return None
    try:
        return ipaddress.ip_address(text).version
    except ValueError:
        return None


def _milliseconds(seconds: float) -> int:
    """A per-probe timeout in VRP's unit: whole milliseconds, rounded up."""
    return math.ceil(round(seconds * 1000.0, 3))


class HuaweiVRP(Platform):
    """Huawei VRP routers, switches and firewalls (AR, NE, CE, S, USG, incl. HRP prompts).

    IPv4: ``ping [-vpn-instance V] -c N [-s S] [-t MS] [-a SRC] [-i IF] HOST``.
    IPv6: ``ping ipv6 [vpn-instance V] -c N [-s S] [-t MS] [-a SRC] HOST [-i IF]`` (the VPN
    keyword has no dash and the interface comes after the host, as VRP's syntax demands).
    ``-t`` is the wait for each reply in milliseconds (2000 by default); ``-s`` is the ICMP
    payload without headers; ``-i`` names the interface the probes leave from (the one form
    every VRP line has; only newer NE releases add ``-si``).
    """

    name: ClassVar[str] = "huawei_vrp"
    description: ClassVar[str] = "Huawei VRP (AR/NE/CE/S/USG): ping [-vpn-instance V] -c N HOST"
    scrapli_platform: ClassVar[str] = "huawei_vrp"
    # scrapli-community's own list; its on_open already runs "screen-length 0 temporary" and
    # sets a 256-column screen, and its prompt pattern accepts HRP_M<...>/HRP_S<...>.
    failed_when_contains: ClassVar[tuple[str, ...]] = ("Error:",)
    keepalive_command: ClassVar[str] = ""
    supports: ClassVar[frozenset[str]] = frozenset(
        {"size", "timeout", "vrf", "source", "source_interface"}
    )
    # -s 20-9600 bytes of payload (the range the AR, S and CE references give); -t 0-65535
    # ms. Probes go out 500 ms apart for IPv4 and up to 2000 ms apart for IPv6 (CE/NE
    # default -m): the larger bounds how long a ping may take.
    size_range: ClassVar[tuple[int, int]] = (20, 9600)
    timeout_range: ClassVar[tuple[float, float]] = (0.001, 65.535)
    default_timeout: ClassVar[float] = 2.0
    probe_interval: ClassVar[float] = 2.0

    def _build(self, request: PingRequest) -> str:
        # A host name resolves as IPv6 only under "ping ipv6": use it when the source
        # address it must leave from is IPv6.
        ipv6 = (_family(request.target) or _family(request.source)) == 6
        words = ["ping", "ipv6"] if ipv6 else ["ping"]
        if request.vrf is not None:
            words += ["vpn-instance" if ipv6 else "-vpn-instance", request.vrf]
        words += ["-c", str(request.count)]
        if request.size is not None:
            words += ["-s", str(request.size)]
        if request.timeout is not None:
            words += ["-t", str(_milliseconds(request.timeout))]
        if request.source is not None:
            words += ["-a", request.source]
        interface = [] if request.source_interface is None else ["-i", request.source_interface]
        if not ipv6:
            words += interface
        words.append(request.target)
        if ipv6:
            words += interface
        return " ".join(words)

    def parse_ping(self, output: str, request: PingRequest | None = None) -> PingResult:
        lines = [
            line if len(line) <= _MAX_LINE else ""
            for line in output.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        ]
        starts = [at for at, line in enumerate(lines) if _TRANSMITTED.search(line)]
        if not starts:
            raise self.refusal(
                lines, output, _is_error, "no 'packet(s) transmitted' statistics line"
            )
        at = starts[-1]  # the last statistics block is this ping's
        transmitted = _TRANSMITTED.search(lines[at])
        received = next(
            (
                match
                for line in lines[at : at + _RECEIVED_WITHIN + 1]
                if (match := _RECEIVED.search(line))
            ),
            None,
        )
        if transmitted is None or received is None:
            raise self.parse_error("statistics without a 'packet(s) received' line", output)
        block = lines[at:]
        loss = next((m for line in block if (m := _LOSS.search(line))), None)
        rtt = next((m for line in block if (m := RTT_RE.search(line))), None)
        values = rtt_values(rtt)
        return PingResult.measured(
            self.count(transmitted.group(1), output),
            self.count(received.group(1), output),
            *values,
            extra={"device_loss_pct": to_float(loss.group(1))} if loss else {},
        )
        for line in lines:
            text = line.strip()
            lowered = text.lower()
            if lowered.startswith(_ERROR_PREFIXES) or any(p in lowered for p in _ERROR_PHRASES):
                return self.command_error(text[:200], output)
        return self.parse_error("no 'packet(s) transmitted' statistics line", output)
