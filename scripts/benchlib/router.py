"""Scenario ``router`` (issue 11): many lines on one provider edge router with few sessions.

One emulated IOS-XE PE carries ``lines`` lines: 5 % dead, 2 % at 30 % loss, the rest
20 ± 5 ms; count 5, timeout 2 s, interval 180 s, ``max_sessions`` 4. Run at emulator
time_scale 0.1 with an 18 s interval (the ratio of ping time to interval is kept; the
broker's own overhead per ping is not scaled down, so the figures are pessimistic). After the
first interval (every line new: dead lines not known yet, so their first ping is the full
count, unless its router is busy) comes a catch-up interval, reported on its own, then
``intervals`` measured ones. Each result is put in its line's slot (a sent ping: the slot it
was asked for, ``clock`` - ``queued_ms``; a skipped or overrun one: its ``clock``), so an
interval holds exactly one slot of every line. Per interval: the share of lines measured (the
slot's command went to the router: not skipped, not overrun), the share sent on time (within
5 s of the slot), the false timeouts (any ``timeout``: dead lines answer ``no_reply``),
skipped pings; at the end the router's load, sessions needed and used, broker CPU.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tests.beds.emulator.client import Emulator
from tests.beds.trapper import TrapperBed
from tests.functional.broker_proc import BrokerProcess

from . import procs

NETWORK = 60  # 127.60.0.0/16: this scenario's emulator
TIME_SCALE = 0.1
INTERVAL_S = 18  # 180 s at time_scale 0.1
MAX_SESSIONS = 4
PASSWORD = "bench-pw"
SETTLE_S = 3.0
ON_TIME_S = 5.0  # the broker's own on-time bound


def slot_of(result: dict[str, Any], offset: float, interval: float) -> float:
    """The line's slot a result belongs to (its slot grid: ``offset`` + k x ``interval``)."""
    asked = result["clock"]
    if result["status"] not in ("skipped", "overrun"):
        asked -= result["queued_ms"] / 1000.0  # the command went out after its wait
    return offset + round((asked - offset) / interval) * interval


def targets(lines: int) -> dict[str, dict[str, float]]:
    """Every line's target address and behaviour (5 % dead, 2 % at 30 % loss, the rest ok)."""
    out = {}
    for n in range(lines):
        address = f"198.18.{n // 250}.{n % 250 + 1}"
        if n % 20 == 0:
            out[address] = {"loss": 1.0}
        elif n % 50 == 1:
            out[address] = {"loss": 0.3, "rtt_ms": 20.0, "jitter_ms": 5.0}
        else:
            out[address] = {"rtt_ms": 20.0, "jitter_ms": 5.0}
    return out


def _doc(emulator: Emulator, work: Path, port: int, lines: dict[str, Any], probe: int) -> dict:
    secret = work / "pw"
    secret.write_text(PASSWORD + "\n")
    os.chmod(secret, 0o600)
    host, router_port = emulator.address("pe1")
    return {
        "broker": {
            "host_key_policy": "insecure",
            "down_probe_count": probe,
            "max_pings_per_second": 1000,
            "router_pings_per_second": 1000,
            "keepalive_interval": 40,
        },
        "zabbix": {"server": "127.0.0.1", "port": port},
        "credentials": {"default": {"username": "lab", "password_file": str(secret)}},
        "routers": [{"name": "pe1", "host": host, "port": router_port,
                     "platform": "cisco_iosxe", "max_sessions": MAX_SESSIONS}],
        "lines": [
            {"id": f"l{n}", "router": "pe1", "target": address, "count": 5, "timeout": 2,
             "interval": INTERVAL_S}
            for n, address in enumerate(lines)
        ],
    }


