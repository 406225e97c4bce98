"""The thin client maps socket failures to clear words and exit codes."""

from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile
import threading
from pathlib import Path

import pytest

from linemon_agent import protocol
from linemon_agent.client import (
    DEFAULT_SOCKET,
    EXIT_BROKER_DOWN,
    EXIT_CONFIG,
    EXIT_PERMISSION,
    ClientError,
    call,
    socket_path,
)


def test_missing_socket(tmp_path: Path) -> None:
    with pytest.raises(ClientError) as info:
        call("status", path=str(tmp_path / "none.sock"))
    assert info.value.exit_code == EXIT_BROKER_DOWN
    assert "is the broker running" in str(info.value)


def test_refused(tmp_path: Path) -> None:
    path = tmp_path / "dead.sock"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    sock.close()  # the file stays, nobody listens
    with pytest.raises(ClientError) as info:
        call("status", path=str(path))
    assert info.value.exit_code == EXIT_BROKER_DOWN and "not running" in str(info.value)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to another user")
def test_permission_denied() -> None:
    # not tmp_path: pytest's base directory is 0700, so nobody would be refused above the socket
    where = Path(tempfile.mkdtemp(prefix="linemon-perm-"))
    path = where / "b.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen()
    os.chmod(path, 0o660)
    os.chmod(where, 0o755)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: become nobody and try; always exits, whatever happens
        try:
            os.close(read)
            os.setgid(65534)
            os.setuid(65534)
            try:
                call("status", path=str(path))
                report = b"0 connected"
            except ClientError as exc:
                report = f"{exc.exit_code} {exc}".encode()
            os.write(write, report)
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        report = pipe.read().decode()
    os.waitpid(pid, 0)
    server.close()
    shutil.rmtree(where)
    code, _, message = report.partition(" ")
    assert int(code) == EXIT_PERMISSION
    assert "group root, mode 0660" in message
    assert "usermod -aG root nobody" in message


def _serve_once(path: Path, reply: bytes, seen: list[bytes] | None = None) -> threading.Thread:
    """Answer one request at ``path`` with ``reply``; the request goes into ``seen``."""
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen()

    def run() -> None:
        conn, _ = server.accept()
        request = conn.recv(65536)
        if seen is not None:
            seen.append(request)
        conn.sendall(reply)
        conn.close()
        server.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_version_mismatch_is_explained(tmp_path: Path) -> None:
    path = tmp_path / "v.sock"
    thread = _serve_once(path, b'{"v": 99, "ok": true, "result": 1}\n')
    with pytest.raises(ClientError) as info:
        call("status", path=str(path))
    thread.join()
    assert info.value.exit_code == 5 and "version mismatch" in str(info.value)


def test_broker_error_maps_to_exit_code(tmp_path: Path) -> None:
    path = tmp_path / "e.sock"
    thread = _serve_once(path, protocol.error(protocol.E_NOT_FOUND, "no router 'zz'"))
    with pytest.raises(ClientError) as info:
        call("ping", {"router": "zz"}, path=str(path))
    thread.join()
    assert info.value.exit_code == protocol.EXIT_CODES[protocol.E_NOT_FOUND]
    assert "no router 'zz'" in str(info.value)


def test_request_arguments_never_collide_with_the_clients_own(tmp_path: Path) -> None:
    """A ping's `timeout` (and `path`) are request arguments, not the client's."""
    path = tmp_path / "a.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen()
    seen: list[bytes] = []

    def run() -> None:
        conn, _ = server.accept()
        seen.append(conn.recv(65536))
        conn.sendall(protocol.ok(1))
        conn.close()
        server.close()

    thread = threading.Thread(target=run)
    thread.start()
    args = {"router": "r", "target": "192.0.2.1", "timeout": "1", "path": "p"}
    assert call("ping", args, path=str(path), timeout=3.0) == 1
    thread.join()
    assert protocol.decode_request(seen[0]) == ("ping", args)


