"""A ping's output as a timed script: when each chunk of the device's answer appears.

Pure functions, no I/O. :func:`play` turns a parsed ping and its probes' outcomes into a
:class:`Script`: the header at 0 s, each probe's mark or reply line when that probe
completes (as the platform paces probes), the summary at the end. The SSH server streams
a script, scaled by its ``time_scale``; :func:`render` joins one into the full text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tests.beds.emulator.formats import FORMATS, PingArgs, View

# An ICMP error (unreachable) comes back about this fast (seconds), whatever the timeout.
UNREACHABLE_DELAY = 0.001
# A count the device takes as "until interrupted" (JunOS, Linux, MikroTik without a count).
ENDLESS = 10_000
# The most probes simulated for one ping, whatever its count says (``repeat 2147483647``
# would run for years on a device too; stop it with the interrupt key).
MAX_PROBES = 100_000


@dataclass(frozen=True)
class Timing:
    """How a platform paces probes: ``periodic`` sends one every ``interval`` whatever
    happens (iputils, JunOS); otherwise the next probe leaves once the previous one is
    answered or timed out, and not before ``interval`` (IOS, NX-OS, Huawei, MikroTik).
    A periodic ping lingers ``timeout`` after its last probe for missing replies."""

    size: int
    timeout: float
    interval: float
    periodic: bool = False


TIMINGS: dict[str, Timing] = {
    "cisco_iosxe": Timing(size=100, timeout=2.0, interval=0.0),
    "cisco_iosxr": Timing(size=100, timeout=2.0, interval=0.0),
    "cisco_nxos": Timing(size=56, timeout=2.0, interval=1.0),
    "juniper_junos": Timing(size=56, timeout=10.0, interval=1.0, periodic=True),
    "arista_eos": Timing(size=100, timeout=2.0, interval=0.0),
    "huawei_vrp": Timing(size=56, timeout=2.0, interval=0.5),
    "mikrotik_routeros": Timing(size=56, timeout=1.0, interval=1.0),
    "h3c_comware": Timing(size=56, timeout=2.0, interval=0.2),
    "nokia_sros": Timing(size=56, timeout=5.0, interval=1.0),
    "nokia_sros_classic": Timing(size=56, timeout=5.0, interval=1.0),
    "nokia_srlinux": Timing(size=56, timeout=10.0, interval=1.0, periodic=True),
    "vyos": Timing(size=56, timeout=10.0, interval=1.0, periodic=True),
    "linux": Timing(size=56, timeout=10.0, interval=1.0, periodic=True),
}
PLATFORMS = tuple(TIMINGS)


@dataclass(frozen=True)
class Event:
    """A chunk of output due ``at`` seconds (device time) after the command started."""

    at: float
    text: str


@dataclass(frozen=True)
class Script:
    """The timed output of one ping: the header, one event per probe, the summary."""

    events: tuple[Event, ...]

    def text(self) -> str:
        return "".join(event.text for event in self.events)


def timing_of(platform: str, args: PingArgs) -> Timing:
    """The platform's pacing with the command's own size, timeout and interval applied."""
    base = TIMINGS[platform]
    size = args.size if args.size is not None else base.size
    if platform == "juniper_junos" and args.rapid:
        # rapid: back to back; a lost probe waits `wait` (1 s when not given).
        return Timing(size, args.timeout or 1.0, args.interval or 0.0)
    if platform.startswith("nokia_sros") and args.rapid:  # rapid: 10 ms apart
        return Timing(size, args.timeout or base.timeout, args.interval or 0.01)
    timeout = args.timeout if args.timeout is not None else base.timeout
    interval = args.interval if args.interval is not None else base.interval
    return Timing(size, timeout, interval, base.periodic)


def completions(timing: Timing, rtts: Sequence[float | None], unreachable: bool) -> list[float]:
    """When each probe completes (seconds from the start), in probe order."""
    done: list[float] = []
    start = 0.0
    for rtt in rtts:
        if rtt is not None:
            finished = start + rtt / 1000.0
        elif unreachable:
            finished = start + UNREACHABLE_DELAY
        elif timing.periodic:
            finished = start  # nothing comes back; the ping just goes on
        else:
            finished = start + timing.timeout
        done.append(finished)
        start = (
            start + timing.interval if timing.periodic else max(start + timing.interval, finished)
        )
    return done


def elapsed_ms(timing: Timing, rtts: Sequence[float | None], done: Sequence[float]) -> int:
    """What iputils prints as ``time Nms``: from the first send to the last send or reply."""
    if not rtts:
        return 0
    last_send = (len(rtts) - 1) * timing.interval if timing.periodic else 0.0
    replies = [at for at, rtt in zip(done, rtts, strict=True) if rtt is not None]
    return int(1000 * max([last_send, *replies]))


def play(
    platform: str,
    args: PingArgs,
    rtts: Sequence[float | None],
    *,
    unreachable: bool = False,
    now: float = 0.0,
    local: str = "192.0.2.1",
) -> Script:
    """The timed output of ``args`` whose probes had these round trips (ms; ``None``: lost).

    ``unreachable``: lost probes were answered by ICMP unreachable; ``now``: the clock XR
    prints; ``local``: the router's own address, where the device shows its source.
    """
    fmt = FORMATS[platform]
    timing = timing_of(platform, args)
    view = View(args, timing.size, timing.timeout, tuple(rtts), unreachable, now, local)
    done = completions(timing, rtts, unreachable)
    probes = [Event(at, fmt.probe(view, i)) for i, at in enumerate(done)]
    probes.sort(key=lambda event: event.at)  # stable; a late reply may follow a later probe
    end = max(done, default=0.0)
    if timing.periodic and rtts and any(r is None for r in rtts) and not unreachable:
        end = max(end, (len(rtts) - 1) * timing.interval + timing.timeout)
    summary = fmt.tail(view, len(rtts), elapsed_ms(timing, rtts, done), False)
    return Script((Event(0.0, fmt.header(view)), *probes, Event(end, summary)))


def interrupted(
    platform: str,
    args: PingArgs,
    rtts: Sequence[float | None],
    sent: int,
    *,
    unreachable: bool = False,
    local: str = "192.0.2.1",
) -> str:
    """What the device prints when the user interrupts it after ``sent`` probes."""
    timing = timing_of(platform, args)
    view = View(args, timing.size, timing.timeout, tuple(rtts), unreachable, 0.0, local)
    done = completions(timing, rtts[:sent], unreachable)
    return FORMATS[platform].tail(view, sent, elapsed_ms(timing, rtts[:sent], done), True)


def render(
    platform: str,
    target: str,
    count: int,
    rtts: Sequence[float | None],
    **options: object,
) -> str:
    """The full text ``platform`` prints for a ping of ``target`` with ``count`` probes.

    ``rtts`` holds one entry per probe: its round trip in ms, or ``None`` when lost.
    ``options``: :class:`PingArgs` fields (size, timeout, vrf, source, ipv6, rapid, ...)
    and :func:`play`'s keywords (unreachable, now, local).
    """
    if len(rtts) != count:
        raise ValueError(f"{count} probes need {count} rtts, got {len(rtts)}")
    keywords = {k: options.pop(k) for k in ("unreachable", "now", "local") if k in options}
    args = PingArgs(target, count, **options)  # type: ignore[arg-type]
    return play(platform, args, rtts, **keywords).text()  # type: ignore[arg-type]
