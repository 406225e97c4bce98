"""The external-check entry point: Zabbix key parameters -> one broker request, and back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from linemon_agent import extcheck, protocol, validate
from linemon_agent.client import ClientError
from tests.unit.test_client import _serve_once


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["status"], ("status", {})),
        (["status", ""], ("status", {})),  # linemon[status,]: Zabbix passes the empty one
        (["routers"], ("routers", {})),
        (["discover"], ("discover", {})),
        (["discover", ""], ("discover", {})),  # {$LINEMON.ROUTER} left empty: every line
        (["discover", "pe1"], ("discover", {"router": "pe1"})),
        (["ping", "L-42.a_b"], ("ping", {"line": "L-42.a_b", "wait": False})),
        (["ping", "L-1", ""], ("ping", {"line": "L-1", "wait": False})),
    ],
)
def test_key_parameters_become_one_request(
    argv: list[str], expected: tuple[str, dict[str, object]]
) -> None:
    assert extcheck.request(argv) == expected


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        ([], "usage: linemon[status]"),
        ([""], "usage: linemon[status]"),
        (["sync"], "unknown command 'sync'"),  # only the read-only and queue-a-ping keys
        (["reload"], "unknown command 'reload'"),
        (["--socket=/tmp/x", "status"], "unknown command '--socket=/tmp/x'"),
        (["status", "x"], "too many parameters for status"),
        (["discover", "pe1", "pe2"], "too many parameters for discover"),
        (["ping"], "ping needs a line id"),
        (["ping", ""], "ping needs a line id"),
        (["ping", "--wait"], "invalid line '--wait'"),
        (["ping", "L1;reboot"], "invalid line 'L1;reboot'"),
        (["ping", "L1 L2"], "invalid line 'L1 L2'"),
        (["ping", "$(id)"], "invalid line '$(id)'"),
        (["discover", "pe1\nshow run"], "invalid router 'pe1\\nshow run'"),
        (["discover", "x" * 129], "invalid router 'xxxx"),
    ],
)
def test_anything_else_is_a_usage_error_before_the_socket(argv: list[str], words: str) -> None:
    with pytest.raises(ClientError) as info:
        extcheck.request(argv)
    assert info.value.exit_code == 2
    assert words in str(info.value)


def test_a_long_bad_parameter_is_cut_short_in_the_message() -> None:
    with pytest.raises(ClientError) as info:
        extcheck.request(["ping", "x" * 5000])
    assert len(str(info.value)) < 300 and "...'" in str(info.value)


def test_names_follow_the_brokers_own_rule() -> None:
    """Whatever the broker would accept as a router name or line id passes, nothing more."""
    assert extcheck.NAME.pattern == validate._NAME.pattern


def test_output_mirrors_the_agent_keys() -> None:
    status = {"routers": 2, "lines": 3, "delivery": {"pending": 0}}
    assert json.loads(extcheck.render("status", status)) == status
    assert extcheck.render("ping", 1) == "1"
    rows = [{"{#LINE.ID}": "b"}, {"{#LINE.ID}": "a"}]
    assert json.loads(extcheck.render("discover", rows)) == rows
    assert "\n" not in extcheck.render("routers", [{"name": "pe1"}])


def test_main_asks_the_broker_and_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "b.sock"
    monkeypatch.setenv("LINEMON_SOCKET", str(path))
    seen: list[bytes] = []
    thread = _serve_once(path, protocol.ok([{"{#LINE.ID}": "L1"}]), seen)
    assert extcheck.main(["discover", "pe1"]) == 0
    thread.join()
    assert protocol.decode_request(seen[0]) == ("discover", {"router": "pe1"})
    assert capsys.readouterr().out == '[{"{#LINE.ID}":"L1"}]\n'


def test_main_says_what_failed_on_stderr_with_the_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LINEMON_SOCKET", str(tmp_path / "none.sock"))
    assert extcheck.main(["status"]) == 69
    out = capsys.readouterr()
    assert out.out == "" and out.err.startswith("linemon: the broker socket ")
    path = tmp_path / "e.sock"
    monkeypatch.setenv("LINEMON_SOCKET", str(path))
    thread = _serve_once(path, protocol.error(protocol.E_NOT_FOUND, "no line 'L9'"))
    assert extcheck.main(["ping", "L9"]) == 4
    thread.join()
    assert capsys.readouterr().err == "linemon: no line 'L9'\n"
    assert extcheck.main(["ping", "L9;id"]) == 2  # refused before any socket


def test_permission_advice_names_the_zabbix_daemon_to_restart(tmp_path: Path) -> None:
    from linemon_agent.client import _permission_advice

    advice = _permission_advice(str(tmp_path / "b.sock"), extcheck.RESTART)
    assert advice.endswith("and restart the Zabbix server or proxy that runs this check")
