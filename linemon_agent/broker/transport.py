"""Opening one scrapli session to a router (asyncssh or telnet natively, paramiko in a worker
thread), at the privilege level the account lands on or, with an enable secret, one above.

With ``enable``, the only modules that import scrapli. Every failure leaves as a SessionError
whose status says what kind of failure it was; a half-opened connection is closed before
raising.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, Protocol

from linemon_agent import models
from linemon_agent.broker import privilege
from linemon_agent.errors import SessionError
from linemon_agent.models import Router
from linemon_agent.platforms import get_platform
from linemon_agent.platforms.base import Platform
from linemon_agent.settings import Credentials

from .enable import EnableTimeout, async_on_open, sync_on_open
from .hostkeys import HostKeys, asyncssh_algorithms


class Session(Protocol):
    """One open CLI session on a router."""

    async def send(self, command: str, timeout: float) -> str: ...

    async def close(self) -> None: ...

    def alive(self) -> bool: ...


# scrapli's timeouts. timeout_ops bounds one operation (a command: send_command's
# timeout_ops); timeout_transport bounds each read from the transport, so a device silent for
# longer (iputils ``ping -q`` prints nothing until its summary) was cut at 30 s whatever the
# command's own deadline; timeout_socket bounds the TCP connect and handshake. The values here
# apply while logging in; every command raises them to its own deadline (command_timeouts).
TIMEOUT_SOCKET_S = 15.0
TIMEOUT_TRANSPORT_S = 30.0
TIMEOUT_OPS_S = 30.0
# A read may wait this much past the command's deadline: the deadline (timeout_ops, and the
# session's own wait_for) is what ends a command, never a read timeout inside it.
READ_MARGIN_S = 5.0
# How long each step of the enable dialogue (the command, then the secret) may take.


def command_timeouts(deadline: float) -> dict[str, float]:
    """The transport and socket timeouts a command with ``deadline`` seconds needs: never
    below the login values, always above the deadline."""
    return {
        "timeout_transport": max(TIMEOUT_TRANSPORT_S, deadline + READ_MARGIN_S),
        "timeout_socket": max(TIMEOUT_SOCKET_S, deadline + READ_MARGIN_S),
    }


def _scrapli_kwargs(router: Router, creds: Credentials, platform: Platform) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "host": router.host,
        "port": router.port,
        "auth_username": creds.username,
        "auth_password": creds.password.value,
        "auth_strict_key": False,
        "timeout_socket": TIMEOUT_SOCKET_S,
        "timeout_transport": TIMEOUT_TRANSPORT_S,
        "timeout_ops": TIMEOUT_OPS_S,
        "ssh_config_file": False,
    }
    if creds.private_key is not None:
        kwargs["auth_private_key"] = str(creds.private_key)
    if platform.scrapli_platform == "generic":
        kwargs["comms_prompt_pattern"] = platform.prompt_pattern or r"^\S*[$#>]\s*$"
    else:
        kwargs["platform"] = platform.scrapli_platform
        if platform.scrapli_variant is not None:
            kwargs["variant"] = platform.scrapli_variant
    return kwargs


def _failed_when(platform: Platform) -> list[str] | None:
    """The platform's refusals (its parser reads the same list) for scrapli's ``failed``
    flag, given per command: scrapli's generic driver takes no list of its own."""
    return list(platform.failed_when_contains) or None


def _check_on_open(router: Router, command: str, response: Any) -> None:
    """An on-open command the device refused (paging left on would hang every command)."""
    if response.failed:
        raise SessionError(
            router.name,
            models.STATUS_SESSION_ERROR,
            f"the router refused {command!r}: {str(response.result).strip()[:200]}",
            command,
        )


def _classify_open_error(router: Router, exc: BaseException) -> SessionError:
    import asyncssh
    from scrapli.exceptions import (
        ScrapliAuthenticationFailed,
        ScrapliPrivilegeError,
        ScrapliTimeout,
    )

    text = str(exc) or type(exc).__name__
    if (
        isinstance(exc, asyncssh.HostKeyNotVerifiable)
        or "known_hosts" in text
        or (isinstance(exc, asyncssh.KeyExchangeFailed) and "host key" in text)
    ):
        return SessionError(
            router.name, models.STATUS_HOST_KEY_ERROR, f"host key not verified: {text}"
        )
    if isinstance(exc, privilege.EnableRefused):
        return SessionError(router.name, models.STATUS_AUTH_ERROR, f"enable refused: {text}")
    if isinstance(exc, ScrapliPrivilegeError):  # logged in, but not at a level it knows
        return SessionError(router.name, models.STATUS_AUTH_ERROR, f"privilege level: {text}")
    if isinstance(exc, EnableTimeout):
        return SessionError(
            router.name, models.STATUS_SESSION_ERROR, f"enable did not finish: {text}"
        )
    # telnet: "username/login prompt seen more than once, assuming auth failed"
    if isinstance(exc, asyncssh.PermissionDenied) or (
        isinstance(exc, ScrapliAuthenticationFailed)
        and ("authentication" in text or "auth failed" in text)
    ):
        return SessionError(router.name, models.STATUS_AUTH_ERROR, f"login refused: {text}")
    # asyncssh: ChannelOpenError; paramiko: ChannelException(4, 'Resource shortage'). Both
    # mean the router took the connection and refused the session (e.g. every vty busy).
    if isinstance(exc, asyncssh.ChannelOpenError) or type(exc).__name__ == "ChannelException":
        return SessionError(
            router.name, models.STATUS_SESSION_REFUSED, f"router refused a session: {text}"
        )
    # connected, no prompt (or no telnet login dialogue) in time: no ping was sent, so this is
    # the session's failure, never a ping's `timeout`
    if isinstance(exc, ScrapliTimeout) and ("prompt" in text or "authentication" in text):
        return SessionError(
            router.name, models.STATUS_SESSION_ERROR, f"login did not finish: {text}"
        )
    return SessionError(router.name, models.STATUS_UNREACHABLE, f"cannot open session: {text}")


