"""The socket edge: each error's kind becomes its one error code (and the client's exit code);
anything unexpected is `internal`, logged, never a traceback to the client."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from linemon_agent import protocol
from linemon_agent.broker.handlers import Handlers
from linemon_agent.broker.service import PingTimeoutError
from linemon_agent.broker.syncer import SyncError
from linemon_agent.errors import NotFoundError, ShuttingDownError


class FakeService:
    """Stands in for Service: each operation raises what the test hands it."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def line(self, line_id: str) -> Any:
        raise self.error

    async def sync(self) -> Any:
        raise self.error

    def result(self, line_id: str) -> Any:
        raise self.error


def _answer(error: BaseException, op: str, **args: Any) -> dict[str, Any]:
    handlers = Handlers(FakeService(error))  # type: ignore[arg-type]
    reply = asyncio.run(handlers.handle(protocol.request(op, **args)))
    answer: dict[str, Any] = json.loads(reply)
    return answer


@pytest.mark.parametrize(
    ("error", "op", "code", "exit_code"),
    [
        (SyncError("Zabbix API http://z/api_jsonrpc.php: connection refused"), "sync",
         protocol.E_UNAVAILABLE, 69),
        (NotFoundError("no line 'x'"), "result", protocol.E_NOT_FOUND, 4),
        (PingTimeoutError("the ping did not end"), "ping", protocol.E_TIMEOUT, 7),
        (ShuttingDownError("stopping"), "ping", protocol.E_SHUTTING_DOWN, 6),
    ],
)
def test_an_errors_kind_is_its_code(error: Exception, op: str, code: str, exit_code: int) -> None:
    answer = _answer(error, op, line="x")
    assert answer["ok"] is False and answer["error"]["code"] == code
    assert answer["error"]["message"] == str(error)
    assert protocol.EXIT_CODES[code] == exit_code


def test_a_bad_value_is_invalid_argument() -> None:
    answer = _answer(NotFoundError("unused"), "result", line="bad line\n")
    assert answer["error"]["code"] == protocol.E_INVALID
    assert protocol.EXIT_CODES[protocol.E_INVALID] == 2


def test_a_bug_is_internal_and_logged_not_shown(caplog: Any) -> None:
    caplog.set_level(logging.ERROR, "linemon.handlers")
    answer = _answer(KeyError("secret detail"), "sync")
    assert answer["error"] == {"code": protocol.E_INTERNAL,
                               "message": "internal error; see the broker's log"}
    assert "request failed" in caplog.text and "KeyError" in caplog.text


def test_no_new_on_demand_ping_once_the_broker_is_stopping(tmp_path: Any) -> None:
    from linemon_agent.broker.lineset import LineSource
    from linemon_agent.broker.service import Service
    from tests.unit.broker.test_budget import _broker

    broker = _broker(tmp_path, 1, 1)
    service = Service(broker, LineSource(tmp_path / "none.toml", broker.config, None))

    async def scenario() -> dict[str, Any]:
        await broker.apply(broker.config)
        broker.stopping = True
        reply = await Handlers(service).handle(protocol.request("ping", line="l10"))
        answer: dict[str, Any] = json.loads(reply)
        return answer

    answer = asyncio.run(scenario())
    assert answer["error"]["code"] == protocol.E_SHUTTING_DOWN
    assert "stopping" in answer["error"]["message"]
