"""The Zabbix sender: zabbix_utils' AsyncSender to the server, a proxy, a 7.0 proxy group's
members or the agent's own ServerActive, encrypted as Zabbix's TLS settings say; one batch is
one request, and its answer is (processed, failed, total).
"""

from __future__ import annotations

import asyncio
import configparser
import textwrap
from collections.abc import Awaitable, Callable
from typing import Any

import zabbix_utils.common
from zabbix_utils import AsyncSender, ItemValue

from linemon_agent import zbxtls
from linemon_agent.errors import ConfigError
from linemon_agent.log import REDACTOR
from linemon_agent.settings import ZabbixSettings

Send = Callable[[list[dict[str, str | int]]], Awaitable[tuple[int, int, int]]]
UNCHUNKED = 1 << 30  # never let AsyncSender split a batch: one batch, one answer


def _excerpt(text: str, width: int, placeholder: str = "...") -> str:
    """The first ``width`` characters, for a debug line (textwrap.shorten's job, cheaply)."""
    return text if len(text) <= width else text[: width - len(placeholder)] + placeholder


# zabbix_utils 2.0.4 (ZabbixProtocol.create_packet) formats every packet twice with
# textwrap.shorten for a debug line, eagerly, even when debug logging is off: that re-splits the
# whole JSON into words and was a third of the sender's CPU at 250-value batches (profiled by
# scripts/bench's delivery scenario). Its module-level name is swapped for a plain excerpt.
if zabbix_utils.common.shorten is textwrap.shorten:
    zabbix_utils.common.shorten = _excerpt


def _counts(response: Any, sent: int) -> tuple[int, int, int]:
    """(processed, failed, total) from an AsyncSender response; with several independent
    destinations (ServerActive "a,b"), a value counts as processed only where all took it."""
    per_node = [
        (sum(r.processed for r in chunks), sum(r.failed for r in chunks))
        for chunks in response.details.values()
    ]
    processed = min((p for p, _ in per_node), default=0)
    return processed, max((f for _, f in per_node), default=0), sent


def members(settings: ZabbixSettings) -> list[str]:
    """``server = "a;b:10052"``: the members of one Zabbix 7.0 proxy group (or HA cluster), as
    the agent's ServerActive writes them; a member without a port has ``port``."""
    return [m if ":" in m else f"{m}:{settings.port}"
            for m in (m.strip() for m in settings.server.split(";")) if m]


def keep_members(sender: AsyncSender, settings: ZabbixSettings) -> None:
    """zabbix_utils (2.0.4) follows a 7.0 redirect ("this host is on proxy B") by overwriting
    the member that answered with B's address: put back a member so lost, so the next batch
    can still reach it (it tries the one that answered last first)."""
    if ";" not in settings.server or settings.use_agent_config:
        return
    nodes = sender.clusters[0].nodes
    have = {f"{n.address}:{n.port}" for n in nodes}
    for member in members(settings):
        if member not in have:
            nodes.append(type(nodes[0])(*member.split(":")))


def zabbix_sender(settings: ZabbixSettings) -> Send:
    """The real ``send``: zabbix_utils AsyncSender to ``server:port``, or to the agent's own
    ``ServerActive`` when ``use_agent_config`` is set, encrypted as ``tls_connect`` (or the
    agent's ``TLSConnect``) says. One batch is always one request.

    Raises ConfigError when the TLS settings or their files cannot work (checked here, before
    any value is sent); the PSK is registered with the log redactor."""
    if settings.use_agent_config:
        try:
            sender = AsyncSender(
                use_config=True,
                config_path=str(settings.agent_config),
                timeout=settings.send_timeout,
                chunk_size=UNCHUNKED,
            )
        except (OSError, configparser.Error, ValueError, TypeError) as exc:
            raise ConfigError(
                str(settings.agent_config), "ServerActive", f"cannot use it to send: {exc}"
            ) from exc
        tls = zbxtls.load(
            zbxtls.from_agent(sender.tls, str(settings.agent_config)), str(settings.agent_config)
        )
        where = ", ".join(str(node) for cluster in sender.clusters for node in cluster.nodes)
    elif ";" in settings.server:  # the members of a 7.0 proxy group (or an HA cluster)
        tls = zbxtls.load(zbxtls.from_zabbix(settings), "[zabbix]")
        sender = AsyncSender(
            clusters=[members(settings)], timeout=settings.send_timeout, chunk_size=UNCHUNKED
        )
        where = settings.server
    else:
        tls = zbxtls.load(zbxtls.from_zabbix(settings), "[zabbix]")
        sender = AsyncSender(
            server=settings.server,
            port=settings.port,
            timeout=settings.send_timeout,
            chunk_size=UNCHUNKED,
        )
        where = f"{settings.server}:{settings.port}"
    if tls.context is not None:
        sender.ssl_context = tls.ssl_context
    REDACTOR.register(tls.secret_values())

    async def send(values: list[dict[str, str | int]]) -> tuple[int, int, int]:
        items = [
            ItemValue(v["host"], v["key"], v["value"], v["clock"], v["ns"]) for v in values
        ]
        try:
            # AsyncSender bounds connect and write, not the wait for the reply: bound it here.
            response = await asyncio.wait_for(sender.send(items), settings.send_timeout)
        except Exception as exc:
            words = zbxtls.failure(exc, tls.settings, where)
            if words is None:
                raise
            raise words from None
        finally:
            keep_members(sender, settings)
        return _counts(response, len(values))

    return send
