"""Socket requests -> broker calls. The one place where internal errors become error codes."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from linemon_agent import options, protocol, validate
from linemon_agent.errors import LinemonError, ValidationError
from linemon_agent.models import DEFAULT_ITEM_KEY, Line, PingRequest

from .core import Broker

log = logging.getLogger("linemon.handlers")



class Handlers:
    """Implements each protocol operation against a Broker."""

    def __init__(
        self,
        broker: Broker,
        reload: Callable[[], Awaitable[dict[str, Any]]],
        sync: Callable[[], Awaitable[dict[str, Any]]] | None = None,
    ) -> None:
        self.broker = broker
        self._reload = reload
        self._sync = sync
        self._background: set[asyncio.Task[Any]] = set()

    async def handle(self, line: bytes) -> bytes:
        """Answer one request frame; never raises."""
        try:
            op, args = protocol.decode_request(line)
        except protocol.ProtocolError as exc:
            return protocol.error(exc.code, exc.message)
        try:
            result = await getattr(self, f"op_{op}")(args)
        except protocol.ProtocolError as exc:
            return protocol.error(exc.code, exc.message)
        except ValidationError as exc:
            return protocol.error(protocol.E_INVALID, str(exc))
        except LinemonError as exc:
            return protocol.error(protocol.E_INVALID, str(exc))
        except Exception:
            log.exception("request failed", extra={"op": op})
            return protocol.error(protocol.E_INTERNAL, "internal error; see the broker's log")
        return protocol.ok(result)

    # -- operations -------------------------------------------------------------------------

    async def op_ping(self, args: dict[str, Any]) -> Any:
        wait = bool(args.get("wait", False))
        if args.get("line"):
            line_id = validate.name(args["line"], "line")
            line = self.broker.scheduler.lines.get(line_id)
            if line is None:
                raise protocol.ProtocolError(protocol.E_NOT_FOUND, f"no line {line_id!r}")
        else:
            router = validate.name(args.get("router"), "router")
            if router not in self.broker.routers:
                known = ", ".join(sorted(self.broker.routers)) or "none"
                raise protocol.ProtocolError(
                    protocol.E_NOT_FOUND, f"no router {router!r}; known: {known}"
                )
            request = PingRequest.from_strings(
                {"target": args.get("target"), **{k: args.get(k) for k in options.NAMES}}
            )
            host = args.get("zabbix_host")
            line = Line(
                id=f"adhoc-{router}-{request.target}",
                router=router,
                request=request,
                zabbix_host=validate.zabbix_host(host) if host else "",
                zabbix_key=validate.zabbix_key(args.get("zabbix_key") or DEFAULT_ITEM_KEY),
                origin="adhoc",
            )
        task = asyncio.get_running_loop().create_task(self._run(line))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        if not wait:
            return 1
        pool = self.broker.pool(line.router)
        limit = pool.platform.worst_case_seconds(line.request) + 30.0
        return await asyncio.wait_for(asyncio.shield(task), limit)

    async def _run(self, line: Line) -> dict[str, Any]:
        started = time.monotonic()
        result, clock = await self.broker.ping(line.router, line.request)
        duration = time.monotonic() - started
        if line.zabbix_host:
            self.broker.record(line, result, clock, duration)
        return {
            **result.to_dict(),
            "line": line.id,
            "router": line.router,
            "target": line.request.target,
            "clock": round(clock, 3),
            "duration_ms": round(duration * 1000, 1),
        }

    async def op_discover(self, args: dict[str, Any]) -> Any:
        router = validate.name(args["router"], "router") if args.get("router") else None
        return [
            {
                "{#LINE.ID}": row["id"],
                "{#LINE.TARGET}": row["target"],
                "{#LINE.ROUTER}": row["router"],
                "{#LINE.VRF}": row["vrf"],
                "{#LINE.INTERVAL}": row["interval"],
                "{#LINE.HOST}": row["zabbix_host"],
                "{#LINE.KEY}": row["zabbix_key"],
            }
            for row in self.broker.line_rows(router)
        ]

    async def op_status(self, args: dict[str, Any]) -> Any:
        return self.broker.status()

    async def op_routers(self, args: dict[str, Any]) -> Any:
        return self.broker.router_rows()

    async def op_lines(self, args: dict[str, Any]) -> Any:
        router = validate.name(args["router"], "router") if args.get("router") else None
        return self.broker.line_rows(router)

    async def op_result(self, args: dict[str, Any]) -> Any:
        line_id = validate.name(args.get("line"), "line")
        rows = [row for row in self.broker.line_rows() if row["id"] == line_id]
        if not rows:
            raise protocol.ProtocolError(protocol.E_NOT_FOUND, f"no line {line_id!r}")
        return rows[0]["last"]

    async def op_reload(self, args: dict[str, Any]) -> Any:
        return await self._reload()

    async def op_sync(self, args: dict[str, Any]) -> Any:
        if self._sync is None:
            raise protocol.ProtocolError(
                protocol.E_NOT_FOUND, "no Zabbix API sync is configured ([zabbix.api])"
            )
        return await self._sync()
