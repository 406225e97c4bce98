"""Hostile line definitions and socket requests: every one refused with a reason, none
reaching a router (the emulator records every byte it receives), the broker responsive and
its memory bounded. Figures are printed (-s shows them)."""

from __future__ import annotations

import itertools
import json
import os
import random
import socket
import time
from pathlib import Path
from typing import Any

from linemon_agent.config import parse_config
from linemon_agent.errors import ConfigError
from linemon_agent.platforms import get_platform
from linemon_agent.zbxmodel import ZbxHost, build
from tests.beds.emulator.client import Emulator
from tests.beds.trapper import TrapperBed
from tests.functional.broker_proc import BrokerProcess

MARK = "PWNED"
PAYLOADS = [
    f"\n{MARK}",
    f"\r\n{MARK}",
    f";{MARK}",
    f"|{MARK}",
    f"&&{MARK}",
    f"`{MARK}`",
    f"$({MARK})",
    f" {MARK}",
    f"\x00{MARK}",
    f"\t{MARK}",
    f"ＸＸ{MARK}",
    f"е{MARK}",
    f"{MARK}" * 300,
    f"-{MARK}",
    f"'{MARK}'",
    f"%{MARK}",
    f"${{IFS}}{MARK}",
    f"\\{MARK}",
    f"#{MARK}",
]
FIELDS = [
    "target",
    "vrf",
    "source",
    "source_interface",
    "count",
    "size",
    "timeout",
    "interval",
    "router",
    "id",
    "zabbix_host",
]
NUMERIC = {
    "count": ["0", "-5", "1e9", "99999999"],
    "size": ["-1", "70000"],
    "timeout": ["0", "-1", "nan", "inf"],
    "interval": ["0", "-60", "5"],
}


def hostile_lines() -> list[dict[str, Any]]:
    base = {"id": "ok", "router": "pe1", "target": "198.51.100.7"}
    lines = []
    for index, (field, payload) in enumerate(itertools.product(FIELDS, PAYLOADS)):
        value = payload if field not in ("id",) else f"id{payload}"
        lines.append({**base, "id": f"h{index}", field: value})
    for field, values in NUMERIC.items():
        for value in values:
            lines.append({**base, "id": f"n-{field}-{value}", field: value})
    lines.append({**base, "id": "unknown-router", "router": "nope"})
    return lines


def _doc(emulator: Emulator, trapper_port: int, secret: Path) -> dict[str, Any]:
    host, port = emulator.address("pe1")
    return {
        "broker": {"host_key_policy": "strict", "known_hosts": str(emulator.known_hosts)},
        "zabbix": {"server": "127.0.0.1", "port": trapper_port},
        "credentials": {"default": {"username": "lab", "password_file": str(secret)}},
        "routers": [{"name": "pe1", "host": host, "port": port, "platform": "cisco_iosxe"}],
        "lines": [
            {"id": "good", "router": "pe1", "target": "198.51.100.7", "count": 2, "interval": 10}
        ],
    }


def test_hostile_line_definitions_never_reach_a_router(tmp_path: Path) -> None:
    hostile = hostile_lines()
    assert len(hostile) >= 200
    (tmp_path / "emu").mkdir()
    config = {
        "time_scale": 0.05,
        "defaults": {"username": "lab", "password": "lab-pw"},
        "routers": {"pe1": {"host": "127.8.0.1", "port": 0, "platform": "cisco_iosxe"}},
    }
    secret = tmp_path / "pw"
    secret.write_text("lab-pw\n")
    os.chmod(secret, 0o600)
    with Emulator(config, workdir=tmp_path / "emu") as emulator, TrapperBed() as trapper:
        doc = _doc(emulator, trapper.port, secret)
        # From a config file: each refused naming the line (its id, or its index when the id
        # itself is refused) and the reason; the file as a whole too.
        refused = 0
        platform = get_platform("cisco_iosxe")
        for line in hostile:
            try:
                accepted = parse_config({**doc, "lines": [line]}, "t.toml", env={})
            except ConfigError as exc:
                named = "lines[0]" in str(exc) or f"lines {line.get('id')!r}" in str(exc)
                assert named and "\n" + MARK not in str(exc), str(exc)
                refused += 1
                continue
            # Only names that never reach a CLI may be odd but valid (e.g. an id "id-PWNED").
            for ok_line in accepted.lines.values():
                assert MARK not in platform.build_ping(ok_line.request)
        # From Zabbix macros: each host refused with a reason.
        macro_of = {
            "vrf": "{$LINE_VRF}",
            "source": "{$LINE_SOURCE}",
            "count": "{$LINE_COUNT}",
            "size": "{$LINE_SIZE}",
            "timeout": "{$LINE_TIMEOUT}",
            "target": "{$LINE_TARGET}",
            "interval": "{$LINE_CHECK_INTERVAL}",
            "source_interface": "{$LINE_SOURCE_INTERFACE}",
        }
        hosts = []
        for index, (field, payload) in enumerate(itertools.product(macro_of, PAYLOADS)):
            macros = {
                "{$LINE_ID}": f"m{index}",
                "{$LINE_ROUTER_IP}": "192.0.2.1",
                "{$LINE_CREDENTIALS}": "default",
                macro_of[field]: payload,
            }
            hosts.append(ZbxHost(str(index), f"line-{index}", macros, [], [("TempType", "LINE")]))
        synced = build(hosts, {}, {}, profiles=["default"])
        assert not synced.lines and len(synced.errors) == len(hosts)
        # The broker runs with the one good line; its router never sees a hostile byte.
        with BrokerProcess(tmp_path, doc) as broker:
            bad = broker.client("ping", "pe1", f"198.51.100.7;{MARK}")
            assert bad.returncode == 2
            for payload in PAYLOADS[:8]:
                assert (
                    broker.client("ping", "pe1", "198.51.100.7", "--vrf", f"V{payload}").returncode
                    == 2
                )
            emulator.wait_for("pe1", "pings", 1, timeout=30)
        received = emulator.received_bytes("pe1")
        assert MARK.encode() not in received
        print(
            "FIGURES",
            json.dumps(
                {
                    "hostile_definitions": len(hostile),
                    "refused_from_file": refused,
                    "hostile_macros": len(hosts),
                    "refused_from_macros": len(synced.errors),
                    "reached_router": 0,
                    "bytes_router_received": len(received),
                }
            ),
        )
        assert refused >= len(hostile) - 2


