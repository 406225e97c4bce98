"""Cisco IOS-XR: IOS-XE's ping with ``count`` and ``ipv4``, and IOS-XR's refusals."""

from __future__ import annotations

from typing import ClassVar

from linemon_agent.platforms.cisco_iosxe import CiscoIOSXE


class CiscoIOSXR(CiscoIOSXE):
    """IOS-XR routers: ``ping [vrf V] [ipv4|ipv6] X count N size S timeout T source S``.

    The command and the answer are IOS's (the answer after a timestamp line), with ``count``
    for ``repeat`` and ``ipv4`` for ``ip``.
    """

    name: ClassVar[str] = "cisco_iosxr"
    description: ClassVar[str] = "Cisco IOS-XR: ping [vrf V] X count N size S timeout T"
    scrapli_platform: ClassVar[str] = "cisco_iosxr"
    # scrapli's own IOS-XR list (its on_open already sets terminal length 0 and width 512),
    # then what XR prints instead of a summary ("% Bad hostname or protocol not running",
    # "Invalid vrf table name"); any "%" line that is no syslog message counts too.
    failed_when_contains: ClassVar[tuple[str, ...]] = (
        "% Ambiguous command",
        "% Incomplete command",
        "% Invalid input detected",
        "Bad hostname",
        "protocol not running",
        "Invalid vrf",
        "Invalid source",
    )
    count_keyword: ClassVar[str] = "count"
    ipv4_keyword: ClassVar[str] = "ipv4"
