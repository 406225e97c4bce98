"""Scenarios on the broker's ping path: scale, overhead, transports, warm vs cold.

Every figure is measured on the real broker process (``linemon broker``) against the
emulator; CPU is user+sys from /proc (CPU seconds, not wall time: the machine is shared).
"""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from linemon_agent.broker.scheduler import plan_offsets
from tests.beds.emulator.client import Emulator

from . import figures, procs
from .bed import Bed, BrokerConn, fleet, ping_round, warm_up

SETTLE_S = 3.0  # after a window: let the reporter's last batch reach the trapper
OPEN_TIMEOUT_S = 90.0
ROUND_TIMEOUT_S = 60.0
DELIVERY_KEYS = ("submitted", "sent", "pending", "batches", "probes", "items_verified")


def _durations(bed: Bed, window: tuple[float, float]) -> list[float]:
    """queued_ms + duration_ms of the results the trapper received whose ping was sent in
    ``window`` (the wait for a session and the router's time: the task start to the result)."""
    out = []
    for received in bed.trapper.values():
        if window[0] <= received.clock + received.ns / 1e9 < window[1]:
            payload = json.loads(received.value)
            if payload["status"] not in ("overrun", "skipped"):
                out.append(float(payload["duration_ms"]) + float(payload.get("queued_ms", 0)))
    return out


def _pings(bed: Bed) -> list[figures.Started]:
    assert bed.broker is not None
    with bed.broker.log.open(errors="replace") as log:
        return list(figures.ping_events(log))


def _offsets(bed: Bed) -> dict[str, float]:
    """Each line's slot offset, planned as the broker plans it (the same pure function over
    the same lines): asking the broker for 100,000 lines' rows is a 60 MB reply."""
    return plan_offsets(SimpleNamespace(**line) for line in bed.doc["lines"])


async def _status(bed: Bed) -> dict[str, Any]:
    conn = await BrokerConn.open(bed.socket)
    try:
        status: dict[str, Any] = await conn.call("status")
        return status
    finally:
        await conn.close()


