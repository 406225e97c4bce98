"""VyOS: the operational ``ping HOST count N ...`` command and its iputils answer."""

from __future__ import annotations

from typing import ClassVar

from linemon_agent.models import PingRequest, PingResult
from linemon_agent.platforms import _iputils
from linemon_agent.platforms.base import Platform


class VyOS(Platform):
    """VyOS 1.3 and later: ``ping HOST count N [size S] [source-address A] [interface I]
    [vrf V]``.

    VyOS's op-mode ``ping`` turns these words into iputils flags (``-c``, ``-s``, ``-I``,
    ``ip vrf exec V``) and prints iputils' answer unchanged. Without ``count`` it never
    stops, so linemon always writes it. VyOS offers no per-probe timeout (its ``deadline``
    bounds the whole run), so ``timeout`` is refused.
    """

    name: ClassVar[str] = "vyos"
    description: ClassVar[str] = "VyOS: ping HOST count N size S source-address A vrf V"
    scrapli_platform: ClassVar[str] = "vyos_vyos"  # scrapli_community.vyos.vyos
    # scrapli-community's own list (its on_open runs "stty cols 100000"), then what VyOS's
    # ping wrapper prints when it cannot run ("ping: Unknown host: X", "ping: missing
    # argument for count option", "Invalid command: ping ... [x]") and iputils' own.
    failed_when_contains: ClassVar[tuple[str, ...]] = (
        "Ambiguous command",
        "Incomplete command",
        "Invalid command",
        "Invalid value",
        "Need to specify the config node to set",
        "Set failed",
        "missing argument",
        "Missing host",
        *_iputils.PING_REFUSED,
    )
    failed_when_starts_with: ClassVar[tuple[str, ...]] = _iputils.PING_REFUSED_STARTS
    supports: ClassVar[frozenset[str]] = frozenset({"size", "vrf", "source", "source_interface"})
    size_range: ClassVar[tuple[int, int]] = (0, 65507)
    # iputils: one probe a second, and up to 10 s for the last reply.
    default_timeout: ClassVar[float] = 10.0
    probe_interval: ClassVar[float] = 1.0

    def _build(self, request: PingRequest) -> str:
        words = ["ping", request.target, "count", str(request.count)]
        if request.size is not None:
            words += ["size", str(request.size)]
        if request.source is not None:
            words += ["source-address", request.source]
        if request.source_interface is not None:
            words += ["interface", request.source_interface]
        if request.vrf is not None:
            words += ["vrf", request.vrf]
        return " ".join(words)

    def parse_ping(self, output: str, request: PingRequest | None = None) -> PingResult:
        return _iputils.parse(self, output)
