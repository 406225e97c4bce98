"""Zabbix hosts and macros -> linemon routers and lines (pure; the seed's data model).

A line is a Zabbix host tagged ``TempType=LINE``; its technical name is the line IP (or
``{$LINE_TARGET}``). Macros resolve host -> linked templates (any depth, nearest first) ->
global. Every value is validated exactly as config-file values are; a bad line is skipped
with a reason, never sent to a router.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from linemon_agent import validate
from linemon_agent.config import parse_line, parse_router
from linemon_agent.errors import LinemonError, ValidationError
from linemon_agent.models import DEFAULT_ITEM_KEY, Line, Router
from linemon_agent.options import PING_OPTIONS
from linemon_agent.platforms import get_platform
from linemon_agent.secrets import Secret
from linemon_agent.settings import TELNET_PORT, Config, Credentials

LINE_TAG = ("TempType", "LINE")
DEFAULT_INTERVAL = 180

# macro -> line field
LINE_MACROS = {
    "{$LINE_TARGET}": "target",
    **{option.macro: option.name for option in PING_OPTIONS},
}
_MACRO_REF = re.compile(r"\{\$[A-Z0-9_.]+(?::[^}]*)?\}")


@dataclass(frozen=True)
class ZbxHost:
    """What the API says about one host: name, tags, own macros, linked template ids."""

    hostid: str
    host: str
    macros: Mapping[str, str]
    templateids: Sequence[str] = ()
    tags: Sequence[tuple[str, str]] = ()
    proxyid: str = ""


@dataclass(frozen=True)
class ZbxTemplate:
    templateid: str
    macros: Mapping[str, str]
    templateids: Sequence[str] = ()


@dataclass
class SyncResult:
    routers: dict[str, Router] = field(default_factory=dict)
    lines: dict[str, Line] = field(default_factory=dict)
    # router name -> (username, password, enable secret or "") taken from macros (the seed's way)
    macro_credentials: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


# host.monitored_by (7.0): 0 the server, 1 a proxy (proxyid), 2 a proxy group (proxy_groupid;
# the server picks the member that monitors it now: assigned_proxyid, "0" while none is)
MONITORED_BY_PROXY = "1"
MONITORED_BY_PROXY_GROUP = "2"


def monitored_by(row: Mapping[str, Any], proxyid: str) -> bool:
    """Does the proxy ``proxyid`` monitor this host (an API row) now?

    Directly (6.0's ``proxy_hostid``, 7.0's ``proxyid`` with ``monitored_by`` 1) or, on 7.0,
    as the member of the host's proxy group the server assigned it to (``monitored_by`` 2,
    ``assigned_proxyid``): that assignment moves when a proxy stays offline past the group's
    failover_delay, so it is read again on every sync.
    """
    mode = str(row.get("monitored_by", MONITORED_BY_PROXY))
    if mode not in (MONITORED_BY_PROXY, MONITORED_BY_PROXY_GROUP):
        return False
    return proxyid not in ("", "0") and host_proxyid(row) == proxyid


def host_proxyid(row: Mapping[str, Any]) -> str:
    """The proxy that monitors this host (an API row) now; "" or "0" for none."""
    if str(row.get("monitored_by", "")) == MONITORED_BY_PROXY_GROUP:
        return str(row.get("assigned_proxyid") or "")
    return str(row.get("proxyid", row.get("proxy_hostid", "")))


def proxy_hosts(rows: Sequence[Mapping[str, Any]], proxyid: str) -> list[dict[str, Any]]:
    """The rows of hosts ``proxyid`` monitors now, each once, in the order first seen (the
    API is asked twice on 7.0: by ``proxyids`` and by ``assigned_proxyid``)."""
    seen: set[str] = set()
    kept: list[dict[str, Any]] = []
    for row in rows:
        if row["hostid"] in seen or not monitored_by(row, proxyid):
            continue
        seen.add(row["hostid"])
        kept.append(dict(row))
    return kept


def resolve_macros(
    host: ZbxHost, templates: Mapping[str, ZbxTemplate], global_macros: Mapping[str, str]
) -> dict[str, str]:
    """Effective macros of ``host``: its own, then its templates' (breadth first), then global."""
    resolved = dict(global_macros)
    order: list[str] = []
    queue = list(sorted(host.templateids))
    seen: set[str] = set()
    while queue:
        templateid = queue.pop(0)
        if templateid in seen or templateid not in templates:
            continue
        seen.add(templateid)
        order.append(templateid)
        queue.extend(sorted(templates[templateid].templateids))
    for templateid in reversed(order):  # nearer templates override farther ones
        resolved.update(templates[templateid].macros)
    resolved.update(host.macros)
    return resolved


