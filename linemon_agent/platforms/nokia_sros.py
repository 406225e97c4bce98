"""Nokia SR OS (MD-CLI and classic CLI): the ``ping HOST ... count N`` command and its answer."""

from __future__ import annotations

import re
from typing import ClassVar

from linemon_agent.models import PingRequest, PingResult
from linemon_agent.platforms.base import (
    EVERY_OPTION,
    UNIT_TO_MS,
    Platform,
    bounded_lines,
    rapid_marks,
    to_float,
)

# The answer, classic and MD-CLI alike (IPv6 replies say "hlim=" and drop the colon):
#     PING 10.0.0.1 56 data bytes
#     64 bytes from 10.0.0.1: icmp_seq=1 ttl=64 time=39.8ms.      (or "Request timed out.
#                                                                  icmp_seq=2.", or "!!.!"
#                                                                  with rapid)
#     ---- 10.0.0.1 PING Statistics ----
#     2 packets transmitted, 2 packets received, 0.00% packet loss
#     round-trip min = 1.48ms, avg = 20.6ms, max = 39.8ms, stddev = 19.2ms
# Probes answered by an ICMP error are counted as "bounced" between transmitted and
# received; duplicate replies replace the loss ("5 packets transmitted, 0 packets received,
# 3 duplicates"). The round-trip line is absent when nothing came back.
_SUMMARY = re.compile(
    r"(?P<sent>[0-9]{1,12})[ \t]+packets?[ \t]+transmitted,"
    r"(?:[ \t]*(?P<bounced>[0-9]{1,12})[ \t]+packets?[ \t]+bounced,)?"
    r"[ \t]*(?P<received>[0-9]{1,12})[ \t]+packets?[ \t]+received"
    r"(?:,[ \t]*(?P<duplicates>[0-9]{1,12})[ \t]+duplicates?)?"
    r"(?:,[ \t]*(?P<loss>[0-9]{1,3}(?:\.[0-9]{1,6})?)%[ \t]+packet[ \t]+loss)?",
    re.IGNORECASE,
)
_TIME = r"(?P<{0}>[0-9]{{1,12}}(?:\.[0-9]{{1,6}})?)[ \t]*(?P<{0}_unit>ms|us|s)"
_RTT = re.compile(
    r"round-trip[ \t]+min[ \t]*=[ \t]*" + _TIME.format("min")
    + r"[ \t]*,[ \t]*avg[ \t]*=[ \t]*" + _TIME.format("avg")
    + r"[ \t]*,[ \t]*max[ \t]*=[ \t]*" + _TIME.format("max")
    + r"(?:[ \t]*,[ \t]*stddev[ \t]*=[ \t]*" + _TIME.format("stddev") + ")?",
    re.IGNORECASE,
)
# A probe the router could not send ("Send failed. Source IP address is not local to the
# system"): still a measurement, with the reason kept.
_SEND_FAILED = re.compile(r"[ \t]*(Send failed\..*)")
# Router instances that classic CLI names with "router" (a VPRN is "router <service-id>").
_CLASSIC_ROUTERS = frozenset({"Base", "management", "vpls-management"})


