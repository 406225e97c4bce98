"""The platform registry: core platforms listed here, third-party ones by entry point.

Third-party packages add a platform by declaring an entry point in the group
``linemon.platforms`` whose value is a :class:`~linemon_agent.platforms.base.Platform`
subclass or instance, e.g. in setup.cfg::

    [options.entry_points]
    linemon.platforms =
        acme_os = acme_linemon.platform:AcmeOS

Nothing is registered by importing a module; lookups import what they need, lazily.
"""

from __future__ import annotations

import importlib
from functools import cache, lru_cache

from linemon_agent.errors import LinemonError, UnknownPlatformError
from linemon_agent.platforms.base import Platform

ENTRY_POINT_GROUP = "linemon.platforms"

CORE_PLATFORMS: dict[str, str] = {
    "cisco_iosxe": "linemon_agent.platforms.cisco_iosxe:CiscoIOSXE",
    "cisco_iosxr": "linemon_agent.platforms.cisco_iosxr:CiscoIOSXR",
    "cisco_nxos": "linemon_agent.platforms.cisco_nxos:CiscoNXOS",
    "juniper_junos": "linemon_agent.platforms.juniper_junos:JuniperJunos",
    "arista_eos": "linemon_agent.platforms.arista_eos:AristaEOS",
    "huawei_vrp": "linemon_agent.platforms.huawei_vrp:HuaweiVRP",
    "mikrotik_routeros": "linemon_agent.platforms.mikrotik_routeros:MikrotikRouterOS",
    "mikrotik_routeros_v6": "linemon_agent.platforms.mikrotik_routeros:MikrotikRouterOSv6",
    "h3c_comware": "linemon_agent.platforms.h3c_comware:H3CComware",
    "nokia_sros": "linemon_agent.platforms.nokia_sros:NokiaSROS",
    "nokia_sros_classic": "linemon_agent.platforms.nokia_sros:NokiaSROSClassic",
    "nokia_srlinux": "linemon_agent.platforms.nokia_srlinux:NokiaSRLinux",
    "vyos": "linemon_agent.platforms.vyos:VyOS",
    "linux": "linemon_agent.platforms.linux:Linux",
}
# Other names operators know a core platform by (scrapli-community's, the vendor's old one).
ALIASES: dict[str, str] = {"hp_comware": "h3c_comware"}


def _load(name: str, spec: str) -> object:
    module_name, _, attr = spec.partition(":")
    try:
        obj: object = importlib.import_module(module_name)
        for part in attr.split(".") if attr else ():
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise LinemonError(f"platform {name!r} ({spec}) cannot be loaded: {exc}") from exc
    return obj


def _instantiate(name: str, obj: object) -> Platform:
    if isinstance(obj, type) and issubclass(obj, Platform):
        obj = obj()
    if not isinstance(obj, Platform):
        raise LinemonError(f"platform {name!r} does not provide a Platform (got {obj!r})")
    if obj.name != name:
        raise LinemonError(f"platform registered as {name!r} calls itself {obj.name!r}")
    return obj


@lru_cache(maxsize=1)
def _plugin_specs() -> dict[str, str]:
    from importlib.metadata import entry_points

    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def platform_names() -> list[str]:
    """Every platform name: core first, then plugins (a plugin cannot shadow a core name or
    an alias)."""
    names = list(CORE_PLATFORMS)
    names += sorted(n for n in _plugin_specs() if n not in CORE_PLATFORMS and n not in ALIASES)
    return names


@cache
def get_platform(name: str) -> Platform:
    """The platform called ``name`` (or an alias of it); :class:`UnknownPlatformError` lists
    the known ones."""
    if name in ALIASES:
        return get_platform(ALIASES[name])
    spec = CORE_PLATFORMS.get(name)
    if spec is None:
        spec = _plugin_specs().get(name)
    if spec is None:
        raise UnknownPlatformError(name, platform_names() + sorted(ALIASES))
    return _instantiate(name, _load(name, spec))


__all__ = [
    "ALIASES",
    "CORE_PLATFORMS",
    "ENTRY_POINT_GROUP",
    "Platform",
    "get_platform",
    "platform_names",
]