def _toml(tmp_path: Path, text: str, name: str = "linemon.toml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_socket_path_order(tmp_path: Path) -> None:
    config = _toml(tmp_path, '[broker]\nsocket = "/srv/cfg.sock"\n')
    default = _toml(tmp_path, '[broker]\nsocket = "/srv/default.sock"\n', "default.toml")
    env = {"LINEMON_SOCKET": "/srv/env.sock", "LINEMON_CONFIG": config}
    assert socket_path("/srv/flag.sock", None, env, default) == "/srv/flag.sock"
    assert socket_path(None, None, env, default) == "/srv/env.sock"
    del env["LINEMON_SOCKET"]
    found = socket_path(None, None, env, default)
    assert (found, found.origin) == ("/srv/cfg.sock", f"[broker] socket in {config}")
    assert socket_path(None, default, env, default) == "/srv/default.sock"  # --config wins
    assert socket_path(None, None, {}, default) == "/srv/default.sock"
    # the broker's own override of [broker] socket applies to the client too
    assert socket_path(None, None, {**env, "LINEMON_BROKER_SOCKET": "/srv/o.sock"}) == "/srv/o.sock"
    # a file without the key, or no default file at all: the built-in default
    assert socket_path(None, _toml(tmp_path, "[zabbix]\nport = 1\n", "z.toml"), {}) == (
        DEFAULT_SOCKET
    )
    missing = str(tmp_path / "nowhere.toml")
    assert socket_path(None, None, {}, missing) == DEFAULT_SOCKET


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (None, "configuration file not found"),
        ("[broker\n", "not valid TOML"),
        ("[broker]\nsocket = 5\n", "broker.socket must be a path"),
        ('[broker]\nsocket = "a\\u0000b"\n', "broker.socket must be a path"),
        (b"\xff\xfe", "not valid TOML"),
    ],
)
def test_a_named_config_that_cannot_give_a_socket_is_exit_78(
    tmp_path: Path, text: str | bytes | None, needle: str
) -> None:
    path = tmp_path / "c.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    elif text is not None:
        path.write_text(text)
    with pytest.raises(ClientError) as info:
        socket_path(None, str(path), {})
    assert info.value.exit_code == EXIT_CONFIG and needle in str(info.value)
    assert str(path) in str(info.value)


def test_missing_socket_names_where_the_path_came_from(tmp_path: Path) -> None:
    config = _toml(tmp_path, f'[broker]\nsocket = "{tmp_path}/gone.sock"\n')
    with pytest.raises(ClientError) as info:
        call("status", path=socket_path(None, config, {}))
    assert f"[broker] socket in {config}" in str(info.value)
    assert info.value.exit_code == EXIT_BROKER_DOWN


def test_entry_finds_the_command_after_client_options() -> None:
    from linemon_agent.clientcli import command_word

    for argv in (["status"], ["--socket", "/s", "status"], ["--config=/c", "status", "--json"],
                 ["--call-timeout", "2", "--socket=/s", "--config", "/c", "status"]):
        assert command_word(argv) == "status", argv
    assert command_word(["--socket"]) == ""


@pytest.mark.parametrize("where", ["before", "after"])
def test_client_options_before_or_after_the_command(where: str) -> None:
    from linemon_agent.clientcli import _parser

    own = ["--socket", "/s.sock", "--config", "/c.toml", "--call-timeout", "2.5"]
    argv = [*own, "ping", "r", "t", "--timeout", "1"]
    if where == "after":
        argv = ["ping", "r", "t", "--timeout", "1", *own]
    ns = _parser().parse_args(argv)
    assert (ns.socket, ns.config, ns.call_timeout) == ("/s.sock", "/c.toml", 2.5)
    assert (ns.router, ns.target, ns.timeout) == ("r", "t", "1")


def test_client_options_default_when_not_given() -> None:
    from linemon_agent.clientcli import _parser

    ns = _parser().parse_args(["status"])
    assert (ns.socket, ns.config, ns.call_timeout) == (None, None, None)


@pytest.mark.parametrize("bad", ["0", "-1", "nan", "inf", "soon", "1e9"])
def test_call_timeout_must_be_a_sane_number(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    from linemon_agent.clientcli import run

    assert run(["status", "--call-timeout", bad]) == 2
    assert "--call-timeout" in capsys.readouterr().err


def test_readme_exit_code_table_is_complete() -> None:
    """Every exit code the client can give (the broker's error codes, the client's own) has a
    row in the README's table, and the table has no code the client cannot give."""
    from linemon_agent import client, clientcli

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme[readme.index("## The client (what the Zabbix agent calls)"):]
    table = {int(m) for m in re.findall(r"^\| (\d+) \|", section.split("\n## ")[0], re.M)}
    codes = {0, *protocol.EXIT_CODES.values()}
    codes |= {v for k, v in vars(client).items() if k.startswith("EXIT_")}
    codes |= {v for k, v in vars(clientcli).items() if k.startswith("EXIT_")}
    assert table == codes


def test_a_path_that_is_no_socket_is_named_so(tmp_path: Path) -> None:
    with pytest.raises(ClientError) as info:
        call("status", path=str(tmp_path))
    assert info.value.exit_code == EXIT_BROKER_DOWN and "is not a socket" in str(info.value)


def test_a_broken_default_config_falls_back_and_says_why(tmp_path: Path) -> None:
    default = _toml(tmp_path, "[broker\n", "default.toml")
    found = socket_path(None, None, {}, default)
    assert found == DEFAULT_SOCKET
    assert found.origin.startswith("the default; ") and "not valid TOML" in found.origin
    (tmp_path / "dir.toml").mkdir()
    assert "cannot read" in socket_path(None, None, {}, str(tmp_path / "dir.toml")).origin


def test_every_socket_operation_is_a_client_command_with_a_summary() -> None:
    from linemon_agent import clientcli

    assert clientcli.COMMANDS == protocol.OPS
    assert tuple(clientcli.SUMMARIES) == protocol.OPS
