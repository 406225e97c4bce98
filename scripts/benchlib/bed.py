"""The bench's test bed: emulator processes, a trapper receiver and the real broker.

Emulated routers live on 127.31.0.0/16 and up (one /16 per emulator process, at most
ROUTERS_PER_EMULATOR routers each, so the emulator does not starve the broker of a core).
``BrokerConn`` speaks the broker's socket protocol over one persistent Unix connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from linemon_agent import protocol
from tests.beds.emulator.client import Emulator
from tests.beds.trapper import TrapperBed
from tests.functional.broker_proc import BrokerProcess

ROUTERS_PER_EMULATOR = 250
FIRST_NETWORK = 31
PASSWORD = "bench-pw"
ADHOC_TARGET = "198.51.100.1"


def fleet(count: int, network: int, time_scale: float) -> dict[str, Any]:
    """An emulator configuration: ``count`` IOS-XE routers on 127.``network``.x.y."""
    return {
        "time_scale": time_scale,
        "default_target": {"loss": 0.0, "rtt_ms": 1.0},
        "defaults": {"username": "lab", "password": PASSWORD, "max_sessions": 4},
        "routers": {
            f"r{i}": {
                "host": f"127.{network}.{i // 250}.{i % 250 + 1}",
                "port": 0,
                "platform": "cisco_iosxe",
            }
            for i in range(count)
        },
    }


def broker_doc(
    emulators: list[Emulator],
    work: Path,
    trapper_port: int,
    lines_per_router: int,
    interval: int,
    transport: str,
) -> dict[str, Any]:
    """The broker's configuration: every emulated router, ``lines_per_router`` lines each."""
    secret = work / "pw"
    secret.write_text(PASSWORD + "\n")
    os.chmod(secret, 0o600)
    routers, lines = [], []
    for emulator in emulators:
        for name in emulator.ready["routers"]:
            host, port = emulator.address(name)
            rname = f"{host}-{name}"
            routers.append(
                {"name": rname, "host": host, "port": port, "platform": "cisco_iosxe",
                 "max_sessions": 2}
            )
            for j in range(lines_per_router):
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
            "log_level": "debug",  # the per-ping log events carry each ping's clock
            "metrics_listen": "127.0.0.1:0",  # the client path reads its request histogram
            "max_pings_per_second": 5000,
            # raised from the default 20/s so that 1,000 routers are warm in seconds
            "session_opens_per_second": 100,
        },
        "zabbix": {"server": "127.0.0.1", "port": trapper_port},
        "credentials": {"default": {"username": "lab", "password_file": str(secret)}},
        "routers": routers,
        "lines": lines,
    }


class Bed:
    """Emulators for ``routers`` routers, a trapper receiver, and the broker over them."""

    def __init__(
        self,
        work: Path,
        routers: int,
        lines_per_router: int,
        interval: int,
        transport: str = "asyncssh",
        time_scale: float = 0.01,
    ) -> None:
        self.work = work
        self.routers = routers
        self.lines_per_router = lines_per_router
        self.interval = interval
        self.transport = transport
        self.time_scale = time_scale
        self.emulators: list[Emulator] = []
        self.trapper = TrapperBed()
        self.broker: BrokerProcess | None = None
        self.router_names: list[str] = []
        self.doc: dict[str, Any] = {}  # the broker's configuration

    def __enter__(self) -> Bed:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def _start(self) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        for index, first in enumerate(range(0, self.routers, ROUTERS_PER_EMULATOR)):
            count = min(ROUTERS_PER_EMULATOR, self.routers - first)
            workdir = self.work / f"emu{index}"
            workdir.mkdir()
            config = fleet(count, FIRST_NETWORK + index, self.time_scale)
            self.emulators.append(Emulator(config, workdir=workdir).start())
        self.trapper.start()
        doc = broker_doc(
            self.emulators, self.work, self.trapper.port, self.lines_per_router, self.interval,
            self.transport,
        )
        self.doc = doc
        self.router_names = [router["name"] for router in doc["routers"]]
        self.broker = BrokerProcess(self.work, doc)  # assigned first: close() stops it
        self.broker.start(wait=120.0)

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self.broker is not None:
            with contextlib.suppress(Exception):
                self.broker.stop()
        self.trapper.stop()
        for emulator in self.emulators:
            emulator.stop()

    @property
    def broker_pid(self) -> int:
        assert self.broker is not None and self.broker.proc is not None
        return self.broker.proc.pid

    @property
    def emulator_pids(self) -> list[int]:
        return [emulator.pid for emulator in self.emulators]

    @property
    def socket(self) -> Path:
        assert self.broker is not None
        return self.broker.socket


class BrokerConn:
    """One persistent connection to the broker's socket; requests go one at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, path: Path) -> BrokerConn:
        reader, writer = await asyncio.open_unix_connection(
            str(path), limit=protocol.MAX_REPLY_BYTES
        )
        return cls(reader, writer)

    async def call(self, op: str, **args: Any) -> Any:
        self.writer.write(protocol.request(op, **args))
        await self.writer.drain()
        return protocol.decode_reply(await self.reader.readline())

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


def results_total(status: dict[str, Any]) -> int:
    return sum(int(count) for count in status["results"].values())


async def ping_all(conn: BrokerConn, routers: list[str], deadline: float) -> None:
    """Ask for one ad-hoc ping on every router without waiting (they run in the broker), until
    ``deadline`` (monotonic): a broker too busy to take 5,000 requests in time is measured as
    it is, not waited for."""
    for router in routers:
        if time.monotonic() >= deadline:
            return
        await conn.call("ping", router=router, target=ADHOC_TARGET, wait=False)


async def warm_up(path: Path, routers: list[str], timeout: float) -> dict[str, Any]:
    """Open every router's session now (one ad-hoc ping each, all at once) instead of over
    the first interval; returns the seconds until those pings have results and every router
    has a session (scheduled pings count too: the broker's results do not tell them apart)."""
    t0 = time.monotonic()
    await ping_round(path, routers, timeout)
    conn = await BrokerConn.open(path)
    try:
        status = await conn.call("status")
        while status["sessions"] < len(routers) and time.monotonic() - t0 < timeout:
            await asyncio.sleep(0.05)
            status = await conn.call("status")
        seconds = time.monotonic() - t0
    finally:
        await conn.close()
    return {"warm_up_s": round(seconds, 2), "sessions": status["sessions"]}


async def ping_round(path: Path, routers: list[str], timeout: float) -> float:
    """One ad-hoc ping on every router at once; seconds until the broker has every result."""
    conn = await BrokerConn.open(path)
    try:
        before = results_total(await conn.call("status"))
        t0 = time.monotonic()
        await ping_all(conn, routers, t0 + timeout)
        while time.monotonic() - t0 < timeout:
            if results_total(await conn.call("status")) - before >= len(routers):
                break
            await asyncio.sleep(0.01)
        return time.monotonic() - t0
    finally:
        await conn.close()
