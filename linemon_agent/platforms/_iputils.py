"""Reading iputils- and BusyBox-style ping answers (Linux, Arista EOS), in any locale.

iputils translates its words (``Pakete übertragen``, ``paquets transmis``, ``reçus``) and,
in some locales, the decimal separator (``130,331``), but never the shape of its summary::

    --- <host> ping statistics ---
    <sent> <words>, <received> <words>[, +<n> duplicates][, +<n> corrupted][, +<n> errors],
        <loss>% <words>[, time <t>ms]                       (one line)
    rtt min/avg/max/mdev = <min>/<avg>/<max>/<mdev> ms[, pipe <n>][, ipg/ewma <a>/<b> ms]

BusyBox prints the same block with ``<n> duplicates`` (no ``+``) and ``round-trip
min/avg/max = a/b/c ms`` (no deviation). The counts are read by position and the extra
counters by their word, so a localized build reads like an English one. RTTs are always
milliseconds: both programs print the unit literally (``ms``; ``мс`` in Ukrainian).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from linemon_agent.models import PingResult
from linemon_agent.platforms.base import TRANSMITTED_RE, Platform, split_lines, to_float

# "--- 192.0.2.1 ping statistics ---", "--- statistiques ping 8.8.8.8 ---"
_HEADER = re.compile(r"^[ \t]*---[ \t].*[ \t]---[ \t]*$")
# Fields are separated by ',' (iputils' zh_CN catalogue uses U+FF0C FULLWIDTH COMMA once).
# The first number of the first field is the count sent, of the second the count received.
_SUMMARY = re.compile(
    r"^[ \t]*[^\d\n,\uff0c]*?(?P<sent>\d{1,9})[^\d\n,\uff0c]*[,\uff0c]"
    r"[ \t]*[^\d\n,\uff0c+%]*?(?P<received>\d{1,9})[^\d\n,\uff0c%]*"
    r"(?P<rest>(?:[,\uff0c].*)?)$"
)
# An extra counter between 'received' and the loss: ", +3 errors", ", 1 duplicates".
_EXTRA = re.compile(r"^[ \t]*\+?(?P<n>\d{1,9})[ \t]*(?P<word>[^\d%]*)$")
# The printed loss: "40% packet loss", "0 % paquets perdus", Turkish "%33.3333 ...".
_LOSS = re.compile(r"(\d{1,3}(?:[.,]\d{1,6})?)[ \t]*%|%[ \t]*(\d{1,3}(?:[.,]\d{1,6})?)")
# iputils' words for its extra counters, as its catalogues (po/*.po) translate them.
_COUNTERS = (
    ("duplicates", re.compile("dup|doubl|重|yinelen|дубл", re.IGNORECASE)),
    ("corrupted", re.compile("corr|besch|poškoz|破損|损坏|пошкод|bozuk", re.IGNORECASE)),
    ("errors", re.compile("err|fehl|chyb|エラー|错误|помил|hata", re.IGNORECASE)),
)
_NUMBER = r"(\d{1,9}(?:[.,]\d{1,6})?)"
_RTT = re.compile(
    rf"^[ \t]*(?:rtt|round-trip)\b[^=\n]*=[ \t]*{_NUMBER}/{_NUMBER}/{_NUMBER}(?:/{_NUMBER})?",
    re.IGNORECASE,
)
# Why ping printed no summary: its own complaints ("ping: connect: Network is unreachable",
# "ping: bad address 'x'", "ping: SO_BINDTODEVICE eth9: No such device", "ping: invalid
# option -- 'X'"), the shell's ("-bash: ping: command not found", "sh: ping: not found") and
# the usage text that follows a bad option. Platforms running iputils list these in their
# refusal data.
PING_REFUSED_STARTS = ("ping:", "ping6:")
PING_REFUSED = (
    "command not found",
    ": not found",
    "Usage",
    "unknown host",
    "Name or service not known",
    "Temporary failure in name resolution",
    "bad address",
    "unknown iface",
    "SO_BINDTODEVICE",
    "No such device",
    "Cannot assign requested address",
    "Network is unreachable",
    "No route to host",
    "Operation not permitted",
    "Permission denied",
    "invalid option",
    "unrecognized option",
    "invalid argument",
    "invalid number",
)


@dataclass(frozen=True)
class Summary:
    """The statistics block of one iputils/BusyBox run, as printed."""

    sent: int
    received: int
    duplicates: int = 0
    errors: int = 0
    corrupted: int = 0
    loss_pct: float | None = None
    rtt_min_ms: float | None = None
    rtt_avg_ms: float | None = None
    rtt_max_ms: float | None = None
    rtt_mdev_ms: float | None = None

    def extra(self) -> dict[str, float | int]:
        """What the summary says beyond the normalized fields: the printed loss, corruption."""
        found: dict[str, float | int] = {}
        if self.loss_pct is not None:
            found["device_loss_pct"] = self.loss_pct
        if self.corrupted:
            found["corrupted"] = self.corrupted
        return found


def _find_summary(lines: list[str]) -> tuple[int, re.Match[str]] | None:
    """The statistics line: the one after the last header, else the last English one."""
    for index in range(len(lines) - 1, -1, -1):
        if _HEADER.match(lines[index]):
            following = next((j for j in range(index + 1, len(lines)) if lines[j].strip()), -1)
            match = _SUMMARY.match(lines[following]) if following >= 0 else None
            if match is not None:
                return following, match
            break
    for index in range(len(lines) - 1, -1, -1):
        match = _SUMMARY.match(lines[index]) if TRANSMITTED_RE.search(lines[index]) else None
        if match is not None:
            return index, match
    return None


def parse_summary(output: str) -> Summary | None:
    """The run's statistics, or None when the output holds no summary line."""
    lines = split_lines(output)
    found = _find_summary(lines)
    if found is None:
        return None
    index, match = found
    counters = {"duplicates": 0, "corrupted": 0, "errors": 0}
    loss: float | None = None
    for field in re.split(r"[,\uff0c]", match.group("rest"))[1:]:
        extra = _EXTRA.match(field)
        if extra is not None:
            name = next((n for n, word in _COUNTERS if word.search(extra.group("word"))), None)
            if name is not None:
                counters[name] = int(extra.group("n"))
            continue
        printed = _LOSS.search(field)
        if printed is not None and loss is None:
            loss = to_float(printed.group(1) or printed.group(2))
    rtt = next(filter(None, map(_RTT.match, lines[index + 1 :])), None)
    values = [None if text is None else to_float(text) for text in rtt.groups()] if rtt else []
    return Summary(
        int(match.group("sent")),
        int(match.group("received")),
        counters["duplicates"],
        counters["errors"],
        counters["corrupted"],
        loss,
        *values,
    )


def parse(platform: Platform, output: str) -> PingResult:
    """The result of an iputils/BusyBox run on ``platform``.

    Raises the platform's CommandError when ping could not run (no summary, and a line its
    refusal data recognises) and its ParseError for anything else without a usable summary.
    """
    summary = parse_summary(output)
    if summary is None:
        missing = "no 'packets transmitted' statistics line"
        raise platform.refusal(split_lines(output), output, missing)
    if summary.sent == 0:
        missing = "the summary says no probe was sent"
        raise platform.refusal(split_lines(output), output, missing)
    return PingResult.measured(
        summary.sent,
        summary.received,
        summary.rtt_min_ms,
        summary.rtt_avg_ms,
        summary.rtt_max_ms,
        summary.rtt_mdev_ms,
        duplicates=summary.duplicates,
        errors=summary.errors,
        extra=summary.extra(),
    )