def scheduled(
    work: Path,
    routers: int,
    lines: int,
    interval: int,
    rounds: int,
    time_scale: float = 0.01,
) -> dict[str, Any]:
    """Routers x lines on an interval, measured for ``rounds`` intervals after warm-up."""
    t_begin = time.monotonic()
    with Bed(work, routers, lines // routers, interval, time_scale=time_scale) as bed:
        setup_s = time.monotonic() - t_begin
        warm = asyncio.run(warm_up(bed.socket, bed.router_names, timeout=300.0))
        offsets = _offsets(bed)
        pids = bed.emulator_pids
        before = asyncio.run(_status(bed))
        t0, cpu0, emu0 = time.time(), procs.cpu_seconds(bed.broker_pid), procs.cpu_total(pids)
        time.sleep(interval * rounds)
        t1, cpu1, emu1 = time.time(), procs.cpu_seconds(bed.broker_pid), procs.cpu_total(pids)
        after = asyncio.run(_status(bed))
        memory = procs.memory(bed.broker_pid)
        time.sleep(SETTLE_S)
        seen = figures.on_time(_pings(bed), offsets, interval, (t0, t1), expected=lines * rounds)
        durations = _durations(bed, (t0, t1))
        delivered = len(durations)
    started = after["pings_started"] - before["pings_started"]
    counted = after["pings_on_time"] - before["pings_on_time"]
    return {
        "routers": routers,
        "lines": lines,
        "interval_s": interval,
        "intervals_measured": rounds,
        "setup_s": round(setup_s, 1),
        **warm,
        "window_s": round(t1 - t0, 1),
        "on_time_pct": seen["on_time_pct"],
        "on_time_from": "the broker's ping log events (start clock) vs each line's planned "
        "slot (the broker's plan_offsets over the configured lines)",
        "slots": seen["slots"],
        "values_seen": seen["values_seen"],
        "lateness_s": seen["lateness_s"],
        "ping_duration_ms": figures.summary(durations, 1),
        "delivered_in_window": delivered,
        "delivery_after": {k: after["delivery"][k] for k in DELIVERY_KEYS},
        "broker_pings_started": started,
        "broker_on_time_pct": round(100.0 * counted / max(started, 1), 3),
        "overruns": after["overruns"] - before["overruns"],
        "broker_cores": round((cpu1 - cpu0) / (t1 - t0), 3),
        "broker_cpu_ms_per_ping": round(1000 * (cpu1 - cpu0) / max(started, 1), 3),
        "emulator_cores": round((emu1 - emu0) / (t1 - t0), 3),
        "emulator_processes": len(pids),
        **memory,
        "sessions_after": after["sessions"],
        "reconnects": after["reconnects"] - before["reconnects"],
        "results": {
            k: v - before["results"].get(k, 0) for k, v in after["results"].items() if v
        },
    }


def overhead(work: Path, routers: int, lines: int, interval: int, rounds: int) -> dict[str, Any]:
    """Broker time per ping when the router answers instantly (emulator time_scale 0)."""
    step = scheduled(work, routers, lines, interval, rounds, time_scale=0.0)
    return {
        "definition": (
            "queued_ms + duration_ms of scheduled pings as the broker reports them in each "
            "result (from the slot's task start, through rate limiters, session checkout, "
            "sending the command and reading/parsing the reply) while the emulator's ping "
            "script takes 0 s (time_scale 0): the router's own time is 0, so this is the "
            "broker's time per ping plus loopback SSH and the emulator's CPU to answer (an "
            "upper bound)"
        ),
        "routers": routers,
        "lines": lines,
        "interval_s": interval,
        "pings": step["delivered_in_window"],
        "overhead_ms": step["ping_duration_ms"],
        "broker_cpu_ms_per_ping": step["broker_cpu_ms_per_ping"],
        "emulator_cores": step["emulator_cores"],
    }


def transport(work: Path, name: str, routers: int, rounds: int) -> dict[str, Any]:
    """asyncssh or paramiko: open every session, then ``rounds`` rounds of one ping each."""
    with Bed(work, routers, 0, 60, transport=name) as bed:
        pid = bed.broker_pid
        cpu0 = procs.cpu_seconds(pid)
        # bounded: paramiko at 1,000 routers on 2 cores does not open them all (see JSON)
        warm = asyncio.run(warm_up(bed.socket, bed.router_names, timeout=OPEN_TIMEOUT_S))
        open_cpu = procs.cpu_seconds(pid) - cpu0
        times = []
        cpu1 = procs.cpu_seconds(pid)
        before = asyncio.run(_status(bed))
        for _ in range(rounds):
            times.append(
                asyncio.run(ping_round(bed.socket, bed.router_names, timeout=ROUND_TIMEOUT_S))
            )
        cpu2 = procs.cpu_seconds(pid)
        memory = procs.memory(pid)
        status = asyncio.run(_status(bed))
    pings = routers * rounds
    return {
        "transport": name,
        "routers": routers,
        "open_all_s": warm["warm_up_s"],
        "open_cpu_ms_per_session": round(1000 * open_cpu / max(routers, 1), 2),
        "sessions": status["sessions"],
        "sessions_after_open": warm["sessions"],
        "round_results": {
            k: v - before["results"].get(k, 0)
            for k, v in status["results"].items()
            if v - before["results"].get(k, 0)
        },
        "round_s": figures.summary(times, 3),
        "rounds": rounds,
        "cpu_ms_per_ping": round(1000 * (cpu2 - cpu1) / max(pings, 1), 3),
        "cores_during_rounds": round((cpu2 - cpu1) / max(sum(times), 1e-9), 3),
        **memory,
    }


def cold_vs_warm(work: Path, pings: int, broker_warm_cpu_ms: float | None) -> dict[str, Any]:
    """The same pings by connect-login-ping-close each time and on one warm session, with
    scrapli + asyncssh in this process (its CPU), beside the broker's CPU per warm ping."""
    from scrapli import AsyncScrapli

    work.mkdir(parents=True)
    with Emulator(fleet(1, 39, 0.01), workdir=work) as emulator:
        host, port = emulator.address("r0")
        args: dict[str, Any] = {
            "host": host,
            "port": port,
            "auth_username": "lab",
            "auth_password": "bench-pw",
            "auth_strict_key": False,
            "transport": "asyncssh",
            "platform": "cisco_iosxe",
        }
        command = "ping 198.51.100.1 repeat 5 timeout 1"

        async def cold() -> None:
            for _ in range(pings):
                async with AsyncScrapli(**args) as conn:
                    await conn.send_command(command)

        async def warm() -> None:
            async with AsyncScrapli(**args) as conn:
                for _ in range(pings):
                    await conn.send_command(command)

        out: dict[str, Any] = {"pings": pings}
        for name, job in (("cold", cold), ("warm", warm)):
            cpu0, t0 = time.process_time(), time.monotonic()
            asyncio.run(job())
            cpu, wall = time.process_time() - cpu0, time.monotonic() - t0
            out[name] = {
                "cpu_ms_per_ping": round(1000 * cpu / pings, 2),
                "wall_ms_per_ping": round(1000 * wall / pings, 2),
            }
        out["cold_process"] = _cold_processes(args, command, max(3, pings // 10))
    out["cpu_ratio_client"] = round(
        out["cold"]["cpu_ms_per_ping"] / out["warm"]["cpu_ms_per_ping"], 1
    )
    out["wall_ratio_client"] = round(
        out["cold"]["wall_ms_per_ping"] / out["warm"]["wall_ms_per_ping"], 1
    )
    out["broker_warm_cpu_ms_per_ping"] = broker_warm_cpu_ms
    out["cpu_ratio_broker"] = (
        round(out["cold"]["cpu_ms_per_ping"] / broker_warm_cpu_ms, 1)
        if broker_warm_cpu_ms
        else None
    )
    out["cpu_ratio_broker_process"] = (
        round(out["cold_process"]["cpu_ms_per_ping"] / broker_warm_cpu_ms, 1)
        if broker_warm_cpu_ms
        else None
    )
    out["definition"] = (
        "cold: scrapli AsyncScrapli + asyncssh connect, log in, ping, close per ping (client "
        "process CPU); cold_process: the same, each ping in a fresh python process, as a script "
        "the agent forks per check (the children's CPU); warm (client): the same pings on one "
        "open session; cpu_ratio_broker(_process): cold (cold_process) vs the broker's own CPU "
        "per scheduled ping in the first scale step"
    )
    return out


COLD_SCRIPT = """
import asyncio, json, sys
from scrapli import AsyncScrapli
args, command = json.loads(sys.argv[1]), sys.argv[2]
async def main():
    async with AsyncScrapli(**args) as conn:
        await conn.send_command(command)
asyncio.run(main())
"""


def _cold_processes(args: dict[str, Any], command: str, pings: int) -> dict[str, Any]:
    """Connect-login-ping-close per ping, each in a fresh interpreter (children's CPU)."""
    argv = [sys.executable, "-c", COLD_SCRIPT, json.dumps(args), command]
    before, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
    for _ in range(pings):
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    after, wall = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic() - t0
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {
        "pings": pings,
        "cpu_ms_per_ping": round(1000 * cpu / pings, 2),
        "wall_ms_per_ping": round(1000 * wall / pings, 2),
    }
