"""A Zabbix 6.0 trapper receiver on loopback that records every value and fails on demand.

Wire format, as Zabbix 6.0 speaks it (comms.c, trapper.c): ``ZBXD``, a flags byte (0x01
protocol, 0x02 zlib-compressed, 0x04 large: 8-byte lengths), the data length and a reserved
length (the uncompressed size when compressed), each 4 bytes little-endian (8 when large),
then JSON ``{"request":"sender data","data":[{"host","key","value","clock","ns"}, ...]}``.
One request per connection; the reply uses the request's compression (``zbx_send_response_same``)
and reads ``{"response":"success","info":"processed: N; failed: M; total: T; seconds spent:
0.000055"}``. A value for a (host, key) the server does not know is counted as failed.

In-process: ``with TrapperBed(known={("h", "k")}) as trapper: ... trapper.port ...``
(its own event loop in a background thread). Standalone: ``python -m tests.beds.trapper
--port N``: one JSON line per batch on stdout; SIGUSR1 goes down, SIGUSR2 comes back up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

MAGIC = b"ZBXD"
FLAG_PROTOCOL = 0x01
FLAG_COMPRESSED = 0x02
FLAG_LARGE = 0x04
MAX_DATA = 64 * 1024 * 1024
READ_TIMEOUT = 10.0


class FrameError(ValueError):
    """Bytes that are not a Zabbix protocol packet this receiver accepts."""


@dataclass(frozen=True)
class Received:
    """One value as it arrived, with the batch it came in and whether it was processed."""

    host: Any
    key: Any
    value: Any
    clock: Any
    ns: Any
    batch: int
    processed: bool


@dataclass(frozen=True)
class Batch:
    """One sender request: its number, peer, framing, counts and whether it got a reply."""

    number: int
    peer: str
    compressed: bool
    processed: int
    failed: int
    replied: bool


def length_fields(flags: int) -> tuple[str, int]:
    """The struct format and size of the two length fields that follow the flags byte."""
    return ("<QQ", 16) if flags & FLAG_LARGE else ("<II", 8)


def check_flags(prefix: bytes) -> int:
    """The flags byte of a 5-byte packet start; FrameError if it is not a Zabbix packet."""
    if prefix[:4] != MAGIC or len(prefix) != 5:
        raise FrameError(f"not a Zabbix packet: starts {prefix[:5]!r}")
    if not prefix[4] & FLAG_PROTOCOL or prefix[4] & ~(FLAG_PROTOCOL | FLAG_COMPRESSED | FLAG_LARGE):
        raise FrameError(f"unsupported flags 0x{prefix[4]:02x}")
    return prefix[4]


def check_lengths(flags: int, fields: bytes) -> tuple[int, int]:
    """(data length, reserved) from the length fields, both bounded by MAX_DATA."""
    datalen, reserved = struct.unpack(length_fields(flags)[0], fields)
    if datalen > MAX_DATA or (flags & FLAG_COMPRESSED and reserved > MAX_DATA):
        raise FrameError(f"packet too large: {datalen} bytes ({reserved} uncompressed)")
    return int(datalen), int(reserved)


def decode_data(flags: int, data: bytes, reserved: int) -> bytes:
    """The payload, decompressed when the packet says so and checked against its size."""
    if not flags & FLAG_COMPRESSED:
        return data
    try:
        payload = zlib.decompressobj().decompress(data, reserved + 1)
    except zlib.error as exc:
        raise FrameError(f"bad compressed data: {exc}") from exc
    if len(payload) != reserved:
        raise FrameError(f"decompressed {len(payload)} bytes, header said {reserved}")
    return payload


def encode_packet(payload: bytes, compressed: bool = False) -> bytes:
    """A Zabbix protocol packet (never large) carrying `payload`."""
    if compressed:
        data = zlib.compress(payload)
        return struct.pack("<4sBII", MAGIC, FLAG_PROTOCOL | FLAG_COMPRESSED,
                           len(data), len(payload)) + data
    return struct.pack("<4sBII", MAGIC, FLAG_PROTOCOL, len(payload), 0) + payload


def sender_reply(processed: int, failed: int, seconds: float) -> bytes:
    """The JSON the Zabbix 6.0 trapper answers a sender request with."""
    info = (f"processed: {processed}; failed: {failed}; total: {processed + failed}; "
            f"seconds spent: {seconds:.6f}")
    return json.dumps({"response": "success", "info": info}, separators=(",", ":")).encode()


def failure_reply(info: str) -> bytes:
    """The JSON the trapper answers a request it cannot process with."""
    return json.dumps({"response": "failed", "info": info}, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Judgement:
    """What the trapper makes of one request: its values, or a failure, or silence."""

    values: list[Received]
    failure: str | None = None
    silent: bool = False

    @property
    def processed(self) -> int:
        return sum(v.processed for v in self.values)


def judge(payload: bytes, known: frozenset[tuple[str, str]] | None, batch: int) -> Judgement:
    """Mark each value of a sender request processed or failed, as the 6.0 trapper would.

    Bad JSON or a missing "data" array get a "failed" reply; an unknown request gets none.
    """
    try:
        request = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return Judgement([], failure=f"cannot parse as a valid JSON object: {exc}")
    if not isinstance(request, dict) or request.get("request") != "sender data":
        return Judgement([], silent=True)
    items = request.get("data")
    if not isinstance(items, list):
        return Judgement([], failure="cannot find the \"data\" array in the received JSON")
    values = []
    for item in items:
        fields = item if isinstance(item, dict) else {}
        host, key, value = fields.get("host"), fields.get("key"), fields.get("value")
        ok = (isinstance(host, str) and isinstance(key, str) and value is not None
              and (known is None or (host, key) in known))
        values.append(Received(host, key, value, fields.get("clock"), fields.get("ns"),
                               batch, ok))
    return Judgement(values)


class TrapperServer:
    """The asyncio receiver. Its settings may be changed from any thread between requests."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0,
                 known: Iterable[tuple[str, str]] | None = None,
                 on_batch: Callable[[Batch, list[Received]], None] | None = None) -> None:
        self.host = host
        self.port = port
        self.known = None if known is None else frozenset(known)
        self.reply_delay = 0.0
        self.close_without_reply = False
        self.on_batch = on_batch
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._values: list[Received] = []
        self._batches: list[Batch] = []
        self._changed = threading.Condition()

    async def up(self) -> None:
        """Listen (again) on the same port; the first time, port 0 picks a free one."""
        if self._server is None:
            self._server = await asyncio.start_server(self._handle, self.host, self.port)
            self.port = self._server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        """Stop listening and cut open connections, as a crashed or stopped server would."""
        if self._server is not None:
            self._server.close()
            self._server = None
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @property
    def listening(self) -> bool:
        return self._server is not None

    def values(self) -> list[Received]:
        """Every value received so far, processed or not, in arrival order."""
        with self._changed:
            return list(self._values)

    def batches(self) -> list[Batch]:
        with self._changed:
            return list(self._batches)

    def clear(self) -> None:
        """Forget what was received (batch numbers go on counting)."""
        with self._changed:
            self._values.clear()

    def wait_for_values(self, count: int, timeout: float) -> list[Received]:
        """Block (not in the loop's thread) until `count` values arrived or time is up."""
        with self._changed:
            self._changed.wait_for(lambda: len(self._values) >= count, timeout)
            return list(self._values)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await asyncio.wait_for(self._serve_one(reader, writer), READ_TIMEOUT + self.reply_delay)
        except (FrameError, asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass
        except asyncio.CancelledError:  # going down: cut the connection like a crash would
            writer.transport.abort()
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        started = time.monotonic()
        flags = check_flags(await reader.readexactly(5))
        datalen, reserved = check_lengths(flags, await reader.readexactly(length_fields(flags)[1]))
        payload = decode_data(flags, await reader.readexactly(datalen), reserved)
        compressed = bool(flags & FLAG_COMPRESSED)
        with self._changed:
            number = len(self._batches) + 1
            verdict = judge(payload, self.known, number)
            processed, failed = verdict.processed, len(verdict.values) - verdict.processed
            replied = not (self.close_without_reply or verdict.silent)
            batch = Batch(number, str(writer.get_extra_info("peername")), compressed,
                          processed, failed, replied)
            self._batches.append(batch)
            self._values.extend(verdict.values)
            self._changed.notify_all()
        if self.on_batch is not None:
            self.on_batch(batch, verdict.values)
        if not replied:
            return
        if self.reply_delay:
            await asyncio.sleep(self.reply_delay)
        body = (failure_reply(verdict.failure) if verdict.failure is not None
                else sender_reply(processed, failed, time.monotonic() - started))
        writer.write(encode_packet(body, compressed))
        await writer.drain()


class TrapperBed:
    """A `TrapperServer` on its own event loop in a background thread, for plain tests."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0,
                 known: Iterable[tuple[str, str]] | None = None) -> None:
        self.server = TrapperServer(host, port, known)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="trapper-bed",
                                        daemon=True)

    def _call(self, coroutine: Any) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    def start(self) -> TrapperBed:
        self._thread.start()
        self._call(self.server.up())
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._call(self.server.down())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> TrapperBed:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self.server.port

    def go_down(self) -> None:
        self._call(self.server.down())

    def come_up(self) -> None:
        self._call(self.server.up())

    def set_known(self, pairs: Iterable[tuple[str, str]] | None) -> None:
        """Which (host, key) pairs are accepted; None accepts every value."""
        self.server.known = None if pairs is None else frozenset(pairs)

    def set_reply_delay(self, seconds: float) -> None:
        self.server.reply_delay = seconds

    def set_close_without_reply(self, enabled: bool) -> None:
        self.server.close_without_reply = enabled

    def values(self) -> list[Received]:
        return self.server.values()

    def batches(self) -> list[Batch]:
        return self.server.batches()

    def wait_for_values(self, count: int, timeout: float = 5.0) -> list[Received]:
        return self.server.wait_for_values(count, timeout)


def _print_batch(batch: Batch, values: list[Received]) -> None:
    print(json.dumps({**asdict(batch), "values": [asdict(v) for v in values]}), flush=True)


async def _main(args: argparse.Namespace) -> None:
    known = (None if args.known is None
             else [(host, key) for host, _, key in (pair.partition(":") for pair in args.known)])
    server = TrapperServer(args.host, args.port, known, on_batch=_print_batch)
    server.reply_delay = args.reply_delay
    server.close_without_reply = args.no_reply
    await server.up()
    print(json.dumps({"listening": f"{server.host}:{server.port}"}), flush=True)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, lambda: loop.create_task(server.down()))
    loop.add_signal_handler(signal.SIGUSR2, lambda: loop.create_task(server.up()))
    await stop.wait()
    await server.down()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=10051)
    parser.add_argument("--known", action="append", metavar="HOST:KEY",
                        help="accept only these (repeat); default: accept every value")
    parser.add_argument("--reply-delay", type=float, default=0.0, metavar="SECONDS")
    parser.add_argument("--no-reply", action="store_true",
                        help="close each connection without replying")
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
