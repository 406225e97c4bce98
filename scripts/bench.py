"""linemon benchmarks on this machine: scale, warm vs cold, client path, transports.

Each scenario runs the real broker (``linemon broker``) against the router emulator on
loopback and a local trapper receiver, and reads the broker's own CPU and memory from /proc.
Results go to ``bench/results/<date>.json`` and a table on stdout. Run through scripts/bench.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.beds.emulator.client import Emulator  # noqa: E402
from tests.beds.trapper import TrapperBed  # noqa: E402
from tests.functional.broker_proc import BrokerProcess  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def proc_status(pid: int, key: str) -> int:
    for row in Path(f"/proc/{pid}/status").read_text().splitlines():
        if row.startswith(key + ":"):
            return int(row.split()[1])
    return 0


def fleet(n: int, network: int, rtt_ms: float = 1.0) -> dict[str, Any]:
    routers = {
        f"r{i}": {
            "host": f"127.{network}.{i // 250}.{i % 250 + 1}",
            "port": 0,
            "platform": "cisco_iosxe",
        }
        for i in range(n)
    }
    return {
        "time_scale": 0.01,
        "default_target": {"loss": 0.0, "rtt_ms": rtt_ms},
        "defaults": {"username": "lab", "password": "bench-pw", "max_sessions": 4},
        "routers": routers,
    }


def broker_doc(
    emulators: list[Emulator],
    work: Path,
    trapper: int,
    lines_per: int,
    interval: int,
    transport: str,
) -> dict[str, Any]:
    secret = work / "pw"
    secret.write_text("bench-pw\n")
    os.chmod(secret, 0o600)
    routers, lines = [], []
    for emulator in emulators:
        for name in emulator.ready["routers"]:
            host, port = emulator.address(name)
            rname = f"{host}-{name}"
            routers.append(
                {
                    "name": rname,
                    "host": host,
                    "port": port,
                    "platform": "cisco_iosxe",
                    "max_sessions": 2,
                }
            )
            for j in range(lines_per):
                lines.append(
                    {
                        "id": f"{rname}-{j}",
                        "router": rname,
                        "target": f"198.51.{j // 250}.{j % 250 + 1}",
                        "count": 5,
                        "timeout": 1,
                        "interval": interval,
                    }
                )
    return {
        "broker": {
            "host_key_policy": "insecure",
            "transport": transport,
            "log_level": "warning",
            "max_pings_per_second": 2000,
            "session_opens_per_second": 50,
        },
        "zabbix": {"server": "127.0.0.1", "port": trapper},
        "credentials": {"default": {"username": "lab", "password_file": str(secret)}},
        "routers": routers,
        "lines": lines,
    }


def scale(
    routers: int, lines: int, interval: int, rounds: int, transport: str, work: Path
) -> dict[str, Any]:
    """Routers x lines on an interval: on-time fraction, broker CPU (cores), RSS, threads."""
    per_process = 500
    groups = [min(per_process, routers - i) for i in range(0, routers, per_process)]
    emulators = []
    try:
        for index, count in enumerate(groups):
            (work / f"emu{index}").mkdir(parents=True)
            emulators.append(
                Emulator(fleet(count, 20 + index), workdir=work / f"emu{index}").start()
            )
        with TrapperBed() as trapper:
            doc = broker_doc(emulators, work, trapper.port, lines // routers, interval, transport)
            broker = BrokerProcess(work, doc)
            with broker:
                assert broker.proc is not None
                pid = broker.proc.pid
                time.sleep(interval + 2)  # first round: sessions open
                before = broker.client_json("status", "--json")
                cpu0, t0 = cpu_seconds(pid), time.monotonic()
                time.sleep(interval * rounds)
                cpu1, t1 = cpu_seconds(pid), time.monotonic()
                after = broker.client_json("status", "--json")
                started = after["pings_started"] - before["pings_started"]
                on_time = after["pings_on_time"] - before["pings_on_time"]
                return {
                    "routers": routers,
                    "lines": lines,
                    "interval_s": interval,
                    "transport": transport,
                    "pings": started,
                    "on_time_pct": round(100.0 * on_time / max(started, 1), 3),
                    "overruns": after["overruns"] - before["overruns"],
                    "broker_cores": round((cpu1 - cpu0) / (t1 - t0), 3),
                    "cpu_ms_per_ping": round(1000 * (cpu1 - cpu0) / max(started, 1), 3),
                    "rss_mib": round(proc_status(pid, "VmRSS") / 1024, 1),
                    "threads": proc_status(pid, "Threads"),
                    "sessions": after["sessions"],
                    "results": {k: v for k, v in after["results"].items() if v},
                    "delivered": after["delivery"].get("sent"),
                }
    finally:
        for emulator in emulators:
            emulator.stop()


def cold_vs_warm(pings: int, work: Path) -> dict[str, Any]:
    """The same pings by connect-login-ping-close each time, and on one warm session."""
    from scrapli import AsyncScrapli

    (work / "emu").mkdir(parents=True)
    with Emulator(fleet(1, 30), workdir=work / "emu") as emulator:
        host, port = emulator.address("r0")
        args = {
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

        figures = {}
        for name, job in (("cold", cold), ("warm", warm)):
            cpu0, t0 = time.process_time(), time.monotonic()
            asyncio.run(job())
            cpu, wall = time.process_time() - cpu0, time.monotonic() - t0
            figures[name] = {
                "cpu_ms_per_ping": round(1000 * cpu / pings, 2),
                "wall_ms_per_ping": round(1000 * wall / pings, 2),
            }
        figures["cpu_ratio"] = round(
            figures["cold"]["cpu_ms_per_ping"] / figures["warm"]["cpu_ms_per_ping"], 1
        )
        figures["pings"] = pings
        return figures


def client_path(calls: int, work: Path) -> dict[str, Any]:
    """`linemon ping` as the agent calls it (a fresh process each time) vs a bare interpreter."""
    (work / "emu").mkdir(parents=True)
    with Emulator(fleet(1, 31), workdir=work / "emu") as emulator, TrapperBed() as trapper:
        doc = broker_doc([emulator], work, trapper.port, 1, 60, "asyncssh")
        router = doc["routers"][0]["name"]
        with BrokerProcess(work, doc) as broker:

            def timed(argv: list[str]) -> list[float]:
                out = []
                for _ in range(calls):
                    t0 = time.perf_counter()
                    subprocess.run(
                        argv,
                        check=True,
                        capture_output=True,
                        env={**os.environ, "LINEMON_SOCKET": str(broker.socket)},
                    )
                    out.append(1000 * (time.perf_counter() - t0))
                return sorted(out)

            client = timed(
                [str(Path(sys.executable).parent / "linemon"), "ping", router, "198.51.100.1"]
            )
            bare = timed([sys.executable, "-c", "pass"])
    p99 = max(0, int(len(client) * 0.99) - 1)
    return {
        "calls": calls,
        "client_ms_median": round(statistics.median(client), 1),
        "client_ms_p99": round(client[p99], 1),
        "bare_python_ms_median": round(statistics.median(bare), 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (about 2 minutes)")
    parser.add_argument("--out", default=str(REPO / "bench" / "results"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="linemon-bench-"))
    if args.quick:
        steps, rounds, interval, pings, calls = [(20, 200)], 1, 15, 20, 20
        transports = [(20, 200)]
    else:
        steps, rounds, interval, pings, calls = [(100, 1000), (500, 10000)], 2, 60, 100, 100
        transports = [(100, 1000)]
    result: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "kernel": platform.release(),
        },
        "quick": args.quick,
        "scale": [],
        "transport": [],
    }
    for n, (routers, lines) in enumerate(steps):
        result["scale"].append(
            scale(routers, lines, interval, rounds, "asyncssh", work / f"scale{n}")
        )
    for n, (routers, lines) in enumerate(transports):
        result["transport"].append(
            scale(routers, lines, interval, 1, "paramiko", work / f"paramiko{n}")
        )
    result["cold_vs_warm"] = cold_vs_warm(pings, work / "coldwarm")
    result["client"] = client_path(calls, work / "client")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{result['date'][:19].replace(':', '')}{'-quick' if args.quick else ''}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"linemon bench  {result['date']}  cores={result['machine']['cores']}")
    print(
        f"{'routers':>8} {'lines':>7} {'transport':>9} {'on time %':>9} {'cores':>6} "
        f"{'ms/ping':>8} {'RSS MiB':>8} {'threads':>7}"
    )
    for row in result["scale"] + result["transport"]:
        print(
            f"{row['routers']:>8} {row['lines']:>7} {row['transport']:>9} "
            f"{row['on_time_pct']:>9} {row['broker_cores']:>6} {row['cpu_ms_per_ping']:>8} "
            f"{row['rss_mib']:>8} {row['threads']:>7}"
        )
    cw = result["cold_vs_warm"]
    print(
        f"cold vs warm (client CPU per ping): {cw['cold']['cpu_ms_per_ping']} ms vs "
        f"{cw['warm']['cpu_ms_per_ping']} ms = {cw['cpu_ratio']}x"
    )
    cl = result["client"]
    print(
        f"linemon ping (fresh process): median {cl['client_ms_median']} ms, p99 "
        f"{cl['client_ms_p99']} ms; bare python {cl['bare_python_ms_median']} ms"
    )
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
