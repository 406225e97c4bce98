"""The broker's configuration: TOML file + LINEMON_* environment + secrets -> frozen objects.

Errors name the file, the key and the value. See README "Configuration" for every key.
"""

from __future__ import annotations

import dataclasses
import os
import ssl
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from linemon_agent import options, validate, zbxtls
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
TRANSPORTS = ("asyncssh", "paramiko")
HOST_KEY_POLICIES = ("strict", "tofu", "insecure")


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
    # encryption to the server or proxy, with Zabbix's names and meaning (zbxtls.py; README)
    tls_connect: str = "unencrypted"
    tls_ca_file: Path | None = None
    tls_crl_file: Path | None = None
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    tls_server_cert_issuer: str = ""
    tls_server_cert_subject: str = ""
    tls_psk_identity: str = ""
    tls_psk_file: Path | None = None


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
    interval: float = 300.0
    default_platform: str = "cisco_iosxe"
    timeout: float = 30.0
    # HTTPS: the server's certificate is checked (and its host name) against the system's CAs,
    # or against ca_file when given; validate_certs = false turns every check off
    validate_certs: bool = True
    ca_file: Path | None = None


@dataclass(frozen=True)
class Credentials:
    name: str
    username: str
    password: Secret = field(default_factory=Secret)
    private_key: Path | None = None


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


