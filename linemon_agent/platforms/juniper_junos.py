"""Juniper Junos: the ``ping ... rapid`` command and its answer (classic BSD or Evolved iputils)."""

from __future__ import annotations

from typing import ClassVar

from linemon_agent.models import PingRequest, PingResult
from linemon_agent.platforms.base import (
    EVERY_OPTION,
    Platform,
    family,
    rapid_marks,
    split_lines,
    whole_seconds,
)


class JuniperJunos(Platform):
    """Junos and Junos OS Evolved: ``ping`` with routing-instance, source, interface, rapid.

    ``wait`` is the per-probe timeout as Junos understands it (a reply later than this counts
    as lost; it is also the wait after the last probe, 10 s by default). ``rapid`` prints one
    mark per probe instead of a line per reply; a lost probe prints nothing without it.
    """

    name: ClassVar[str] = "juniper_junos"
    description: ClassVar[str] = "Juniper Junos / Junos OS Evolved: ping ... count N rapid"
    scrapli_platform: ClassVar[str] = "juniper_junos"
    # scrapli's own Junos list (its on_open already sets screen-length 0, screen-width 511 and
    # complete-on-space off, so the CLI never rewrites the command we type), then what the
    # ping process prints instead of a summary ("ping: cannot resolve X: Unknown host",
    # "invalid routing instance", "ping: bind: Can't assign requested address"; Evolved:
    # "ping: X: Name or service not known"), and CLI errors starting "error:".
    failed_when_contains: ClassVar[tuple[str, ...]] = (
        "is ambiguous",
        "No valid completions",
        "unknown command",
        "syntax error",
        "missing mandatory argument",
        "invalid numeric value",
        "invalid value",
        "invalid routing instance",
        "invalid interface",
        "Unknown host",
        "Name or service not known",
        "not found",
        "does not exist",
        "Network is unreachable",
        "No route to host",
        "assign requested address",
    )
    failed_when_starts_with: ClassVar[tuple[str, ...]] = ("error:", "ping:", "ping6:", "connect:")
    supports: ClassVar[frozenset[str]] = EVERY_OPTION
    # size 0-65468 bytes of payload; wait in whole seconds (10 by default); rapid sends the
    # next probe as soon as the previous one is answered.
    size_range: ClassVar[tuple[int, int]] = (0, 65468)
    timeout_range: ClassVar[tuple[float, float]] = (1.0, 60.0)
    default_timeout: ClassVar[float] = 10.0
    probe_interval: ClassVar[float] = 0.0

    def _build(self, request: PingRequest) -> str:
        words = ["ping", request.target]
        source_family = family(request.source)
        if family(request.target) is None and source_family is not None:
            # A host name resolves in the family of the source address it is pinged from.
            words.append("inet6" if source_family == 6 else "inet")
        if request.vrf is not None:
            words += ["routing-instance", request.vrf]
        if request.source is not None:
            words += ["source", request.source]
        if request.source_interface is not None:
            words += ["interface", request.source_interface]
        if request.size is not None:
            words += ["size", str(request.size)]
        if request.timeout is not None:
            words += ["wait", str(whole_seconds(request.timeout))]
        words += ["count", str(request.count), "rapid"]
        return " ".join(words)

    def parse_ping(self, output: str, request: PingRequest | None = None) -> PingResult:
        lines = split_lines(output)
        summaries = self.bsd_summaries(lines, output)
        at, summary = summaries[-1]  # the last statistics block is this ping's
        since = summaries[-2][0] + 1 if len(summaries) > 1 else 0
        marks = rapid_marks(lines[since:at])
        return self.bsd_statistics(lines, at, summary, output, marks=marks or None)
