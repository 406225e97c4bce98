"""The telnet side: a router's login dialogue over plain TCP, then the same shell as over SSH.

A device's telnet server offers to echo and to suppress go-ahead (``IAC WILL ECHO``,
``IAC WILL SGA``); scrapli's asynctelnet answers DO/WILL and declines the rest, and this
server reads past every negotiation it gets. Then, as IOS with ``login local``: "User
Access Verification", ``Username:`` (echoed), ``Password:`` (not echoed), "% Login invalid"
and a new ``Username:`` on a refusal, the connection closed after three. A login becomes a
:class:`~tests.beds.emulator.session.RouterSession` whose channel and connection are this
TCP connection; the vty limit, the fault switches and the counters are the router's own.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from tests.beds.emulator.session import RouterSession
from tests.beds.emulator.terminal import LineEditor

if TYPE_CHECKING:
    from tests.beds.emulator.server import Fleet, Router

IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240
ECHO, SGA = 1, 3
LOGIN_TRIES = 3
_OFFER = bytes([IAC, WILL, ECHO, IAC, WILL, SGA])
_BANNER = b"\r\n\r\nUser Access Verification\r\n\r\n"


class TelnetDecoder:
    """Telnet input -> the bytes typed: negotiations (``IAC DO x``, ``IAC SB ... IAC SE``)
    dropped, ``IAC IAC`` kept as one 0xff, across any split of the input."""

    def __init__(self) -> None:
        self._state = "data"

    def feed(self, data: bytes) -> bytes:
        out = bytearray()
        for byte in data:
            state = self._state
            if state == "data":
                if byte == IAC:
                    self._state = "iac"
                else:
                    out.append(byte)
            elif state == "iac":
                if byte == IAC:
                    out.append(IAC)
                    self._state = "data"
                elif byte in (DO, DONT, WILL, WONT):
                    self._state = "option"
                elif byte == SB:
                    self._state = "sub"
                else:
                    self._state = "data"  # a two-byte command (NOP, AYT, ...)
            elif state == "option":
                self._state = "data"
            elif state == "sub":
                if byte == IAC:
                    self._state = "sub_iac"
            elif state == "sub_iac":
                self._state = "data" if byte == SE else "sub"
        return bytes(out)


class TelnetLink(asyncio.Protocol):
    """One telnet connection: the login dialogue, then a RouterSession on it.

    It stands in for both the asyncssh channel and connection a RouterSession writes to and
    closes: ``write`` (0xff doubled), ``close`` and ``abort``.
    """

    def __init__(self, fleet: Fleet, router: Router) -> None:
        self.fleet = fleet
        self.router = router
        self.transport: asyncio.Transport | None = None
        self.decoder = TelnetDecoder()
        self.editor = LineEditor(max_line=256)
        self.pending = bytearray()
        self.user: str | None = None  # None: the username is being typed
        self.tries = 0
        self.session: RouterSession | None = None

    # -- what a RouterSession needs of a channel and a connection ---------------------------

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data.replace(bytes([IAC]), bytes([IAC, IAC])))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    # -- asyncio callbacks ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.router.telnet_links.add(self)
        self.router.counters["connections"] += 1
        transport.write(_OFFER + _BANNER + b"Username: ")

    def data_received(self, data: bytes) -> None:
        typed = self.decoder.feed(data)
        if self.session is not None:
            self.session.data_received(typed, None)
            return
        self.pending += typed
        self._login()

    def eof_received(self) -> bool | None:
        if self.session is not None:
            self.session.eof_received()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.router.telnet_links.discard(self)
        if self.session is not None:
            self.session.connection_lost(exc)

    # -- the login dialogue ---------------------------------------------------------------

    def _login(self) -> None:
        while self.session is None and self.pending:
            asking_password = self.user is not None
            step = self.editor.feed(self.pending)
            if not asking_password:
                self.write(step.echo)
            if step.line is None:
                if step.cancelled:
                    self.user = None
                    self.write(b"\r\nUsername: ")
                continue
            self.write(b"\r\n")
            if self.user is None:
                self.user = step.line
                self.write(b"Password: ")
            else:
                self._check(self.user, step.line)

    def _check(self, user: str, password: str) -> None:
        router = self.router
        account = router.account(user, password)
        if account is None:
            router.counters["auth_failures"] += 1
            self.tries += 1
            self.user = None
            self.write(b"% Login invalid\r\n\r\n")
            if self.tries >= LOGIN_TRIES:
                self.close()
            else:
                self.write(b"Username: ")
            return
        router.counters["logins"] += 1
        if router.sessions_open >= router.max_sessions:
            router.counters["sessions_refused"] += 1
            self.write(b"% No free vty lines\r\n")
            self.close()
            return
        router.sessions_open += 1
        session = RouterSession(self.fleet, router, self._as_conn(), user, account.privileged)
        self.session = session
        session.connection_made(self._as_conn())
        session.session_started()
        rest, self.pending = bytes(self.pending), bytearray()
        if rest:
            session.data_received(rest, None)

    def _as_conn(self) -> Any:
        return self


async def listen(fleet: Fleet, router: Router) -> asyncio.Server:
    """A telnet listener for ``router`` on its address (its own port, kept across restarts)."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: TelnetLink(fleet, router), router.config.host, router.telnet_port
    )


def close_links(router: Router, abort: bool) -> int:
    doomed = list(router.telnet_links)
    for link in doomed:
        with contextlib.suppress(Exception):
            link.abort() if abort else link.close()
    return len(doomed)
