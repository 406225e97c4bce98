"""Socket requests -> service calls. The one place where errors become error codes.

Each operation reads and validates its arguments, calls one ``Service`` method and returns
plain JSON. An error leaves with its kind (``linemon_agent.errors``) as the socket's error
code (``protocol.KIND_CODES``); anything unexpected is logged and answered ``internal``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from linemon_agent import options, protocol, validate
from linemon_agent.errors import LinemonError
from linemon_agent.models import DEFAULT_ITEM_KEY, PingRequest

from .service import Service

log = logging.getLogger("linemon.handlers")

Operation = Callable[[dict[str, Any]], Awaitable[Any]]


class Handlers:
    """Implements each protocol operation against the Service."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self._ops: dict[str, Operation] = {op: getattr(self, f"op_{op}") for op in protocol.OPS}

    async def handle(self, line: bytes) -> bytes:
        """Answer one request frame; never raises."""
        try:
            op, args = protocol.decode_request(line)
        except protocol.ProtocolError as exc:
            return protocol.error(exc.code, exc.message)
        try:
            result = await self._ops[op](args)
        except LinemonError as exc:
            return protocol.error_for(exc.kind, str(exc))
        except Exception:
            log.exception("request failed", extra={"op": op})
            return protocol.error(protocol.E_INTERNAL, "internal error; see the broker's log")
        return protocol.ok(result)

    # -- operations -------------------------------------------------------------------------

    async def op_ping(self, args: dict[str, Any]) -> Any:
        wait = bool(args.get("wait", False))
        if args.get("line"):
            line = self.service.line(validate.name(args["line"], "line"))
        else:
            router = validate.name(args.get("router"), "router")
            request = PingRequest.from_strings(
                {"target": args.get("target"), **{k: args.get(k) for k in options.NAMES}}
            )
            host = args.get("zabbix_host")
            line = self.service.adhoc_line(
                router,
                request,
                validate.zabbix_host(host) if host else "",
                validate.zabbix_key(args.get("zabbix_key") or DEFAULT_ITEM_KEY),
            )
        return await self.service.ping(line, wait)

    async def op_discover(self, args: dict[str, Any]) -> Any:
        return self.service.discover(_router(args))

    async def op_status(self, args: dict[str, Any]) -> Any:
        return self.service.status().to_dict()

    async def op_routers(self, args: dict[str, Any]) -> Any:
        return [view.to_dict() for view in self.service.routers()]

    async def op_lines(self, args: dict[str, Any]) -> Any:
        return self.service.line_rows(_router(args))

    async def op_result(self, args: dict[str, Any]) -> Any:
        return self.service.result(validate.name(args.get("line"), "line"))

    async def op_reload(self, args: dict[str, Any]) -> Any:
        return await self.service.reload()

    async def op_sync(self, args: dict[str, Any]) -> Any:
        return await self.service.sync()


def _router(args: dict[str, Any]) -> str | None:
    return validate.name(args["router"], "router") if args.get("router") else None
