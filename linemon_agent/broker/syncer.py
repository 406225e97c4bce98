"""ConfigSyncer: reads line hosts from the Zabbix API, keeps the last good answer on disk.

The API is read with zabbix_utils' synchronous ZabbixAPI in a worker thread (its async
client needs aiohttp, which nothing else here uses). The raw answers are cached in
``<state_dir>/zabbix-cache`` so a broker started while the API is down runs on the last good
line set; staleness is reported in ``linemon status``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import ssl
import time
from pathlib import Path
from typing import Any

from linemon_agent.errors import LinemonError, UnavailableError
from linemon_agent.secrets import Secret, read_secret_env, read_secret_file
from linemon_agent.settings import ZabbixApiSettings
from linemon_agent.zbxmodel import (
    LINE_TAG,
    SyncResult,
    ZbxHost,
    ZbxTemplate,
    build,
    host_proxyid,
    proxy_hosts,
)

log = logging.getLogger("linemon.syncer")

BACKOFF_MAX = 300.0


class SyncError(UnavailableError):
    """The Zabbix API could not be read."""


def _macros(items: list[dict[str, Any]]) -> dict[str, str]:
    # Secret macros (type 1) come back without a value: they are left out.
    return {m["macro"]: m["value"] for m in items if "value" in m}


def fetch_raw(settings: ZabbixApiSettings, token: Secret, password: Secret) -> dict[str, Any]:
    """One full read of the API: line hosts, their templates (any depth), global macros."""
    from zabbix_utils import ZabbixAPI

    try:
        api = ZabbixAPI(
            url=settings.url,
            validate_certs=settings.validate_certs,
            ssl_context=api_ssl_context(settings),
            timeout=int(settings.timeout),
        )
        if token:
            api.login(token=token.value)
        else:
            api.login(user=settings.user, password=password.value)
        seven = api.version >= 7.0
        params: dict[str, Any] = {
            # 7.0 renamed host.proxy_hostid to proxyid and added proxy groups (monitored_by 2,
            # proxy_groupid, assigned_proxyid); 6.0 refuses those names, 7.0 proxy_hostid.
            "output": ["hostid", "host", "status"]
            + (["proxyid", "monitored_by", "proxy_groupid", "assigned_proxyid"] if seven
               else ["proxy_hostid"]),
            "selectTags": ["tag", "value"],
            "selectMacros": ["macro", "value", "type"],
            "selectParentTemplates": ["templateid"],
            "tags": [{"tag": LINE_TAG[0], "value": LINE_TAG[1], "operator": "1"}],
            "monitored_hosts": True,
        }
        proxyid = ""
        if settings.proxy:
            name = "name" if seven else "host"  # 7.0 renamed proxy.host
            proxies = api.proxy.get(output=["proxyid"], filter={name: settings.proxy})
            if not proxies:
                raise SyncError(f"no Zabbix proxy named {settings.proxy!r}")
            proxyid = str(proxies[0]["proxyid"])
        if settings.host_group:
            groups = api.hostgroup.get(output=["groupid"], filter={"name": settings.host_group})
            if not groups:
                raise SyncError(f"no Zabbix host group named {settings.host_group!r}")
            params["groupids"] = [groups[0]["groupid"]]
        if not proxyid:
            hosts = api.host.get(**params)
        else:
            # The proxy's own hosts, and on 7.0 those of its proxy group assigned to it now.
            hosts = api.host.get(proxyids=[proxyid], **params)
            if seven:
                hosts += api.host.get(filter={"assigned_proxyid": [proxyid]}, **params)
            hosts = proxy_hosts(hosts, proxyid)
        templates: dict[str, Any] = {}
        wanted = {t["templateid"] for h in hosts for t in h.get("parentTemplates", [])}
        while wanted - set(templates):
            batch = api.template.get(
                output=["templateid"],
                templateids=sorted(wanted - set(templates)),
                selectMacros=["macro", "value", "type"],
                selectParentTemplates=["templateid"],
            )
            if not batch:
                break
            for template in batch:
                templates[template["templateid"]] = template
                wanted |= {t["templateid"] for t in template.get("parentTemplates", [])}
        global_macros = api.usermacro.get(output=["macro", "value", "type"], globalmacro=True)
        if not token:
            api.logout()
    except SyncError:
        raise
    except Exception as exc:
        raise SyncError(f"Zabbix API {settings.url}: {exc}") from None
    return {"hosts": hosts, "templates": templates, "global": global_macros, "fetched": time.time()}


def api_ssl_context(settings: ZabbixApiSettings) -> ssl.SSLContext | None:
    """The HTTPS context for ``ca_file`` (host names checked too); None: the system's CAs."""
    if not settings.validate_certs or settings.ca_file is None:
        return None
    try:
        return ssl.create_default_context(cafile=str(settings.ca_file))
    except (OSError, ssl.SSLError) as exc:
        raise SyncError(f"zabbix_api.ca_file {str(settings.ca_file)!r}: {exc}") from None


