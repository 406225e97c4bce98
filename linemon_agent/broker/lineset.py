"""Where the running line set comes from: the config file and the last good Zabbix answer.

``LineSource`` composes the two into one ``Config``, reloads the file on request, syncs
from the Zabbix API on request and on its own schedule, and remembers which Zabbix hosts
were refused and why. It hands each new configuration to a callback (the broker's apply);
it knows nothing else of the broker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from linemon_agent import log as logsetup
from linemon_agent.config import load_config
from linemon_agent.errors import LinemonError
from linemon_agent.settings import Config
from linemon_agent.zbxmodel import merge

from .syncer import Syncer, interpret

log = logging.getLogger("linemon.lineset")

Apply = Callable[[Config], Awaitable[dict[str, int]]]
Prepare = Callable[[Config], Callable[[], None]]


def secret_values(config: Config) -> list[str]:
    """Every secret of the configuration, for the log redactor."""
    return [
        secret.value
        for c in config.credentials.values()
        for secret in (c.password, c.enable_password)
        if secret
    ]


class LineSource:
    """The file configuration and the last good Zabbix answer, composed into one Config."""

    def __init__(self, config_path: Path, file_config: Config, syncer: Syncer | None) -> None:
        self.config_path = config_path
        self.file_config = file_config
        self.syncer = syncer
        self.raw: dict[str, Any] | None = None
        #: Zabbix host -> why its line was refused
        self.rejected: dict[str, str] = {}
        self._logged: set[tuple[str, str]] = set()

    async def first_fetch(self) -> None:
        """The first Zabbix answer, or the cached one when the API is down at start."""
        if self.syncer is None:
            return
        logsetup.REDACTOR.register(self.syncer.secret_values())
        try:
            self.raw = await asyncio.wait_for(self.syncer.fetch(), self.syncer.settings.timeout)
        except (LinemonError, TimeoutError) as exc:
            self.raw = self.syncer.load_cache()
            log.error(
                "Zabbix API unavailable at start; using the cached line set"
                if self.raw
                else "Zabbix API unavailable and no cache: no synced lines",
                extra={"error": str(exc)},
            )

    def compose(self) -> Config:
        """The file's configuration with the Zabbix lines merged in."""
        if self.syncer is None or self.raw is None:
            return self.file_config
        result = interpret(
            self.raw,
            list(self.file_config.credentials),
            self.file_config.zabbix_api.default_platform,
        )
        merged, refused = merge(self.file_config, result)
        self.syncer.rejected = refused
        self.rejected = refused
        for host, reason in refused.items():
            if (host, reason) not in self._logged:
                log.warning("Zabbix line refused", extra={"zabbix_host": host, "reason": reason})
        for warning in result.warnings:
            if ("", warning) not in self._logged:
                log.warning(warning)
        self._logged = set(refused.items()) | {("", w) for w in result.warnings}
        logsetup.REDACTOR.register(secret_values(merged))
        return merged

    async def reload(self, apply: Apply, prepare: Prepare) -> dict[str, Any]:
        """Read the config file again and apply it; a bad file keeps the running one.

        ``prepare`` checks what the new file needs beyond parsing (the Zabbix sender with
        its TLS files) and returns how to put it in place once the file is taken.
        """
        try:
            new = load_config(self.config_path)
            install = prepare(new)
        except LinemonError as exc:
            log.error(
                "reload refused; keeping the running configuration", extra={"error": str(exc)}
            )
            raise
        logsetup.REDACTOR.register(secret_values(new))
        if new.broker.log_level != self.file_config.broker.log_level:
            logsetup.set_level(new.broker.log_level)
            log.warning("log level changed", extra={"log_level": new.broker.log_level})
        self.file_config = new
        install()
        return await apply(self.compose())

    async def sync(self, apply: Apply) -> dict[str, Any]:
        """Fetch from the Zabbix API now and apply the result."""
        assert self.syncer is not None
        self.raw = await self.syncer.fetch()
        summary = await apply(self.compose())
        return {**summary, **self.syncer.status()}

    async def sync_forever(self, apply: Apply) -> None:
        """Sync on the syncer's schedule; a failed fetch keeps the last good line set."""
        assert self.syncer is not None
        while True:
            await asyncio.sleep(self.syncer.next_delay())
            try:
                self.raw = await self.syncer.fetch()
            except LinemonError as exc:
                log.warning(
                    "Zabbix API sync failed; keeping the last good line set",
                    extra={"error": str(exc), "failures": self.syncer.failures},
                )
                continue
            await apply(self.compose())
