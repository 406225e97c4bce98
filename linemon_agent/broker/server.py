"""The broker process: Unix socket server, main loop, signals and phased shutdown.

Signal handlers only record the signal; the main loop acts on it. SIGTERM/SIGINT: stop
accepting, let running pings finish within ``shutdown_timeout``, cancel the rest (and say
how many), flush results, close sessions. A second SIGINT/SIGTERM exits at once. SIGHUP:
reload the configuration file (a bad file is logged and the running one kept).
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import logging
import os
import signal
import time
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from linemon_agent import log as logsetup
from linemon_agent import protocol
from linemon_agent.config import Config, load_config
from linemon_agent.errors import ConfigError, LinemonError
from linemon_agent.zbxmodel import merge

from .core import Broker
from .handlers import Handlers
from .metrics import REQUEST_BUCKETS, Histogram, MetricsServer, render
from .reporter import Reporter, zabbix_sender
from .spool import SpoolError, open_spool
from .syncer import Syncer, interpret

log = logging.getLogger("linemon.server")

MAX_CLIENTS = 256
READ_TIMEOUT = 10.0
EXIT_CONFIG = 78  # EX_CONFIG
EXIT_LOCKED = 75  # EX_TEMPFAIL
EXIT_SPOOL = 73  # EX_CANTCREAT: the spool cannot be opened (permissions, disk)


class BrokerServer:
    """The socket server around a Broker."""

    def __init__(self, broker: Broker, handlers: Handlers, socket_path: Path) -> None:
        self.broker = broker
        self.handlers = handlers
        self.socket_path = socket_path
        self._server: asyncio.AbstractServer | None = None
        self._clients = 0
        self.request_times = Histogram(REQUEST_BUCKETS)

    async def start(self, mode: int, group: str) -> None:
        self.socket_path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
        self._server = await asyncio.start_unix_server(
            self._client, path=str(self.socket_path), limit=protocol.MAX_REQUEST_BYTES + 2
        )
        if group:
            os.chown(self.socket_path, -1, grp.getgrnam(group).gr_gid)
        os.chmod(self.socket_path, mode)

    async def stop_accepting(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._clients += 1
        try:
            if self._clients > MAX_CLIENTS:
                writer.write(protocol.error(protocol.E_BUSY, "too many clients; try again"))
                await writer.drain()
                return
            while True:
                try:
                    line = await asyncio.wait_for(reader.readline(), READ_TIMEOUT)
                except (asyncio.LimitOverrunError, ValueError):
                    writer.write(
                        protocol.error(
                            protocol.E_BAD_REQUEST,
                            f"request larger than {protocol.MAX_REQUEST_BYTES} bytes",
                        )
                    )
                    await writer.drain()
                    return
                except TimeoutError:
                    return
                if not line:
                    return
                if not line.endswith(b"\n"):
                    return  # a partial request at EOF: nothing to answer
                started = time.perf_counter()
                writer.write(await self.handlers.handle(line))
                await writer.drain()
                self.request_times.observe(time.perf_counter() - started)
        except (ConnectionError, OSError):
            return
        finally:
            self._clients -= 1
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


async def serve(config_path: Path, config: Config) -> int:
    """Run the broker until SIGTERM/SIGINT; returns the process exit code."""
    settings = config.broker
    try:
        settings.state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        log.error(
            "cannot create state_dir",
            extra={"path": str(settings.state_dir), "error": exc.strerror},
        )
        return EXIT_CONFIG
    lock = FileLock(str(settings.state_dir / "broker.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.error(
            "another broker is running with this state_dir",
            extra={"state_dir": str(settings.state_dir)},
        )
        return EXIT_LOCKED
    try:
        return await _serve_locked(config_path, config)
    finally:
        lock.release()


async def _serve_locked(config_path: Path, config: Config) -> int:
    settings = config.broker
    try:
        spool, quarantined = open_spool(settings.state_dir / "spool")
    except SpoolError as exc:
        log.error("cannot open the spool", extra={"path": str(exc.path), "error": str(exc)})
        return EXIT_SPOOL
    if quarantined is not None:
        log.error(
            "spool was corrupt: moved aside and a new one started; the values in the old"
            " file were not delivered (sqlite3 FILE .recover may save them)",
            extra={"path": str(spool.path), "moved_to": str(quarantined)},
        )
    reporter = Reporter(
        spool,
        zabbix_sender(config.zabbix),
        batch_size=config.zabbix.batch_size,
        flush_interval=config.zabbix.flush_interval,
        reject_after=config.zabbix.reject_after,
        probe_concurrency=config.zabbix.probe_concurrency,
    )
    broker = Broker(config, reporter)
    broker.status_sources["spool"] = lambda: {
        "path": str(spool.path),
        "quarantined": "" if quarantined is None else str(quarantined),
    }
    syncer = Syncer(config.zabbix_api, settings.state_dir) if config.zabbix_api.url else None
    state = _SyncState(config, syncer)
    if syncer is not None:
        logsetup.REDACTOR.register(syncer.secret_values())
        broker.status_sources["sync"] = syncer.status
        await state.first_fetch()
    await broker.apply(state.compose(broker))

    async def reload() -> dict[str, Any]:
        try:
            new = load_config(config_path)
            send = zabbix_sender(new.zabbix)  # a changed server or TLS setting applies now
        except LinemonError as exc:
            log.error(
                "reload refused; keeping the running configuration", extra={"error": str(exc)}
            )
            raise
        reporter.send = send
        logsetup.REDACTOR.register(secret_values(new))
        state.file_config = new
        return await broker.apply(state.compose(broker))

    async def sync_now() -> dict[str, Any]:
        assert syncer is not None
        state.raw = await syncer.fetch()
        summary = await broker.apply(state.compose(broker))
        return {**summary, **syncer.status()}

    handlers = Handlers(broker, reload, sync_now if syncer is not None else None)
    server = BrokerServer(broker, handlers, settings.socket)
    await server.start(settings.socket_mode, settings.socket_group)
    broker.start()
    sync_task = (
        asyncio.get_running_loop().create_task(state.loop(broker), name="sync")
        if state.syncer is not None
        else None
    )
    metrics: MetricsServer | None = None
    if settings.metrics_listen:
        metrics = MetricsServer(
            settings.metrics_listen,
            lambda: {"ok": True, **broker.status()},
            lambda: render(
                broker.status(), broker.router_rows(), broker.durations, server.request_times
            ),
        )
        await metrics.start()
        broker.status_sources["metrics"] = lambda: {"listen": f"{metrics.host}:{metrics.port}"}
    log.info(
        "broker started",
        extra={
            "socket": str(settings.socket),
            "routers": len(config.routers),
            "lines": len(config.lines),
            "pid": os.getpid(),
        },
    )

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    hup = asyncio.Event()
    received: list[int] = []

    def on_stop(signum: int) -> None:
        received.append(signum)
        if len(received) > 1:
            log.warning("second signal: exiting now")
            os._exit(1)
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_stop, signum)
    loop.add_signal_handler(signal.SIGHUP, hup.set)

    while not stop.is_set():
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(hup.wait())]
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()
        if hup.is_set() and not stop.is_set():
            hup.clear()
            with contextlib.suppress(LinemonError):
                await reload()

    log.info(
        "shutting down: no longer accepting requests",
        extra={"signal": signal.Signals(received[0]).name if received else ""},
    )
    await server.stop_accepting()
    if sync_task is not None:
        sync_task.cancel()
    if metrics is not None:
        await metrics.stop()
    summary = await broker.shutdown(settings.shutdown_timeout)
    delivery = reporter.stats()
    log.info("broker stopped", extra={**summary, "pending_values": delivery.get("pending", 0)})
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.remove_signal_handler(signum)
    return 0


class _SyncState:
    """The file configuration and the last good Zabbix answer, composed into one Config."""

    def __init__(self, file_config: Config, syncer: Syncer | None) -> None:
        self.file_config = file_config
        self.syncer = syncer
        self.raw: dict[str, Any] | None = None
        self._logged: set[tuple[str, str]] = set()

    async def first_fetch(self) -> None:
        assert self.syncer is not None
        try:
            self.raw = await asyncio.wait_for(self.syncer.fetch(), self.syncer.settings.timeout)
        except (LinemonError, TimeoutError) as exc:
            self.raw = self.syncer.load_cache()
            log.error(
                "Zabbix API unavailable at start; using the cached line set"
                if self.raw
                else "Zabbix API unavailable and no cache: no synced lines",
                extra={"error": str(exc)},
            )

    def compose(self, broker: Broker) -> Config:
        if self.syncer is None or self.raw is None:
            return self.file_config
        result = interpret(
            self.raw,
            list(self.file_config.credentials),
            self.file_config.zabbix_api.default_platform,
        )
        merged, refused = merge(self.file_config, result)
        self.syncer.rejected = refused
        broker.rejected_lines = refused
        for host, reason in refused.items():
            if (host, reason) not in self._logged:
                log.warning("Zabbix line refused", extra={"zabbix_host": host, "reason": reason})
        for warning in result.warnings:
            if ("", warning) not in self._logged:
                log.warning(warning)
        self._logged = set(refused.items()) | {("", w) for w in result.warnings}
        logsetup.REDACTOR.register(secret_values(merged))
        return merged

    async def loop(self, broker: Broker) -> None:
        assert self.syncer is not None
        while True:
            await asyncio.sleep(self.syncer.next_delay())
            try:
                self.raw = await self.syncer.fetch()
            except LinemonError as exc:
                log.warning(
                    "Zabbix API sync failed; keeping the last good line set",
                    extra={"error": str(exc), "failures": self.syncer.failures},
                )
                continue
            await broker.apply(self.compose(broker))


def secret_values(config: Config) -> list[str]:
    return [c.password.value for c in config.credentials.values() if c.password]


def main(config_path: Path) -> int:
    """Entry for ``linemon broker``: load the config, set up logging, run."""
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        logsetup.setup()
        log.error("configuration refused", extra={"error": str(exc)})
        return EXIT_CONFIG
    logsetup.setup(config.broker.log_format, config.broker.log_level)
    logsetup.REDACTOR.register(secret_values(config))
    return asyncio.run(serve(config_path, config))
