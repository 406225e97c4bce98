"""The text of each platform's ping answer: header, one chunk per probe, summary.

Pure string building, modelled on the real outputs in tests/fixtures/corpus (see its
README) and tests/fixtures/platforms: IOS/XR marks and ``Success rate``, NX-OS and JunOS
BSD style, EOS and Linux iputils style, Huawei one fact per line, H3C Comware 7's one-line
statistics, SR OS's ``PING Statistics`` (with rapid marks), MikroTik v7 table. Lines end
in CRLF.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

CRLF = "\r\n"
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
ROUTEROS_COLUMNS = "  SEQ HOST                                     SIZE TTL TIME       STATUS"


@dataclass(frozen=True)
class PingArgs:
    """A ping as the device understood its command line; ``None`` means the device default.

    ``size`` is in the device's own terms (IOS/XR/EOS: the whole datagram; the others: the
    payload); ``timeout`` is seconds per probe even where the device takes milliseconds;
    ``address`` is the target resolved (the target itself when it is an address).
    """

    target: str
    count: int
    address: str = ""
    size: int | None = None
    timeout: float | None = None
    vrf: str | None = None
    source: str | None = None
    interface: str | None = None
    ipv6: bool = False
    rapid: bool = False
    quiet: bool = False
    interval: float | None = None

    def __post_init__(self) -> None:
        if not self.address:
            object.__setattr__(self, "address", self.target)

    def to_dict(self) -> dict[str, object]:
        """The fields set, for the emulator's record of pings."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {name: v for name, v in values.items() if v is not None and v is not False}


@dataclass(frozen=True)
class View:
    """What a format sees: the ping, the effective size and timeout, and its context.

    ``rtts`` are every probe's outcome (ms, ``None`` lost); ``unreachable``: lost probes
    were answered by ICMP unreachable; ``now``: the clock (XR prints it); ``local``: the
    router's own address (printed where the device shows its source)."""

    args: PingArgs
    size: int
    timeout: float
    rtts: tuple[float | None, ...]
    unreachable: bool = False
    now: float = 0.0
    local: str = "192.0.2.1"


@dataclass(frozen=True)
class Format:
    header: Callable[[View], str]
    probe: Callable[[View, int], str]
    tail: Callable[[View, int, int, bool], str]
    """tail(view, sent, elapsed_ms, interrupted): the summary after ``sent`` probes."""


# -- numbers ----------------------------------------------------------------------------


def whole_ms(rtt: float) -> int:
    return int(rtt + 0.5)


def trimmed(value: float) -> str:
    """NX-OS: three decimals, trailing zeros dropped (``2.11``, ``18.13``, ``0.965``)."""
    return f"{value:.3f}".rstrip("0").rstrip(".")


