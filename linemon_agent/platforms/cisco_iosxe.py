"""Cisco IOS and IOS-XE: the ``ping [vrf V] X repeat N ...`` command and its answer."""

from __future__ import annotations

from typing import ClassVar

from linemon_agent.models import PingRequest, PingResult
from linemon_agent.platforms import _cisco
from linemon_agent.platforms.base import Platform

# What IOS prints instead of a summary when it refuses or cannot run the ping. Most lines
# start with "%" and are caught as such ("% Unrecognized host or address, or protocol not
# running.", "% Invalid source address- IP address not on any of our up interfaces",
# "% VRF X does not have a usable source address", "% Invalid input detected at '^'
# marker."); these phrases also catch them without the "%".
_REFUSALS = (
    "unrecognized host",
    "invalid source",
    "usable source address",
    "no valid source address",
    "unable to find vrf",
    "invalid input",
    "ambiguous command",
    "incomplete command",
    "unknown command",
)


class CiscoIOSXE(Platform):
    """IOS and IOS-XE routers and switches: ``ping [vrf V] [ip|ipv6] X repeat N ...``.

    ``source`` takes an address or an interface name, so a request may set one of them.
    ``timeout`` is whole seconds (0-3600): fractions are rounded up. ``size`` is the whole
    datagram (IP header included), 36-18024 bytes.
    """

    name: ClassVar[str] = "cisco_iosxe"
    description: ClassVar[str] = "Cisco IOS / IOS-XE: ping [vrf V] X repeat N size S timeout T"
    scrapli_platform: ClassVar[str] = "cisco_iosxe"
    # scrapli's own IOS-XE list (its on_open already sets terminal length 0 and width 512).
    failed_when_contains: ClassVar[tuple[str, ...]] = (
        "% Ambiguous command",
        "% Incomplete command",
        "% Invalid input detected",
        "% Unknown command",
    )
    keepalive_command: ClassVar[str] = ""
    supports: ClassVar[frozenset[str]] = frozenset(
        {"size", "timeout", "vrf", "source", "source_interface"}
    )
    size_range: ClassVar[tuple[int, int]] = (36, 18024)
    timeout_range: ClassVar[tuple[float, float]] = (0.0, 3600.0)
    default_timeout: ClassVar[float] = 2.0
    # the next probe leaves as soon as the previous one is answered or timed out
    probe_interval: ClassVar[float] = 0.0

    def _build(self, request: PingRequest) -> str:
        words = ["ping"]
        if request.vrf is not None:
            words += ["vrf", request.vrf]
        words += _cisco.protocol_words(request, "ip")
        words += [request.target, "repeat", str(request.count)]
        if request.size is not None:
            words += ["size", str(request.size)]
        if request.timeout is not None:
            words += ["timeout", str(_cisco.whole_seconds(request.timeout))]
        words += _cisco.source_words(self.name, request)
        return " ".join(words)

    def parse_ping(self, output: str, request: PingRequest | None = None) -> PingResult:
        return _cisco.parse_success_rate(self, output, _REFUSALS)
