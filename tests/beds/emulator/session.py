"""One interactive shell on an emulated router: echo, the CLI, and pings as they run.

A task per shell reads lines through :class:`LineEditor` (input typed while a command runs
waits, as on a device, and is echoed when read), asks :class:`Cli` for the answer and
streams a ping's :class:`~tests.beds.emulator.render.Script` as its probes complete,
scaled by the fleet's ``time_scale``. The interrupt key (Ctrl-^ on IOS, Ctrl-C elsewhere)
stops a running ping with its summary so far.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import sys
import time
import traceback
from typing import TYPE_CHECKING, Any

import asyncssh

from tests.beds.emulator import render
from tests.beds.emulator.devices import Cli
from tests.beds.emulator.formats import PingArgs
from tests.beds.emulator.terminal import LineEditor

# Input typed ahead while a command runs is kept up to this size, then dropped (devices
# have a bounded input buffer too).
MAX_TYPEAHEAD = 64 * 1024

if TYPE_CHECKING:
    from tests.beds.emulator.server import Fleet, Router


class RouterSession(asyncssh.SSHServerSession[bytes]):
    """One interactive shell: the line editor, the CLI, and pings streamed as they run."""

    def __init__(
        self,
        fleet: Fleet,
        router: Router,
        conn: asyncssh.SSHServerConnection,
        user: str,
        privileged: bool = True,
    ) -> None:
        self.fleet = fleet
        self.router = router
        self.conn = conn
        c = router.config
        self.cli = Cli(
            c.platform,
            c.hostname,
            user,
            c.hosts,
            privileged=privileged,
            enable_secret=c.enable_secret,
        )
        self.editor = LineEditor()
        self.chan: asyncssh.SSHServerChannel[bytes] | None = None
        self.pending = bytearray()
        self.waiter: asyncio.Future[None] | None = None
        self.interrupt: asyncio.Future[None] | None = None
        self.task: asyncio.Task[None] | None = None
        self.eof = False
        self.closed = False

    # -- asyncssh callbacks -----------------------------------------------------------------

    def connection_made(self, chan: asyncssh.SSHServerChannel[bytes]) -> None:
        self.chan = chan

    def pty_requested(self, term_type: str, term_size: Any, term_modes: Any) -> bool:
        return True

    def shell_requested(self) -> bool:
        return True

    def exec_requested(self, command: str) -> bool:
        return False  # routers here offer an interactive shell only

    def session_started(self) -> None:
        self.task = asyncio.ensure_future(self._run())

    def data_received(self, data: bytes, datatype: int | None) -> None:
        self.router.record(data)
        if self.interrupt is not None and not self.interrupt.done():
            keys = self.cli.interrupt_bytes()
            if any(key in data for key in keys):
                self.interrupt.set_result(None)
                data = bytes(b for b in data if b not in keys)
        self.pending += data[: max(0, MAX_TYPEAHEAD - len(self.pending))]
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed:
            self.closed = True
            self.router.sessions_open -= 1
        self._wake()
        if self.interrupt is not None and not self.interrupt.done():
            self.interrupt.set_result(None)

    # -- the shell --------------------------------------------------------------------------

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def _write(self, text: str | bytes) -> None:
        if not self.closed and self.chan is not None and text:
            with contextlib.suppress(BrokenPipeError):  # the client is closing the channel
                self.chan.write(text.encode() if isinstance(text, str) else text)

    def _end(self) -> None:
        if self.chan is not None and not self.closed:
            self.chan.close()
        self.conn.close()

    async def _run(self) -> None:
        try:
            delay = self.router.faults.slow_login_s
            if delay:
                await asyncio.sleep(delay)
            self._write(self.cli.greeting())
            while not self.closed:
                line = await self._read_line()
                if line is None or not await self._execute(line):
                    break
        except Exception:  # a bug in the emulator: say so loudly, end the session
            self.router.counters["internal_errors"] += 1
            traceback.print_exc(file=sys.stderr)
        self._end()

    async def _read_line(self) -> str | None:
        """The next line typed, echoing input as the device reads it; None at EOF."""
        while not self.closed:
            hidden = self.cli.hides_input  # a secret is typed: nothing is echoed
            step = self.editor.feed(self.pending)
            if not hidden:
                self._write(step.echo)
            if step.line is not None:
                return step.line
            if step.cancelled and self.cli.platform not in ("cisco_iosxe", "cisco_iosxr"):
                self._write("^C\r\n" + self.cli.draw_prompt())
                continue
            if self.eof:
                return None
            self.waiter = asyncio.get_running_loop().create_future()
            await self.waiter
        return None

    async def _execute(self, line: str) -> bool:
        """Answer one line; False once the session is over."""
        router = self.router
        router.counters["commands"] += 1
        router.commands.append(line)
        self._write(self.cli.enter(line))
        if router.faults.silent:
            return True  # accepted, never answered
        failures = self.cli.enable_failures
        reply = self.cli.handle(line)
        router.counters["enable_failures"] += self.cli.enable_failures - failures
        if reply.ping is not None:
            if not await self._ping(line, reply.ping):
                return False
            self._write(self.cli.after_output())
        self._write(reply.text)
        if reply.close:
            return False
        if reply.prompt:
            self._write(self.cli.draw_prompt())
        return True

    async def _ping(self, line: str, args: PingArgs) -> bool:
        """Stream one ping's answer; False if the session ended meanwhile."""
        router, fleet = self.router, self.fleet
        router.counters["pings"] += 1
        behaviour = router.behaviour(args, fleet.default_target)
        rtts = fleet.draw(router, args, behaviour)
        platform, local = router.config.platform, router.config.host
        script = render.play(
            platform, args, rtts, unreachable=behaviour.unreachable, now=time.time(), local=local
        )
        header, *probes, tail = script.events
        drop_after = math.ceil(len(probes) / 2) if router.faults.drop_mid_command else None
        loop = asyncio.get_running_loop()
        start, scale = loop.time(), fleet.time_scale
        self.interrupt = interrupt = loop.create_future()
        self._write(header.text)
        sent = len(probes)
        for done, event in enumerate([*probes, tail]):
            delay = start + event.at * scale - loop.time()
            if delay > 0:
                await asyncio.wait([interrupt], timeout=delay)
            if self.closed:
                return False
            if interrupt.done():  # the user's interrupt key: the summary so far
                sent = done
                unreachable = behaviour.unreachable
                self._write(
                    render.interrupted(
                        platform, args, rtts, sent, unreachable=unreachable, local=local
                    )
                )
                break
            self._write(event.text)
            if done + 1 == drop_after:
                router.counters["drops"] += 1
                self.conn.abort()
                return False
        self.interrupt = None
        received = sum(r is not None for r in rtts[:sent])
        router.pings.append(
            {
                "command": line,
                **args.to_dict(),
                "sent": sent,
                "received": received,
                "privileged": self.cli.privileged,
            }
        )
        return True
