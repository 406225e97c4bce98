"""Delivery: values per second through the broker's own reporter path (spool + Reporter +
zabbix_utils AsyncSender, as linemon_agent.broker uses them) into a local trapper receiver
and into a real Zabbix 6.0 trapper (the lab), batched and one value per connection."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from linemon_agent.broker.reporter import Reporter
from linemon_agent.broker.sender import Send, zabbix_sender
from linemon_agent.broker.spool import Spool
from linemon_agent.models import TrapperValue
from linemon_agent.settings import ZabbixSettings

from .bed import FIRST_NETWORK

REPO = Path(__file__).resolve().parents[2]
LAB = REPO / "scripts" / "zabbix-lab"
TRAPPER_HOST = f"127.{FIRST_NETWORK}.255.1"
ITEM_KEY = "linemon.bench[{}]"
SAMPLE = {"status": "ok", "loss_pct": 0.0, "sent": 5, "received": 5, "rtt_min_ms": 1.0,
          "rtt_avg_ms": 1.2, "rtt_max_ms": 1.5, "router": "r", "target": "198.51.100.1"}


def _value(host: str, item: int, n: int) -> TrapperValue:
    now = time.time()
    seconds = int(now)
    payload = json.dumps({**SAMPLE, "line": f"l{item}", "n": n}, separators=(",", ":"))
    return TrapperValue(host=host, key=ITEM_KEY.format(item), value=payload, clock=seconds,
                        ns=int((now - seconds) * 1e9))


async def _wait_sent(reporter: Reporter, count: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while reporter.counts["sent"] < count:
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.005)
    return True


async def measure(send: Send, host: str, items: int, values: int, batch: int) -> dict[str, Any]:
    """Verify ``items`` items (one probe each), then time ``values`` more values through."""
    with tempfile.TemporaryDirectory(prefix="linemon-bench-spool-") as spool_dir:
        spool = Spool(Path(spool_dir))
        reporter = Reporter(spool, send, batch_size=batch, flush_interval=0.02)
        task = asyncio.get_running_loop().create_task(reporter.run())
        try:
            t_new = time.perf_counter()
            for item in range(items):
                reporter.submit(_value(host, item, 0))
            if not await _wait_sent(reporter, items, 120.0):
                return {"error": f"items not accepted: {reporter.stats()}"}
            new_items_s = time.perf_counter() - t_new
            t0, cpu0 = time.perf_counter(), time.process_time()
            for n in range(values):
                reporter.submit(_value(host, n % items, n))
            t_spooled = time.perf_counter()
            done = await _wait_sent(reporter, items + values, 300.0)
            t1, cpu = time.perf_counter(), time.process_time() - cpu0
        finally:
            await reporter.stop(10.0)
            task.cancel()
            spool.close()
    return {
        "new_items": items,
        "new_items_verified_per_s": round(items / new_items_s),
        "values": values,
        "batch_size": batch,
        "complete": done,
        "values_per_s": round(values / (t1 - t0)),
        "spool_write_per_s": round(values / (t_spooled - t0)),
        "send_per_s": round(values / max(t1 - t_spooled, 1e-9)),
        "sender_cpu_us_per_value": round(1e6 * cpu / values, 1),
        "requests": reporter.counts["batches"],
    }


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextmanager
def local_trapper(work: Path) -> Iterator[int]:
    """tests/beds/trapper.py as its own process (not sharing this process's CPU)."""
    port = _free_port(TRAPPER_HOST)
    out = work / "trapper.out"
    with out.open("wb") as handle:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.beds.trapper", "--host", TRAPPER_HOST,
             "--port", str(port)], cwd=REPO, stdout=handle, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 20
        while b"listening" not in out.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"trapper did not start: {out.read_text()[-500:]}")
            time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def lab_env() -> dict[str, str] | None:
    """The Zabbix lab's addresses (scripts/zabbix-lab env --json), or None when it is down."""
    if subprocess.run([str(LAB), "status", "--quiet"], capture_output=True,
                      check=False).returncode != 0:
        return None
    done = subprocess.run([str(LAB), "env", "--json"], capture_output=True, text=True,
                          check=True)
    env: dict[str, str] = json.loads(done.stdout)
    return env


@contextmanager
def lab_host(env: dict[str, str], items: int) -> Iterator[str]:
    """A new host with ``items`` text trapper items in the lab, deleted afterwards."""
    from zabbix_utils import ZabbixAPI

    api = ZabbixAPI(url=env["LINEMON_ZABBIX_URL"], user=env["LINEMON_ZABBIX_USER"],
                    password=env["LINEMON_ZABBIX_PASSWORD"])
    name = f"linemon-bench-{uuid.uuid4().hex[:10]}"
    groupid = api.hostgroup.create(name=name)["groupids"][0]
    hostid = api.host.create(host=name, groups=[{"groupid": groupid}])["hostids"][0]
    try:
        api.item.create([
            {"hostid": hostid, "name": f"bench {i}", "key_": ITEM_KEY.format(i), "type": 2,
             "value_type": 4}
            for i in range(items)
        ])
        subprocess.run([str(LAB), "reload"], capture_output=True, check=True)
        time.sleep(1.0)  # the reload is asynchronous in the server
        yield name
    finally:
        api.host.delete(hostid)
        api.hostgroup.delete(groupid)
        api.logout()


def _both(server: str, port: int, host: str, items: int, batched: int,
          single: int) -> dict[str, Any]:
    send = zabbix_sender(ZabbixSettings(server=server, port=port))
    return {
        "batched": asyncio.run(measure(send, host, items, batched, 250)),
        "one_per_connection": asyncio.run(measure(send, host, items, single, 1)),
    }


def delivery(work: Path, items: int, batched: int, single: int) -> dict[str, Any]:
    """Both destinations; Zabbix is "skipped: lab not up" when no lab answers."""
    work.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {
        "definition": (
            "values_per_s: values / seconds from the first submit() (durable spool write, as "
            "the broker does per result) until the trapper has answered every value as "
            "processed; items are verified (one probe each) before the clock starts; "
            "batched: 250 values per request (the broker's default batch_size); "
            "one_per_connection: batch_size 1 (AsyncSender opens a connection per request)"
        ),
        "items": items,
    }
    with local_trapper(work) as port:
        out["local_trapper"] = _both(TRAPPER_HOST, port, "bench", items, batched, single)
    env = lab_env()
    if env is None:
        out["zabbix"] = "skipped: lab not up"
        return out
    with lab_host(env, items) as host:
        out["zabbix"] = {
            "server": f"{env['LINEMON_ZABBIX_SERVER']}:{env['LINEMON_ZABBIX_TRAPPER_PORT']}",
            **_both(env["LINEMON_ZABBIX_SERVER"], int(env["LINEMON_ZABBIX_TRAPPER_PORT"]), host,
                    items, batched, single),
        }
    return out
