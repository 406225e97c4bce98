"""linemon's main job on an embedded default: emulated routers, the real broker, live results.

Starts the router emulator (four routers of different platforms on loopback: healthy lines,
a lossy one, a slow one, a router that is down), a local Zabbix trapper receiver, and the
real ``linemon broker`` with a generated configuration; then shows ``linemon lines`` as a
table refreshing every two seconds. Run through ``scripts/demo``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from linemon_agent.clientcli import format_table  # noqa: E402
from tests.beds.emulator.client import Emulator  # noqa: E402
from tests.beds.trapper import TrapperBed  # noqa: E402
from tests.functional.broker_proc import BrokerProcess  # noqa: E402

ROUTERS = {
    "pe1": ("cisco_iosxe", "127.3.0.1"),
    "pe2": ("juniper_junos", "127.3.0.2"),
    "pe3": ("huawei_vrp", "127.3.0.3"),
    "pe4": ("mikrotik_routeros", "127.3.0.4"),
}
# line id -> (router, target, vrf, emulated behaviour)
LINES = {
    "cust-101": ("pe1", "198.51.100.11", "CUST101", {"loss": 0.0, "rtt_ms": 8, "jitter_ms": 2}),
    "cust-102": ("pe1", "198.51.100.12", "CUST102", {"loss": 0.4, "rtt_ms": 25, "jitter_ms": 5}),
    "cust-201": ("pe2", "198.51.100.21", "CUST201", {"loss": 0.0, "rtt_ms": 140, "jitter_ms": 20}),
    "cust-202": ("pe2", "198.51.100.22", "", {"loss": 1.0, "rtt_ms": 5}),
    "cust-301": ("pe3", "198.51.100.31", "VPN301", {"loss": 0.2, "rtt_ms": 12, "jitter_ms": 3}),
    "cust-401": ("pe4", "198.51.100.41", "", {"loss": 0.0, "rtt_ms": 3}),
}
# what each line is meant to show: the legend, and a column beside the live results
MEANT = {
    "cust-101": "healthy: ok, 0 % loss, ~8 ms",
    "cust-102": "lossy: ok, 40 % loss (2 of 5 probes), ~25 ms",
    "cust-201": "slow: ok, 0 % loss, ~140 ms",
    "cust-202": "dead: no_reply, 100 % loss",
    "cust-301": "a little lossy: ok, 20 % loss (1 of 5), ~12 ms",
    "cust-401": "router down: router_unreachable (pe4 refuses SSH), no loss figure",
}
COLUMNS = ("id", "router", "target", "vrf", "status", "loss_pct", "rtt_avg_ms", "meant to show")


def emulator_config() -> dict[str, object]:
    routers: dict[str, dict[str, object]] = {}
    for name, (platform, host) in ROUTERS.items():
        routers[name] = {
            "host": host,
            "port": 0,
            "platform": platform,
            "targets": {},
            "faults": {"down": name == "pe4"},
        }
    for router, target, _vrf, behaviour in LINES.values():
        routers[router]["targets"][target] = behaviour  # type: ignore[index]
    return {
        "time_scale": 0.3,
        "loss_model": "even",  # exactly round(loss x count) probes lost: the legend holds
        "defaults": {"username": "demo", "password": "demo-password"},
        "routers": routers,
    }


def broker_doc(emulator: Emulator, work: Path, trapper_port: int) -> dict[str, object]:
    secret = work / "router-password"
    secret.write_text("demo-password\n")
    os.chmod(secret, 0o600)
    routers = []
    for name, (platform, _host) in ROUTERS.items():
        host, port = emulator.address(name)
        routers.append(
            {"name": name, "host": host, "port": port, "platform": platform, "max_sessions": 2}
        )
    lines = []
    for line_id, (router, target, vrf, _behaviour) in LINES.items():
        line: dict[str, object] = {
            "id": line_id,
            "router": router,
            "target": target,
            "count": 5,
            "interval": 15,
            "zabbix_host": f"line-{line_id}",
        }
        if vrf:
            line["vrf"] = vrf
        lines.append(line)
    return {
        "broker": {
            "host_key_policy": "strict",
            "known_hosts": str(emulator.known_hosts),
            "metrics_listen": "127.0.0.1:0",
        },
        "zabbix": {"server": "127.0.0.1", "port": trapper_port, "flush_interval": 0.5},
        "credentials": {"default": {"username": "demo", "password_file": str(secret)}},
        "routers": routers,
        "lines": lines,
    }


def legend() -> str:
    routers = ", ".join(f"{name} {platform}" for name, (platform, _host) in ROUTERS.items())
    rows = "\n".join(f"  {line_id:<9} {MEANT[line_id]}" for line_id in LINES)
    return f"Routers (emulated on loopback): {routers}.\nWhat each line is meant to show:\n{rows}\n"


def table(rows: list[dict[str, object]]) -> str:
    view = []
    for row in rows:
        last = row.get("last") or {}
        assert isinstance(last, dict)
        view.append(
            {
                **row,
                **{k: last.get(k) for k in ("status", "loss_pct", "rtt_avg_ms")},
                "meant to show": MEANT.get(str(row.get("id")), ""),
            }
        )
    return format_table(view, list(COLUMNS))


def show(broker: BrokerProcess, trapper: TrapperBed, started: float, seconds: float) -> None:
    rows = json.loads(broker.client("lines", "--json").stdout or "[]")
    status = json.loads(broker.client("status", "--json").stdout or "{}")
    delivery = status.get("delivery", {})
    if sys.stdout.isatty():
        print("\033[2J\033[H", end="")  # redraw in place on a terminal only
    else:
        print("-" * 72)  # a log or a pipe gets one snapshot after another
    print(
        f"linemon demo  {time.time() - started:4.0f}/{seconds:.0f} s   "
        f"sessions {status.get('sessions', 0)}   pings {status.get('pings_started', 0)}   "
        f"delivered to the trapper {len(trapper.values())}   "
        f"spool pending {delivery.get('pending', 0)}\n"
    )
    print(table(sorted(rows, key=lambda row: str(row.get("id")))))
    print()
    print(broker.client("routers").stdout)
    sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to run")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="linemon-demo-"))
    print(f"starting the router emulator, a trapper receiver and the broker in {work} ...")
    print(legend())
    (work / "emu").mkdir()
    with Emulator(emulator_config(), workdir=work / "emu") as emulator, TrapperBed() as trapper:
        broker = BrokerProcess(work, broker_doc(emulator, work, trapper.port))
        with broker:
            started = time.time()
            while time.time() - started < args.seconds:
                show(broker, trapper, started, args.seconds)
                time.sleep(2.0)
            show(broker, trapper, started, args.seconds)
        print(f"\nbroker stopped (exit {broker.proc.returncode if broker.proc else '?'}).")
    print(f"More: the broker's log is {broker.log}, its config {broker.config}.")
    print("Try: .venv/bin/linemon parse --platform cisco_iosxe FILE, .venv/bin/linemon platforms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