def _fuzz_frames(rng: random.Random) -> list[bytes]:
    valid = {"v": 1, "op": "status", "args": {}}
    frames = [
        b"\n",
        b"{\n",
        b"null\n",
        b"[]\n",
        b'"x"\n',
        b"\xff\xfe\xfd\n",
        b"{}\n",
        json.dumps({**valid, "v": "1"}).encode() + b"\n",
        json.dumps({**valid, "op": 5}).encode() + b"\n",
        json.dumps({**valid, "args": [1]}).encode() + b"\n",
        json.dumps({"v": 1, "op": "ping", "args": {"router": ["x"], "target": {}}}).encode()
        + b"\n",
        json.dumps(
            {
                "v": 1,
                "op": "ping",
                "args": {"router": "pe1", "target": "1.2.3.4", "count": "9" * 50},
            }
        ).encode()
        + b"\n",
        json.dumps({"v": 1, "op": "lines", "args": {"router": "\x00" * 10}}).encode() + b"\n",
    ]
    out = []
    for _ in range(10_000):
        kind = rng.random()
        if kind < 0.5:
            out.append(rng.choice(frames))
        elif kind < 0.8:
            noise = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 60)))
            out.append(noise.replace(b"\n", b" ") + b"\n")
        else:
            blob = json.dumps(valid).encode()
            cut = rng.randrange(len(blob))
            out.append(blob[:cut] + bytes([rng.getrandbits(8)]) + blob[cut + 1 :] + b"\n")
    return out


def _rss_kib(pid: int) -> int:
    for row in Path(f"/proc/{pid}/status").read_text().splitlines():
        if row.startswith("VmRSS:"):
            return int(row.split()[1])
    return 0


def test_fuzzed_socket_requests(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("x-pw\n")
    os.chmod(secret, 0o600)
    doc = {
        "credentials": {"default": {"username": "u", "password_file": str(secret)}},
        "zabbix": {"server": "127.0.0.1", "port": 9},
    }
    rng = random.Random(7)
    with BrokerProcess(tmp_path, doc) as broker:
        assert broker.proc is not None
        pid = broker.proc.pid
        frames = _fuzz_frames(rng)
        answered = closed = 0
        rss_before = _rss_kib(pid)
        conn: socket.socket | None = None
        for index, frame in enumerate(frames):
            if conn is None or index % 50 == 0:
                if conn is not None:
                    conn.close()
                conn = socket.socket(socket.AF_UNIX)
                conn.settimeout(5)
                conn.connect(str(broker.socket))
            reply = b""
            try:
                conn.sendall(frame)
                while not reply.endswith(b"\n"):
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    reply += chunk
            except OSError:
                reply = b""
            if reply.endswith(b"\n"):
                for row in reply.splitlines():
                    assert json.loads(row)["ok"] in (True, False)
                answered += 1
            else:
                closed += 1
                conn.close()
                conn = None
        if conn is not None:
            conn.close()
        # Oversize and slowloris-style partial writes, many at once.
        oversize = socket.socket(socket.AF_UNIX)
        oversize.connect(str(broker.socket))
        oversize.sendall(b'{"v":1,"op":"status","args":{"x":"' + b"a" * 200_000)
        reply = oversize.recv(65536)
        assert b"larger than" in reply
        oversize.close()
        slow = []
        for _ in range(100):
            sock = socket.socket(socket.AF_UNIX)
            sock.connect(str(broker.socket))
            sock.sendall(b'{"v":1,')
            slow.append(sock)
        started = time.monotonic()
        status = broker.client_json("status", "--json")
        latency = time.monotonic() - started
        assert status["lines"] == 0 and latency < 2.0
        for sock in slow:
            sock.close()
        rss_after = _rss_kib(pid)
        print(
            "FIGURES",
            json.dumps(
                {
                    "requests": len(frames),
                    "answered": answered,
                    "closed": closed,
                    "status_latency_s": round(latency, 3),
                    "rss_kib_before": rss_before,
                    "rss_kib_after": rss_after,
                }
            ),
        )
        assert answered + closed == len(frames)
        assert rss_after < rss_before + 50 * 1024