def _classify_command_error(router: Router, command: str, exc: BaseException) -> SessionError:
    from scrapli.exceptions import ScrapliTimeout

    if isinstance(exc, ScrapliTimeout | TimeoutError):
        return SessionError(router.name, models.STATUS_TIMEOUT, "no answer in time", command)
    return SessionError(
        router.name,
        models.STATUS_SESSION_ERROR,
        f"session broke: {str(exc) or type(exc).__name__}",
        command,
    )


class ScrapliSession:
    """One scrapli classic session: AsyncScrapli over asyncssh is awaited directly, a sync
    Scrapli over paramiko (``threaded``) is driven from a worker thread.

    Commands go through scrapli's ``send_command``, which reads the echo before sending the
    return: a device that redraws its prompt cannot then be mistaken for the command's end.
    """

    def __init__(
        self,
        router: Router,
        conn: Any,
        threaded: bool = False,
        failed_when_contains: list[str] | None = None,
    ) -> None:
        self.router = router
        self.conn = conn
        self.threaded = threaded
        self.failed_when_contains = failed_when_contains

    async def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        if self.threaded:
            return await asyncio.to_thread(method, *args, **kwargs)
        return await method(*args, **kwargs)

    def _fit_timeouts(self, deadline: float) -> None:
        """Raise (or lower back) scrapli's transport and socket timeouts to ``deadline``'s."""
        for name, value in command_timeouts(deadline).items():
            if getattr(self.conn, name) != value:
                setattr(self.conn, name, value)  # paramiko: also the channel's own timeout

    async def send(self, command: str, timeout: float) -> str:
        try:
            self._fit_timeouts(timeout)
            response = await asyncio.wait_for(
                self._call(
                    self.conn.send_command,
                    command,
                    timeout_ops=timeout,
                    failed_when_contains=self.failed_when_contains,
                ),
                timeout + 2.0,
            )
        except Exception as exc:
            await self._abort()
            raise _classify_command_error(self.router, command, exc) from None
        return str(response.result)

    async def _abort(self) -> None:
        """Drop a session whose command failed or ran out of time.

        On asyncssh the connection is closed at once: scrapli's polite close would first wait
        for a prompt the router may not print before the unfinished command ends, holding the
        caller past its deadline (up to the close's 5 s).
        """
        if self.threaded:
            await self.close()
            return
        with contextlib.suppress(Exception):
            self.conn.transport.close()

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._call(self.conn.close), 5.0)

    def alive(self) -> bool:
        try:
            return bool(self.conn.isalive())
        except Exception:
            return False


def _end_of_stream_is_an_error(transport: Any) -> None:
    """Make a telnet transport's read raise once the router has closed the connection.

    scrapli's asynctelnet read returns b"" at end of stream, at once and forever, so a
    connection cut mid-command was read in a loop that never yields to the event loop
    (StreamReader.read at EOF does not suspend): the whole broker stalled until the
    command's deadline, then the ping was reported as an overrun, not a broken session.
    """
    from scrapli.exceptions import ScrapliConnectionError

    read = transport.read

    async def read_or_raise() -> bytes:
        data: bytes = await read()
        if not data and (transport.stdout is None or transport.stdout.at_eof()):
            raise ScrapliConnectionError("the router closed the telnet connection")
        return data

    transport.read = read_or_raise