def iputils_time(rtt: float) -> str:
    """iputils' ``time=``: 3 significant digits (``0.579``, ``9.12``, ``18.7``, ``632``)."""
    us = round(rtt * 1000)
    if us >= 100000 - 50:
        return str((us + 500) // 1000)
    if us >= 10000 - 5:
        return f"{(us + 50) // 1000}.{((us + 50) % 1000) // 100}"
    if us >= 1000:
        return f"{(us + 5) // 1000}.{((us + 5) % 1000) // 10:02d}"
    return f"{us // 1000}.{us % 1000:03d}"


def routeros_time(us: int) -> str:
    """RouterOS v7 durations from microseconds: ``818us``, ``1ms14us``, ``1s5ms``."""
    seconds, rest = divmod(us, 1_000_000)
    ms, micro = divmod(rest, 1000)
    text = (f"{seconds}s" if seconds else "") + (f"{ms}ms" if ms else "")
    return text + (f"{micro}us" if micro else "") or "0ms"


def stats(rtts: Sequence[float]) -> tuple[float, float, float, float]:
    """min, avg, max and the population standard deviation (BSD stddev, iputils mdev)."""
    avg = sum(rtts) / len(rtts)
    var = max(0.0, sum(r * r for r in rtts) / len(rtts) - avg * avg)
    return min(rtts), avg, max(rtts), math.sqrt(var)


def xr_clock(now: float) -> str:
    """IOS-XR's line before each command's output: ``Mon Sep  3 09:25:45.079 UTC``."""
    t = time.gmtime(now)
    return (
        f"{_DAYS[t.tm_wday]} {_MONTHS[t.tm_mon - 1]} {t.tm_mday:>2} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}.{int(now % 1 * 1000):03d} UTC"
    )


def is_address(text: str | None) -> bool:
    try:
        ipaddress.ip_address(text or "")
    except ValueError:
        return False
    return True


def _received(v: View, sent: int) -> list[float]:
    return [r for r in v.rtts[:sent] if r is not None]


# -- Cisco IOS, IOS-XE, IOS-XR ------------------------------------------------------------


def _cisco_header(v: View, clock: bool) -> str:
    a = v.args
    lines = [xr_clock(v.now)] if clock else []
    lines.append("Type escape sequence to abort.")
    lines.append(
        f"Sending {a.count}, {v.size}-byte ICMP Echos to {a.address}, "
        f"timeout is {math.ceil(v.timeout)} seconds:"
    )
    if a.source is not None or a.interface is not None:
        shown = a.source if is_address(a.source) else v.local
        lines.append(f"Packet sent with a source address of {shown}")
    return CRLF.join(lines) + CRLF


def _cisco_probe(v: View, index: int) -> str:
    mark = "!" if v.rtts[index] is not None else ("U" if v.unreachable else ".")
    return mark + (CRLF if (index + 1) % 70 == 0 else "")  # marks wrap at 70 a line


def _cisco_tail(v: View, sent: int, _elapsed: int, _stopped: bool) -> str:
    got = [whole_ms(r) for r in _received(v, sent)]
    line = f"Success rate is {100 * len(got) // sent if sent else 0} percent ({len(got)}/{sent})"
    if got:  # whole ms; the average is truncated
        line += f", round-trip min/avg/max = {min(got)}/{sum(got) // len(got)}/{max(got)} ms"
    return ("" if sent % 70 == 0 else CRLF) + line + CRLF


# -- NX-OS and JunOS (BSD ping) -----------------------------------------------------------


def _junos_header(v: View) -> str:
    a = v.args
    if a.ipv6:
        return f"PING6({v.size + 48}=40+8+{v.size} bytes) {a.source or '::'} --> {a.address}{CRLF}"
    source = f" from {a.source}" if is_address(a.source) else ""
    return f"PING {a.target} ({a.address}){source}: {v.size} data bytes{CRLF}"


def _nxos_header(v: View) -> str:
    a = v.args
    source = f" from {a.source}" if is_address(a.source) else ""
    return f"PING {a.target} ({a.address}){source}: {v.size} data bytes{CRLF}"


def _nxos_probe(v: View, index: int) -> str:
    rtt = v.rtts[index]
    if rtt is None:
        return f"Request {index} timed out{CRLF}"
    return (
        f"{v.size + 8} bytes from {v.args.address}: icmp_seq={index} ttl=254 "
        f"time={trimmed(rtt)} ms{CRLF}"
    )


def _nxos_tail(v: View, sent: int, _elapsed: int, stopped: bool) -> str:
    got = _received(v, sent)
    loss = 100.0 * (sent - len(got)) / sent if sent else 0.0
    text = ("^C" if stopped else "") + f"{CRLF}--- {v.args.target} ping statistics ---{CRLF}"
    text += f"{sent} packets transmitted, {len(got)} packets received, {loss:.2f}% packet loss"
    if got:
        low, avg, high, _ = stats(got)
        text += f"{CRLF}round-trip min/avg/max = {trimmed(low)}/{trimmed(avg)}/{trimmed(high)} ms"
    return text + CRLF


def _junos_probe(v: View, index: int) -> str:
    rtt = v.rtts[index]
    if v.args.rapid:
        return "!" if rtt is not None else "."
    if rtt is None:
        return ""  # JunOS prints nothing for a lost probe
    if v.args.ipv6:
        return (
            f"{v.size + 8} bytes from {v.args.address}, icmp_seq={index} hlim=64 "
            f"time={rtt:.3f} ms{CRLF}"
        )
    return (
        f"{v.size + 8} bytes from {v.args.address}: icmp_seq={index} ttl=64 time={rtt:.3f} ms{CRLF}"
    )


def _junos_tail(v: View, sent: int, _elapsed: int, stopped: bool) -> str:
    got = _received(v, sent)
    six = "6" if v.args.ipv6 else ""
    text = "^C" if stopped else ""
    if v.args.rapid:
        text += CRLF if sent else ""  # ends the marks line; no blank line
    else:
        text += CRLF
    text += f"--- {v.args.target} ping{six} statistics ---{CRLF}"
    loss = (sent - len(got)) * 100 // sent if sent else 100
    text += f"{sent} packets transmitted, {len(got)} packets received, {loss}% packet loss{CRLF}"
    if got:
        low, avg, high, dev = stats(got)
        name = "std-dev" if v.args.ipv6 else "stddev"
        text += f"round-trip min/avg/max/{name} = {low:.3f}/{avg:.3f}/{high:.3f}/{dev:.3f} ms{CRLF}"
    return text


# -- Arista EOS and Linux (iputils) -------------------------------------------------------


def _iputils(eos: bool) -> Format:
    def data(v: View) -> int:
        # EOS ``size`` is the whole datagram (100 by default); Linux ``-s`` is the payload.
        return max(0, v.size - (48 if v.args.ipv6 else 28)) if eos else v.size

    def header(v: View) -> str:
        a = v.args
        source = ""  # iputils: "from SOURCE DEVICE: ", DEVICE empty for an address
        if is_address(a.source):
            source = f"from {a.source} : "
        elif a.source or a.interface:
            source = f"from {v.local} {a.source or a.interface}: "
        if a.ipv6:
            return f"PING {a.target}({a.address}) {source}{data(v)} data bytes{CRLF}"
        size = f"{data(v)}({data(v) + 28})"
        return f"PING {a.target} ({a.address}) {source}{size} bytes of data.{CRLF}"

    def probe(v: View, index: int) -> str:
        rtt = v.rtts[index]
        if v.args.quiet:  # -q: the summary only
            return ""
        if rtt is None:
            if v.unreachable:
                origin = v.args.source if is_address(v.args.source) else v.local
                return f"From {origin} icmp_seq={index + 1} Destination Host Unreachable{CRLF}"
            return ""
        return (
            f"{data(v) + 8} bytes from {v.args.address}: icmp_seq={index + 1} ttl=64 "
            f"time={iputils_time(rtt)} ms{CRLF}"
        )

    def tail(v: View, sent: int, elapsed_ms: int, stopped: bool) -> str:
        got = _received(v, sent)
        errors = sent - len(got) if v.unreachable else 0
        loss = 100.0 * (sent - len(got)) / sent if sent else 0.0
        text = ("^C" if stopped else "") + f"{CRLF}--- {v.args.target} ping statistics ---{CRLF}"
        text += f"{sent} packets transmitted, {len(got)} received, "
        text += (f"+{errors} errors, " if errors else "") + f"{loss:g}% packet loss, "
        text += f"time {elapsed_ms}ms{CRLF}"
        if got:
            low, avg, high, dev = stats(got)
            text += f"rtt min/avg/max/mdev = {low:.3f}/{avg:.3f}/{high:.3f}/{dev:.3f} ms"
            if eos:  # EOS pings adaptively, so iputils adds ipg/ewma
                ewma = 0.0  # iputils keeps 8 x the moving average, in microseconds
                for rtt in got:
                    ewma = rtt * 8000 if not ewma else ewma + rtt * 1000 - ewma / 8
                ipg = elapsed_ms / (sent - 1) if sent > 1 else 0.0
                text += f", ipg/ewma {ipg:.3f}/{ewma / 8000:.3f} ms"
            text += CRLF
        return text

    return Format(header, probe, tail)


def _srlinux() -> Format:
    """SR Linux: iputils inside the network instance, which it names first."""
    linux = _iputils(eos=False)

    def header(v: View) -> str:
        return f"Using network instance {v.args.vrf or 'default'}{CRLF}" + linux.header(v)

    return Format(header, linux.probe, linux.tail)


# -- Huawei VRP ---------------------------------------------------------------------------


def _huawei_header(v: View) -> str:
    space = " " if v.args.ipv6 else ""
    return f"  PING {v.args.target}{space}: {v.size}  data bytes, press CTRL_C to break{CRLF}"


def _huawei_probe(v: View, index: int) -> str:
    rtt = v.rtts[index]
    if rtt is None:
        return f"    Request time out{CRLF}"
    ms, seq = max(1, whole_ms(rtt)), index + 1
    if v.args.ipv6:
        return (
            f"    Reply from {v.args.address}{CRLF}"
            f"    bytes={v.size} Sequence={seq} hop limit=64  time = {ms} ms{CRLF}"
        )
    return (
        f"    Reply from {v.args.address}: bytes={v.size} Sequence={seq} ttl=255 time={ms} ms{CRLF}"
    )


def _huawei_tail(v: View, sent: int, _elapsed: int, _stopped: bool) -> str:
    got = _received(v, sent)
    loss = 100.0 * (sent - len(got)) / sent if sent else 0.0
    text = f"{CRLF}  --- {v.args.target} ping statistics ---{CRLF}"
    text += f"    {sent} packet(s) transmitted{CRLF}    {len(got)} packet(s) received{CRLF}"
    text += f"    {loss:.2f}% packet loss{CRLF}"
    if got:
        shown = [max(1, whole_ms(r)) for r in got]
        avg = whole_ms(sum(got) / len(got))
        text += f"    round-trip min/avg/max = {min(shown)}/{avg}/{max(shown)} ms{CRLF}"
    return text


# -- H3C Comware 7 ------------------------------------------------------------------------


def _h3c_header(v: View) -> str:
    a = v.args
    return f"Ping {a.target} ({a.address}): {v.size} data bytes, press CTRL+C to break{CRLF}"


def _h3c_probe(v: View, index: int) -> str:
    rtt = v.rtts[index]
    if rtt is None:
        return f"Request time out{CRLF}"
    reply = f"{v.size} bytes from {v.args.address}: icmp_seq={index} ttl=254"
    return f"{reply} time={rtt:.3f} ms{CRLF}"


def _h3c_tail(v: View, sent: int, _elapsed: int, _stopped: bool) -> str:
    got = _received(v, sent)
    loss = 100.0 * (sent - len(got)) / sent if sent else 0.0
    vpn = f" in VPN instance {v.args.vrf}" if v.args.vrf else ""
    text = f"{CRLF}--- Ping statistics for {v.args.target}{vpn} ---{CRLF}"
    text += f"{sent} packet(s) transmitted, {len(got)} packet(s) received, "
    text += f"{loss:.1f}% packet loss"
    if got:
        figures = "/".join(f"{x:.3f}" for x in stats(got))
        text += f"{CRLF}round-trip min/avg/max/std-dev = {figures} ms"
    return text + CRLF


# -- Nokia SR OS (MD-CLI and classic) ------------------------------------------------------


def sros_time(ms: float) -> str:
    """SR OS times: three significant digits, at most three decimals (``0.079``, ``1.48``,
    ``39.8``, ``103``)."""
    for limit, decimals in ((0.9995, 3), (9.995, 2), (99.95, 1)):
        if ms < limit:
            return f"{ms:.{decimals}f}"
    return str(round(ms))


def _sros_header(v: View) -> str:
    return f"PING {v.args.target} {v.size} data bytes{CRLF}"


def _sros_probe(v: View, index: int) -> str:
    rtt, seq = v.rtts[index], index + 1
    if v.args.rapid:
        return "!" if rtt is not None else "."
    if rtt is None:
        return f"Request timed out. icmp_seq={seq}.{CRLF}"
    # IPv6 replies drop the colon after the address and say hlim
    a = v.args.address
    where = f"{a} icmp_seq={seq} hlim" if v.args.ipv6 else f"{a}: icmp_seq={seq} ttl"
    return f"{v.size + 8} bytes from {where}=64 time={sros_time(rtt)}ms.{CRLF}"


def _sros_tail(v: View, sent: int, _elapsed: int, _stopped: bool) -> str:
    got = _received(v, sent)
    loss = 100.0 * (sent - len(got)) / sent if sent else 0.0
    text = CRLF if not v.args.rapid else (CRLF if sent else "")
    text += f"---- {v.args.target} PING Statistics ----{CRLF}"
    shown = "100" if loss == 100.0 else f"{loss:.2f}"
    text += f"{sent} packets transmitted, {len(got)} packets received, {shown}% packet loss{CRLF}"
    if got:
        low, avg, high, dev = (sros_time(x) for x in stats(got))
        text += f"round-trip min = {low}ms, avg = {avg}ms, max = {high}ms, stddev = {dev}ms{CRLF}"
    return text


# -- MikroTik RouterOS v7 -----------------------------------------------------------------


def _routeros_summary(sent: int, got: Sequence[float]) -> str:
    loss = (sent - len(got)) * 100 // sent if sent else 100
    line = f"    sent={sent} received={len(got)} packet-loss={loss}%"
    if got:
        us = [round(r * 1000) for r in got]
        line += f" min-rtt={routeros_time(min(us))} avg-rtt={routeros_time(sum(us) // len(us))}"
        line += f" max-rtt={routeros_time(max(us))}"
    return line + CRLF


def _routeros_header(_v: View) -> str:
    return ROUTEROS_COLUMNS + CRLF


def _routeros_probe(v: View, index: int) -> str:
    text = ""
    if index and index % 20 == 0:  # every 20 rows: a running summary, then the header again
        text = _routeros_summary(index, _received(v, index)) + ROUTEROS_COLUMNS + CRLF
    row = f"{index:>5} {v.args.address:<40}"
    rtt = v.rtts[index]
    if rtt is None:
        status = "host unreachable" if v.unreachable else "timeout"
        return text + f"{row} {'':>4} {'':>3} {'':<10} {status}{CRLF}"
    return text + f"{row} {v.size:>4} {64:>3} {routeros_time(round(rtt * 1000)):<10}{CRLF}"


def _routeros_tail(v: View, sent: int, _elapsed: int, _stopped: bool) -> str:
    return _routeros_summary(sent, _received(v, sent)) + CRLF


FORMATS: dict[str, Format] = {
    "cisco_iosxe": Format(lambda v: _cisco_header(v, False), _cisco_probe, _cisco_tail),
    "cisco_iosxr": Format(lambda v: _cisco_header(v, True), _cisco_probe, _cisco_tail),
    "cisco_nxos": Format(_nxos_header, _nxos_probe, _nxos_tail),
    "juniper_junos": Format(_junos_header, _junos_probe, _junos_tail),
    "arista_eos": _iputils(eos=True),
    "huawei_vrp": Format(_huawei_header, _huawei_probe, _huawei_tail),
    "mikrotik_routeros": Format(_routeros_header, _routeros_probe, _routeros_tail),
    "h3c_comware": Format(_h3c_header, _h3c_probe, _h3c_tail),
    "nokia_sros": Format(_sros_header, _sros_probe, _sros_tail),
    "nokia_sros_classic": Format(_sros_header, _sros_probe, _sros_tail),
    "nokia_srlinux": _srlinux(),
    "vyos": _iputils(eos=False),
    "linux": _iputils(eos=False),
}
