"""The lab's private PostgreSQL cluster and its two databases: pristine and working."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import configs
import procs
from settings import DB_PASSWORD, DB_USER, PRISTINE_DB, SCHEMA_DIR, WORK_DB, Lab, LabError

_LOADING_DB = f"{PRISTINE_DB}_loading"


def _bin(name: str) -> Path:
    """A PostgreSQL server program from the newest installed major version."""
    found = sorted(
        Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
        key=lambda path: int(path.parts[-3]) if path.parts[-3].isdigit() else 0,
    )
    if not found:
        raise LabError(f"no PostgreSQL {name} under /usr/lib/postgresql: run `zabbix-lab up`")
    return found[-1]


def pid(lab: Lab) -> int | None:
    return procs.pid_of(lab.pg_data / "postmaster.pid", "postgres")


def is_up(lab: Lab) -> bool:
    return pid(lab) is not None and procs.port_open(lab.pg_port)


def psql(lab: Lab, sql: str, *, db: str = "postgres", user: str = "postgres") -> str:
    """Run SQL over the cluster's private socket (trusted locally); return unaligned rows."""
    return procs.run(
        [_bin("psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
         "-h", lab.pg_socket_dir, "-p", str(lab.pg_port), "-U", user, "-d", db, "-c", sql],
    )


def _exists(lab: Lab, db: str) -> bool:
    return psql(lab, f"SELECT 1 FROM pg_database WHERE datname = '{db}'").strip() == "1"


def start(lab: Lab) -> bool:
    """Create the cluster if needed and start it; True if it had to be started."""
    if is_up(lab):
        return False
    for directory in (lab.pg_dir, lab.pg_socket_dir):
        directory.mkdir(parents=True, exist_ok=True)
        shutil.chown(directory, "postgres", "postgres")
    if not (lab.pg_data / "PG_VERSION").exists():
        if lab.pg_data.exists():
            shutil.rmtree(lab.pg_data)  # a half-made cluster from an interrupted `up`
        procs.run(
            [_bin("initdb"), "-D", lab.pg_data, "-U", "postgres", "--encoding=UTF8",
             "--locale=C.UTF-8", "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync"],
            user="postgres",
        )
        with (lab.pg_data / "postgresql.conf").open("a") as conf:
            conf.write("include 'linemon_lab.conf'\n")
    lab_conf = lab.pg_data / "linemon_lab.conf"
    lab_conf.write_text(configs.postgresql_conf(lab))
    shutil.chown(lab_conf, "postgres", "postgres")
    log = lab.pg_dir / "postgresql.log"
    procs.run(
        [_bin("pg_ctl"), "-D", lab.pg_data, "-l", log, "-w", "-t", "60", "start"],
        user="postgres",
    )
    procs.wait_until(lambda: is_up(lab), "PostgreSQL", 30, log=log)
    return True


def stop(lab: Lab) -> bool:
    """Stop the cluster (fast shutdown); True if it was running."""
    if pid(lab) is None:
        return False
    procs.run([_bin("pg_ctl"), "-D", lab.pg_data, "-m", "fast", "-w", "stop"], user="postgres")
    return True


def ensure_pristine(lab: Lab) -> bool:
    """Load Zabbix's schema and data into the pristine database once; True if it did."""
    if _exists(lab, PRISTINE_DB):
        return False
    if psql(lab, f"SELECT 1 FROM pg_roles WHERE rolname = '{DB_USER}'").strip() != "1":
        psql(lab, f"CREATE ROLE {DB_USER} LOGIN PASSWORD '{DB_PASSWORD}'")
    psql(lab, f"DROP DATABASE IF EXISTS {_LOADING_DB}")
    psql(lab, f"CREATE DATABASE {_LOADING_DB} OWNER {DB_USER}")
    for part in ("schema", "images", "data"):
        sql = gzip.decompress((SCHEMA_DIR / f"{part}.sql.gz").read_bytes())
        procs.run(
            [_bin("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", lab.pg_socket_dir,
             "-p", str(lab.pg_port), "-U", DB_USER, "-d", _LOADING_DB],
            stdin=sql,
            timeout=600,
        )
    # The stock "Zabbix server" host polls the agent with a whole Linux template every
    # minute: noise and CPU in a test lab. Tests make their own hosts.
    psql(lab, "UPDATE hosts SET status = 1 WHERE host = 'Zabbix server'", db=_LOADING_DB)
    # Without fresh statistics every configuration sync costs ~0.8 s of CPU.
    psql(lab, "VACUUM ANALYZE", db=_LOADING_DB)
    psql(lab, f"ALTER DATABASE {_LOADING_DB} RENAME TO {PRISTINE_DB}")
    psql(lab, f"ALTER DATABASE {PRISTINE_DB} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false")
    return True


def ensure_work_db(lab: Lab) -> bool:
    """Clone the working database from the pristine one if it is missing; True if it did."""
    if _exists(lab, WORK_DB):
        return False
    psql(lab, f"CREATE DATABASE {WORK_DB} TEMPLATE {PRISTINE_DB} OWNER {DB_USER}")
    return True


def drop_work_db(lab: Lab) -> None:
    """Drop the working database, disconnecting whoever is still on it."""
    psql(lab, f"DROP DATABASE IF EXISTS {WORK_DB} WITH (FORCE)")
