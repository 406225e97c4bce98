"""Arista EOS: the ``ping ... repeat N`` command and its answer (iputils underneath the CLI)."""

from __future__ import annotations

from typing import ClassVar

from linemon_agent.models import PingRequest, PingResult
from linemon_agent.platforms import _iputils
from linemon_agent.platforms.base import EVERY_OPTION, Platform, family


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
    # scrapli's own EOS list (its on_open already sets terminal length 0 and width 32767),
    # what the CLI prints instead of running ping ("% Invalid input (at token 3: 'x')", "% VRF
    # 'CUST' is not active", "% No source interface Loopback9"; eAPI returns the same texts
    # without the '%'), and what the iputils ping underneath says.
    failed_when_contains: ClassVar[tuple[str, ...]] = (
        "Ambiguous command",
        "% Error",
        "Incomplete command",
        "Invalid input",
        "% Cannot commit",
        "% Unavailable command",
        "% Duplicate sequence number",
        "is not active",
        "No source interface",
        "does not exist",
        "not configured",
        *_iputils.PING_REFUSED,
    )
    failed_when_starts_with: ClassVar[tuple[str, ...]] = ("%", *_iputils.PING_REFUSED_STARTS)
    supports: ClassVar[frozenset[str]] = EVERY_OPTION
    # size <36-18024> datagram bytes (IOS-style); timeout in whole seconds, 2 by default.
    size_range: ClassVar[tuple[int, int]] = (36, 18024)
    timeout_range: ClassVar[tuple[float, float]] = (1.0, 60.0)
    default_timeout: ClassVar[float] = 2.0
    probe_interval: ClassVar[float] = 0.0

    def _build(self, request: PingRequest) -> str:
        words = ["ping"]
        if request.vrf is not None:
            words += ["vrf", request.vrf]
        if family(request.target) is None and family(request.source) == 6:
            words.append("ipv6")
        words.append(request.target)
        words += self.probe_words(request, "repeat")
        words += self.source_words(request, "source")
        return " ".join(words)

    def parse_ping(self, output: str, request: PingRequest | None = None) -> PingResult:
        return _iputils.parse(self, output)