def router_budget(work: Path, lines: int, intervals: int, probe: int) -> dict[str, Any]:
    """One run of the scenario (``probe``: down_probe_count, 0 = off)."""
    work.mkdir(parents=True, exist_ok=True)
    behaviour = targets(lines)
    fleet = {
        "time_scale": TIME_SCALE,
        "defaults": {"username": "lab", "password": PASSWORD, "max_sessions": MAX_SESSIONS},
        "routers": {"pe1": {"host": f"127.{NETWORK}.0.1", "port": 0,
                            "platform": "cisco_iosxe", "targets": behaviour}},
    }
    (work / "emu").mkdir()
    with Emulator(fleet, workdir=work / "emu") as emulator, TrapperBed() as trapper:
        broker = BrokerProcess(work, _doc(emulator, work, trapper.port, behaviour, probe))
        with broker:
            assert broker.proc is not None
            time.sleep(INTERVAL_S)  # warm-up: every line's first (full) ping
            time.sleep(INTERVAL_S)  # catch-up: the first interval's backlog is worked off
            start = time.time()
            cpu0 = procs.cpu_seconds(broker.proc.pid)
            time.sleep(intervals * INTERVAL_S)
            cpu1 = procs.cpu_seconds(broker.proc.pid)
            end = time.time()
            routers = broker.client_json("routers", "--json")
            status = broker.client_json("status", "--json")
            offsets = {r["id"]: r["offset_s"] for r in broker.client_json("lines", "--json")}
            time.sleep(SETTLE_S)
        values = [json.loads(v.value) for v in trapper.values()]
    dead = {a for a, b in behaviour.items() if b.get("loss") == 1.0}
    slots = [(slot_of(v, offsets[v["line"]], INTERVAL_S), v) for v in values]
    per_interval = []
    for k in range(-1, intervals):  # -1: the catch-up interval
        lo, hi = start + k * INTERVAL_S, start + (k + 1) * INTERVAL_S
        window = [(slot, v) for slot, v in slots if lo <= slot < hi]
        sent = [(slot, v) for slot, v in window if v["status"] not in ("skipped", "overrun")]
        measured = {v["line"] for _, v in sent}
        on_time = {v["line"] for slot, v in sent if v["clock"] - slot <= ON_TIME_S}
        statuses = Counter(v["status"] for _, v in window)
        per_interval.append({
            "measured_pct": round(100.0 * len(measured) / lines, 3),
            "on_time_pct": round(100.0 * len(on_time) / lines, 3),
            "statuses": dict(statuses),
            "false_timeouts": statuses.get("timeout", 0),
            "skipped": statuses.get("skipped", 0),
        })
    catch_up_interval = per_interval.pop(0)
    healthy_timeouts = sum(
        1 for v in values if v["status"] == "timeout" and v["target"] not in dead
    )
    probes = [v["duration_ms"] for v in values if v.get("extra", {}).get("down_probe")]
    return {
        "lines": lines,
        "down_probe_count": probe,
        "interval_s": INTERVAL_S,
        "time_scale": TIME_SCALE,
        "max_sessions": MAX_SESSIONS,
        "catch_up_interval": catch_up_interval,
        "intervals": per_interval,
        "measured_pct_min": min(i["measured_pct"] for i in per_interval),
        "false_timeouts": sum(i["false_timeouts"] for i in per_interval),
        "healthy_timeouts_all_run": healthy_timeouts,
        "skipped": sum(i["skipped"] for i in per_interval),
        "load": routers[0]["load"],
        "sessions_needed": routers[0]["sessions_needed"],
        "sessions_used": routers[0]["sessions"],
        "down_probe_ms_median": sorted(probes)[len(probes) // 2] if probes else None,
        "broker_cores": round((cpu1 - cpu0) / (end - start), 3),
        "pings_on_time": status["pings_on_time"],
        "pings_late": status["pings_late"],
    }


def scenario(work: Path, lines: int, intervals: int) -> dict[str, Any]:
    """The scenario with down probes (the default) and without."""
    return {
        "definition": __doc__,
        "down_probes_on": router_budget(work / "on", lines, intervals, 1),
        "down_probes_off": router_budget(work / "off", lines, intervals, 0),
    }
