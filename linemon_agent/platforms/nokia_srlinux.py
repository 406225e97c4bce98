"""Nokia SR Linux: ``ping HOST network-instance V -c N`` and its iputils answer."""

from __future__ import annotations

from typing import ClassVar

from linemon_agent.models import PingRequest, PingResult
from linemon_agent.platforms import _iputils
from linemon_agent.platforms.base import Platform


class NokiaSRLinux(Platform):
    """Nokia SR Linux: ``ping HOST network-instance V -c N [-s S] [-I SRC]``.

    SR Linux runs iputils ping inside the network instance (``default`` unless the request
    names one) and prints its answer after ``Using network instance V``. The flags linemon
    writes are the ones published SR Linux sessions show (``-c``, ``-I`` with a source
    address, ``-s``); a per-probe timeout and a source interface (the kernel's names differ
    from SR Linux's ``ethernet-1/1.0``) are refused rather than guessed.
    """

    name: ClassVar[str] = "nokia_srlinux"
    description: ClassVar[str] = "Nokia SR Linux: ping HOST network-instance V -c N -I SRC"
    scrapli_platform: ClassVar[str] = "nokia_srlinux"
    # scrapli-community's own list; its on_open sets the basic CLI engine and turns
    # complete-on-space off; its prompt is two lines ("--{ running }--[  ]--" then
    # "A:leaf1# "). The CLI refuses a bad word with "Parsing error: Unknown token 'x'.
    # Options are [...]"; the iputils underneath says why it could not ping.
    failed_when_contains: ClassVar[tuple[str, ...]] = (
        "MINOR:",
        "MAJOR:",
        "CRITICAL:",
        "Parsing error",
        *_iputils.PING_REFUSED,
    )
    failed_when_starts_with: ClassVar[tuple[str, ...]] = ("Error:", *_iputils.PING_REFUSED_STARTS)
    supports: ClassVar[frozenset[str]] = frozenset({"size", "vrf", "source"})
    size_range: ClassVar[tuple[int, int]] = (0, 65507)
    # iputils: one probe a second, and up to 10 s for the last reply.
    default_timeout: ClassVar[float] = 10.0
    probe_interval: ClassVar[float] = 1.0

    def _build(self, request: PingRequest) -> str:
        vrf = request.vrf if request.vrf is not None else "default"
        words = ["ping", request.target, "network-instance", vrf, "-c", str(request.count)]
        if request.size is not None:
            words += ["-s", str(request.size)]
        if request.source is not None:
            words += ["-I", request.source]
        return " ".join(words)

    def parse_ping(self, output: str, request: PingRequest | None = None) -> PingResult:
        return _iputils.parse(self, output)
