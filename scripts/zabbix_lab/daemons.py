"""The lab's Zabbix processes: server, agent and the PHP frontend that serves the API."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import configs
import procs
from settings import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    FRONTEND_CONF,
    FRONTEND_ROOT,
    LISTEN,
    Lab,
    LabError,
)

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_BACKUP = FRONTEND_CONF.with_name(FRONTEND_CONF.name + ".before-linemon-lab")
PHP_WORKERS = 4


def _write(path: Path, text: str) -> bool:
    """Write `text` to `path` unless it is already there; True if the file changed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_text() == text:
        return False
    path.write_text(text)
    return True


def _own_dir(path: Path, owner: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    shutil.chown(path, owner, owner)


# --- server -----------------------------------------------------------------------------


def server_pid(lab: Lab) -> int | None:
    return procs.pid_of(lab.server_dir / "zabbix_server.pid", "zabbix_server")


def server_is_up(lab: Lab) -> bool:
    return server_pid(lab) is not None and procs.port_open(lab.server_port)


def start_server(lab: Lab) -> bool:
    """Write the server's config and start it; True if it had to be started."""
    lab.externalscripts_dir.mkdir(mode=0o755, parents=True, exist_ok=True)  # root's: zabbix runs
    _own_dir(lab.server_dir, "zabbix")
    with_tls = (lab.tls_dir / "server.key").exists()
    if _write(lab.server_conf, configs.server_conf(lab, with_tls)):
        stop_server(lab)  # a running server keeps its old settings
    if server_is_up(lab):
        return False
    if server_pid(lab) is None:
        (lab.server_dir / "zabbix_server.pid").unlink(missing_ok=True)
        procs.run(["zabbix_server", "-c", lab.server_conf])
    procs.wait_until(
        lambda: server_is_up(lab),
        "zabbix_server",
        60,
        still_hopeful=lambda: server_pid(lab) is not None or _pid_file_absent(lab),
        log=lab.server_dir / "zabbix_server.log",
    )
    return True


def _pid_file_absent(lab: Lab) -> bool:
    return not (lab.server_dir / "zabbix_server.pid").exists()


def stop_server(lab: Lab) -> bool:
    """Stop the server (always before PostgreSQL: it retries a lost database forever)."""
    pid = server_pid(lab)
    if pid is None:
        return False
    procs.stop(pid, "zabbix_server")
    return True


def reload_config_cache(lab: Lab) -> None:
    """Ask the server to reload its configuration cache now (it also does so every second)."""
    if server_pid(lab) is None:
        raise LabError("zabbix_server is not running: run `scripts/zabbix-lab up`")
    procs.run(["zabbix_server", "-c", lab.server_conf, "-R", "config_cache_reload"])


# --- agent ------------------------------------------------------------------------------


def agent_pid(lab: Lab) -> int | None:
    return procs.pid_of(lab.agent_dir / "zabbix_agentd.pid", "zabbix_agentd")


def agent_is_up(lab: Lab) -> bool:
    return agent_pid(lab) is not None and procs.port_open(lab.agent_port)


def start_agent(lab: Lab) -> bool:
    """Write the agent's config and start it; True if it had to be started."""
    _own_dir(lab.agent_dir, "zabbix")
    lab.include_dir.mkdir(parents=True, exist_ok=True)
    if _write(lab.agent_conf, configs.agent_conf(lab)):
        stop_agent(lab)  # a running agent keeps its old settings
    if agent_is_up(lab):
        return False
    if agent_pid(lab) is None:
        (lab.agent_dir / "zabbix_agentd.pid").unlink(missing_ok=True)
        procs.run(["zabbix_agentd", "-c", lab.agent_conf])
    procs.wait_until(
        lambda: agent_is_up(lab), "zabbix_agentd", 30, log=lab.agent_dir / "zabbix_agentd.log"
    )
    return True


def stop_agent(lab: Lab) -> bool:
    pid = agent_pid(lab)
    if pid is None:
        return False
    procs.stop(pid, "zabbix_agentd")
    return True


# --- frontend ---------------------------------------------------------------------------


def api(url: str, method: str, params: Any, auth: str | None = None, timeout: float = 5) -> Any:
    """One JSON-RPC call to the Zabbix API (never through an HTTP proxy)."""
    body: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params, "id": 1}
    if auth is not None:
        body["auth"] = auth
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json-rpc"}
    )
    with _NO_PROXY.open(request, timeout=timeout) as response:
        reply = json.load(response)
    if "error" in reply:
        raise LabError(f"Zabbix API {method}: {reply['error']}")
    return reply["result"]


def api_version(lab: Lab) -> str | None:
    """The API's version, or None when it does not answer."""
    try:
        return str(api(lab.url, "apiinfo.version", {}, timeout=2))
    except (OSError, ValueError, LabError):
        return None


