"""Cisco IOS-XR: the ``ping [vrf V] X count N ...`` command and its answer."""

from __future__ import annotations

from typing import ClassVar

from linemon_agent.models import PingRequest, PingResult
from linemon_agent.platforms import _cisco
from linemon_agent.platforms.base import Platform

# What IOS-XR prints instead of a summary when it refuses or cannot run the ping
# ("% Bad hostname or protocol not running", "Invalid vrf table name", "% Invalid input
# detected at '^' marker."). Lines starting with "%" are caught as such; these phrases also
# catch them without the "%".
_REFUSALS = (
    "bad hostname",
    "protocol not running",
    "invalid vrf",
    "invalid source",
    "invalid input",
    "ambiguous command",
    "incomplete command",
)


class CiscoIOSXR(Platform):
    """IOS-XR routers: ``ping [vrf V] [ipv4|ipv6] X count N size S timeout T source S``.

    The answer is IOS's, after a timestamp line. ``source`` takes an address or an interface
    name, so a request may set one of them. ``timeout`` is whole seconds (0-3600): fractions
    are rounded up. ``size`` is the whole datagram, 36-18024 bytes.
    """

    name: ClassVar[str] = "cisco_iosxr"
    description: ClassVar[str] = "Cisco IOS-XR: ping [vrf V] X count N size S timeout T"
    scrapli_platform: ClassVar[str] = "cisco_iosxr"
    # scrapli's own IOS-XR list (its on_open already sets terminal length 0 and width 512).
    failed_when_contains: ClassVar[tuple[str, ...]] = (
        "% Ambiguous command",
        "% Incomplete command",
        "% Invalid input detected",
    )
    keepalive_command: ClassVar[str] = ""
    supports: ClassVar[frozenset[str]] = frozenset(
        {"size", "timeout", "vrf", "source", "source_interface"}
    )
    size_range: ClassVar[tuple[int, int]] = (36, 18024)
    timeout_range: ClassVar[tuple[float, float]] = (0.0, 3600.0)
    default_timeout: ClassVar[float] = 2.0
    probe_interval: ClassVar[float] = 0.0

    def _build(self, request: PingRequest) -> str:
        words = ["ping"]
        if request.vrf is not None:
            words += ["vrf", request.vrf]
        words += _cisco.protocol_words(request, "ipv4")
        words += [request.target, "count", str(request.count)]
        if request.size is not None:
            words += ["size", str(request.size)]
        if request.timeout is not None:
            words += ["timeout", str(_cisco.whole_seconds(request.timeout))]
        words += _cisco.source_words(self.name, request)
        return " ".join(words)

    def parse_ping(self, output: str, request: PingRequest | None = None) -> PingResult:
        return _cisco.parse_success_rate(self, output, _REFUSALS)
