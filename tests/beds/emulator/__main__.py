"""Run an emulated router fleet: ``python -m tests.beds.emulator --config FILE``.

Generates an RSA host key for the run, listens for every router, then prints one JSON
line on stdout when ready: ``{"ready": true, "pid", "control", "known_hosts",
"host_key", "host_key_public", "routers": {name: {"host", "port", "platform"}}}``.
It runs until SIGTERM, SIGINT or the control channel's ``shutdown``; then it stops
listening, cuts open sessions and removes its control socket.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

import asyncssh

from tests.beds.emulator.config import ConfigError, FleetConfig, load_config
from tests.beds.emulator.control import MAX_REQUEST, serve_client
from tests.beds.emulator.server import Fleet


def known_hosts_lines(fleet: Fleet, public_key: str) -> list[str]:
    """One line per router, naming it both as ``host`` (scrapli looks hosts up without the
    port) and ``[host]:port`` (OpenSSH, asyncssh and paramiko)."""
    return [
        f"{r.config.host},[{r.config.host}]:{r.port} {public_key}" for r in fleet.routers.values()
    ]


async def run(config: FleetConfig, workdir: Path, control: Path) -> int:
    key = asyncssh.generate_private_key("ssh-rsa", key_size=2048)
    key_path = workdir / "ssh_host_rsa_key"
    key.write_private_key(str(key_path))
    os.chmod(key_path, 0o600)
    public = key.export_public_key().decode().strip()
    fleet = Fleet(config, key)
    await fleet.start()
    known_hosts = workdir / "known_hosts"
    known_hosts.write_text("\n".join(known_hosts_lines(fleet, public)) + "\n")

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    server = await asyncio.start_unix_server(
        functools.partial(serve_client, fleet, stop), path=str(control), limit=MAX_REQUEST
    )
    ready: dict[str, Any] = {
        "ready": True,
        "pid": os.getpid(),
        "control": str(control),
        "known_hosts": str(known_hosts),
        "host_key": str(key_path),
        "host_key_public": public,
        "routers": {
            name: {
                "host": r.config.host,
                "port": r.port,
                "platform": r.config.platform,
                "telnet_port": r.telnet_port,
            }
            for name, r in fleet.routers.items()
        },
    }
    print(json.dumps(ready), flush=True)
    await stop.wait()
    server.close()
    cut = await fleet.close()
    control.unlink(missing_ok=True)
    print(json.dumps({"stopped": True, "connections_cut": cut}), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.beds.emulator", description=__doc__)
    parser.add_argument("--config", required=True, type=Path, help="the fleet's JSON file")
    parser.add_argument("--workdir", type=Path, help="where the host key and known_hosts go")
    parser.add_argument("--control", type=Path, help="the control socket (default: in workdir)")
    options = parser.parse_args(argv)
    try:
        config = load_config(options.config)
    except ConfigError as exc:
        print(f"emulator: {exc}", file=sys.stderr)
        return 2
    workdir = options.workdir or Path(tempfile.mkdtemp(prefix="linemon-emu-"))
    try:
        return asyncio.run(run(config, workdir, options.control or workdir / "control.sock"))
    except OSError as exc:  # an address or the socket path cannot be bound
        print(f"emulator: {exc}", file=sys.stderr)
        return 1
    finally:
        if options.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