def web_pid(lab: Lab) -> int | None:
    return procs.pid_of(lab.web_dir / "php.pid", "php")


def web_is_up(lab: Lab) -> bool:
    return web_pid(lab) is not None and api_version(lab) is not None


def write_frontend_conf() -> None:
    """Point Debian's fixed frontend config at the labs, keeping any foreign file aside."""
    text = configs.frontend_conf()
    if FRONTEND_CONF.exists():
        current = FRONTEND_CONF.read_text(errors="replace")
        if current == text:
            return
        if configs.MARKER not in current and not _BACKUP.exists():
            shutil.copy2(FRONTEND_CONF, _BACKUP)
    _write(FRONTEND_CONF, text)
    FRONTEND_CONF.chmod(0o644)


def restore_frontend_conf() -> None:
    """Undo write_frontend_conf: put the earlier file back, or remove ours."""
    if _BACKUP.exists():
        _BACKUP.replace(FRONTEND_CONF)
    elif FRONTEND_CONF.exists() and configs.MARKER in FRONTEND_CONF.read_text(errors="replace"):
        FRONTEND_CONF.unlink()


def start_web(lab: Lab) -> bool:
    """Serve the frontend with PHP's built-in server (as www-data); True if it started it.

    A server that dies while it starts is started once more: the error names how each attempt
    ended (exit code or signal), so a PHP that cannot run is told apart from one killed by
    something else on the machine.
    """
    write_frontend_conf()
    if web_is_up(lab):
        return False
    log = lab.web_dir / "php.log"
    if web_pid(lab) is not None:  # running, not answering yet
        procs.wait_until(
            lambda: web_is_up(lab),
            "the PHP frontend",
            30,
            still_hopeful=lambda: web_pid(lab) is not None,
            log=log,
        )
        return True
    try:
        _try_php(lab, log)
        return True
    except _PhpDied as first:
        died = first.ending
    print(f"zabbix-lab: the PHP frontend {died} while starting; starting it again", flush=True)
    try:
        _try_php(lab, log)
        return True
    except _PhpDied as again:
        twice = f"It died twice: first it {died}, then it {again.ending}."
        raise LabError(f"{again}\n{twice}") from None


class _PhpDied(LabError):
    """PHP's server ended while starting: wait_until's message, and how the process ended."""

    def __init__(self, message: str, returncode: int) -> None:
        super().__init__(message)
        self.ending = procs.describe_exit(returncode)


def _try_php(lab: Lab, log: Path) -> None:
    """Start PHP once and wait until the API answers; _PhpDied if the process ends first.

    A PHP that runs but does not answer in time raises plain LabError: starting it again
    would not help.
    """
    child = _spawn_php(lab, log)
    try:
        procs.wait_until(
            lambda: web_is_up(lab),
            "the PHP frontend",
            30,
            still_hopeful=lambda: child.poll() is None,
            log=log,
        )
    except LabError as exc:
        if child.poll() is None:
            raise
        raise _PhpDied(str(exc), child.returncode) from None


def _spawn_php(lab: Lab, log: Path) -> subprocess.Popen[bytes]:
    """Start PHP's built-in server on the lab's web port; its PID goes to php.pid."""
    lab.web_dir.mkdir(parents=True, exist_ok=True)
    php = shutil.which("php") or "php"
    ini = {
        "memory_limit": "256M",
        "post_max_size": "16M",
        "upload_max_filesize": "2M",
        "max_execution_time": "300",
        "max_input_time": "300",
        "date.timezone": "UTC",
        "display_errors": "0",
        "log_errors": "1",
    }
    argv = [php, "-q", "-S", f"{LISTEN}:{lab.web_port}", "-t", str(FRONTEND_ROOT)]
    argv += [arg for key, value in ini.items() for arg in ("-d", f"{key}={value}")]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PHP_CLI_SERVER_WORKERS": str(PHP_WORKERS),
        "LINEMON_ZABBIX_LAB_PG_PORT": str(lab.pg_port),
        "LINEMON_ZABBIX_LAB_SERVER_PORT": str(lab.server_port),
    }
    with log.open("ab") as out:
        child = subprocess.Popen(
            argv, cwd=FRONTEND_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True, user="www-data",
            group="www-data", extra_groups=[],
        )
    (lab.web_dir / "php.pid").write_text(f"{child.pid}\n")
    return child


def stop_web(lab: Lab) -> bool:
    pid = web_pid(lab)
    if pid is None:
        return False
    procs.stop(pid, "the PHP frontend", group=True)
    return True


def check_login(lab: Lab) -> None:
    """Log in and out once: proves the frontend reaches the database, not only PHP."""
    token = api(lab.url, "user.login", {"username": ADMIN_USER, "password": ADMIN_PASSWORD})
    api(lab.url, "user.logout", [], auth=token)
