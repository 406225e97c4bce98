"""Huawei VRP: the ``ping`` / ``ping ipv6`` command line and its one-fact-per-line answer."""

from __future__ import annotations

from typing import ClassVar

from linemon_agent.models import PingRequest, PingResult
from linemon_agent.platforms.base import EVERY_OPTION, Platform, family, milliseconds

# The statistics block prints one fact a line (older and newer VRP alike):
#     --- 10.1.1.1 ping statistics ---          (also "--10.1.1.1 ping statistics--")
#       5 packet(s) transmitted
#       4 packet(s) received
#       20.00% packet loss
#     round-trip min/avg/max = 10/32/50 ms      (also "min/avg/max=1/23/115 ms")
# A few builds put the first three facts on one comma-separated line; the base's
# packet_statistics reads both (H3C Comware prints the same facts).


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
    # scrapli-community's own list is "Error:" (its on_open already runs "screen-length 0
    # temporary" and sets a 256-column screen; its prompt pattern accepts HRP_M<...>). VRP
    # prints instead of statistics the CLI parser's "Error: Unrecognized command / Wrong
    # parameter / Incomplete command / Too many parameters found at '^' position." under a
    # caret line, and the ping module's own "Error: ..." lines (unknown VPN instance, source
    # address not local, host name that does not resolve).
    failed_when_contains: ClassVar[tuple[str, ...]] = (
        "Error:",
        "Unrecognized command",
        "Wrong parameter",
        "Incomplete command",
        "Too many parameters",
        "Ambiguous command",
        "does not exist",
        "Unknown host",
        "Failed to resolve",
        "Invalid source",
    )
    supports: ClassVar[frozenset[str]] = EVERY_OPTION
    # -s 20-9600 bytes of payload (the range the AR, S and CE references give); -t 0-65535
    # ms. Probes go out 500 ms apart for IPv4 and up to 2000 ms apart for IPv6 (CE/NE
    # default -m): the larger bounds how long a ping may take.
    size_range: ClassVar[tuple[int, int]] = (20, 9600)
    timeout_range: ClassVar[tuple[float, float]] = (0.001, 65.535)
    default_timeout: ClassVar[float] = 2.0
    probe_interval: ClassVar[float] = 2.0
    #: the word a host name gets for IPv4 (None: none), and the IPv6 VPN keyword
    ipv4_keyword: ClassVar[str | None] = None
    ipv6_vpn_keyword: ClassVar[str] = "vpn-instance"

    def _build(self, request: PingRequest) -> str:
        # A host name resolves as IPv6 only under "ping ipv6": use it when the source
        # address it must leave from is IPv6.
        ipv6 = (family(request.target) or family(request.source)) == 6
        words = ["ping", "ipv6"] if ipv6 else ["ping"]
        if not ipv6 and self.ipv4_keyword is not None and family(request.target) is None:
            words.append(self.ipv4_keyword)
        if request.vrf is not None:
            words += [self.ipv6_vpn_keyword if ipv6 else "-vpn-instance", request.vrf]
        words += ["-c", str(request.count)]
        if request.size is not None:
            words += ["-s", str(request.size)]
        if request.timeout is not None:
            words += ["-t", str(milliseconds(request.timeout))]
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
        return self.packet_statistics(output)
