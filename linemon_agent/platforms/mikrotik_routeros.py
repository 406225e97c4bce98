"""MikroTik RouterOS: the ``/ping`` command line and its table (v6/v7) or BSD (v2-v5) answer."""

from __future__ import annotations

import re
from typing import ClassVar

from linemon_agent.models import PingRequest, PingResult
from linemon_agent.platforms.base import TRANSMITTED_RE, Platform, bounded_lines

# RouterOS v6 and v7 print a table whose header and running summary repeat as the ping
# goes on; only the last summary counts:
#       SEQ HOST                                     SIZE TTL TIME       STATUS
#         0 8.8.8.8                                    56 254 4ms97us
#         1 10.0.0.1                                   84  64 1ms25us    host unreachable
#         sent=2 received=1 packet-loss=50% min-rtt=4ms97us avg-rtt=4ms97us max-rtt=4ms97us
# A narrow terminal wraps the summary ("    max-rtt=..." on the next line). Rows are never
# counted: "host unreachable" rows are not replies, and multicast targets answer more than
# once (received > sent, packet-loss=-300%).
_SENT = re.compile(r"(?<![\w-])sent=(\d+)")
_RECEIVED = re.compile(r"(?<![\w-])received=(\d+)")
_DEVICE_LOSS = re.compile(r"(?<![\w-])packet-loss=(-?\d+(?:\.\d+)?)%")
_RTT_KEYS = ("min-rtt", "avg-rtt", "max-rtt")
_RTT = {key: re.compile(rf"(?<![\w-]){key}=(\S+)") for key in _RTT_KEYS}
# A wrapped summary's next line holds nothing but more of its fields. Values never contain
# "=" and fields are blank-separated, so a line splits into fields one way only (no
# backtracking blow-up on hostile text).
_FIELD = r"(?:packet-loss|min-rtt|avg-rtt|max-rtt)=[^\s=]+"
_CONTINUATION = re.compile(rf"[ \t]*{_FIELD}(?:[ \t]+{_FIELD})*[ \t]*")
_CONTINUATION_LINES = 3
# v7 (and late v6) durations: whole units run together, no zero padding: "1ms25us" is
# 1.025 ms, "58us" 0.058 ms, "1s20ms" 1020 ms; v6 prints whole milliseconds ("146ms").
_DURATION = re.compile(r"(?:\d{1,9}(?:\.\d{1,6})?(?:ms|us|h|m|s))+")
_DURATION_PART = re.compile(r"(\d{1,9}(?:\.\d{1,6})?)(ms|us|h|m|s)")
_UNIT_TO_MS = {"h": 3_600_000.0, "m": 60_000.0, "s": 1000.0, "ms": 1.0, "us": 0.001}
# RouterOS v2-v5 printed BSD-style statistics instead ("5 packets transmitted, 5 packets
# received, 0% packet loss" then "round-trip min/avg/max = 0/0.6/3 ms"): the base reads them.
# Escape sequences a terminal-aware console may still send (colours, line clears).
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
def duration_ms(text: str) -> float | None:
    """A RouterOS duration ("1ms25us", "58us", "146ms", "1s20ms") in ms; None if not one."""
    if not _DURATION.fullmatch(text):
        return None
    return sum(float(n) * _UNIT_TO_MS[unit] for n, unit in _DURATION_PART.findall(text))


