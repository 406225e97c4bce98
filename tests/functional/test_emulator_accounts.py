"""The emulator's user EXEC accounts, enable dialogue and telnet decoding (pure parts)."""

from __future__ import annotations

import pytest

from tests.beds.emulator.config import ConfigError, load_config
from tests.beds.emulator.devices import Cli
from tests.beds.emulator.telnet import DO, IAC, SB, SE, SGA, WILL, TelnetDecoder


def _cli(platform: str, secret: str | None = "en-pw") -> Cli:
    return Cli(platform, "pe1", "ro", privileged=False, enable_secret=secret)


def test_user_exec_prompt_and_enable_with_the_secret() -> None:
    cli = _cli("cisco_iosxe")
    assert cli.prompt == "pe1>" and not cli.hides_input
    assert cli.handle("ping 192.0.2.1 repeat 2").ping is not None  # user EXEC pings
    asked = cli.handle("enable")
    assert (asked.text, asked.prompt) == ("Password: ", False) and cli.hides_input
    cli.handle("en-pw")
    assert cli.prompt == "pe1#" and not cli.hides_input
    cli.handle("disable")
    assert cli.prompt == "pe1>"


def test_ios_asks_three_times_then_bad_secrets() -> None:
    cli = _cli("cisco_iosxe")
    cli.handle("enable")
    assert cli.handle("nope").text == "Password: "
    assert cli.handle("nope").text == "Password: "
    refused = cli.handle("nope")
    assert "% Bad secrets" in refused.text and refused.prompt
    assert (cli.prompt, cli.enable_failures) == ("pe1>", 3)


def test_eos_and_nxos_refuse_at_once_and_climb_without_a_secret() -> None:
    for platform, prompt in (("arista_eos", "pe1>"), ("cisco_nxos", "pe1> ")):
        cli = _cli(platform)
        cli.handle("enable")
        assert "% Access denied" in cli.handle("nope").text and cli.prompt == prompt
        open_cli = _cli(platform, secret=None)
        open_cli.handle("enable")
        assert open_cli.privileged
    ios = _cli("cisco_iosxe", secret=None)
    assert "% No password set" in ios.handle("enable").text and not ios.privileged


def test_platforms_without_user_exec_land_privileged() -> None:
    assert _cli("cisco_iosxr").prompt.endswith("#")
    assert _cli("huawei_vrp").prompt == "<pe1>"


def test_telnet_decoder_drops_negotiation_across_splits() -> None:
    stream = bytes([IAC, DO, SGA]) + b"ab" + bytes([IAC, SB, 24, 0, 1, 2, IAC, SE]) + b"c"
    stream += bytes([IAC, IAC, IAC, WILL, 1]) + b"\r\n"
    for cut in range(len(stream)):
        decoder = TelnetDecoder()
        assert decoder.feed(stream[:cut]) + decoder.feed(stream[cut:]) == b"abc\xff\r\n"


def test_accounts_config_is_checked() -> None:
    base = {"routers": {"r": {"host": "127.0.0.1", "platform": "cisco_iosxe",
                              "username": "a", "password": "b"}}}
    loaded = load_config({**base, "defaults": {"accounts": {"ro": {"password": "x"}},
                                                "enable_secret": "e", "telnet": True}})
    router = loaded.routers["r"]
    assert router.accounts["ro"].password == "x" and not router.accounts["ro"].privileged
    assert (router.enable_secret, router.telnet) == ("e", True)
    with pytest.raises(ConfigError, match=r"accounts\.ro"):
        load_config({**base, "defaults": {"accounts": {"ro": {"pass": "x"}}}})