def is_line_host(host: ZbxHost) -> bool:
    return LINE_TAG in {(t, v) for t, v in host.tags}


def _value(macros: Mapping[str, str], name: str) -> str | None:
    value = macros.get(name)
    if value is None:
        return None
    if _MACRO_REF.search(value):
        raise ValidationError(name, value, "contains an unresolved macro")
    return value


def router_protocol(value: str | None) -> tuple[str, int]:
    """``{$LINE_ROUTER_PROTOCOL}`` -> (transport, port): ssh, ssh:PORT, telnet, telnet:PORT.
    The transport is "" for SSH (the broker's own choice of SSH client)."""
    protocol = (value or "ssh").lower()
    kind, _, port = protocol.partition(":")
    defaults = {"ssh": ("", 22), "telnet": ("telnet", TELNET_PORT)}
    if kind not in defaults or (protocol.endswith(":") and not port):
        raise ValidationError(
            "{$LINE_ROUTER_PROTOCOL}", protocol, "ssh, ssh:PORT, telnet or telnet:PORT"
        )
    transport, default_port = defaults[kind]
    if port:
        return transport, validate.integer(port, "{$LINE_ROUTER_PROTOCOL}", 1, 65535)
    return transport, default_port


def line_from_host(
    host: ZbxHost, macros: Mapping[str, str], profiles: Sequence[str], default_platform: str
) -> tuple[Router, Line, tuple[str, str, str] | None, list[str]]:
    """One line (and its router) from a host's effective macros; raises ValidationError."""
    warnings: list[str] = []
    router_ip = _value(macros, "{$LINE_ROUTER_IP}")
    if not router_ip:
        raise ValidationError("{$LINE_ROUTER_IP}", "", "is required")
    router_host = validate.target(router_ip, "{$LINE_ROUTER_IP}")
    transport, port = router_protocol(_value(macros, "{$LINE_ROUTER_PROTOCOL}"))
    platform = _value(macros, "{$LINE_ROUTER_PLATFORM}") or default_platform
    profile = _value(macros, "{$LINE_CREDENTIALS}")
    creds: tuple[str, str, str] | None = None
    name = f"{router_host}:{port}" if (transport, port) != ("", 22) else router_host
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    if profile:
        profile = validate.name(profile, "{$LINE_CREDENTIALS}")
        if profile not in profiles:
            raise ValidationError(
                "{$LINE_CREDENTIALS}", profile, "no such local credentials profile"
            )
    else:
        username = _value(macros, "{$LINE_ROUTER_USERNAME}")
        password = macros.get("{$LINE_ROUTER_PASSWORD}")
        if username and password:
            enable = macros.get("{$LINE_ROUTER_ENABLE_PASSWORD}") or ""
            creds = (validate.name(username, "{$LINE_ROUTER_USERNAME}"), password, enable)
            profile = f"zabbix-macro-{name}"
            warnings.append(
                f"host {host.host}: router password taken from a Zabbix macro (readable by "
                "Zabbix users); prefer {$LINE_CREDENTIALS} and a local secret file"
            )
            if enable:
                warnings.append(
                    f"host {host.host}: enable secret taken from a Zabbix macro (readable by "
                    "Zabbix users); prefer {$LINE_CREDENTIALS} and enable_password_file"
                )
        elif "default" in profiles:
            profile = "default"
        else:
            raise ValidationError(
                "{$LINE_CREDENTIALS}",
                "",
                "no credentials: set {$LINE_CREDENTIALS} or {$LINE_ROUTER_USERNAME}/PASSWORD",
            )
    if creds is None and macros.get("{$LINE_ROUTER_ENABLE_PASSWORD}"):
        warnings.append(
            f"host {host.host}: {{$LINE_ROUTER_ENABLE_PASSWORD}} ignored: the local credentials "
            f"profile {profile!r} applies (give it an enable_password_file)"
        )
    router = parse_router(
        {
            "name": name,
            "host": router_host,
            "port": port,
            "platform": platform,
            "credentials": profile,
            **({"transport": transport} if transport else {}),
        }
    )
    line_id = _value(macros, "{$LINE_ID}") or host.host
    spec: dict[str, Any] = {
        "id": line_id,
        "router": name,
        "target": host.host,
        "interval": _value(macros, "{$LINE_CHECK_INTERVAL}") or DEFAULT_INTERVAL,
        "zabbix_host": host.host,
        "zabbix_key": DEFAULT_ITEM_KEY,
    }
    report_host = _value(macros, "{$LINE_REPORT_HOST}")
    if report_host:  # the LLD style: results go to one host (router or agent), a key per line
        spec["zabbix_host"] = validate.zabbix_host(report_host, "{$LINE_REPORT_HOST}")
        spec["zabbix_key"] = f"{DEFAULT_ITEM_KEY}[{validate.name(line_id, '{$LINE_ID}')}]"
    for macro, key in LINE_MACROS.items():
        value = _value(macros, macro)
        if value not in (None, ""):
            spec[key] = value
    line = parse_line(spec, origin="zabbix")
    get_platform(router.platform).build_ping(line.request)
    return router, line, creds, warnings


