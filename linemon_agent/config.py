"""The broker's configuration: TOML file + LINEMON_* environment + secrets -> frozen objects.

Errors name the file, the key and the value. See README "Configuration" for every key.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from linemon_agent import options, validate
from linemon_agent.configerrors import Errors as _Errors
from linemon_agent.configerrors import suggest, unknown
from linemon_agent.errors import ConfigError, LinemonError, ValidationError, quote_value
from linemon_agent.models import DEFAULT_ITEM_KEY, Line, PingRequest, Router
from linemon_agent.secrets import (
    Secret,
    check_private_file,
    read_credential,
    read_secret_env,
    read_secret_file,
)

DEFAULT_CONFIG = Path("/etc/linemon/linemon.toml")
ENV_PREFIX = "LINEMON_"
# "telnet" is scrapli's asynctelnet: the password (and an enable secret) cross the network in
# clear; only for boxes without SSH.
SSH_TRANSPORTS = ("asyncssh", "paramiko")
TRANSPORTS = (*SSH_TRANSPORTS, "telnet")
TELNET_PORT = 23
HOST_KEY_POLICIES = ("strict", "tofu", "insecure")
LOG_LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True)
class BrokerSettings:
    socket: Path = Path("/run/linemon/broker.sock")
    socket_mode: int = 0o660
    socket_group: str = ""
    state_dir: Path = Path("/var/lib/linemon")
    log_format: str = "logfmt"
    log_level: str = "info"
    metrics_listen: str = ""
    transport: str = "asyncssh"
    host_key_policy: str = "strict"
    known_hosts: Path = Path("/etc/linemon/known_hosts")
    max_pings_per_second: float = 200.0
    router_pings_per_second: float = 10.0
    session_opens_per_second: float = 20.0
    keepalive_interval: float = 240.0
    # a line whose last ping had no reply first gets this many probes (0: always the full ping)
    down_probe_count: int = 1
    shutdown_timeout: float = 10.0


@dataclass(frozen=True)
class ZabbixSettings:
    server: str = "127.0.0.1"
    port: int = 10051
    use_agent_config: bool = False
    agent_config: Path = Path("/etc/zabbix/zabbix_agentd.conf")
    item_key: str = DEFAULT_ITEM_KEY
    batch_size: int = 250
    flush_interval: float = 1.0
    send_timeout: float = 10.0
    # how long Zabbix may refuse a new item before its values are dropped as rejected
    # (behind an active proxy new items can take an hour to arrive: raise it there)
    reject_after: float = 600.0
    # one-value probes of new (unverified) items in flight at once; each is its own connection
    probe_concurrency: int = 8


@dataclass(frozen=True)
class ZabbixApiSettings:
    """Where lines come from in Zabbix (the seed's ConfigSyncer). Empty url: no API sync."""

    url: str = ""
    token_file: Path | None = None
    token_env: str = ""
    user: str = ""
    password_file: Path | None = None
    proxy: str = ""
    host_group: str = ""
    # Default 60 s: a proxy-group failover reaches the broker within one sync (see README)
    interval: float = 60.0
    default_platform: str = "cisco_iosxe"
    timeout: float = 30.0
    validate_certs: bool = True


@dataclass(frozen=True)
class Credentials:
    name: str
    username: str
    password: Secret = field(default_factory=Secret)
    private_key: Path | None = None
    # the enable (privilege) secret; empty: stay at the level the account lands on
    enable_password: Secret = field(default_factory=Secret)


@dataclass(frozen=True)
class Config:
    broker: BrokerSettings = field(default_factory=BrokerSettings)
    zabbix: ZabbixSettings = field(default_factory=ZabbixSettings)
    zabbix_api: ZabbixApiSettings = field(default_factory=ZabbixApiSettings)
    credentials: dict[str, Credentials] = field(default_factory=dict)
    routers: dict[str, Router] = field(default_factory=dict)
    lines: dict[str, Line] = field(default_factory=dict)
    source: str = "<defaults>"


def config_path(explicit: str | None = None) -> Path:
    """--config, then $LINEMON_CONFIG, then the default path."""
    return Path(explicit or os.environ.get("LINEMON_CONFIG") or DEFAULT_CONFIG)


def _coerce(kind: Any, value: Any, key: str) -> Any:
    """Convert a TOML or environment value to a settings field's type."""
    if kind in (bool, "bool"):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("0", "false", "no", "off", ""):
            return False
        raise ValidationError(key, value, "must be true or false")
    if kind in (int, "int"):
        if key.endswith("socket_mode") and isinstance(value, str):
            try:
                return int(value, 8)
            except ValueError:
                raise ValidationError(key, value, "must be an octal mode such as 0660") from None
        return validate.integer(value, key, 0)
    if kind in (float, "float"):
        return validate.number(value, key, 0)
    if kind in (Path, "Path", "Path | None"):
        if not isinstance(value, str) or not value:
            raise ValidationError(key, value, "must be a path")
        return Path(value)
    if not isinstance(value, str):
        raise ValidationError(key, value, "must be a string")
    return value


def _settings(cls: Any, table: Any, section: str, errors: _Errors, env: dict[str, str]) -> Any:
    if table is None:
        table = {}
    if not isinstance(table, dict):
        errors.add(section, "must be a table")
        table = {}
    kwargs: dict[str, Any] = {}
    fields = {f.name: f.type for f in dataclasses.fields(cls)}
    for key in table:
        if key not in fields:
            errors.add(section, unknown(key, fields))
    for name, kind in fields.items():
        env_name = f"{ENV_PREFIX}{section.upper()}_{name.upper()}"
        raw = env[env_name] if env_name in env else table.get(name)
        if raw is None:
            continue
        try:
            kwargs[name] = _coerce(kind, raw, f"{section}.{name}")
        except ValidationError as exc:
            where = f" (from ${env_name})" if env_name in env else ""
            errors.add(f"{section}.{name}", f"{exc.reason}: {quote_value(raw)}{where}")
    return cls(**kwargs)


def _check_settings(broker: BrokerSettings, zabbix: ZabbixSettings, errors: _Errors) -> None:
    if broker.transport not in SSH_TRANSPORTS:
        errors.add(
            "broker.transport",
            f"must be one of {', '.join(SSH_TRANSPORTS)} (telnet is chosen per router)",
        )
    if broker.host_key_policy not in HOST_KEY_POLICIES:
        errors.add("broker.host_key_policy", f"must be one of {', '.join(HOST_KEY_POLICIES)}")
    if broker.log_format not in ("logfmt", "json"):
        errors.add("broker.log_format", "must be logfmt or json")
    if broker.log_level.lower() not in LOG_LEVELS:
        errors.add("broker.log_level", f"must be one of {', '.join(LOG_LEVELS)}")
    if not 1 <= zabbix.batch_size <= 10000:
        errors.add("zabbix.batch_size", "must be 1-10000")
    if not 1 <= zabbix.probe_concurrency <= 64:
        errors.add("zabbix.probe_concurrency", "must be 1-64")
    if not 0 <= broker.down_probe_count <= validate.MAX_COUNT:
        errors.add("broker.down_probe_count", f"must be 0-{validate.MAX_COUNT}")
    if not 0 < zabbix.port < 65536:
        errors.add("zabbix.port", "must be 1-65535")


_SECRET_SOURCES = ("file", "env", "credential")
CREDENTIAL_KEYS = (
    "username",
    "key_file",
    *(f"{kind}_{source}" for kind in ("password", "enable_password") for source in _SECRET_SOURCES),
)


def _profile_secret(spec: dict[str, Any], kind: str, where: str, source: str) -> Secret:
    """``kind`` (password or enable_password) from its one _file, _env or _credential key."""
    given = [f"{kind}_{s}" for s in _SECRET_SOURCES if spec.get(f"{kind}_{s}")]
    if len(given) > 1:
        raise ConfigError(source, where, f"give one of {', '.join(given)}")
    if not given:
        return Secret()
    key = given[0]
    value = spec[key]
    if key.endswith("_file"):
        return read_secret_file(Path(value), source, f"{where}.{key}")
    if key.endswith("_env"):
        return read_secret_env(str(value), source, f"{where}.{key}")
    return read_credential(str(value), source, f"{where}.{key}")


def _credentials(table: Any, errors: _Errors, env: dict[str, str]) -> dict[str, Credentials]:
    result: dict[str, Credentials] = {}
    profiles = dict(table or {})
    for env_name in env:
        if env_name.startswith(f"{ENV_PREFIX}CREDENTIALS_"):
            rest = env_name[len(f"{ENV_PREFIX}CREDENTIALS_") :].lower()
            # longest first: NAME_ENABLE_PASSWORD_FILE is profile NAME, not NAME_ENABLE
            for suffix in sorted((f"_{k}" for k in CREDENTIAL_KEYS), key=len, reverse=True):
                if rest.endswith(suffix):
                    profiles.setdefault(rest[: -len(suffix)], {})
                    break
    for name, spec in profiles.items():
        where = f"credentials.{name}"
        if not isinstance(spec, dict):
            errors.add(where, "must be a table")
            continue
        spec = dict(spec)
        for key in CREDENTIAL_KEYS:
            env_name = f"{ENV_PREFIX}CREDENTIALS_{name.upper()}_{key.upper()}"
            if env_name in env:
                spec[key] = env[env_name]
        strays = set(spec) - set(CREDENTIAL_KEYS)
        for inline in ("password", "enable_password"):
            if inline in strays:
                errors.add(
                    f"{where}.{inline}",
                    "passwords are not accepted inline: use "
                    f"{inline}_file (mode 0600), {inline}_env or {inline}_credential",
                )
                strays.discard(inline)
        for key in sorted(strays):
            errors.add(where, unknown(key, CREDENTIAL_KEYS))
        try:
            validate.name(name, "credentials profile")
            username = spec.get("username")
            if not isinstance(username, str) or not username:
                raise ConfigError(errors.source, f"{where}.username", "is required")
            password = _profile_secret(spec, "password", where, errors.source)
            enable = _profile_secret(spec, "enable_password", where, errors.source)
            key_file = Path(spec["key_file"]) if spec.get("key_file") else None
            if key_file is not None:
                check_private_file(key_file, errors.source, f"{where}.key_file")
            if not password and key_file is None:
                raise ConfigError(errors.source, where, "needs a password_* or a key_file")
            result[name] = Credentials(name, username, password, key_file, enable)
        except LinemonError as exc:
            errors.add(where, _reason(exc))
    return result


def _reason(exc: LinemonError) -> str:
    if isinstance(exc, ValidationError):
        return str(exc)
    if isinstance(exc, ConfigError):
        return str(exc).split(": ", 2)[-1]
    return str(exc)


ROUTER_KEYS = {"name", "host", "port", "platform", "credentials", "max_sessions", "transport"}
REQUEST_KEYS = ("target", *options.NAMES)
SECTIONS = ("broker", "zabbix", "zabbix_api", "credentials", "routers", "lines")
LINE_KEYS = {
    "id",
    "router",
    "interval",
    "zabbix_host",
    "zabbix_key",
    "down_probe_count",
    *REQUEST_KEYS,
}


def parse_router(spec: dict[str, Any]) -> Router:
    """A router from a table of loosely typed values; raises ValidationError."""
    from linemon_agent.platforms import get_platform

    strays = sorted(set(spec) - ROUTER_KEYS)
    if strays:
        raise ValidationError("key", strays[0], "unknown" + suggest(strays[0], ROUTER_KEYS))
    platform = spec.get("platform")
    if not isinstance(platform, str):
        raise ValidationError("platform", platform, "is required")
    try:
        get_platform(platform)
    except LinemonError as exc:
        raise ValidationError("platform", platform, str(exc)) from None
    transport = spec.get("transport", "")
    if transport and transport not in TRANSPORTS:
        raise ValidationError("transport", transport, f"must be one of {', '.join(TRANSPORTS)}")
    default_port = TELNET_PORT if transport == "telnet" else 22
    return Router(
        name=validate.name(spec.get("name"), "name"),
        host=validate.target(spec.get("host"), "host"),
        platform=platform,
        credentials=validate.name(spec.get("credentials", "default"), "credentials"),
        port=validate.integer(spec.get("port", default_port), "port", 1, 65535),
        max_sessions=validate.integer(spec.get("max_sessions", 2), "max_sessions", 1, 32),
        transport=transport,
    )


def parse_line(spec: dict[str, Any], origin: str = "config") -> Line:
    """A line from a table of loosely typed values; raises ValidationError."""
    strays = sorted(set(spec) - LINE_KEYS)
    if strays:
        raise ValidationError("key", strays[0], "unknown" + suggest(strays[0], LINE_KEYS))
    line_id = validate.name(spec.get("id"), "id")
    request = PingRequest.from_strings({k: spec.get(k) for k in REQUEST_KEYS})
    return Line(
        id=line_id,
        router=validate.name(spec.get("router"), "router"),
        request=request,
        interval=validate.integer(spec.get("interval", 60), "interval", 10, 86400),
        zabbix_host=validate.zabbix_host(spec.get("zabbix_host") or line_id),
        zabbix_key=validate.zabbix_key(spec.get("zabbix_key") or DEFAULT_ITEM_KEY),
        origin=origin,
        down_probe_count=None
        if spec.get("down_probe_count") in (None, "")
        else validate.integer(spec["down_probe_count"], "down_probe_count", 0, validate.MAX_COUNT),
    )


def check_line_against(line: Line, routers: dict[str, Router]) -> None:
    """Refuse a line whose router is unknown or whose options its platform cannot express."""
    from linemon_agent.platforms import get_platform

    router = routers.get(line.router)
    if router is None:
        raise ValidationError("router", line.router, "no such router")
    get_platform(router.platform).build_ping(line.request)


def _entry(kind: str, spec: dict[str, Any], key: str, index: int) -> str:
    """How a person finds an entry of ``kind`` in the file: ``routers 'pe1'``, else by place."""
    value = spec.get(key)
    try:
        return f"{kind} {quote_value(validate.name(value, key))}"
    except ValidationError:
        return f"{kind}[{index}]"


def _known_part(
    spec: dict[str, Any], known: set[str], where: str, errors: _Errors
) -> dict[str, Any]:
    """``spec`` without its unknown keys, each reported once."""
    for key in sorted(set(spec) - known, key=str):
        errors.add(where, unknown(key, known))
    return {k: v for k, v in spec.items() if k in known}


def _routers(
    data: dict[str, Any], credentials: dict[str, Credentials], errors: _Errors
) -> tuple[dict[str, Router], set[str]]:
    """The valid routers, and the names of those that failed (their lines stay quiet)."""
    routers: dict[str, Router] = {}
    failed: set[str] = set()
    for index, spec in enumerate(_array(data, "routers", errors)):
        where = _entry("routers", spec, "name", index)
        try:
            router = parse_router(_known_part(spec, ROUTER_KEYS, where, errors))
        except ValidationError as exc:
            errors.add(where, str(exc))
            if isinstance(spec.get("name"), str):
                failed.add(spec["name"])
            continue
        if router.name in routers:
            errors.add(where, f"duplicate name: routers[{index}] repeats an earlier router")
            continue
        profile = f"credentials.{router.credentials}"
        if router.credentials not in credentials and not errors.reported(profile):
            errors.add(
                where,
                f"no credentials profile {router.credentials!r}"
                + suggest(router.credentials, credentials, "profile"),
            )
        routers[router.name] = router
    return routers, failed


def _lines(
    data: dict[str, Any], routers: dict[str, Router], failed: set[str], errors: _Errors
) -> dict[str, Line]:
    lines: dict[str, Line] = {}
    for index, spec in enumerate(_array(data, "lines", errors)):
        where = _entry("lines", spec, "id", index)
        try:
            line = parse_line(_known_part(spec, LINE_KEYS, where, errors))
            if line.router in failed:
                continue  # the router's own problem is reported; nothing to add here
            if line.router not in routers:
                hint = suggest(line.router, routers, "router")
                errors.add(where, f"no such router {line.router!r}{hint}")
                continue
            check_line_against(line, routers)
        except LinemonError as exc:
            errors.add(where, str(exc))
            continue
        if line.id in lines:
            errors.add(where, f"duplicate id: lines[{index}] repeats an earlier line")
            continue
        lines[line.id] = line
    return lines


def parse_config(data: dict[str, Any], source: str, env: dict[str, str] | None = None) -> Config:
    """Turn a parsed TOML document into a Config, raising one ConfigError listing every problem."""
    env = dict(os.environ if env is None else env)
    errors = _Errors(source)
    for key in data:
        if key not in SECTIONS:
            errors.add("", unknown(key, SECTIONS, "section"))
    broker = _settings(BrokerSettings, data.get("broker"), "broker", errors, env)
    zabbix = _settings(ZabbixSettings, data.get("zabbix"), "zabbix", errors, env)
    zabbix_api = _settings(ZabbixApiSettings, data.get("zabbix_api"), "zabbix_api", errors, env)
    _check_settings(broker, zabbix, errors)
    credentials = _credentials(data.get("credentials"), errors, env)
    routers, failed = _routers(data, credentials, errors)
    lines = _lines(data, routers, failed, errors)
    errors.raise_if_any()
    return Config(broker, zabbix, zabbix_api, credentials, routers, lines, source)


def _array(data: dict[str, Any], key: str, errors: _Errors) -> list[dict[str, Any]]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        errors.add(key, "must be an array of tables ([[" + key + "]])")
        return []
    return value


def load_config(path: Path, env: dict[str, str] | None = None) -> Config:
    """Read and validate the TOML file at ``path``."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(
            str(path), "", "file not found (give --config or $LINEMON_CONFIG)"
        ) from None
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), "", f"not valid TOML: {exc}") from None
    return parse_config(data, str(path), env)
