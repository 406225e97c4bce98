"""The broker's settings as frozen objects (what ``config`` parses into), with their defaults.

Plain data: no parsing, no I/O. README "Running the broker" and packaging/linemon.toml
describe every key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from linemon_agent.models import DEFAULT_ITEM_KEY, Line, Router
from linemon_agent.secrets import Secret

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
    # /healthz answers 503 when the oldest undelivered value is older than this (seconds)
    health_pending_age: float = 600.0


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
    # probes of unverified items in flight at once (a group of never-probed items' first
    # values, or one item's value); each is its own connection
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
    # Default 60 s: a proxy-group failover reaches the broker within one sync (see README)
    interval: float = 60.0
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