def interpret(raw: dict[str, Any], profiles: list[str], default_platform: str) -> SyncResult:
    """Turn raw API answers into routers and lines (the pure model does the work)."""
    hosts = [
        ZbxHost(
            hostid=h["hostid"],
            host=h["host"],
            macros=_macros(h.get("macros", [])),
            templateids=[t["templateid"] for t in h.get("parentTemplates", [])],
            tags=[(t["tag"], t["value"]) for t in h.get("tags", [])],
            proxyid=host_proxyid(h),
        )
        for h in raw["hosts"]
    ]
    templates = {
        tid: ZbxTemplate(
            tid,
            _macros(t.get("macros", [])),
            [p["templateid"] for p in t.get("parentTemplates", [])],
        )
        for tid, t in raw["templates"].items()
    }
    return build(hosts, templates, _macros(raw["global"]), profiles, default_platform)


class Syncer:
    """Periodic and on-demand sync with a disk cache of the last good answer."""

    def __init__(self, settings: ZabbixApiSettings, state_dir: Path) -> None:
        self.settings = settings
        self.cache_path = state_dir / "zabbix-cache.json"
        self.last_success = 0.0
        self.last_attempt = 0.0
        self.last_error = ""
        self.source = "none"
        self.failures = 0
        self.rejected: dict[str, str] = {}

    def _secrets(self) -> tuple[Secret, Secret]:
        where = "zabbix_api"
        token = Secret()
        password = Secret()
        if self.settings.token_file:
            token = read_secret_file(self.settings.token_file, where, "token_file")
        elif self.settings.token_env:
            token = read_secret_env(self.settings.token_env, where, "token_env")
        elif self.settings.password_file:
            password = read_secret_file(self.settings.password_file, where, "password_file")
        return token, password

    def secret_values(self) -> list[str]:
        try:
            token, password = self._secrets()
        except LinemonError:
            return []
        return [s.value for s in (token, password) if s]

    async def fetch(self) -> dict[str, Any]:
        """Read the API now; on success write the cache. Raises SyncError."""
        self.last_attempt = time.time()
        try:
            token, password = self._secrets()
            raw = await asyncio.to_thread(fetch_raw, self.settings, token, password)
        except LinemonError as exc:
            self.failures += 1
            self.last_error = str(exc)
            raise SyncError(str(exc)) from None
        self._write_cache(raw)
        self.last_success = raw["fetched"]
        self.last_error = ""
        self.failures = 0
        self.source = "api"
        return raw

    def load_cache(self) -> dict[str, Any] | None:
        try:
            raw: dict[str, Any] = json.loads(self.cache_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        self.source = "cache"
        self.last_success = float(raw.get("fetched", 0.0))
        return raw

    def _write_cache(self, raw: dict[str, Any]) -> None:
        tmp = self.cache_path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(raw, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.cache_path)

    def next_delay(self) -> float:
        if self.failures == 0:
            return self.settings.interval
        backoff = min(BACKOFF_MAX, 5.0 * 2 ** (self.failures - 1), self.settings.interval)
        return float(backoff * random.uniform(0.8, 1.2))

    def status(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "last_success": round(self.last_success, 1),
            "stale_s": round(time.time() - self.last_success, 1) if self.last_success else None,
            "last_error": self.last_error,
            "failures": self.failures,
            "rejected_lines": len(self.rejected),
        }
