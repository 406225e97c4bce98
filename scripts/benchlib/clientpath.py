"""The client path: `linemon ping` as the Zabbix agent calls it, and the broker's socket under
a paced request rate from concurrent clients."""

from __future__ import annotations

import asyncio
import math
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from . import figures, procs
from .bed import ADHOC_TARGET, Bed, BrokerConn


def _timed(argv: list[str], calls: int, env: dict[str, str]) -> list[float]:
    out = []
    for _ in range(calls):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, env=env)
        out.append(1000 * (time.perf_counter() - t0))
    return out


async def _paced(path: Path, rate: float, seconds: float, clients: int,
                 line: str) -> dict[str, Any]:
    """``rate`` requests a second for ``seconds``, alternating ``status`` and ``result``, each
    on an idle one of ``clients`` persistent connections; round trips in milliseconds."""
    conns = [await BrokerConn.open(path) for _ in range(clients)]
    idle: asyncio.Queue[BrokerConn] = asyncio.Queue()
    for conn in conns:
        idle.put_nowait(conn)
    rtts: list[float] = []
    waited = 0  # requests that found no idle connection at their tick (client-side backlog)

    async def one(conn: BrokerConn, n: int) -> None:
        t0 = time.perf_counter()
        if n % 2:
            await conn.call("result", line=line)
        else:
            await conn.call("status")
        rtts.append(1000 * (time.perf_counter() - t0))
        idle.put_nowait(conn)

    loop = asyncio.get_running_loop()
    total = int(rate * seconds)
    tasks = []
    start = loop.time()
    for n in range(total):
        delay = start + n / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        if idle.empty():
            waited += 1
        conn = await idle.get()
        tasks.append(loop.create_task(one(conn, n)))
    await asyncio.gather(*tasks)
    elapsed = loop.time() - start
    for conn in conns:
        await conn.close()
    return {
        "requests": total,
        "achieved_per_s": round(total / elapsed, 1),
        "clients": clients,
        "round_trip_ms": figures.summary(rtts, 3),
        "client_backlog": waited,
    }


def _request_buckets(listen: str) -> dict[float, int]:
    with urllib.request.urlopen(f"http://{listen}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return figures.buckets(text, "linemon_socket_request_seconds")


def client_path(work: Path, calls: int, rate: float, seconds: float) -> dict[str, Any]:
    """Fresh-process `linemon ping` vs `python -c pass`, then the paced socket load."""
    with Bed(work, 2, 1, 60) as bed:
        env = {**os.environ, "LINEMON_SOCKET": str(bed.socket)}
        router = bed.router_names[0]
        linemon = str(Path(sys.executable).parent / "linemon")
        client = _timed([linemon, "ping", router, ADHOC_TARGET], calls, env)
        bare = _timed([sys.executable, "-c", "pass"], calls, env)
        pid = bed.broker_pid
        assert bed.broker is not None
        listen = bed.broker.client_json("status", "--json")["metrics"]["listen"]
        hist0 = _request_buckets(listen)
        cpu0 = procs.cpu_seconds(pid)
        load = asyncio.run(_paced(bed.socket, rate, seconds, 16, f"{router}-0"))
        cpu = procs.cpu_seconds(pid) - cpu0
        hist1 = _request_buckets(listen)
    return {
        "calls": calls,
        "client_wall_ms": figures.summary(client, 1),
        "bare_python_wall_ms": figures.summary(bare, 1),
        "above_bare_ms_median": round(
            figures.percentile(client, 50) - figures.percentile(bare, 50), 1
        ),
        "socket_load": {
            **load,
            "broker_cpu_ms_per_request": round(1000 * cpu / max(load["requests"], 1), 3),
            "broker_side_ms": {
                "requests": int(hist1[math.inf] - hist0.get(math.inf, 0)),
                "p50_at_most": 1000 * figures.bucket_quantile(hist0, hist1, 0.50),
                "p99_at_most": 1000 * figures.bucket_quantile(hist0, hist1, 0.99),
            },
            "definition": (
                "persistent Unix-socket connections in one asyncio client process send "
                "status and result requests (alternating) at a paced rate; round_trip_ms is "
                "measured in the client from write to reply, so it includes the client's own "
                "event loop on the same 2 cores; broker_side_ms is the broker's own time per "
                "request (whole request read to answer written) from its "
                "linemon_socket_request_seconds histogram, as the bound of the bucket holding "
                "p50/p99; broker_cpu_ms_per_request is the broker's user+sys CPU over the load "
                "/ requests"
            ),
        },
    }
