"""A warm session against the router emulator (127.32.1.0/24): AES negotiated first, answers
without the echo, each command paired with its own answer, and the deadline enforced with
the session dropped at once (issue 6)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from linemon_agent import models
from linemon_agent.broker.hostkeys import HostKeys
from linemon_agent.broker.transport import ScrapliSession, open_session
from linemon_agent.errors import SessionError
from linemon_agent.models import PingRequest, Router
from linemon_agent.platforms import get_platform
from linemon_agent.secrets import Secret
from linemon_agent.settings import Credentials
from tests.beds.emulator.client import Emulator

PASSWORD = "warm-pw"
FAST, SLOW, DEAD = "198.51.100.1", "198.51.100.2", "198.51.100.3"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    config = {
        "time_scale": 0.01,
        "default_target": {"loss": 0.0, "rtt_ms": 1.0, "jitter_ms": 0.0},
        "defaults": {"username": "lab", "password": PASSWORD, "max_sessions": 4},
        "routers": {
            "r1": {
                "host": "127.32.1.1",
                "port": 0,
                "platform": "cisco_iosxe",
                "targets": {
                    SLOW: {"loss": 0.0, "rtt_ms": 700.0, "jitter_ms": 0.0},
                    DEAD: {"loss": 1.0},
                },
            }
        },
    }
    with Emulator(config, workdir=tmp_path_factory.mktemp("emu")) as emu:
        yield emu


async def _open(emu: Emulator) -> ScrapliSession:
    host, port = emu.address("r1")
    session = await open_session(
        Router(name="r1", host=host, port=port, platform="cisco_iosxe"),
        Credentials(name="default", username="lab", password=Secret(PASSWORD)),
        HostKeys("insecure", Path("/nonexistent"), Path("/nonexistent")),
        "asyncssh",
    )
    assert isinstance(session, ScrapliSession)
    return session


def test_session_prefers_aes_gcm_and_answers_without_the_echo(emulator: Emulator) -> None:
    async def run() -> None:
        session = await _open(emulator)
        try:
            cipher = session.conn.transport.session.get_extra_info("send_cipher")
            assert cipher == "aes128-gcm@openssh.com"
            for command in (
                f"ping {FAST} repeat 5 timeout 1",
                "ping bogus-host-name!!",
                "show nonsense",
            ):
                answer = await session.send(command, 10.0)
                assert command not in answer  # the echo is not part of the answer
        finally:
            await session.close()

    asyncio.run(run())


def test_each_command_gets_its_own_answer(emulator: Emulator) -> None:
    platform = get_platform("cisco_iosxe")

    async def run() -> None:
        session = await _open(emulator)
        try:
            for index in range(30):
                target = (FAST, SLOW, DEAD)[index % 3]
                request = PingRequest(target=target, count=2, timeout=1)
                output = await session.send(platform.build_ping(request), 10.0)
                assert f"Echos to {target}," in output
                result = platform.parse_ping(output, request)
                if target == DEAD:
                    assert result.received == 0
                else:
                    assert result.received == 2
                    assert result.rtt_avg_ms == (700.0 if target == SLOW else 1.0)
        finally:
            await session.close()

    asyncio.run(run())


def test_deadline_is_enforced_and_the_session_closed(emulator: Emulator) -> None:
    async def run() -> None:
        session = await _open(emulator)
        emulator.set_time_scale(1.0)  # SLOW now takes 5 x 0.7 s
        try:
            started = time.monotonic()
            with pytest.raises(SessionError) as caught:
                await session.send(f"ping {SLOW} repeat 5 timeout 2", 0.5)
            assert caught.value.status == models.STATUS_TIMEOUT
            assert time.monotonic() - started < 2.0
            assert not session.alive()
        finally:
            emulator.set_time_scale(0.01)
            await session.close()

    asyncio.run(run())
