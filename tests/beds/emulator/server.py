"""The SSH side: one asyncssh listener per router, each session speaking its router's CLI.

A :class:`Fleet` holds every router's state (targets, fault switches, counters, the bytes
received) and its listener; :class:`RouterServer` authenticates a connection and applies
the vty limit; each shell is a :class:`~tests.beds.emulator.session.RouterSession` (plain
asyncio: no thread per session). Every router presents the run's one RSA host key.

Fault switches, per router, changeable while running:
``silent``: input is echoed, commands are never answered (no output, no prompt);
``drop_mid_command``: a ping's connection is cut after half its probes are printed;
``refuse_auth``: every password and key is rejected;
``slow_login_s``: the banner and first prompt come this many seconds after the shell opens;
``down``: the listener is closed (TCP connections are refused) and open sessions are cut;
``max_sessions``: an SSH session (or telnet login) beyond it is refused (channel open
failure, "no free vty lines"), then that connection is closed, as a router with every vty
busy does.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from typing import Any

import asyncssh

from tests.beds.emulator import telnet
from tests.beds.emulator.config import Account, Behaviour, Faults, FleetConfig, RouterConfig
from tests.beds.emulator.devices import SSH_VERSIONS
from tests.beds.emulator.formats import PingArgs
from tests.beds.emulator.render import MAX_PROBES
from tests.beds.emulator.session import RouterSession
from tests.beds.emulator.telnet import TelnetLink

_HISTORY = 1000  # commands and pings remembered per router
_COUNTERS = (
    "connections",
    "logins",
    "auth_failures",
    "sessions_refused",
    "commands",
    "pings",
    "drops",
    "bytes_received",
    "internal_errors",
    "enable_failures",
)


class Router:
    """One emulated router's settings, fault switches, counters and records."""

    def __init__(self, config: RouterConfig, record_limit: int) -> None:
        self.config = config
        self.port = config.port
        self.faults = Faults()
        self.faults.update(config.faults, f"routers.{config.name}.faults")
        self.max_sessions = config.max_sessions
        self.targets: dict[str, Behaviour] = dict(config.targets)
        self.default_target = config.default_target
        self.keys = {asyncssh.import_public_key(k).public_data for k in config.authorized_keys}
        self.listener: asyncssh.SSHAcceptor | None = None
        self.connections: set[asyncssh.SSHServerConnection] = set()
        # telnet (config.telnet): its listener, port (chosen once) and connections
        self.telnet_server: asyncio.Server | None = None
        self.telnet_port = 0
        self.telnet_links: set[TelnetLink] = set()
        self.sessions_open = 0
        self.record_limit = record_limit
        self.reset()

    def reset(self) -> None:
        self.counters = dict.fromkeys(_COUNTERS, 0)
        self.received = bytearray()
        self.commands: deque[str] = deque(maxlen=_HISTORY)
        self.pings: deque[dict[str, Any]] = deque(maxlen=_HISTORY)
        self.credit: dict[str, float] = {}

    def record(self, data: bytes) -> None:
        self.counters["bytes_received"] += len(data)
        room = self.record_limit - len(self.received)
        if room > 0:
            self.received += data[:room]

    def user_ok(self, login: str) -> bool:
        """RouterOS logins carry terminal options after a ``+`` (``admin+cet511w4098h``)."""
        if self.config.platform == "mikrotik_routeros":
            login = login.partition("+")[0]
        return login == self.config.username

    def account(self, login: str, password: str) -> Account | None:
        """The account ``login`` logs in to with ``password``, or None (refused)."""
        if self.faults.refuse_auth:
            return None
        if self.user_ok(login):
            return Account(self.config.password, True) if password == self.config.password else None
        account = self.config.accounts.get(login)
        return account if account is not None and account.password == password else None

    def behaviour(self, args: PingArgs, fallback: Behaviour) -> Behaviour:
        for key in (args.target, args.address):
            if key in self.targets:
                return self.targets[key]
        return self.default_target or fallback

    def close_connections(self, abort: bool = True) -> int:
        """Close every connection: cut (``abort``) or with an SSH disconnect; how many."""
        doomed = list(self.connections)
        for conn in doomed:
            if abort:
                conn.abort()
            else:
                conn.close()
        return len(doomed) + telnet.close_links(self, abort)

    def stats(self) -> dict[str, Any]:
        return {
            **self.counters,
            "sessions_open": self.sessions_open,
            "host": self.config.host,
            "port": self.port,
            "telnet_port": self.telnet_port,
            "platform": self.config.platform,
            "listening": self.listener is not None,
        }


