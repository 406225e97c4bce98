"""H3C Comware 5 and 7: VRP's ping command and statistics, with Comware's own words."""

from __future__ import annotations

from typing import ClassVar

from linemon_agent.platforms.huawei_vrp import HuaweiVRP

# Comware grew from VRP (Huawei-3Com): the same "-x value" options in any order and the same
# statistics, which Comware 7 prints on one line and Comware 5 one fact a line:
#     --- Ping statistics for 10.0.0.9 [in VPN instance V] ---     (Comware 7)
#     5 packet(s) transmitted, 5 packet(s) received, 0.0% packet loss
#     round-trip min/avg/max/std-dev = 1.963/2.028/2.137/0.062 ms
#
#       --- 1.1.2.2 ping statistics ---                           (Comware 5)
#         5 packet(s) transmitted
#         5 packet(s) received
#         0.00% packet loss
#         round-trip min/avg/max = 1/41/205 ms


class H3CComware(HuaweiVRP):
    """H3C Comware 5 and 7 (also HPE FlexNetwork and 3Com; scrapli-community's hp_comware).

    IPv4: ``ping [ip] [-vpn-instance V] -c N [-s S] [-t MS] [-a SRC] [-i IF] HOST``.
    IPv6: ``ping ipv6 [-vpn-instance V] -c N [-s S] [-t MS] [-a SRC] HOST [-i IF]`` (the VPN
    keyword keeps its dash; Comware 5 takes the IPv6 interface only after the host, Comware 7
    on either side). ``-t`` is the wait for each reply in milliseconds (2000 by default),
    ``-s`` the ICMP payload. A host name always gets ``ip`` or ``ipv6``, so that it resolves
    in the family of the source and a host called ``ip`` is never read as the keyword.
    """

    name: ClassVar[str] = "h3c_comware"
    description: ClassVar[str] = "H3C Comware 5/7: ping [-vpn-instance V] -c N -t MS HOST"
    scrapli_platform: ClassVar[str] = "hp_comware"
    # scrapli-community's hp_comware driver: prompts <H3C> and [H3C]; on open it runs
    # "screen-length disable". Comware's refusals are VRP's words ("% Unrecognized command /
    # Incomplete command / Wrong parameter / Too many parameters / Ambiguous command found at
    # '^' position." under a caret line; Comware 5 also "Error: ..." lines), plus "doesn't
    # exist".
    failed_when_contains: ClassVar[tuple[str, ...]] = (
        *HuaweiVRP.failed_when_contains,
        "doesn't exist",
    )
    # Syslog lines a terminal shows start "%Nov 16 ..." (no blank): not refusals.
    failed_when_starts_with: ClassVar[tuple[str, ...]] = ("% ", "Error:")
    # -s 20-8100 bytes of payload; -t 0-65535 ms; the next probe leaves -m (200 ms by
    # default) after the previous one is answered or timed out.
    size_range: ClassVar[tuple[int, int]] = (20, 8100)
    probe_interval: ClassVar[float] = 0.2
    ipv4_keyword: ClassVar[str | None] = "ip"
    ipv6_vpn_keyword: ClassVar[str] = "-vpn-instance"
