"""The registry of router pools: one per configured router, made on first use, closed on removal.

Pools open sessions through a session factory given to them (the broker's is
``SessionFactory``, which logs in with the running configuration's credentials); tests give
their own. Keepalives run across pools at once, bounded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from linemon_agent import models
from linemon_agent.errors import SessionError
from linemon_agent.models import Diff, Router, diff_keys
from linemon_agent.settings import Config

from .hostkeys import HostKeys
from .sessions import Opener, RateLimiter, RouterPool
from .transport import Session, open_session
from .views import RouterView

log = logging.getLogger("linemon.pools")

KEEPALIVE_CONCURRENCY = 32  # pools kept warm at once
CLOSE_TIMEOUT = 3.0  # every session's polite close, all at once, at shutdown


class SessionFactory:
    """Opens a session to a router with the credentials of the running configuration."""

    def __init__(self, config: Config) -> None:
        self.config = config

    async def __call__(self, router: Router) -> Session:
        creds = self.config.credentials.get(router.credentials)
        if creds is None:
            raise SessionError(
                router.name,
                models.STATUS_AUTH_ERROR,
                f"no credentials profile {router.credentials!r}",
            )
        transport = router.transport or self.config.broker.transport
        return await open_session(
            router, creds, HostKeys.from_settings(self.config.broker), transport
        )


class Pools:
    """Every router's pool, kept in step with the configured routers."""

    def __init__(self, opener: Opener, config: Config) -> None:
        self._opener = opener
        self._settings = config.broker
        self._open_limiter = RateLimiter(config.broker.session_opens_per_second)
        self.routers: dict[str, Router] = {}
        self._pools: dict[str, RouterPool] = {}

    def __contains__(self, name: str) -> bool:
        return name in self.routers

    def get(self, name: str) -> RouterPool:
        pool = self._pools.get(name)
        if pool is None:
            pool = RouterPool(
                self.routers[name],
                self._opener,
                self._open_limiter,
                self._settings.keepalive_interval,
                RateLimiter(self._settings.router_pings_per_second),
            )
            self._pools[name] = pool
        return pool

    def opened(self) -> list[RouterPool]:
        return list(self._pools.values())

    async def apply(self, routers: Mapping[str, Router], config: Config) -> Diff:
        """Take the new router set; close the pools of removed and changed routers."""
        diff = diff_keys(self.routers, routers)
        self.routers = dict(routers)
        self._settings = config.broker
        names = [name for name in diff.removed + diff.changed if name in self._pools]
        gone = [self._pools.pop(name) for name in names]
        await asyncio.gather(*(pool.close() for pool in gone), return_exceptions=True)
        return diff

    def views(self) -> dict[str, RouterView]:
        """Every configured router's view, by name (unopened ones with zeros)."""
        views = {}
        for name, router in sorted(self.routers.items()):
            pool = self._pools.get(name)
            views[name] = pool.view() if pool is not None else RouterView.unopened(router)
        return views

    async def keep_warm(self) -> None:
        """One keepalive round over every pool, ``KEEPALIVE_CONCURRENCY`` at a time."""
        gate = asyncio.Semaphore(KEEPALIVE_CONCURRENCY)

        async def one(pool: RouterPool) -> None:
            async with gate:
                try:
                    await pool.keep_warm()
                except Exception:
                    log.exception("keepalive failed", extra={"router": pool.router.name})

        await asyncio.gather(*(one(pool) for pool in self.opened()))

    async def close_all(self) -> None:
        """Close every router's sessions at once, within ``CLOSE_TIMEOUT``."""
        closing = asyncio.gather(*(p.close() for p in self.opened()), return_exceptions=True)
        try:
            await asyncio.wait_for(closing, CLOSE_TIMEOUT)
        except TimeoutError:
            log.warning("sessions still closing at exit", extra={"after_s": CLOSE_TIMEOUT})
