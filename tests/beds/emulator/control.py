"""The control channel: a Unix socket taking one JSON object a line, answering one a line.

Requests are ``{"op": NAME, ...}``; answers ``{"ok": true, ...}`` or ``{"ok": false,
"error": "..."}``. ``router`` names one router; ``"*"`` (or leaving it out, where noted)
means all of them. Operations:

- ``routers``: every router's host, port, platform and credentials.
- ``stats`` [router]: counters (connections, logins, auth_failures, sessions_open,
  sessions_refused, commands, pings, drops, bytes_received, internal_errors: emulator
  bugs, each also printed to its stderr) and whether it listens.
- ``set_target`` router, [target], loss/rtt_ms/jitter_ms/unreachable: change how a target
  answers (no target: the router's default for unknown targets; ``"router": "*"``: all).
- ``set_default_target`` loss/...: the fleet-wide default for unknown targets.
- ``set_fault`` router, any of drop_mid_command/silent/refuse_auth/slow_login_s/down/
  max_sessions.
- ``received_bytes`` router: base64 of every byte clients sent (up to ``record_limit``).
- ``commands`` / ``pings`` router: the last 1000 command lines / pings (parsed, with sent
  and received) the router saw.
- ``reset`` [router]: zero counters and records.
- ``close_sessions`` [router], [abort]: close every open connection with an SSH
  disconnect (``clear line``); ``"abort": true`` cuts the TCP connections instead (reload).
- ``set_time_scale`` value; ``shutdown``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from typing import Any

from tests.beds.emulator.config import ConfigError, Faults
from tests.beds.emulator.server import Fleet, Router

MAX_REQUEST = 1 << 20


class ControlError(Exception):
    """A request the emulator cannot carry out; its text is the answer's ``error``."""


def _routers(fleet: Fleet, request: dict[str, Any], *, default_all: bool) -> list[Router]:
    name = request.get("router", "*" if default_all else None)
    if name == "*":
        return list(fleet.routers.values())
    if name not in fleet.routers:
        raise ControlError(f"unknown router {name!r}")
    return [fleet.routers[name]]


def _fields(request: dict[str, Any], *skip: str) -> dict[str, Any]:
    return {k: v for k, v in request.items() if k not in ("op", "router", *skip)}


async def handle(fleet: Fleet, request: dict[str, Any], stop: asyncio.Event) -> dict[str, Any]:
    """Carry out one request; raises ControlError or ConfigError when it cannot."""
    op = request.get("op")
    if op == "routers":
        return {
            "routers": {
                name: {
                    "host": r.config.host,
                    "port": r.port,
                    "platform": r.config.platform,
                    "username": r.config.username,
                    "password": r.config.password,
                    "hostname": r.config.hostname,
                }
                for name, r in fleet.routers.items()
            }
        }
    if op == "stats":
        routers = _routers(fleet, request, default_all=True)
        return {"routers": {r.config.name: r.stats() for r in routers}}
    if op == "set_target":
        values = _fields(request, "target")
        target = request.get("target")
        for r in _routers(fleet, request, default_all=False):
            where = f"set_target {r.config.name} {target}"
            if target is None:
                r.default_target = (r.default_target or fleet.default_target).updated(values, where)
            else:
                base = r.targets.get(target, r.default_target or fleet.default_target)
                r.targets[target] = base.updated(values, where)
        return {}
    if op == "set_default_target":
        fleet.default_target = fleet.default_target.updated(_fields(request), "default_target")
        return {}
    if op == "set_fault":
        values = _fields(request)
        for r in _routers(fleet, request, default_all=False):
            await _set_fault(fleet, r, values)
        return {}
    if op == "received_bytes":
        (r,) = _routers(fleet, request, default_all=False)
        data = bytes(r.received)
        truncated = r.counters["bytes_received"] > len(data)
        return {"data": base64.b64encode(data).decode(), "truncated": truncated}
    if op in ("commands", "pings"):
        (r,) = _routers(fleet, request, default_all=False)
        return {op: list(r.commands if op == "commands" else r.pings)}
    if op == "reset":
        for r in _routers(fleet, request, default_all=True):
            r.reset()
        return {}
    if op == "close_sessions":
        hard = request.get("abort", False) is True
        routers = _routers(fleet, request, default_all=True)
        return {"closed": sum(r.close_connections(abort=hard) for r in routers)}
    if op == "set_time_scale":
        value = request.get("value")
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ControlError(f"set_time_scale: value must be a number >= 0, got {value!r}")
        fleet.time_scale = float(value)
        return {}
    if op == "shutdown":
        stop.set()
        return {}
    raise ControlError(f"unknown op {op!r}")


async def _set_fault(fleet: Fleet, router: Router, values: dict[str, Any]) -> None:
    where = f"set_fault {router.config.name}"
    values = dict(values)
    if "max_sessions" in values:
        limit = values.pop("max_sessions")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ControlError(f"{where}: max_sessions must be an integer >= 0, got {limit!r}")
        router.max_sessions = limit
    down = values.pop("down", None)
    probe = Faults()
    probe.update(values, where)  # validate everything before changing anything
    router.faults.update(values, where)
    if down is not None:
        if not isinstance(down, bool):
            raise ControlError(f"{where}: down must be true or false, got {down!r}")
        await fleet.set_down(router, down)


async def serve_client(
    fleet: Fleet, stop: asyncio.Event, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Answer one control connection's requests until it closes."""
    try:
        while line := await reader.readline():
            try:
                request = json.loads(line)
                if not isinstance(request, dict):
                    raise ControlError("a request is a JSON object")
                answer = {"ok": True, **await handle(fleet, request, stop)}
            except (ControlError, ConfigError, ValueError, OSError) as exc:
                answer = {"ok": False, "error": str(exc)}
            writer.write(json.dumps(answer).encode() + b"\n")
            await writer.drain()
    except (ConnectionError, ValueError):  # gone, or a line over the limit
        pass
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
