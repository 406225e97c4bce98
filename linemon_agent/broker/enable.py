"""The enable step at login: the account's landing level, and one ``enable`` with the secret
when there is one, run on scrapli's channel (``privilege`` decides; this only talks).

With ``transport``, the only modules that touch scrapli."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from linemon_agent.broker import privilege

ENABLE_TIMEOUT_S = 10.0


class EnableTimeout(Exception):
    """The enable step got no prompt in time."""


@contextlib.contextmanager
def _enable_bounds(conn: Any) -> Iterator[None]:
    """Each enable step within ENABLE_TIMEOUT_S; a timeout becomes EnableTimeout."""
    from scrapli.exceptions import ScrapliTimeout

    saved, conn.timeout_ops = conn.timeout_ops, ENABLE_TIMEOUT_S
    try:
        yield
    except ScrapliTimeout:
        raise EnableTimeout(f"no prompt within {ENABLE_TIMEOUT_S:g} s") from None
    finally:
        conn.timeout_ops = saved


# The enable dialogue runs on the channel's send_inputs_interact, not the driver's
# send_interactive: that one first climbs with scrapli's own loop, which retries a refused
# secret up to the number of levels times two and, after a refusal, types the secret at the
# prompt below as a command.


async def _enable_async(conn: Any, target: str, secret: str) -> None:
    dialogue = privilege.enable_dialogue(conn.privilege_levels, target, secret)
    with _enable_bounds(conn):
        step = next(dialogue)
        while True:
            raw, _ = await conn.channel.send_inputs_interact(
                step.events, interaction_complete_patterns=step.complete
            )
            try:
                step = dialogue.send(raw.decode(errors="replace"))
            except StopIteration:
                return


def _enable_sync(conn: Any, target: str, secret: str) -> None:
    dialogue = privilege.enable_dialogue(conn.privilege_levels, target, secret)
    with _enable_bounds(conn):
        step = next(dialogue)
        while True:
            raw, _ = conn.channel.send_inputs_interact(
                step.events, interaction_complete_patterns=step.complete
            )
            try:
                step = dialogue.send(raw.decode(errors="replace"))
            except StopIteration:
                return


def _privilege_plan(conn: Any, prompt: str, secret: str) -> privilege.Plan | None:
    levels = getattr(conn, "privilege_levels", None)
    if not levels:
        return None  # generic driver: no levels
    return privilege.plan(levels, prompt, conn.default_desired_privilege_level, bool(secret))


def async_on_open(original: Any, secret: str) -> Any:
    """scrapli's on_open for the platform, run at the level the account lands on, after one
    ``enable`` when there is a secret (see ``privilege``)."""

    async def on_open(conn: Any) -> None:
        chosen = _privilege_plan(conn, await conn.get_prompt(), secret)
        if chosen is not None:
            for name in chosen.climb:
                await _enable_async(conn, name, secret)
            conn.default_desired_privilege_level = chosen.final
        if original is not None:
            await original(conn)

    return on_open


def sync_on_open(original: Any, secret: str) -> Any:
    def on_open(conn: Any) -> None:
        chosen = _privilege_plan(conn, conn.get_prompt(), secret)
        if chosen is not None:
            for name in chosen.climb:
                _enable_sync(conn, name, secret)
            conn.default_desired_privilege_level = chosen.final
        if original is not None:
            original(conn)

    return on_open
