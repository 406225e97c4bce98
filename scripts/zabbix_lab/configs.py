"""The text of the lab's configuration files (pure functions of the lab's layout)."""

from __future__ import annotations

from settings import (
    AGENT_HOSTNAME,
    DB_PASSWORD,
    DB_USER,
    LISTEN,
    WORK_DB,
    Lab,
)

MARKER = "linemon scripts/zabbix-lab"

# A small server: enough processes for tests; no ICMP, discovery or HTTP pollers idling.
_SERVER_PROCESSES = {
    "StartPollers": 2,
    "StartPollersUnreachable": 1,
    "StartPreprocessors": 2,
    "StartHistoryPollers": 1,
    "StartTrappers": 8,
    "StartPingers": 0,
    "StartDiscoverers": 0,
    "StartHTTPPollers": 0,
    "StartAlerters": 1,
    "StartEscalators": 1,
    "StartTimers": 1,
    "StartLLDProcessors": 1,
    "StartDBSyncers": 2,
    "StartProxyPollers": 1,
    "StartODBCPollers": 0,
    "StartReportWriters": 0,
}


def _lines(settings: dict[str, object]) -> str:
    return "".join(f"{key}={value}\n" for key, value in settings.items())


def postgresql_conf(lab: Lab) -> str:
    """Settings appended to the private cluster's postgresql.conf: loopback, fast, unsafe."""
    return (
        f"# {MARKER}: a throwaway test cluster; durability traded for speed.\n"
        f"listen_addresses = '{LISTEN}'\n"
        f"port = {lab.pg_port}\n"
        f"unix_socket_directories = '{lab.pg_socket_dir}'\n"
        "fsync = off\n"
        "synchronous_commit = off\n"
        "full_page_writes = off\n"
    )


def server_conf(lab: Lab, with_tls: bool = False) -> str:
    """zabbix_server.conf: private PID, log and sockets; config cache refreshed every second.

    ``with_tls``: the lab's CA and server certificate (tls.py), for hosts that accept only
    certificates; they change nothing for hosts that accept unencrypted connections.
    """
    settings: dict[str, object] = {
        "LogFile": lab.server_dir / "zabbix_server.log",
        "LogFileSize": 8,
        "PidFile": lab.server_dir / "zabbix_server.pid",
        "SocketDir": lab.server_dir,
        "DBHost": LISTEN,
        "DBPort": lab.pg_port,
        "DBName": WORK_DB,
        "DBUser": DB_USER,
        "DBPassword": DB_PASSWORD,
        "ListenIP": LISTEN,
        "ListenPort": lab.server_port,
        "CacheUpdateFrequency": 1,
        "HousekeepingFrequency": 0,
        "StatsAllowedIP": LISTEN,
        "ExternalScripts": lab.externalscripts_dir,
        "Timeout": 4,
        "User": "zabbix",
        **_SERVER_PROCESSES,
    }
    if with_tls:
        settings["TLSCAFile"] = lab.tls_dir / "ca.crt"
        settings["TLSCertFile"] = lab.tls_dir / "server.crt"
        settings["TLSKeyFile"] = lab.tls_dir / "server.key"
    return f"# {MARKER}: the lab's server; regenerated on every `up`.\n" + _lines(settings)


def agent_conf(lab: Lab) -> str:
    """zabbix_agentd.conf: loopback only, reporting to the lab server, UserParameter drop-ins."""
    settings: dict[str, object] = {
        "LogFile": lab.agent_dir / "zabbix_agentd.log",
        "LogFileSize": 8,
        "PidFile": lab.agent_dir / "zabbix_agentd.pid",
        "ListenIP": LISTEN,
        "ListenPort": lab.agent_port,
        "Server": LISTEN,
        "ServerActive": f"{LISTEN}:{lab.server_port}",
        "Hostname": AGENT_HOSTNAME,
        "User": "zabbix",
        "Include": lab.include_dir / "*.conf",
    }
    return f"# {MARKER}: the lab's agent; regenerated on every `up`.\n" + _lines(settings)


def frontend_conf() -> str:
    """/etc/zabbix/zabbix.conf.php: the database and server of whichever lab runs the PHP server.

    Debian's frontend reads only this path, so it is one file for every lab on the machine:
    each lab's PHP server passes its own ports in its environment.
    """
    return f"""<?php
// Written by {MARKER}: the frontend of private, loopback-only Zabbix labs.
// Each lab's PHP server sets the ports below in its environment.
// `scripts/zabbix-lab purge` puts back the file that was here before (if any).
$DB['TYPE']     = 'POSTGRESQL';
$DB['SERVER']   = '{LISTEN}';
$DB['PORT']     = (string) getenv('LINEMON_ZABBIX_LAB_PG_PORT');
$DB['DATABASE'] = '{WORK_DB}';
$DB['USER']     = '{DB_USER}';
$DB['PASSWORD'] = '{DB_PASSWORD}';
$DB['SCHEMA']   = '';
$DB['ENCRYPTION'] = false;
$DB['KEY_FILE'] = '';
$DB['CERT_FILE'] = '';
$DB['CA_FILE'] = '';
$DB['VERIFY_HOST'] = false;
$DB['CIPHER_LIST'] = '';
$DB['VAULT_URL'] = '';
$DB['VAULT_DB_PATH'] = '';
$DB['VAULT_TOKEN'] = '';
$DB['DOUBLE_IEEE754'] = true;
$ZBX_SERVER      = '{LISTEN}';
$ZBX_SERVER_PORT = (string) getenv('LINEMON_ZABBIX_LAB_SERVER_PORT');
$ZBX_SERVER_NAME = 'linemon lab';
$IMAGE_FORMAT_DEFAULT = IMAGE_FORMAT_PNG;
"""
