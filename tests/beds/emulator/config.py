"""The emulator's configuration: a JSON document of routers, their targets and faults.

::

    {
      "time_scale": 0.01,          # 1.0 = pings take as long as on the real device
      "seed": 7,                   # optional: reproducible loss and jitter
      "loss_model": "random",      # or "even": exactly round(loss * n) of every n probes
      "record_limit": 1048576,     # bytes received kept per router
      "default_target": {"loss": 0, "rtt_ms": 2, "jitter_ms": 0.5, "unreachable": false},
      "defaults": {"username": "lab", "password": "lab", "max_sessions": 5},
      "routers": {
        "pe1": {"host": "127.0.1.1", "port": 0, "platform": "cisco_iosxe",
                "username": "lab", "password": "lab", "authorized_keys": ["ssh-rsa AAAA..."],
                "max_sessions": 5, "hostname": "pe1", "hosts": {"cpe.example": "198.51.100.7"},
                "accounts": {"ro": {"password": "ro-pw", "privileged": false}},
                "enable_secret": "en-pw", "telnet": true,
                "targets": {"198.51.100.7": {"loss": 0.2, "rtt_ms": 12, "jitter_ms": 3}},
                "default_target": {"rtt_ms": 5},
                "faults": {"silent": false, "drop_mid_command": false, "refuse_auth": false,
                           "slow_login_s": 0, "down": false}}
      }
    }

``defaults`` fills every router's missing keys. :func:`fleet_config` builds a large fleet.

``username``/``password`` is an account that lands privileged (``pe1#``); ``accounts`` adds
others, which land in user EXEC (``pe1>``) unless ``privileged`` on the platforms that have
that mode (IOS-XE, NX-OS, EOS; elsewhere every account lands at the one prompt).
``enable_secret`` is what ``enable`` asks for (none: IOS-XE says "% No password set", NX-OS
and EOS climb without asking). ``telnet`` adds a telnet listener on the router's address
(its own port, in the ready line as ``telnet_port``) with the same CLI and accounts.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import asyncssh

from tests.beds.emulator.render import PLATFORMS

LOSS_MODELS = ("random", "even")
_HOSTNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")


class ConfigError(ValueError):
    """A configuration value the emulator cannot use; the message names where it is."""


@dataclass(frozen=True)
class Behaviour:
    """How a target answers: each probe is lost with probability ``loss``; a reply takes
    ``rtt_ms`` ± up to ``jitter_ms``; ``unreachable`` answers every probe with ICMP
    unreachable instead."""

    loss: float = 0.0
    rtt_ms: float = 1.0
    jitter_ms: float = 0.0
    unreachable: bool = False

    def updated(self, values: Mapping[str, Any], where: str) -> Behaviour:
        """A copy with ``values`` applied; ConfigError names ``where`` on a bad one."""
        changes: dict[str, Any] = {}
        for key, value in values.items():
            if key == "unreachable":
                changes[key] = _boolean(value, f"{where}.{key}")
            elif key in ("loss", "rtt_ms", "jitter_ms"):
                high = 1.0 if key == "loss" else 3_600_000.0
                changes[key] = _number(value, f"{where}.{key}", 0.0, high)
            else:
                raise ConfigError(f"{where}: unknown key {key!r} (known: {_names(Behaviour)})")
        return replace(self, **changes)


@dataclass
class Faults:
    """Switches a test flips at run time (see the server for what each does)."""

    drop_mid_command: bool = False
    silent: bool = False
    refuse_auth: bool = False
    slow_login_s: float = 0.0
    down: bool = False

    def update(self, values: Mapping[str, Any], where: str) -> None:
        for key, value in values.items():
            if key == "slow_login_s":
                self.slow_login_s = _number(value, f"{where}.{key}", 0.0, 3600.0)
            elif key in ("drop_mid_command", "silent", "refuse_auth", "down"):
                setattr(self, key, _boolean(value, f"{where}.{key}"))
            else:
                raise ConfigError(f"{where}: unknown fault {key!r} (known: {_names(Faults)})")


@dataclass(frozen=True)
class Account:
    password: str
    privileged: bool = False


@dataclass(frozen=True)
class RouterConfig:
    name: str
    host: str
    port: int
    platform: str
    username: str
    password: str
    hostname: str
    max_sessions: int = 5
    authorized_keys: tuple[str, ...] = ()
    hosts: Mapping[str, str] = field(default_factory=dict)
    targets: Mapping[str, Behaviour] = field(default_factory=dict)
    default_target: Behaviour | None = None
    faults: Mapping[str, Any] = field(default_factory=dict)
    accounts: Mapping[str, Account] = field(default_factory=dict)
    enable_secret: str | None = None
    telnet: bool = False


@dataclass(frozen=True)
class FleetConfig:
    routers: Mapping[str, RouterConfig]
    default_target: Behaviour = Behaviour()
    time_scale: float = 1.0
    seed: int | None = None
    loss_model: str = "random"
    record_limit: int = 1 << 20


def _names(cls: type) -> str:
    return ", ".join(f.name for f in fields(cls))


def _boolean(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    return value


def _number(value: Any, where: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ConfigError(f"{where}: expected a number in {low:g}..{high:g}, got {value!r}")
    return float(value)


def _integer(value: Any, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{where}: expected an integer in {low}..{high}, got {value!r}")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value or any(c in value for c in "\r\n\0"):
        raise ConfigError(f"{where}: expected a one-line string, got {value!r}")
    return value


def _public_key(value: Any, where: str) -> str:
    """An OpenSSH public key line (``ssh-rsa AAAA... comment``)."""
    line = _text(value.strip() if isinstance(value, str) else value, where)
    try:
        asyncssh.import_public_key(line)
    except (asyncssh.KeyImportError, ValueError) as exc:
        raise ConfigError(f"{where}: not a public key: {exc}") from None
    return line


def _accounts(raw: Any, where: str) -> dict[str, Account]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected an object of user name -> settings")
    accounts = {}
    for user, spec in raw.items():
        here = f"{where}.{user}"
        if not isinstance(spec, Mapping) or set(spec) - {"password", "privileged"}:
            raise ConfigError(f"{here}: expected {{'password': ..., 'privileged': false}}")
        privileged = _boolean(spec.get("privileged", False), f"{here}.privileged")
        accounts[_text(user, where)] = Account(_text(spec.get("password"), here), privileged)
    return accounts


def _router(name: str, raw: Mapping[str, Any]) -> RouterConfig:
    where = f"routers.{name}"
    known = {f.name for f in fields(RouterConfig)} - {"name"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown keys {unknown} (known: {sorted(known)})")
    for key in ("host", "platform", "username", "password"):
        if key not in raw:
            raise ConfigError(f"{where}: {key!r} is required")
    host = _text(raw["host"], f"{where}.host")
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        raise ConfigError(f"{where}.host: {host!r} is not an IP address") from None
    if not loopback:
        raise ConfigError(f"{where}.host: {host} is not a loopback address")
    platform = raw["platform"]
    if platform not in PLATFORMS:
        raise ConfigError(f"{where}.platform: {platform!r} is not one of {list(PLATFORMS)}")
    hostname = raw.get("hostname", name)
    if not isinstance(hostname, str) or not _HOSTNAME.fullmatch(hostname):
        raise ConfigError(f"{where}.hostname: {hostname!r} is not a plain host name")
    keys = raw.get("authorized_keys", [])
    hosts = raw.get("hosts", {})
    targets = raw.get("targets", {})
    if not isinstance(keys, list) or not isinstance(hosts, dict) or not isinstance(targets, dict):
        raise ConfigError(f"{where}: authorized_keys is a list, hosts and targets are objects")
    default = raw.get("default_target")
    faults = raw.get("faults", {})
    Faults().update(faults, f"{where}.faults")  # validates
    return RouterConfig(
        name=name,
        host=host,
        port=_integer(raw.get("port", 0), f"{where}.port", 0, 65535),
        platform=platform,
        username=_text(raw["username"], f"{where}.username"),
        password=_text(raw["password"], f"{where}.password"),
        hostname=hostname,
        max_sessions=_integer(raw.get("max_sessions", 5), f"{where}.max_sessions", 0, 100_000),
        authorized_keys=tuple(_public_key(k, f"{where}.authorized_keys") for k in keys),
        hosts={
            _text(k, f"{where}.hosts"): _text(v, f"{where}.hosts.{k}") for k, v in hosts.items()
        },
        targets={
            _text(t, f"{where}.targets"): Behaviour().updated(b, f"{where}.targets.{t}")
            for t, b in targets.items()
        },
        default_target=None
        if default is None
        else Behaviour().updated(default, f"{where}.default_target"),
        faults=dict(faults),
        accounts=_accounts(raw.get("accounts", {}), f"{where}.accounts"),
        enable_secret=None
        if raw.get("enable_secret") is None
        else _text(raw["enable_secret"], f"{where}.enable_secret"),
        telnet=_boolean(raw.get("telnet", False), f"{where}.telnet"),
    )


def load_config(source: Mapping[str, Any] | str | Path) -> FleetConfig:
    """A validated configuration from a dict or a JSON file."""
    if isinstance(source, Mapping):
        raw: Any = source
    else:
        try:
            raw = json.loads(Path(source).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{source}: {exc}") from exc
    if not isinstance(raw, Mapping):
        raise ConfigError("the configuration is a JSON object")
    known = {
        "routers",
        "defaults",
        "default_target",
        "time_scale",
        "seed",
        "loss_model",
        "record_limit",
    }
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"unknown top-level keys {unknown} (known: {sorted(known)})")
    routers, defaults = raw.get("routers", {}), raw.get("defaults", {})
    if not isinstance(routers, Mapping) or not routers or not isinstance(defaults, Mapping):
        raise ConfigError("routers is a non-empty object of router name -> settings")
    built = {str(name): _router(str(name), {**defaults, **r}) for name, r in routers.items()}
    places = [(r.host, r.port) for r in built.values() if r.port]
    if len(places) != len(set(places)):
        raise ConfigError("two routers listen on the same host and port")
    seed = raw.get("seed")
    model = raw.get("loss_model", "random")
    if model not in LOSS_MODELS:
        raise ConfigError(f"loss_model: {model!r} is not one of {list(LOSS_MODELS)}")
    return FleetConfig(
        routers=built,
        default_target=Behaviour().updated(raw.get("default_target", {}), "default_target"),
        time_scale=_number(raw.get("time_scale", 1.0), "time_scale", 0.0, 1000.0),
        seed=None if seed is None else _integer(seed, "seed", 0, 2**63),
        loss_model=model,
        record_limit=_integer(raw.get("record_limit", 1 << 20), "record_limit", 0, 1 << 32),
    )


def loopback_hosts(network: str = "127.1.0.0/16") -> Iterator[str]:
    """Addresses for routers, in order, skipping each /24's .0 and .255."""
    for address in ipaddress.ip_network(network).hosts():
        if address.packed[-1] not in (0, 255):
            yield str(address)


def fleet_config(
    count: int,
    *,
    platforms: Iterable[str] = PLATFORMS,
    network: str = "127.1.0.0/16",
    port: int = 0,
    username: str = "lab",
    password: str = "lab",
    **top: Any,
) -> dict[str, Any]:
    """A configuration of ``count`` routers cycling through ``platforms``, one address each
    in ``network`` (give each emulator process its own network), all on ``port``."""
    kinds = list(platforms)
    hosts = loopback_hosts(network)
    routers = {
        f"r{i:04d}": {"host": next(hosts), "port": port, "platform": kinds[i % len(kinds)]}
        for i in range(count)
    }
    return {"defaults": {"username": username, "password": password}, "routers": routers, **top}