def build(
    hosts: Sequence[ZbxHost],
    templates: Mapping[str, ZbxTemplate],
    global_macros: Mapping[str, str],
    profiles: Sequence[str],
    default_platform: str = "cisco_iosxe",
) -> SyncResult:
    """The routers and lines the Zabbix hosts describe; bad hosts go to ``errors``."""
    result = SyncResult()
    for host in sorted(hosts, key=lambda h: h.host):
        if not is_line_host(host):
            continue
        macros = resolve_macros(host, templates, global_macros)
        try:
            router, line, creds, warnings = line_from_host(host, macros, profiles, default_platform)
        except LinemonError as exc:
            result.errors[host.host] = str(exc)
            continue
        known = result.routers.get(router.name)
        if known is not None and known != router:
            result.errors[host.host] = (
                f"router {router.name} is described differently by another line host "
                f"(platform {known.platform!r} vs {router.platform!r})"
            )
            continue
        if line.id in result.lines:
            result.errors[host.host] = f"duplicate {{$LINE_ID}} {line.id!r}"
            continue
        result.routers[router.name] = router
        result.lines[line.id] = line
        if creds is not None:
            result.macro_credentials[router.name] = creds
        result.warnings.extend(warnings)
    return result


def merge(config: Config, synced: SyncResult) -> tuple[Config, dict[str, str]]:
    """The file configuration plus what Zabbix describes; the file wins on a name clash.

    Returns the merged config and the synced lines refused for a clash, by host.
    """
    routers = dict(config.routers)
    credentials = dict(config.credentials)
    lines = dict(config.lines)
    refused = dict(synced.errors)
    for name, (username, password, enable) in synced.macro_credentials.items():
        profile = f"zabbix-macro-{name}"
        credentials.setdefault(
            profile,
            Credentials(
                profile,
                username,
                Secret(password, "Zabbix macro"),
                enable_password=Secret(enable, "Zabbix macro") if enable else Secret(),
            ),
        )
    for line in synced.lines.values():
        router = synced.routers[line.router]
        if line.id in lines:
            refused[line.zabbix_host] = f"line id {line.id!r} is already defined in the file"
            continue
        if router.name in config.routers and config.routers[router.name] != router:
            refused[line.zabbix_host] = f"router {router.name!r} is defined in the file"
            continue
        routers[router.name] = router
        lines[line.id] = line
    merged = dataclasses.replace(config, routers=routers, credentials=credentials, lines=lines)
    return merged, refused