async def open_session(
    router: Router, creds: Credentials, host_keys: HostKeys, transport: str
) -> Session:
    """Log in to ``router`` and return a ready session (paging off, prompt found)."""
    platform = get_platform(router.platform)
    kwargs = _scrapli_kwargs(router, creds, platform)
    secret = creds.enable_password.value
    if transport == "telnet":
        if not creds.password:
            raise SessionError(
                router.name,
                models.STATUS_AUTH_ERROR,
                f"telnet logs in with a password; credentials profile {creds.name!r} has none",
            )
        kwargs.pop("auth_private_key", None)
        return await _open_async(router, platform, {**kwargs, "transport": "asynctelnet"}, secret)
    learn = host_keys.policy == "tofu" and not host_keys.is_known(router.host, router.port)
    if host_keys.policy != "insecure" and not learn:
        files = host_keys.files()
        if not files:
            raise SessionError(
                router.name,
                models.STATUS_HOST_KEY_ERROR,
                f"no known_hosts file ({host_keys.known_hosts}); add the "
                'router\'s key or set host_key_policy = "tofu"',
            )
        kwargs["transport_options"] = {
            "asyncssh": {
                "known_hosts": files,
                "server_host_key_algs": host_keys.host_key_algs(router.host, router.port),
            }
        }
        if transport == "paramiko":
            kwargs["auth_strict_key"] = True
            kwargs["ssh_known_hosts_file"] = files[0]
    if transport == "paramiko":
        return await _open_paramiko(router, platform, kwargs, secret, host_keys if learn else None)
    options = kwargs.get("transport_options", {}).get("asyncssh", {})
    kwargs = {
        **kwargs,
        "transport": "asyncssh",
        "transport_options": {"asyncssh": {**asyncssh_algorithms(), **options}},
    }
    return await _open_async(router, platform, kwargs, secret, host_keys if learn else None)


def _drop(conn: Any) -> None:
    """Close a session that failed to open at the transport, without scrapli's polite close:
    its on_close first climbs back to the default level and waits for a prompt, which a
    router left at a login or secret question never prints (measured: 30 s, the whole
    timeout_ops, after a refused telnet login or enable secret)."""
    with contextlib.suppress(Exception):
        conn.transport.close()


QUIET_SECONDS = 0.25
DRAIN_LIMIT_SECONDS = 3.0


async def _drain_async(conn: Any) -> None:
    """Read and drop whatever the device still sends after login, until it is quiet.

    A shell that starts after scrapli's first return echoes that return late and prints a
    second prompt; left in the buffer, it would make every later command read one prompt
    early and return the previous command's output. Reading until the line is quiet keeps
    each command paired with its own answer.
    """
    deadline = time.monotonic() + DRAIN_LIMIT_SECONDS
    while time.monotonic() < deadline:
        try:
            chunk = await asyncio.wait_for(conn.transport.stdout.read(65535), QUIET_SECONDS)
        except TimeoutError:
            return
        if not chunk:
            return


def _drain_paramiko(conn: Any) -> None:
    """The same for a paramiko channel (in the worker thread)."""
    channel = conn.transport.session_channel
    deadline = time.monotonic() + DRAIN_LIMIT_SECONDS
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        if channel.recv_ready():
            channel.recv(65535)
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= QUIET_SECONDS:
            return
        else:
            time.sleep(0.02)


async def _open_async(
    router: Router,
    platform: Platform,
    kwargs: dict[str, Any],
    secret: str,
    learn: HostKeys | None = None,
) -> Session:
    """Open over asyncssh or asynctelnet (``kwargs["transport"]``) in this event loop."""
    from scrapli import AsyncScrapli
    from scrapli.driver import AsyncGenericDriver

    conn: Any = AsyncScrapli(**kwargs) if "platform" in kwargs else AsyncGenericDriver(**kwargs)
    conn.on_open = async_on_open(conn.on_open, secret)
    if kwargs["transport"] == "asynctelnet":
        _end_of_stream_is_an_error(conn.transport)
    try:
        await conn.open()
        if learn is not None:
            key = conn.transport.session.get_server_host_key()
            learn.learn(router.host, router.port, key.export_public_key().decode().strip())
        for command in platform.on_open_commands:
            response = await conn.send_command(
                command, timeout_ops=10.0, failed_when_contains=_failed_when(platform)
            )
            _check_on_open(router, command, response)
        await _drain_async(conn)
    except SessionError:
        with contextlib.suppress(Exception):
            await conn.close()
        raise
    except Exception as exc:
        _drop(conn)
        raise _classify_open_error(router, exc) from None
    return ScrapliSession(router, conn, failed_when_contains=_failed_when(platform))


async def _open_paramiko(
    router: Router, platform: Platform, kwargs: dict[str, Any], secret: str, learn: HostKeys | None
) -> Session:
    from scrapli import Scrapli
    from scrapli.driver import GenericDriver

    kwargs = {**kwargs, "transport": "paramiko"}
    kwargs.pop("transport_options", None)
    kwargs["transport_options"] = {"enable_rsa2": True}

    def connect() -> Any:
        conn = Scrapli(**kwargs) if "platform" in kwargs else GenericDriver(**kwargs)
        conn.on_open = sync_on_open(conn.on_open, secret)
        try:
            conn.open()
            if learn is not None:
                key = conn.transport.session.get_remote_server_key()
                learn.learn(router.host, router.port, f"{key.get_name()} {key.get_base64()}")
            for command in platform.on_open_commands:
                response = conn.send_command(
                    command, timeout_ops=10.0, failed_when_contains=_failed_when(platform)
                )
                _check_on_open(router, command, response)
            _drain_paramiko(conn)
        except Exception:
            _drop(conn)
            raise
        return conn

    try:
        conn = await asyncio.to_thread(connect)
    except SessionError:
        raise
    except Exception as exc:
        raise _classify_open_error(router, exc) from None
    return ScrapliSession(
        router, conn, threaded=True, failed_when_contains=_failed_when(platform)
    )
