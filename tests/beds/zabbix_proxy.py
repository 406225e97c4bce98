"""A real Zabbix 6.0 active proxy (Debian's ``zabbix_proxy``, SQLite3 build) for tests.

Owns one proxy process and everything it writes: a config file, a SQLite database, a log,
a PID file and its runtime sockets, all in one directory the caller gives. The proxy runs in
the foreground (``-f``) as a child of the test, so it is stopped by its own PID (SIGTERM,
which also ends its worker processes). It runs as root (``AllowRoot=1``): the integration
suite runs as root and the directory need not be reachable by the ``zabbix`` user.

Zabbix 6.0 facts this relies on (zabbix_proxy.conf of 6.0.14): in active mode the server's
port goes into ``Server`` (``address:port``; there is no ``ServerPort``); ``ConfigFrequency``
(1..604800 s, default 3600; deprecated from 6.4 for ``ProxyConfigFrequency``) is how often
the proxy pulls its configuration, and ``zabbix_proxy -R config_cache_reload`` pulls it at
once; ``DataSenderFrequency`` (default 1 s) is how often it pushes values. The proxy can
create its SQLite database itself, but does so one fsync'd statement at a time (over 8 s
here); loading the package's ``schema.sql.gz`` in one transaction takes ~0.3 s.

The proxy's database holds the configuration the server sent it (table ``hosts``) and the
values it collected (``proxy_history``, keyed by the server's itemid, kept after sending
until the proxy's housekeeper runs): tests read both to see what this proxy knows and what
went through it.

The same bed runs Zabbix 7.0's proxy inside the 7.0 lab's Debian 13 chroot (``root``): the
directory must then lie inside the chroot, the config names the paths as seen from inside, the
program is started through ``chroot`` (which execs it: the PID is the proxy's), and 7.0's
name for the pull interval, ``ProxyConfigFrequency``, is used.

Usage::

    with ZabbixProxy("proxy-a", "127.0.0.1:10051", "127.34.1.1", 21061, workdir) as proxy:
        proxy.wait_for_host("198.51.100.10", timeout=30)
"""

from __future__ import annotations

import gzip
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
from pathlib import Path
from types import TracebackType

# A small proxy: trappers for the brokers' sender data, nothing polling on its own.
_PROCESSES = {
    "StartPollers": 1,
    "StartPollersUnreachable": 1,  # must not be 0 while pollers run
    "StartPreprocessors": 1,
    "StartHistoryPollers": 0,
    "StartTrappers": 2,
    "StartPingers": 0,
    "StartDiscoverers": 0,
    "StartHTTPPollers": 0,
    "StartDBSyncers": 1,
    "StartODBCPollers": 0,
}
# 7.0 has no history pollers on a proxy and splits the pollers it starts by default.
_PROCESSES_70 = {
    **{k: v for k, v in _PROCESSES.items() if k != "StartHistoryPollers"},
    "StartAgentPollers": 0,
    "StartHTTPAgentPollers": 0,
    "StartSNMPPollers": 0,
    "StartBrowserPollers": 0,
}


CHROOT_PROGRAM = Path("/usr/sbin/zabbix_proxy")


def installed_in(root: Path) -> tuple[Path, Path] | None:
    """The proxy program and schema inside the chroot ``root`` (paths seen from inside)."""
    link = root / str(CHROOT_PROGRAM).lstrip("/")
    if not link.is_symlink() and not link.exists():
        return None
    target = Path(os.readlink(link)) if link.is_symlink() else CHROOT_PROGRAM
    schema = target.parents[1] / "share" / "zabbix-proxy-sqlite3" / "schema.sql.gz"
    return (target, schema) if (root / str(schema).lstrip("/")).exists() else None


def installed() -> tuple[Path, Path] | None:
    """The zabbix_proxy program and its SQLite schema, or None when they are not installed.

    The schema is found next to the resolved program (``<prefix>/share/zabbix-proxy-sqlite3``),
    so an unpacked copy of the package (``dpkg-deb -x`` under /opt, with /usr/sbin/zabbix_proxy
    a symlink to it: Debian's package conflicts with zabbix-server-pgsql) works as well as an
    installed one.
    """
    found = shutil.which("zabbix_proxy") or shutil.which("zabbix_proxy", path="/usr/sbin")
    if found is None:
        return None
    program = Path(found).resolve()
    schema = program.parents[1] / "share" / "zabbix-proxy-sqlite3" / "schema.sql.gz"
    return (program, schema) if schema.exists() else None