class MikrotikRouterOS(Platform):
    """MikroTik RouterOS: ``/ping address=X count=N`` with size, src-address, interface, vrf.

    ``size`` is RouterOS's own: the whole IP packet, headers included (28-65535). The VRF is
    named with ``vrf=`` (RouterOS v7; v6 spelled it ``routing-table=``). RouterOS's ping has
    no per-probe timeout option: it sends one probe a second and reports an unanswered one
    as ``timeout``, so ``timeout`` is not supported.
    """

    name: ClassVar[str] = "mikrotik_routeros"
    description: ClassVar[str] = "MikroTik RouterOS v6/v7: /ping address=X count=N [vrf=V]"
    scrapli_platform: ClassVar[str] = "mikrotik_routeros"
    # scrapli-community lists none for RouterOS. Its driver appends "+cet511w4098h" to the
    # login name (no colours, dumb terminal, 511 columns), so no on-open command is needed,
    # and strips the echoed command line. What the console prints instead of a summary:
    # parser errors ("bad command name pingx (line 1 column 2)", "expected end of command
    # (line 1 column 40)", "syntax error ..."), argument errors ("input does not match any
    # value of vrf", "invalid value for argument address: ... could not get answer from dns
    # server", "value of size out of range (28..65535)") and "failure: ..." messages.
    failed_when_contains: ClassVar[tuple[str, ...]] = (
        "bad command name",
        "expected end of command",
        "expected command name",
        "syntax error",
        "input does not match any value",
        "invalid value for argument",
        "invalid value of",
        "out of range",
        "ambiguous value",
        "missing value",
        "no such item",
        "failure:",
        "could not resolve",
        "could not get answer",
        "dns name does not exist",
        "not enough permissions",
    )
    supports: ClassVar[frozenset[str]] = frozenset({"size", "vrf", "source", "source_interface"})
    #: how /ping names the routing table: ``vrf`` on v7, ``routing-table`` on v6
    vrf_keyword: ClassVar[str] = "vrf"
    size_range: ClassVar[tuple[int, int]] = (28, 65535)
    # One probe a second (interval=1s) and no timeout option: allow a second's wait on top.
    default_timeout: ClassVar[float] = 1.0
    probe_interval: ClassVar[float] = 1.0

    def _build(self, request: PingRequest) -> str:
        words = ["/ping", f"address={request.target}", f"count={request.count}"]
        if request.size is not None:
            words.append(f"size={request.size}")
        if request.source is not None:
            words.append(f"src-address={request.source}")
        if request.source_interface is not None:
            words.append(f"interface={request.source_interface}")
        if request.vrf is not None:
            words.append(f"{self.vrf_keyword}={request.vrf}")
        return " ".join(words)

    def parse_ping(self, output: str, request: PingRequest | None = None) -> PingResult:
        lines = bounded_lines(_ANSI.sub("", output))
        table = [at for at, line in enumerate(lines) if _SENT.search(line)]
        bsd = [(at, m) for at, line in enumerate(lines) if (m := TRANSMITTED_RE.search(line))]
        if not table and not bsd:
            raise self.refusal(lines, output, "no 'sent= received=' summary line")
        if table and (not bsd or table[-1] > bsd[-1][0]):
            return self._table_summary(lines, table[-1], output)
        return self.bsd_statistics(lines, *bsd[-1], output)

    def _table_summary(self, lines: list[str], at: int, output: str) -> PingResult:
        """The v6/v7 ``sent= received= packet-loss= min-rtt= ...`` line (maybe wrapped)."""
        parts = [lines[at]]
        for line in lines[at + 1 : at + 1 + _CONTINUATION_LINES]:
            if not _CONTINUATION.fullmatch(line):
                break
            parts.append(line)
        summary = " ".join(parts)
        sent = _SENT.search(summary)
        received = _RECEIVED.search(summary)
        if sent is None or received is None:
            raise self.parse_error("summary line without 'received='", output)
        rtts = [
            duration_ms(match.group(1)) if (match := _RTT[key].search(summary)) else None
            for key in _RTT_KEYS
        ]
        loss = _DEVICE_LOSS.search(summary)
        return PingResult.measured(
            self.count(sent.group(1), output),
            self.count(received.group(1), output),
            *rtts,
            extra={"device_loss_pct": float(loss.group(1))} if loss else {},
        )


class MikrotikRouterOSv6(MikrotikRouterOS):
    """MikroTik RouterOS v6: the same ping, with the VRF given as ``routing-table=``."""

    name: ClassVar[str] = "mikrotik_routeros_v6"
    description: ClassVar[str] = "MikroTik RouterOS v6: /ping address=X count=N [routing-table=V]"
    vrf_keyword: ClassVar[str] = "routing-table"
