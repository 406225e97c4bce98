"""The thin client maps socket failures to clear words and exit codes."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
from pathlib import Path

import pytest

from linemon_agent import protocol
from linemon_agent.client import EXIT_BROKER_DOWN, EXIT_PERMISSION, ClientError, call


def test_missing_socket(tmp_path: Path) -> None:
    with pytest.raises(ClientError) as info:
        call("status", str(tmp_path / "none.sock"))
    assert info.value.exit_code == EXIT_BROKER_DOWN
    assert "is the broker running" in str(info.value)


def test_refused(tmp_path: Path) -> None:
    path = tmp_path / "dead.sock"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    sock.close()  # the file stays, nobody listens
    with pytest.raises(ClientError) as info:
        call("status", str(path))
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
                call("status", str(path))
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


def _serve_once(path: Path, reply: bytes) -> threading.Thread:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen()

    def run() -> None:
        conn, _ = server.accept()
        conn.recv(65536)
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
        call("status", str(path))
    thread.join()
    assert info.value.exit_code == 5 and "version mismatch" in str(info.value)


def test_broker_error_maps_to_exit_code(tmp_path: Path) -> None:
    path = tmp_path / "e.sock"
    thread = _serve_once(path, protocol.error(protocol.E_NOT_FOUND, "no router 'zz'"))
    with pytest.raises(ClientError) as info:
        call("ping", str(path), router="zz")
    thread.join()
    assert info.value.exit_code == protocol.EXIT_CODES[protocol.E_NOT_FOUND]
    assert "no router 'zz'" in str(info.value)