class NokiaSROS(Platform):
    """Nokia SR OS in the model-driven CLI (MD-CLI), SR OS 20 and later by default:
    ``ping HOST [router-instance V] count N [size S] [timeout T] [source-address A |
    interface I]``. ``timeout`` is whole seconds (1-10, 5 by default), ``size`` the ICMP
    payload (0-65507); probes leave once a second.
    """

    name: ClassVar[str] = "nokia_sros"
    description: ClassVar[str] = "Nokia SR OS MD-CLI: ping HOST router-instance V count N"
    scrapli_platform: ClassVar[str] = "nokia_sros"
    # scrapli-community's own list ("MINOR:", "MAJOR:"): MD-CLI prints its refusals as
    # "MINOR: MGMT_CORE #2201: Unknown element - 'tt'" or "MINOR: MGMT_AGENT #2005: Invalid
    # element value - 'destination-address' could not transmit request to resolve ..."
    # under a caret line. Its on_open sets command-completion off, the console width to 512
    # and paging off; its prompt is two lines ("[/]" then "A:admin@sros# ").
    failed_when_contains: ClassVar[tuple[str, ...]] = ("MINOR:", "MAJOR:", "CRITICAL:")
    supports: ClassVar[frozenset[str]] = EVERY_OPTION
    size_range: ClassVar[tuple[int, int]] = (0, 65507)
    timeout_range: ClassVar[tuple[float, float]] = (1.0, 10.0)
    default_timeout: ClassVar[float] = 5.0
    probe_interval: ClassVar[float] = 1.0
    #: the keyword before a source address
    source_keyword: ClassVar[str] = "source-address"

    def vrf_words(self, vrf: str) -> list[str]:
        """MD-CLI names every router instance, VPRNs included, with ``router-instance``."""
        return ["router-instance", vrf]

    def _build(self, request: PingRequest) -> str:
        words = ["ping", request.target]
        if request.vrf is not None:
            words += self.vrf_words(request.vrf)
        words += self.probe_words(request, "count")
        words += self.source_words(request, self.source_keyword, "interface")
        return " ".join(words)

    def parse_ping(self, output: str, request: PingRequest | None = None) -> PingResult:
        lines = bounded_lines(output)
        found = [(at, m) for at, line in enumerate(lines) if (m := _SUMMARY.search(line))]
        if not found:
            raise self.refusal(lines, output, "no 'packets transmitted' statistics line")
        at, summary = found[-1]  # the last statistics block is this ping's
        since = found[-2][0] + 1 if len(found) > 1 else 0
        sent = self.count(summary.group("sent"), output)
        rtt = next((m for line in lines[at + 1 : at + 3] if (m := _RTT.search(line))), None)
        values: list[float | None] = [None, None, None, None]
        if rtt is not None:
            values = [
                None
                if rtt.group(key) is None
                else self.rtt(rtt.group(key), output) * UNIT_TO_MS[rtt.group(f"{key}_unit")]
                for key in ("min", "avg", "max", "stddev")
            ]
        extra: dict[str, object] = {}
        if summary.group("loss") is not None:
            extra["device_loss_pct"] = to_float(summary.group("loss"))
        failed = next((m for line in lines[since:at] if (m := _SEND_FAILED.fullmatch(line))), None)
        if failed is not None:
            extra["device_message"] = failed.group(1).strip()[:200]
        marks = rapid_marks(lines[since:at])
        duplicates, bounced = summary.group("duplicates"), summary.group("bounced")
        return PingResult.measured(
            sent,
            self.count(summary.group("received"), output),
            *values,
            duplicates=self.count(duplicates, output) if duplicates else 0,
            errors=self.count(bounced, output) if bounced else 0,
            marks=marks if len(marks) == sent else None,
            extra=extra,
        )


class NokiaSROSClassic(NokiaSROS):
    """Nokia SR OS in the classic CLI (``A:router#``): ``ping HOST [router N | service-name
    V] count N [size S] [timeout T] [source A | interface I]``; the answer is MD-CLI's."""

    name: ClassVar[str] = "nokia_sros_classic"
    description: ClassVar[str] = "Nokia SR OS classic CLI: ping HOST router N count N"
    scrapli_variant: ClassVar[str | None] = "classic"
    # scrapli-community's classic list: classic CLI says "Error: Bad command." under a caret.
    failed_when_contains: ClassVar[tuple[str, ...]] = (
        "MINOR:",
        "MAJOR:",
        "CRITICAL:",
        "Error:",
        "Bad Command:",
    )
    source_keyword: ClassVar[str] = "source"

    def vrf_words(self, vrf: str) -> list[str]:
        """``router`` takes Base, management or a VPRN's service id; a VPRN known by its name
        takes ``service-name``."""
        if vrf.isdigit() or vrf in _CLASSIC_ROUTERS:
            return ["router", vrf]
        return ["service-name", vrf]
