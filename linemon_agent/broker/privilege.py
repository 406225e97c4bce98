"""Privilege levels at login, decided as data: stay where the account lands, or enable (pure).

scrapli's network drivers describe each platform's levels (``exec`` ``pe1>``,
``privilege_exec`` ``pe1#``, ...) as PrivilegeLevel records: a prompt pattern, the level
below (``previous_priv``), the command that climbs to it (``enable``), whether that asks
for a secret and the secret's prompt. Left alone they climb to ``privilege_exec`` on open,
and an account that lands at ``pe1>`` without a secret ends in "Failed to acquire
requested privilege level". linemon instead pings from the level the account lands on
unless it has an enable secret (user EXEC can ping on IOS/IOS-XE, NX-OS and EOS); with a
secret it climbs once, sending the secret at most once (a wrong secret typed again and again
can lock an account out). The functions here take any objects with PrivilegeLevel's
attributes and never do I/O; ``transport`` drives the session.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any

ESCALATED = "escalated"  # the prompt of the wanted level came back
PROMPTED = "prompted"  # the router asks for the secret (again)
REFUSED = "refused"  # anything else: the level below came back, or an error line


class EnableRefused(Exception):
    """The router refused the enable step (never carries the secret or what followed it)."""


@dataclass(frozen=True)
class Interaction:
    """One step for scrapli's channel ``send_inputs_interact``: the (input, expected prompt,
    hidden) events, and the prompts that also end the step."""

    events: list[tuple[str, str, bool]]
    complete: list[str]


@dataclass(frozen=True)
class Plan:
    """Where a session will work (``final``) and the levels to climb to get there."""

    landed: str
    final: str
    climb: tuple[str, ...] = ()


def _matches(pattern: str, text: str) -> bool:
    return bool(pattern) and re.search(pattern, text, flags=re.M | re.I) is not None


def landed_level(levels: Mapping[str, Any], prompt: str) -> str | None:
    """The name of the level whose prompt pattern matches ``prompt`` (first in scrapli's
    order), or None when none does."""
    for level in levels.values():
        if any(word in prompt for word in getattr(level, "not_contains", ())):
            continue
        if _matches(level.pattern, prompt):
            return str(level.name)
    return None


def climb(levels: Mapping[str, Any], landed: str, desired: str) -> tuple[str, ...] | None:
    """The levels from just above ``landed`` up to ``desired``, or None when ``desired`` is
    not above ``landed`` (the same level, or on another branch)."""
    path: list[str] = []
    name = desired
    while name and name != landed and name in levels and len(path) <= len(levels):
        path.append(name)
        name = levels[name].previous_priv
    if name != landed or not path:
        return None
    return tuple(reversed(path))


def plan(levels: Mapping[str, Any], prompt: str, desired: str, has_secret: bool) -> Plan | None:
    """What to do after login at ``prompt``; None when the prompt matches no level (scrapli's
    own handling then applies)."""
    landed = landed_level(levels, prompt)
    if landed is None:
        return None
    path = climb(levels, landed, desired)
    if path is None:
        # above the wanted level (a configuration mode): scrapli's own on_open climbs down,
        # which needs no secret; on another branch or the same level: stay
        above = climb(levels, desired, landed) is not None
        return Plan(landed, desired if above else landed)
    if not has_secret and any(levels[name].escalate_auth for name in path):
        return Plan(landed, landed)  # no secret: work where the account landed
    return Plan(landed, desired, path)


def last_line(output: str) -> str:
    """The last non-blank line of ``output`` (where a prompt is), trailing blanks removed."""
    lines = [line.rstrip() for line in output.replace("\r", "\n").split("\n")]
    return next((line for line in reversed(lines) if line.strip()), "")


def enable_outcome(level: Any, output: str) -> str:
    """How the router answered an escalation step to ``level``: ESCALATED, PROMPTED or
    REFUSED (from the last line of ``output``)."""
    tail = last_line(output)
    if _matches(level.pattern, tail):
        return ESCALATED
    if _matches(level.escalate_prompt, tail):
        return PROMPTED
    return REFUSED


def refusal_words(output: str, command: str, limit: int = 120) -> str:
    """The router's own words when it refused ``command`` before any secret was sent (e.g.
    "% No password set"): the non-blank lines between the echo and the prompt, shortened."""
    lines = [line.strip() for line in output.replace("\r", "\n").split("\n")]
    words = [line for line in lines[:-1] if line and line != command]
    return " / ".join(words)[:limit] or "no reason given"


def enable_dialogue(
    levels: Mapping[str, Any], target: str, secret: str
) -> Generator[Interaction, str, None]:
    """The enable dialogue to climb to ``target``, as steps: each yielded Interaction is run
    by the caller, which sends back what the router printed. Raises EnableRefused.

    The command, then (if the router asks) the secret, once. After the command, a refusal is
    quoted in the router's own words; after the secret nothing the router printed is quoted
    (a broken device could echo it).
    """
    level = levels[target]
    below = levels[level.previous_priv].pattern
    output = yield Interaction(
        [(level.escalate, level.escalate_prompt, False)], [below, level.pattern]
    )
    outcome = enable_outcome(level, output)
    if outcome == ESCALATED:
        return
    if outcome == REFUSED:
        words = refusal_words(output, level.escalate)
        raise EnableRefused(f"{level.escalate!r}: the router answered: {words}")
    output = yield Interaction([(secret, level.pattern, True)], [below, level.escalate_prompt])
    outcome = enable_outcome(level, output)
    if outcome != ESCALATED:
        again = "asked for it again" if outcome == PROMPTED else "stayed below"
        raise EnableRefused(f"{level.escalate!r}: the secret was not accepted (the router {again})")
