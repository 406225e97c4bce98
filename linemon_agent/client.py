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
from collections.abc import Mapping

from linemon_agent import protocol

TYPE_CHECKING = False  # typing costs ~5 ms of start-up CPU (-X importtime); only mypy needs it
if TYPE_CHECKING:
    from typing import Any

DEFAULT_SOCKET = "/run/linemon/broker.sock"
DEFAULT_CONFIG = "/etc/linemon/linemon.toml"  # the same default as config.DEFAULT_CONFIG
EXIT_BROKER_DOWN = 69  # EX_UNAVAILABLE
EXIT_PERMISSION = 77  # EX_NOPERM
EXIT_CONFIG = 78  # EX_CONFIG, as `linemon config check`
EXIT_FAILURE = 1  # the connection broke, or the broker failed inside
EXIT_VERSION = 5  # the broker speaks another protocol version
EXIT_TIMEOUT = 7  # no answer within --call-timeout


class ClientError(Exception):
    """A failure to talk to the broker, in words for a person, with an exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        self.exit_code = exit_code
        super().__init__(message)


class SocketPath(str):
    """A socket path that remembers where it came from (for messages that say why this one)."""

    origin = "the default"

    @classmethod
    def of(cls, path: str, origin: str) -> SocketPath:
        made = cls(path)
        made.origin = origin
        return made


def socket_path(
    explicit: str | None = None,
    config: str | None = None,
    environ: Mapping[str, str] | None = None,
    default_config: str = DEFAULT_CONFIG,
) -> SocketPath:
    """Where the broker listens: --socket, $LINEMON_SOCKET, else the configuration's.

    The configuration is --config, $LINEMON_CONFIG or the default file; its ``[broker]
    socket`` (or $LINEMON_BROKER_SOCKET, the override the broker itself honours) is used, and
    the built-in default when the file gives none. A named file that is missing, unreadable
    or wrong is an error (ClientError, exit 78). The default file is optional (an agent host
    may have only the client): when it is missing, unreadable or wrong the built-in default
    is used, and the reason goes into the path's origin, which messages show.
    """
    env = os.environ if environ is None else environ
    if explicit:
        return SocketPath.of(explicit, "--socket")
    if env.get("LINEMON_SOCKET"):
        return SocketPath.of(env["LINEMON_SOCKET"], "$LINEMON_SOCKET")
    if env.get("LINEMON_BROKER_SOCKET"):
        return SocketPath.of(env["LINEMON_BROKER_SOCKET"], "$LINEMON_BROKER_SOCKET")
    named = config or env.get("LINEMON_CONFIG") or ""
    path = named or default_config
    if not named and not os.path.lexists(path):
        return SocketPath.of(DEFAULT_SOCKET, "the default")  # a client-only host
    try:
        value = _configured_socket(path)
    except ClientError as exc:
        if named:
            raise
        return SocketPath.of(DEFAULT_SOCKET, f"the default; {exc}")
    if value is None:
        return SocketPath.of(DEFAULT_SOCKET, "the default")
    return SocketPath.of(value, f"[broker] socket in {path}")


def _configured_socket(path: str) -> str | None:
    """The ``[broker] socket`` of the TOML file at ``path`` (tomllib only: no click, no config);
    None when the file does not set it."""
    import tomllib  # only when no socket was given: ~9 ms of imports (-X importtime)

    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ClientError(
            f"{path}: configuration file not found (give --socket, or --config / "
            "$LINEMON_CONFIG naming the broker's file)",
            EXIT_CONFIG,
        ) from None
    except OSError as exc:
        raise ClientError(
            f"{path}: cannot read the configuration ({exc.strerror}); give --socket instead",
            EXIT_CONFIG,
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ClientError(f"{path}: not valid TOML: {exc}", EXIT_CONFIG) from None
    broker = data.get("broker", {})
    value = broker.get("socket") if isinstance(broker, dict) else None
    if value is None:
        return None
    if not isinstance(value, str) or not value or "\0" in value:
        raise ClientError(f"{path}: broker.socket must be a path, not {value!r}", EXIT_CONFIG)
    return value


def call(
    op: str,
    args: Mapping[str, Any] | None = None,
    *,
    path: str | None = None,
    timeout: float = 5.0,
    restart: str = "the agent",
) -> Any:
    """Send one request and return the broker's result; raise ClientError on any failure.

    ``args`` is the request's arguments, kept apart from the client's own ``path`` and
    ``timeout`` so that a ping's ``timeout`` option never collides with them. ``restart``
    names the program that must restart to join the socket's group (permission advice).
    """
    where = path if isinstance(path, SocketPath) else socket_path(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        try:
            sock.connect(where)
        except OSError as exc:
            raise _connect_error(exc, where, restart) from None
        try:
            sock.sendall(protocol.request(op, **dict(args or {})))
            reply = _read_line(sock)
        except TimeoutError:
            raise ClientError(
                f"the broker at {where} did not answer within {timeout:g} s "
                "(--call-timeout SECONDS to wait longer)",
                EXIT_TIMEOUT,
            ) from None
        except OSError as exc:
            raise ClientError(
                f"lost the connection to the broker at {where}: {exc}", EXIT_FAILURE
            ) from None
    finally:
        sock.close()
    try:
        return protocol.decode_reply(reply)
    except protocol.ProtocolError as exc:
        if exc.code == protocol.E_VERSION:
            raise ClientError(
                f"version mismatch: {exc.message}; upgrade linemon on both sides",
                EXIT_VERSION,
            ) from None
        raise ClientError(exc.message, protocol.EXIT_CODES.get(exc.code, EXIT_FAILURE)) from None


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


def _connect_error(exc: OSError, path: SocketPath, restart: str) -> ClientError:
    origin = f" (from {path.origin})"
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return ClientError(
            f"the broker socket {path}{origin} does not exist: is the broker running? "
            "(systemctl status linemon-broker; or give --socket / $LINEMON_SOCKET, or "
            "--config / $LINEMON_CONFIG naming the broker's file)",
            EXIT_BROKER_DOWN,
        )
    if exc.errno == errno.ECONNREFUSED and not _is_socket(path):
        return ClientError(
            f"{path}{origin} is not a socket: give the broker's socket ([broker] socket)",
            EXIT_BROKER_DOWN,
        )
    if exc.errno == errno.ECONNREFUSED:
        return ClientError(
            f"the broker is not running (connection refused on {path}{origin})", EXIT_BROKER_DOWN
        )
    if exc.errno in (errno.EACCES, errno.EPERM):
        return ClientError(_permission_advice(path, restart), EXIT_PERMISSION)
    return ClientError(
        f"cannot connect to the broker at {path}{origin}: {exc.strerror or exc}", EXIT_FAILURE
    )


def _is_socket(path: str) -> bool:
    try:
        return stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError:
        return True  # cannot tell: say what connect said


def _permission_advice(path: str, restart: str = "the agent") -> str:
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
            f"(usermod -aG {group} {user}) and restart {restart}"
        )
    return (
        f"permission denied on {path} (or a directory above it): add this user to the "
        f"socket's group (e.g. usermod -aG linemon zabbix) and restart {restart}"
    )
