"""Privilege levels at login, on scrapli's own level data: stay, or climb once with a secret."""

from __future__ import annotations

import pytest
from scrapli.driver.core.arista_eos.base_driver import PRIVS as EOS
from scrapli.driver.core.cisco_iosxe.base_driver import PRIVS as IOSXE
from scrapli.driver.core.cisco_iosxr.base_driver import PRIVS as IOSXR
from scrapli.driver.core.cisco_nxos.base_driver import PRIVS as NXOS
from scrapli.driver.core.juniper_junos.base_driver import PRIVS as JUNOS
from scrapli_community.huawei.vrp.huawei_vrp import DEFAULT_PRIVILEGE_LEVELS as VRP

from linemon_agent.broker.privilege import (
    ESCALATED,
    PROMPTED,
    REFUSED,
    EnableRefused,
    Interaction,
    Plan,
    enable_dialogue,
    enable_outcome,
    landed_level,
    plan,
)

SECRET = "en-S3cret"


@pytest.mark.parametrize(
    ("levels", "prompt", "level"),
    [
        (IOSXE, "pe1>", "exec"),
        (IOSXE, "pe1#", "privilege_exec"),
        (IOSXE, "pe1(config)#", "configuration"),
        (NXOS, "n9k> ", "exec"),
        (EOS, "eos1>", "exec"),
        (IOSXR, "RP/0/RP0/CPU0:xr1#", "privilege_exec"),
        (JUNOS, "lab@mx1> ", "exec"),
        (VRP, "<HUAWEI>", "privilege_exec"),
        (IOSXE, "login: ", None),
    ],
)
def test_landed_level_from_the_prompt(levels: dict, prompt: str, level: str | None) -> None:
    assert landed_level(levels, prompt) == level


def test_user_exec_without_a_secret_stays_there() -> None:
    for levels, prompt in ((IOSXE, "pe1>"), (NXOS, "n9k>"), (EOS, "eos1>")):
        assert plan(levels, prompt, "privilege_exec", has_secret=False) == Plan("exec", "exec")


def test_user_exec_with_a_secret_climbs_once() -> None:
    for levels, prompt in ((IOSXE, "pe1>"), (NXOS, "n9k>"), (EOS, "eos1>")):
        chosen = plan(levels, prompt, "privilege_exec", has_secret=True)
        assert chosen == Plan("exec", "privilege_exec", ("privilege_exec",))


def test_an_account_already_privileged_or_without_levels_stays() -> None:
    assert plan(IOSXE, "pe1#", "privilege_exec", True) == Plan("privilege_exec", "privilege_exec")
    assert plan(JUNOS, "lab@mx1>", "exec", True) == Plan("exec", "exec")
    assert plan(IOSXR, "RP/0/RP0/CPU0:xr1#", "privilege_exec", False).climb == ()
    # landed above the wanted level (configuration): scrapli climbs down, no secret needed
    assert plan(IOSXE, "pe1(config)#", "privilege_exec", False) == Plan(
        "configuration", "privilege_exec"
    )
    assert plan(IOSXE, "Password: ", "privilege_exec", True) is None


def test_enable_outcome_reads_the_last_line() -> None:
    level = IOSXE["privilege_exec"]
    assert enable_outcome(level, "enable\r\nPassword: ") == PROMPTED
    assert enable_outcome(level, "\r\npe1#") == ESCALATED
    assert enable_outcome(level, "enable\r\n% No password set\r\n\r\npe1>") == REFUSED


def _run(levels: dict, target: str, answers: list[str]) -> list[Interaction]:
    """Drive the dialogue with canned router output; the steps it asked for."""
    steps: list[Interaction] = []
    dialogue = enable_dialogue(levels, target, SECRET)
    step = next(dialogue)
    for answer in answers:
        steps.append(step)
        try:
            step = dialogue.send(answer)
        except StopIteration:
            return steps
    raise AssertionError("the dialogue wanted more steps")


def test_enable_sends_the_secret_once_hidden() -> None:
    steps = _run(IOSXE, "privilege_exec", ["enable\r\nPassword: ", "\r\npe1#"])
    assert [s.events for s in steps] == [
        [("enable", IOSXE["privilege_exec"].escalate_prompt, False)],
        [(SECRET, IOSXE["privilege_exec"].pattern, True)],
    ]


def test_enable_without_a_question_is_done_after_the_command() -> None:
    assert len(_run(EOS, "privilege_exec", ["enable\r\neos1#"])) == 1


def test_a_wrong_secret_is_refused_without_quoting_what_followed() -> None:
    for answer in ("\r\nPassword: ", f"{SECRET}\r\n% Access denied\r\neos1>"):
        with pytest.raises(EnableRefused) as refused:
            _run(EOS, "privilege_exec", ["enable\r\nPassword: ", answer])
        assert "not accepted" in str(refused.value) and SECRET not in str(refused.value)


def test_a_refused_command_is_quoted_in_the_routers_words() -> None:
    with pytest.raises(EnableRefused) as refused:
        _run(IOSXE, "privilege_exec", ["enable\r\n% No password set\r\n\r\npe1>"])
    assert "% No password set" in str(refused.value)
