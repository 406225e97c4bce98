"""Cisco NX-OS: how a Nexus switch runs ``ping``/``ping6`` and how its BSD-style answer reads."""

from __future__ import annotations

from typing import ClassVar

from linemon_agent.errors import UnsupportedOptionError
from linemon_agent.models import PingRequest, PingResult
from linemon_agent.platforms.base import EVERY_OPTION, Platform, family, split_lines


class CiscoNXOS(Platform):
    """Nexus switches: ``ping``/``ping6`` with vrf, source or source-interface, count, size."""

    name: ClassVar[str] = "cisco_nxos"
    description: ClassVar[str] = "Cisco NX-OS (Nexus): ping / ping6 ... vrf V count N"
    scrapli_platform: ClassVar[str] = "cisco_nxos"
    # scrapli's own NX-OS list (its on_open already sets terminal length 0 and width 511),
    # then the ping process's own ("ping: bad context CUST" for an unknown VRF, "can't bind
    # to address" for a source it does not own, "Invalid host/interface" for a name or
    # interface it does not know); any "%" line counts too.
    failed_when_contains: ClassVar[tuple[str, ...]] = (
        "% Ambiguous command",
        "% Incomplete command",
        "% Invalid input detected",
        "% Invalid command at",
        "% Invalid parameter",
        "bad context",
        "bind to address",
        "not permitted",
        "Invalid host",
        "Unknown host",
        "does not exist",
        "not found",
        "Network is unreachable",
        "No route to host",
    )
    failed_when_starts_with: ClassVar[tuple[str, ...]] = ("%", "ping:", "ping6:", "connect:")
    supports: ClassVar[frozenset[str]] = EVERY_OPTION
    # packet-size <1-65468>; timeout <1-60> whole seconds (default 2); one probe a second.
    size_range: ClassVar[tuple[int, int]] = (1, 65468)
    timeout_range: ClassVar[tuple[float, float]] = (1.0, 60.0)
    default_timeout: ClassVar[float] = 2.0
    probe_interval: ClassVar[float] = 1.0

    def _build(self, request: PingRequest) -> str:
        # ping6 for IPv6 targets, and for a host name that must resolve to IPv6 because the
        # source address is IPv6. Option order follows what NX-OS and its parsers use.
        ipv6 = (family(request.target) or family(request.source)) == 6
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
        words += self.probe_words(request, "count", size="packet-size")
        return " ".join(words)

    def parse_ping(self, output: str, request: PingRequest | None = None) -> PingResult:
        lines = split_lines(output)
        summaries = self.bsd_summaries(lines, output)
        at, summary = summaries[-1]  # the last statistics block is this ping's
        return self.bsd_statistics(lines, at, summary, output)
