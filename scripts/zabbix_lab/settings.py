"""The lab's layout: its directory, its ports (chosen once, then remembered) and its exports."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

DEFAULT_DIR = Path("/var/tmp/linemon-zabbix-lab")
LISTEN = "127.0.0.1"
# LINEMON_ZABBIX_LAB_PACKAGES replaces the list (the 7.0 lab in chroot.py: Debian 13's names).
PACKAGES = tuple(os.environ.get("LINEMON_ZABBIX_LAB_PACKAGES", "").split()) or (
    "postgresql",
    "zabbix-server-pgsql",
    "zabbix-frontend-php",
    "php-pgsql",
    "zabbix-agent",
    "php8.2-cli",
    "php8.2-cgi",
)
# Debian 12's zabbix-proxy-sqlite3 conflicts with zabbix-server-pgsql (both ship zabbix_get):
# the lab unpacks it beside the server instead (dpkg-deb -x; its libraries are the server's).
PROXY_PACKAGE = "zabbix-proxy-sqlite3"
PROXY_ROOT = Path("/opt/zabbix-proxy-sqlite3")
PROXY_LINK = Path("/usr/sbin/zabbix_proxy")
# Unpacked by `up` for the 6.0 lab, and for the 7.0 lab (LINEMON_ZABBIX_LAB_PROXY=1, chroot.py):
# its proxy-group tests run two proxies inside the chroot.
WITH_PROXY = os.environ.get(
    "LINEMON_ZABBIX_LAB_PROXY", "0" if "LINEMON_ZABBIX_LAB_PACKAGES" in os.environ else "1"
) == "1"
# TLS material (tls.py) for the 6.0 lab, where tests/integration/test_tls.py runs
WITH_TLS = "LINEMON_ZABBIX_LAB_PACKAGES" not in os.environ
FRONTEND_ROOT = Path("/usr/share/zabbix")
FRONTEND_CONF = Path("/etc/zabbix/zabbix.conf.php")
SCHEMA_DIR = Path("/usr/share/zabbix-server-pgsql")
ADMIN_USER = "Admin"
ADMIN_PASSWORD = "zabbix"  # the stock frontend login; the lab is loopback-only
DB_USER = "zabbix"
DB_PASSWORD = "zabbix"
WORK_DB = "zabbix"
PRISTINE_DB = "zabbix_pristine"
AGENT_HOSTNAME = "linemon-lab-agent"
STATE_NAME = "lab.json"

# field -> (environment variable that chooses it on the first `up`, default)
PORTS = {
    "pg_port": ("LINEMON_ZABBIX_LAB_PG_PORT", 15432),
    "server_port": ("LINEMON_ZABBIX_LAB_SERVER_PORT", 10051),
    "agent_port": ("LINEMON_ZABBIX_LAB_AGENT_PORT", 10050),
    "web_port": ("LINEMON_ZABBIX_LAB_WEB_PORT", 18080),
}
INCLUDE_ENV = "LINEMON_ZABBIX_LAB_AGENT_INCLUDE_DIR"


class LabError(Exception):
    """A lab step failed; the message says what and how to fix it."""


@dataclass(frozen=True)
class Lab:
    """Everything that names one lab: where it lives and what it listens on."""

    root: Path
    pg_port: int
    server_port: int
    agent_port: int
    web_port: int
    include_dir: Path

    @property
    def state_file(self) -> Path:
        return self.root / STATE_NAME

    @property
    def lock_file(self) -> Path:
        return self.root / ".lock"

    @property
    def pg_dir(self) -> Path:
        return self.root / "pg"

    @property
    def pg_data(self) -> Path:
        return self.pg_dir / "data"

    @property
    def pg_socket_dir(self) -> Path:
        return self.pg_dir / "run"

    @property
    def server_dir(self) -> Path:
        return self.root / "server"

    @property
    def server_conf(self) -> Path:
        return self.server_dir / "zabbix_server.conf"

    @property
    def externalscripts_dir(self) -> Path:
        """The server's ExternalScripts: tests put the external-check script `linemon` here."""
        return self.root / "externalscripts"

    @property
    def agent_dir(self) -> Path:
        return self.root / "agent"

    @property
    def agent_conf(self) -> Path:
        return self.agent_dir / "zabbix_agentd.conf"

    @property
    def tls_dir(self) -> Path:
        """CA, certificates and a PSK for hosts that accept only encrypted values (tls.py)."""
        return self.root / "tls"

    @property
    def web_dir(self) -> Path:
        return self.root / "web"

    @property
    def url(self) -> str:
        return f"http://{LISTEN}:{self.web_port}/api_jsonrpc.php"

    def exports(self) -> dict[str, str]:
        """The variables `zabbix-lab env` prints and the tests read."""
        return {
            "LINEMON_ZABBIX_URL": self.url,
            "LINEMON_ZABBIX_USER": ADMIN_USER,
            "LINEMON_ZABBIX_PASSWORD": ADMIN_PASSWORD,
            "LINEMON_ZABBIX_SERVER": LISTEN,
            "LINEMON_ZABBIX_TRAPPER_PORT": str(self.server_port),
            "LINEMON_ZABBIX_AGENT_PORT": str(self.agent_port),
            "LINEMON_ZABBIX_AGENT_HOSTNAME": AGENT_HOSTNAME,
            "LINEMON_ZABBIX_AGENT_INCLUDE_DIR": str(self.include_dir),
            "LINEMON_ZABBIX_LAB_DIR": str(self.root),
            "LINEMON_ZABBIX_EXTERNALSCRIPTS_DIR": str(self.externalscripts_dir),
        }