class _Errors:
    """Collects every problem of a file so one run of `config check` shows them all."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.items: list[str] = []

    def add(self, key: str, message: str) -> None:
        self.items.append(f"{key}: {message}")

    def raise_if_any(self) -> None:
        if self.items:
            detail = "\n  ".join(self.items)
            raise ConfigError(self.source, "", f"{len(self.items)} problem(s):\n  {detail}")


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
            errors.add(f"{section}.{key}", f"unknown key; known: {', '.join(fields)}")
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
    if broker.transport not in TRANSPORTS:
        errors.add("broker.transport", f"must be one of {', '.join(TRANSPORTS)}")
    if broker.host_key_policy not in HOST_KEY_POLICIES:
        errors.add("broker.host_key_policy", f"must be one of {', '.join(HOST_KEY_POLICIES)}")
    if broker.log_format not in ("logfmt", "json"):
        errors.add("broker.log_format", "must be logfmt or json")
    if not 1 <= zabbix.batch_size <= 10000:
        errors.add("zabbix.batch_size", "must be 1-10000")
    if not 1 <= zabbix.probe_concurrency <= 64:
        errors.add("zabbix.probe_concurrency", "must be 1-64")
    if not 0 < zabbix.port < 65536:
        errors.add("zabbix.port", "must be 1-65535")
    if zabbix.use_agent_config:
        if zabbix.tls_connect != "unencrypted":
            errors.add("zabbix.tls_connect", "use_agent_config takes TLS from the agent's file")
        return
    try:  # reads the files (PSK, certificates) without connecting anywhere
        zbxtls.load(zbxtls.from_zabbix(zabbix), errors.source)
    except zbxtls.TlsConfigError as exc:
        for key, message in exc.problems:
            errors.add(key, message)


def _credentials(table: Any, errors: _Errors, env: dict[str, str]) -> dict[str, Credentials]:
    result: dict[str, Credentials] = {}
    profiles = dict(table or {})
    for env_name in env:
        if env_name.startswith(f"{ENV_PREFIX}CREDENTIALS_"):
            rest = env_name[len(f"{ENV_PREFIX}CREDENTIALS_") :].lower()
            for suffix in (
                "_username",
                "_password_file",
                "_password_env",
                "_key_file",
                "_password_credential",
            ):
                if rest.endswith(suffix):
                    profiles.setdefault(rest[: -len(suffix)], {})
    for name, spec in profiles.items():
        where = f"credentials.{name}"
        if not isinstance(spec, dict):
            errors.add(where, "must be a table")
            continue
        spec = dict(spec)
        for key in ("username", "password_file", "password_env", "password_credential", "key_file"):
            env_name = f"{ENV_PREFIX}CREDENTIALS_{name.upper()}_{key.upper()}"
            if env_name in env:
                spec[key] = env[env_name]
        unknown = set(spec) - {
            "username",
            "password_file",
            "password_env",
            "password_credential",
            "key_file",
        }
        if "password" in unknown:
            errors.add(
                f"{where}.password",
                "passwords are not accepted inline: use "
                "password_file (mode 0600), password_env or password_credential",
            )
            unknown.discard("password")
        for key in sorted(unknown):
            errors.add(f"{where}.{key}", "unknown key")
        try:
            validate.name(name, "credentials profile")
            username = spec.get("username")
            if not isinstance(username, str) or not username:
                raise ConfigError(errors.source, f"{where}.username", "is required")
            password = Secret()
            sources = [
                k for k in ("password_file", "password_env", "password_credential") if spec.get(k)
            ]
            if len(sources) > 1:
                raise ConfigError(errors.source, where, f"give one of {', '.join(sources)}")
            if "password_file" in spec:
                password = read_secret_file(
                    Path(spec["password_file"]), errors.source, f"{where}.password_file"
                )
            elif "password_env" in spec:
                password = read_secret_env(
                    str(spec["password_env"]), errors.source, f"{where}.password_env"
                )
            elif "password_credential" in spec:
                password = read_credential(
                    str(spec["password_credential"]), errors.source, f"{where}.password_credential"
                )
            key_file = Path(spec["key_file"]) if spec.get("key_file") else None
            if key_file is not None:
                check_private_file(key_file, errors.source, f"{where}.key_file")
            if not password and key_file is None:
                raise ConfigError(errors.source, where, "needs a password_* or a key_file")
            result[name] = Credentials(name, username, password, key_file)
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
LINE_KEYS = {"id", "router", "interval", "zabbix_host", "zabbix_key", *REQUEST_KEYS}


def parse_router(spec: dict[str, Any]) -> Router:
    """A router from a table of loosely typed values; raises ValidationError."""
    from linemon_agent.platforms import get_platform

    unknown = set(spec) - ROUTER_KEYS
    if unknown:
        raise ValidationError("key", sorted(unknown)[0], f"unknown; known: {sorted(ROUTER_KEYS)}")
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
    return Router(
        name=validate.name(spec.get("name"), "name"),
        host=validate.target(spec.get("host"), "host"),
        platform=platform,
        credentials=validate.name(spec.get("credentials", "default"), "credentials"),
        port=validate.integer(spec.get("port", 22), "port", 1, 65535),
        max_sessions=validate.integer(spec.get("max_sessions", 2), "max_sessions", 1, 32),
        transport=transport,
    )


def parse_line(spec: dict[str, Any], origin: str = "config") -> Line:
    """A line from a table of loosely typed values; raises ValidationError."""
    unknown = set(spec) - LINE_KEYS
    if unknown:
        raise ValidationError("key", sorted(unknown)[0], f"unknown; known: {sorted(LINE_KEYS)}")
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
    )


def check_line_against(line: Line, routers: dict[str, Router]) -> None:
    """Refuse a line whose router is unknown or whose options its platform cannot express."""
    from linemon_agent.platforms import get_platform

    router = routers.get(line.router)
    if router is None:
        raise ValidationError("router", line.router, "no such router")
    get_platform(router.platform).build_ping(line.request)


def parse_config(data: dict[str, Any], source: str, env: dict[str, str] | None = None) -> Config:
    """Turn a parsed TOML document into a Config, raising one ConfigError listing every problem."""
    env = dict(os.environ if env is None else env)
    errors = _Errors(source)
    known = {"broker", "zabbix", "zabbix_api", "credentials", "routers", "lines"}
    for key in data:
        if key not in known:
            errors.add(key, f"unknown section; known: {', '.join(sorted(known))}")
    broker = _settings(BrokerSettings, data.get("broker"), "broker", errors, env)
    zabbix = _settings(ZabbixSettings, data.get("zabbix"), "zabbix", errors, env)
    zabbix_api = _settings(ZabbixApiSettings, data.get("zabbix_api"), "zabbix_api", errors, env)
    _check_settings(broker, zabbix, errors)
    if zabbix_api.ca_file is not None:
        try:
            ssl.create_default_context(cafile=str(zabbix_api.ca_file))
        except (OSError, ssl.SSLError) as exc:
            errors.add("zabbix_api.ca_file", f"cannot load {str(zabbix_api.ca_file)!r}: {exc}")
    credentials = _credentials(data.get("credentials"), errors, env)
    routers: dict[str, Router] = {}
    for index, spec in enumerate(_array(data, "routers", errors)):
        try:
            router = parse_router(spec)
        except ValidationError as exc:
            errors.add(f"routers[{index}]", str(exc))
            continue
        if router.name in routers:
            errors.add(f"routers[{index}].name", f"duplicate router {router.name!r}")
        elif router.credentials not in credentials:
            errors.add(
                f"routers[{index}].credentials", f"no credentials profile {router.credentials!r}"
            )
        routers[router.name] = router
    lines: dict[str, Line] = {}
    for index, spec in enumerate(_array(data, "lines", errors)):
        try:
            line = parse_line(spec)
            check_line_against(line, routers)
        except LinemonError as exc:
            errors.add(f"lines[{index}]", str(exc))
            continue
        if line.id in lines:
            errors.add(f"lines[{index}].id", f"duplicate line {line.id!r}")
        lines[line.id] = line
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
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "", f"not valid TOML: {exc}") from None
    return parse_config(data, str(path), env)