class Fleet:
    """Every router of this process, their listeners, and the shared clock and randomness."""

    def __init__(self, config: FleetConfig, host_key: asyncssh.SSHKey) -> None:
        self.config = config
        self.time_scale = config.time_scale
        self.default_target = config.default_target
        self.rng = random.Random(config.seed)
        self.routers = {n: Router(c, config.record_limit) for n, c in config.routers.items()}
        self._by_place: dict[tuple[str, int], Router] = {}
        self._options = {
            platform: asyncssh.SSHServerConnectionOptions(
                server_host_keys=[host_key],
                server_version=version,
                server_factory=lambda: RouterServer(self),
                line_editor=False,
                encoding=None,
                allow_pty=True,
                login_timeout=60,
            )
            for platform, version in SSH_VERSIONS.items()
        }

    async def start(self) -> None:
        """Listen for every router; one configured ``down`` gets its port, then stops."""
        for router in self.routers.values():
            await self.listen(router)
            if router.faults.down:
                self.stop_listening(router)

    async def listen(self, router: Router) -> None:
        if router.listener is not None:
            return
        options = self._options[router.config.platform]
        router.listener = await asyncssh.listen(router.config.host, router.port, options=options)
        router.port = router.listener.get_port()
        self._by_place[(router.config.host, router.port)] = router
        if router.config.telnet:
            router.telnet_server = await telnet.listen(self, router)
            router.telnet_port = router.telnet_server.sockets[0].getsockname()[1]

    def router_at(self, host: str, port: int) -> Router | None:
        return self._by_place.get((host, port))

    def stop_listening(self, router: Router) -> None:
        if router.listener is not None:
            router.listener.close()
            router.listener = None
        if router.telnet_server is not None:
            router.telnet_server.close()
            router.telnet_server = None

    async def set_down(self, router: Router, down: bool) -> None:
        router.faults.down = down
        if down:
            self.stop_listening(router)
            router.close_connections()
        else:
            await self.listen(router)

    def draw(self, router: Router, args: PingArgs, b: Behaviour) -> list[float | None]:
        """Each probe's round trip in ms, or None when lost."""
        count = min(args.count, MAX_PROBES)
        if b.unreachable:
            return [None] * count
        rtts: list[float | None] = []
        for _ in range(count):
            if self.config.loss_model == "even":
                credit = router.credit.get(args.target, 0.5) + b.loss
                lost = credit >= 1.0
                router.credit[args.target] = credit - 1.0 if lost else credit
            else:
                lost = self.rng.random() < b.loss
            jitter = self.rng.uniform(-b.jitter_ms, b.jitter_ms) if b.jitter_ms else 0.0
            rtts.append(None if lost else max(0.01, b.rtt_ms + jitter))
        return rtts

    async def close(self) -> int:
        """Stop every listener and cut every connection; how many connections were cut."""
        cut = 0
        for router in self.routers.values():
            self.stop_listening(router)
            cut += router.close_connections()
        return cut


class RouterServer(asyncssh.SSHServer):
    """One SSH connection to a router: authentication and the vty limit."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.router: Router | None = None
        self.conn: asyncssh.SSHServerConnection | None = None
        self.user = ""
        self.privileged = True

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.conn = conn
        host, port = conn.get_extra_info("sockname")[:2]
        self.router = self.fleet.router_at(host, port)
        if self.router is None:
            conn.abort()
            return
        self.router.connections.add(conn)
        self.router.counters["connections"] += 1

    def connection_lost(self, exc: Exception | None) -> None:
        if self.router is not None and self.conn is not None:
            self.router.connections.discard(self.conn)

    def begin_auth(self, username: str) -> bool:
        return True  # every login needs a password or a key

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        router = self.router
        account = None if router is None else router.account(username, password)
        if account is None:
            if router is not None:
                router.counters["auth_failures"] += 1
            return False
        self.user, self.privileged = username, account.privileged
        return True

    def public_key_auth_supported(self) -> bool:
        return self.router is not None and bool(self.router.keys)

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        router = self.router
        ok = (
            router is not None
            and not router.faults.refuse_auth
            and router.user_ok(username)
            and key.public_data in router.keys
        )
        if not ok and router is not None:
            router.counters["auth_failures"] += 1
        self.user, self.privileged = username, True
        return ok

    def auth_completed(self) -> None:
        if self.router is not None:
            self.router.counters["logins"] += 1

    def session_requested(self) -> RouterSession:
        router, conn = self.router, self.conn
        assert router is not None and conn is not None
        if router.sessions_open >= router.max_sessions:
            router.counters["sessions_refused"] += 1
            asyncio.get_running_loop().call_later(0.05, conn.close)
            raise asyncssh.ChannelOpenError(asyncssh.OPEN_RESOURCE_SHORTAGE, "No free vty lines")
        router.sessions_open += 1
        user = router.config.username
        return RouterSession(self.fleet, router, conn, user, self.privileged)
