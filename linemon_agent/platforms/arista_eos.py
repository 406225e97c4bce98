"""Arista EOS: the ``ping ... repeat N`` command and its answer (iputils underneath the CLI)."""

from __future__ import annotations

import ipaddress
import math
import re
from typing import ClassVar

from linemon_agent.errors import UnsupportedOptionError
from linemon_agent.models import PingRequest, PingResult
from linemon_agent.platforms import _iputils
from linemon_agent.platforms.base import Platform

# What the EOS CLI prints instead of running ping: "% Invalid input (at token 3: 'x')",
# "% VRF 'CUST' is not active", "% No source interface Loopback9" (eAPI returns the same
# texts without the '%').
_CLI_ERROR = re.compile(
    r"^[ \t]*(?:%.*|.*(?:Invalid input|Incomplete command|Ambiguous command|is not active"
    r"|No source interface|does not exist|not configured).*)$",
    re.MULTILINE,
)


def _family(text: str | None) -> int | None:
    """4 or 6 for an IP address, None for a host name (or nothing)."""
    if text is None:
        return None
    try:
        return ipaddress.ip_address(text).version
    except ValueError:
        return None


class AristaEOS(Platform):
    """Arista EOS: ``ping [vrf V] [ipv6] TARGET repeat N [size N] [timeout N] [source S]``.

    EOS runs iputils with no gap between probes and prints its answer unchanged (``72(100)
    bytes of data``, ``time=632 ms``, ``pipe 5``, ``ipg/ewma``). ``size`` is the whole
    datagram (IP header included), as on IOS: the default 100 sends 72 data bytes over IPv4.
    An IPv6 address needs no keyword; a host name that must resolve to IPv6 (IPv6 source)
    takes ``ipv6``. ``source`` takes an address or an interface name, one of the two.
    """

    name: ClassVar[str] = "arista_eos"
    description: ClassVar[str] = "Arista EOS: ping vrf V TARGET repeat N size N timeout N source S"
    scrapli_platform: ClassVar[str] = "arista_eos"
    # scrapli's own EOS list (its on_open already sets terminal length 0 and width 32767).
    failed_when_contains: ClassVar[tuple[str, ...]] = (
        "% Ambiguous command",
        "% Error",
        "% Incomplete command",
        "% Invalid input",
        "% Cannot commit",
        "% Unavailable command",
        "% Duplicate sequence number",
    )
    keepalive_command: ClassVar[str] = ""
    supports: ClassVar[frozenset[str]] = frozenset(
        {"size", "timeout", "vrf", "source", "source_interface"}
    )
    # size <36-18024> datagram bytes (IOS-style); timeout in whole seconds, 2 by default.
    size_range: ClassVar[tuple[int, int]] = (36, 18024)
    timeout_range: ClassVar[tuple[float, float]] = (1.0, 60.0)
    default_timeout: ClassVar[float] = 2.0
    probe_interval: ClassVar[float] = 0.0

    def _build(self, request: PingRequest) -> str:
        words = ["ping"]
        if request.vrf is not None:
            words += ["vrf", request.vrf]
        if _family(request.target) is None and _family(request.source) == 6:
            words.append("ipv6")
        words += [request.target, "repeat", str(request.count)]
        if request.size is not None:
            words += ["size", str(request.size)]
        if request.timeout is not None:
            words += ["timeout", str(math.ceil(request.timeout))]
        if request.source is not None and request.source_interface is not None:
            raise UnsupportedOptionError(
                self.name,
                "source_interface",
                request.source_interface,
                "EOS ping takes one source: an address or an interface, not both",
            )
        source = request.source or request.source_interface
        if source is not None:
            words += ["source", source]
        return " ".join(words)

    def parse_ping(self, output: str, request: PingRequest | None = None) -> PingResult:
        return _iputils.parse(self, output, _CLI_ERROR)