def _int_env(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name, "")
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise LabError(f"{name}={raw!r} is not a TCP port (1-65535)")
    return int(raw)


def _from_environ(root: Path, environ: Mapping[str, str]) -> Lab:
    ports = {field: _int_env(environ, var, default) for field, (var, default) in PORTS.items()}
    if len(set(ports.values())) != len(ports):
        raise LabError(f"the lab's ports must differ: {ports}")
    include = Path(environ.get(INCLUDE_ENV) or root / "agent" / "zabbix_agentd.d")
    return Lab(root=root, include_dir=include.absolute(), **ports)


def load(environ: Mapping[str, str] = os.environ) -> Lab:
    """The lab as set up before (its state file), else as the environment would set it up.

    A choice made in the environment that contradicts an existing lab is an error, not
    silently ignored: the ports of a lab are fixed when it is first brought up.
    """
    root = Path(environ.get("LINEMON_ZABBIX_LAB_DIR") or DEFAULT_DIR).absolute()
    wanted = _from_environ(root, environ)
    if not wanted.state_file.exists():
        return wanted
    saved = json.loads(wanted.state_file.read_text())
    lab = Lab(
        root=root,
        include_dir=Path(saved["include_dir"]),
        **{field: int(saved[field]) for field in PORTS},
    )
    clashes = [
        f"{var}={environ[var]} (lab has {getattr(lab, field)})"
        for field, (var, _) in PORTS.items()
        if environ.get(var) and int(environ[var]) != getattr(lab, field)
    ]
    if environ.get(INCLUDE_ENV) and wanted.include_dir != lab.include_dir:
        clashes.append(f"{INCLUDE_ENV}={environ[INCLUDE_ENV]} (lab has {lab.include_dir})")
    if clashes:
        raise LabError(
            f"the lab in {root} was set up differently: {'; '.join(clashes)}. "
            "Unset those variables, or run `scripts/zabbix-lab purge` to start over."
        )
    return lab


def save(lab: Lab) -> None:
    """Remember the lab's choices so that `env`, `status` and later `up`s agree."""
    data = {key: str(value) for key, value in asdict(lab).items() if key != "root"}
    lab.state_file.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
