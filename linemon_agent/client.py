"""The thin socket client: connect, send one request, map failures to words and exit codes.

Stdlib only and imported on every Zabbix agent call: keep it light.
"""

from __future__ import annotations

import errno
import grp
import os
import pwd
import socket
import stat
from typing import Any

from linemon_agent import protocol

DEFAULT_SOCKET = "/run/linemon/broker.sock"
EXIT_BROKER_DOWN = 69  # EX_UNAVAILABLE
EXIT_PERMISSION = 77  # EX_NOPERM


class ClientError(Exception):
    """A failure to talk to the broker, in words for a person, with an exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        self.exit_code = exit_code
        super().__init__(message)


def socket_path(explicit: str | None = None) -> str:
    return explicit or os.environ.get("LINEMON_SOCKET") or DEFAULT_SOCKET


def call(op: str, path: str | None = None, timeout: float = 5.0, **args: Any) -> Any:
    """Send one request and return the broker's result; raise ClientError on any failure."""
    path = socket_path(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        try:
            sock.connect(path)
        except OSError as exc:
            raise _connect_error(exc, path) from None
        try:
            sock.sendall(protocol.request(op, **args))
            reply = _read_line(sock)
        except TimeoutError:
            raise ClientError(
                f"the broker at {path} did not answer within {timeout:g} s", 7
            ) from None
        except OSError as exc:
            raise ClientError(f"lost the connection to the broker at {path}: {exc}", 1) from None
    finally:
        sock.close()
    try:
        return protocol.decode_reply(reply)
    except protocol.ProtocolError as exc:
        if exc.code == protocol.E_VERSION:
            raise ClientError(
                f"version mismatch: {exc.message}; upgrade linemon on both sides", 5
            ) from None
        raise ClientError(exc.message, protocol.EXIT_CODES.get(exc.code, 1)) from None


def _read_line(sock: socket.socket) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            raise ClientError("the broker closed the connection without an answer", 1)
        chunks.append(chunk)
        total += len(chunk)
        if chunk.endswith(b"\n"):
            return b"".join(chunks)
        if total > protocol.MAX_REPLY_BYTES:
            raise ClientError("the broker's answer is larger than the protocol allows", 1)


def _connect_error(exc: OSError, path: str) -> ClientError:
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return ClientError(
            f"the broker socket {path} does not exist: is the broker running? "
            "(systemctl status linemon-broker; or set LINEMON_SOCKET / --socket)",
            EXIT_BROKER_DOWN,
        )
    if exc.errno == errno.ECONNREFUSED:
        return ClientError(
            f"the broker is not running (connection refused on {path})", EXIT_BROKER_DOWN
        )
    if exc.errno in (errno.EACCES, errno.EPERM):
        return ClientError(_permission_advice(path), EXIT_PERMISSION)
    return ClientError(f"cannot connect to the broker at {path}: {exc.strerror}", 1)


def _permission_advice(path: str) -> str:
    """Name the group that would let this user in (the socket's, else its directory's)."""
    for where in (path, os.path.dirname(path)):
        try:
            info = os.stat(where)
            group = grp.getgrgid(info.st_gid).gr_name
            user = pwd.getpwuid(os.geteuid()).pw_name
        except (OSError, KeyError):  # refused further up too, or an id without a name
            continue
        what = "" if where == path else f"directory {where}: "
        return (
            f"permission denied on {path} ({what}group {group}, mode "
            f"{stat.S_IMODE(info.st_mode):04o}): add user {user} to group {group} "
            f"(usermod -aG {group} {user}) and restart the agent"
        )
    return (
        f"permission denied on {path} (or a directory above it): add this user to the "
        "socket's group (e.g. usermod -aG linemon zabbix) and restart the agent"
    )