class ZabbixProxy:
    """One active zabbix_proxy: ``start``/``stop`` (or ``with``), and reads of its database."""

    def __init__(
        self,
        name: str,
        server: str,
        listen_ip: str,
        listen_port: int,
        workdir: Path,
        config_frequency: int = 2,
        data_sender_frequency: int = 1,
        external_scripts: Path | None = None,
        root: Path | None = None,
    ) -> None:
        self.name = name
        self.server = server
        self.listen_ip = listen_ip
        self.listen_port = listen_port
        self.workdir = workdir
        self.config_frequency = config_frequency
        self.data_sender_frequency = data_sender_frequency
        self.external_scripts = external_scripts  # ExternalScripts: where external checks live
        self.conf = workdir / "zabbix_proxy.conf"
        self.db = workdir / "zabbix_proxy.db"
        self.log = workdir / "zabbix_proxy.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.root = root
        found = installed() if root is None else installed_in(root)
        if found is None:
            raise RuntimeError("zabbix_proxy not installed (Debian: zabbix-proxy-sqlite3)")
        self.program, self.schema = found
        if root is not None:
            self.schema = root / str(self.schema).lstrip("/")

    def _inner(self, path: Path) -> Path:
        """``path`` as the proxy sees it (inside the chroot, if any)."""
        return path if self.root is None else Path("/") / path.relative_to(self.root)

    def _argv(self, *args: str) -> list[str]:
        prefix = [] if self.root is None else ["chroot", str(self.root)]
        return [*prefix, str(self.program), "-c", str(self._inner(self.conf)), *args]

    def config_text(self) -> str:
        settings: dict[str, object] = {
            "ProxyMode": 0,
            "Server": self.server,
            "Hostname": self.name,
            "ListenIP": self.listen_ip,
            "ListenPort": self.listen_port,
            "LogFile": self._inner(self.log),
            "LogFileSize": 8,
            "PidFile": self._inner(self.workdir / "zabbix_proxy.pid"),
            "SocketDir": self._inner(self.workdir),
            "DBName": self._inner(self.db),
            "AllowRoot": 1,
            # renamed in 6.4; 7.0 refuses the old name
            ("ConfigFrequency" if self.root is None else "ProxyConfigFrequency"):
                self.config_frequency,
            "DataSenderFrequency": self.data_sender_frequency,
            "Timeout": 4,
            **(_PROCESSES if self.root is None else _PROCESSES_70),
        }
        if self.external_scripts is not None:
            settings["ExternalScripts"] = self.external_scripts
        return "".join(f"{key}={value}\n" for key, value in settings.items())

    def _create_db(self) -> None:
        for stale in (self.db, self.db.with_name(self.db.name + "-journal")):
            stale.unlink(missing_ok=True)
        schema = gzip.decompress(self.schema.read_bytes()).decode()
        db = sqlite3.connect(self.db)
        try:
            db.execute("PRAGMA synchronous=OFF")
            db.executescript(f"BEGIN;\n{schema}\nCOMMIT;")
        finally:
            db.close()

    def start(self, wait: float = 20.0) -> ZabbixProxy:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(self.config_text())
        self._create_db()
        self.proc = subprocess.Popen(
            self._argv("-f"),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"zabbix_proxy exited {self.proc.returncode}:\n"
                                   f"{self.log_text()}")
            try:
                with socket.create_connection((self.listen_ip, self.listen_port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"zabbix_proxy did not listen on {self.address}:\n{self.log_text()}")

    @property
    def address(self) -> str:
        return f"{self.listen_ip}:{self.listen_port}"

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def usage(self) -> tuple[float, float, int]:
        """CPU seconds (user + system, reaped children included), memory (PSS: shared pages
        split between the sharers) in MiB and the number of processes of the running proxy:
        its main process and the workers it forked."""
        assert self.proc is not None and self.proc.poll() is None
        tick = os.sysconf("SC_CLK_TCK")
        cpu, pss_kib, count = 0.0, 0, 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if entry.name != str(self.proc.pid) and fields[1] != str(self.proc.pid):
                    continue
                rollup = (entry / "smaps_rollup").read_text()
            except OSError:
                continue  # gone meanwhile
            # fields[0] is field 3 of proc(5): ppid is [1], utime, stime, cutime, cstime [11:15]
            cpu += sum(int(f) for f in fields[11:15]) / tick
            pss_kib += sum(int(line.split()[1]) for line in rollup.splitlines()
                           if line.startswith("Pss:"))
            count += 1
        return cpu, pss_kib / 1024, count

    def reload_config(self) -> None:
        """``zabbix_proxy -R config_cache_reload``: an active proxy pulls its configuration
        from the server now instead of at its next ``ConfigFrequency`` tick."""
        subprocess.run(self._argv("-R", "config_cache_reload"),
                       check=True, capture_output=True, timeout=30)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def _query(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        db = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5)
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()

    def hosts(self) -> set[str]:
        """The hosts this proxy monitors, as the server last told it."""
        return {str(row[0]) for row in self._query("SELECT host FROM hosts WHERE status=0")}

    def history_itemids(self) -> set[str]:
        """The server itemids this proxy has collected values for (and not yet housekept)."""
        return {str(row[0]) for row in self._query("SELECT DISTINCT itemid FROM proxy_history")}

    def wait_for_host(self, host: str, timeout: float, present: bool = True) -> float:
        """Wait until the proxy's configuration has (or, present=False, lacks) ``host``;
        returns the seconds waited."""
        start = time.monotonic()
        while (host in self.hosts()) != present:
            if time.monotonic() - start > timeout:
                state = "see" if present else "drop"
                raise AssertionError(f"proxy {self.name} did not {state} host {host} "
                                     f"within {timeout} s:\n{self.log_text()[-2000:]}")
            time.sleep(0.1)
        return time.monotonic() - start

    def __enter__(self) -> ZabbixProxy:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
