"""The warm path's cheap parts: cipher order, echo stripping, PingResult.to_dict (issue 6);
read timeouts that follow each command's deadline (issue 12)."""

from __future__ import annotations

import asyncio
import dataclasses
from types import SimpleNamespace
from typing import Any

from asyncssh.encryption import get_default_encryption_algs
from asyncssh.mac import get_default_mac_algs
from scrapli.exceptions import (
    ScrapliAuthenticationFailed,
    ScrapliConnectionError,
    ScrapliPrivilegeError,
    ScrapliTimeout,
)

from linemon_agent.broker.hostkeys import PREFERRED_CIPHERS, _preferred_first, asyncssh_algorithms
from linemon_agent.broker.privilege import EnableRefused
from linemon_agent.broker.transport import (
    EnableTimeout,
    ScrapliSession,
    _classify_open_error,
    _failed_when,
    _scrapli_kwargs,
    command_timeouts,
)
from linemon_agent.models import PingResult, Router
from linemon_agent.platforms import get_platform
from linemon_agent.secrets import Secret
from linemon_agent.settings import Credentials

COMMAND = "ping 198.51.100.1 repeat 5 timeout 1"


def test_preferred_first_reorders_without_dropping() -> None:
    offered = [b"c", b"a", b"b", b"d"]
    assert _preferred_first(("b", "x", "a"), offered) == ["b", "a", "c", "d"]


def test_asyncssh_algorithms_keep_every_default_and_put_aes_first() -> None:
    algs = asyncssh_algorithms()
    defaults = [a.decode() for a in get_default_encryption_algs()]
    assert sorted(algs["encryption_algs"]) == sorted(defaults)
    assert algs["encryption_algs"][0] == PREFERRED_CIPHERS[0]
    assert algs["encryption_algs"].index("aes128-ctr") < algs["encryption_algs"].index(
        "chacha20-poly1305@openssh.com"
    )
    assert sorted(algs["mac_algs"]) == sorted(a.decode() for a in get_default_mac_algs())


def test_to_dict_has_every_field_like_asdict() -> None:
    result = PingResult(
        status="ok", sent=5, received=4, loss_pct=20.0, rtt_min_ms=1.0, rtt_avg_ms=2.0,
        rtt_max_ms=3.0, rtt_stddev_ms=0.5, duplicates=1, errors=2, marks="!!.!!", error="e",
        extra={"device_success_pct": 80, "nested": {"a": [1]}},
    )
    assert result.to_dict() == dataclasses.asdict(result)
    names = {f.name for f in dataclasses.fields(PingResult)}
    assert set(result.to_dict()) == names  # a new field must be added to to_dict too


def test_to_dict_omits_unset_optional_fields_and_copies_extra() -> None:
    result = PingResult.measured(5, 5, 1.0, 1.0, 1.0, extra={"nested": {"a": 1}})
    data = result.to_dict()
    assert "marks" not in data and "error" not in data
    data["extra"]["nested"]["a"] = 2
    assert result.extra == {"nested": {"a": 1}}
    assert "extra" not in PingResult.failed("timeout", "slow").to_dict()



def test_scrapli_gets_linemons_driver_variant_and_refusals() -> None:
    creds = Credentials("default", "lab", Secret("pw"))
    classic = get_platform("nokia_sros_classic")
    router = Router("r1", "192.0.2.1", "nokia_sros_classic")
    kwargs = _scrapli_kwargs(router, creds, classic)
    assert (kwargs["platform"], kwargs["variant"]) == ("nokia_sros", "classic")
    alias = Router("r2", "192.0.2.2", "hp_comware")
    h3c = _scrapli_kwargs(alias, creds, get_platform(alias.platform))
    assert h3c["platform"] == "hp_comware" and "variant" not in h3c
    # the list scrapli flags a failed command with is the one the parser reads
    assert _failed_when(classic) == list(classic.failed_when_contains)


def test_command_timeouts_never_below_login_values_always_above_the_deadline() -> None:
    assert command_timeouts(10.0) == {"timeout_transport": 30.0, "timeout_socket": 15.0}
    for deadline in (29.0, 125.0, 5005.0):
        assert min(command_timeouts(deadline).values()) > deadline


class _Conn:
    """What ScrapliSession.send touches of a scrapli driver; records the timeouts in force."""

    def __init__(self) -> None:
        self.timeout_transport = 30.0
        self.timeout_socket = 15.0
        self.seen: list[tuple[float, float, float]] = []

    async def send_command(self, command: str, timeout_ops: float, **kwargs: Any) -> Any:
        self.seen.append((timeout_ops, self.timeout_transport, self.timeout_socket))
        return SimpleNamespace(result="done")


def test_send_raises_every_read_timeout_to_the_command_deadline_and_back() -> None:
    conn = _Conn()
    session = ScrapliSession(Router("r1", "192.0.2.1", "linux"), conn)
    for deadline in (125.0, 10.0):
        assert asyncio.run(session.send("ping", deadline)) == "done"
    (ops, transport, socket), short = conn.seen
    assert ops == 125.0 and transport > 125.0 and socket > 125.0
    assert short == (10.0, 30.0, 15.0)


def test_open_errors_name_the_privilege_and_telnet_login_problems() -> None:
    router = Router("pe1", "192.0.2.1", "cisco_iosxe")
    cases = [
        (ScrapliPrivilegeError("Failed to acquire requested privilege level privilege_exec"),
         "auth_error", "privilege level: Failed to acquire"),
        (EnableRefused("'enable': the secret was not accepted"), "auth_error", "enable refused"),
        (EnableTimeout("no prompt within 10 s"), "session_error", "enable did not finish"),
        (ScrapliAuthenticationFailed(
            "username/login prompt seen more than once, assuming auth failed"),
         "auth_error", "login refused"),
        (ScrapliTimeout("timed out during in channel telnet authentication"),
         "session_error", "login did not finish"),
        (ScrapliConnectionError("Failed to open telnet session to host 192.0.2.1, "
                                "connection refused"), "router_unreachable", "cannot open"),
    ]
    for exc, status, words in cases:
        error = _classify_open_error(router, exc)
        assert (error.status, words in error.message) == (status, True), (exc, error)
