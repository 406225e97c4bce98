"""The broker process: Unix socket server, main loop, signals and phased shutdown.

Signal handlers only record the signal; the main loop acts on it. SIGTERM/SIGINT: stop
accepting, let running pings finish within ``shutdown_timeout``, cancel the rest (and say
how many), flush results, close sessions. A second SIGINT/SIGTERM makes the main loop exit
at once. SIGHUP: reload the configuration file (a bad file is logged and the running one
kept).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
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
from linemon_agent.config import load_config
from linemon_agent.errors import ConfigError, LinemonError
from linemon_agent.settings import Config

from .core import Broker
from .handlers import Handlers
from .lineset import LineSource, secret_values
from .metrics import REQUEST_BUCKETS, Histogram, MetricsServer, render
from .reporter import Reporter
from .sender import zabbix_sender
from .service import Service
from .spool import SpoolError, open_spool
from .syncer import Syncer
from .views import health

log = logging.getLogger("linemon.server")

MAX_CLIENTS = 256
READ_TIMEOUT = 10.0
EXIT_CONFIG = 78  # EX_CONFIG
EXIT_LOCKED = 75  # EX_TEMPFAIL
EXIT_SPOOL = 73  # EX_CANTCREAT: the spool cannot be opened (permissions, disk)
EXIT_FORCED = 1  # a second SIGTERM/SIGINT during the shutdown


class BrokerServer:
    """The socket server around a Broker."""

    def __init__(self, handlers: Handlers, socket_path: Path) -> None:
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
    try:
        send = zabbix_sender(config.zabbix)  # reads the agent's file, the TLS files
    except LinemonError as exc:
        log.error("cannot send to Zabbix: configuration refused", extra={"error": str(exc)})
        return EXIT_CONFIG
    reporter = Reporter(
        spool,
        send,
        batch_size=config.zabbix.batch_size,
        flush_interval=config.zabbix.flush_interval,
        reject_after=config.zabbix.reject_after,
        probe_concurrency=config.zabbix.probe_concurrency,
    )
    broker = Broker(config, reporter)
    syncer = Syncer(config.zabbix_api, settings.state_dir) if config.zabbix_api.url else None
    lines = LineSource(config_path, config, syncer)
    await lines.first_fetch()
    await broker.apply(lines.compose())
    service = Service(broker, lines)
    service.sections["spool"] = lambda: {
        "path": str(spool.path),
        "quarantined": "" if quarantined is None else str(quarantined),
    }

    server = BrokerServer(Handlers(service), settings.socket)
    await server.start(settings.socket_mode, settings.socket_group)
    broker.start()
    if syncer is not None:
        broker.spawn(lines.sync_forever(broker.apply), "sync")
    metrics: MetricsServer | None = None
    if settings.metrics_listen:
        metrics = MetricsServer(
            settings.metrics_listen,
            lambda: health(service.status(), settings.health_pending_age),
            lambda: render(
                service.status(), service.routers(), broker.durations, server.request_times
            ),
        )
        await metrics.start()
        listen = f"{metrics.host}:{metrics.port}"
        service.sections["metrics"] = lambda: {"listen": listen}
    log.info(
        "broker started",
        extra={
            "socket": str(settings.socket),
            "routers": len(config.routers),
            "lines": len(config.lines),
            "pid": os.getpid(),
        },
    )

    signals = _Signals(asyncio.get_running_loop())
    while True:
        await signals.next()
        if signals.stop:
            break
        with contextlib.suppress(LinemonError):  # logged by reload; the running config stays
            await service.reload()

    log.info(
        "shutting down: no longer accepting requests",
        extra={"signal": signals.first_stop_name},
    )
    await server.stop_accepting()
    if metrics is not None:
        await metrics.stop()
    stopping = asyncio.ensure_future(broker.shutdown(settings.shutdown_timeout))
    if not await signals.race_force(stopping):
        log.warning("second signal: exiting now, without waiting for the shutdown")
        return EXIT_FORCED
    summary = stopping.result()
    delivery = reporter.stats()
    log.info("broker stopped", extra={**summary, "pending_values": delivery.get("pending", 0)})
    signals.remove()
    return 0


class _Signals:
    """Signal handlers that only record: the main loop reads ``stop``, ``hup``, ``force``.

    SIGTERM/SIGINT ask for a phased stop; a second one forces an exit (uvicorn's way); SIGHUP
    asks for a reload.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._event = asyncio.Event()
        self._forced = asyncio.Event()
        self.received: list[int] = []
        self.hup = False
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._on_stop, signum)
        loop.add_signal_handler(signal.SIGHUP, self._on_hup)

    @property
    def stop(self) -> bool:
        return bool(self.received)

    @property
    def first_stop_name(self) -> str:
        return signal.Signals(self.received[0]).name if self.received else ""

    def _on_stop(self, signum: int) -> None:
        self.received.append(signum)
        if len(self.received) > 1:
            self._forced.set()
        self._event.set()

    def _on_hup(self) -> None:
        self.hup = True
        self._event.set()

    async def next(self) -> None:
        """Wait for the next signal; afterwards ``stop`` or ``hup`` says which."""
        await self._event.wait()
        self._event.clear()
        self.hup = False

    async def race_force(self, work: asyncio.Future[Any]) -> bool:
        """Await ``work`` unless a second stop signal comes first (then False)."""
        forced = asyncio.ensure_future(self._forced.wait())
        await asyncio.wait([work, forced], return_when=asyncio.FIRST_COMPLETED)
        forced.cancel()
        return work.done()

    def remove(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            self._loop.remove_signal_handler(signum)


# (young, middle, old): CPython's default young threshold, 700, had a broker at 100,000 lines
# spend a third of its CPU in collections (py-spy --native, 5,000 routers x 100,000 lines).
GC_THRESHOLDS = (50_000, 20, 20)


def tune_gc() -> None:
    """Fewer cyclic collections for a long-running broker: what is loaded at start (modules,
    the configuration) is frozen out of every collection, and the young generation waits for
    ``GC_THRESHOLDS[0]`` allocations, so most of each ping's short-lived objects (tasks,
    timers, results) are freed by reference counting before any collection looks at them."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


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
    tune_gc()
    code = asyncio.run(serve(config_path, config))
    if code == EXIT_FORCED:
        # Forced by a second signal: pings still running (paramiko's worker threads among
        # them) must not hold the process; exit without waiting for them.
        logging.shutdown()
        os._exit(code)
    return code
