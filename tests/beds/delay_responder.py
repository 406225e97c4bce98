"""Answers ICMP echo requests arriving on a TUN device after a per-address delay and jitter.

Run inside a network namespace (stdlib only, started by tests/beds/netns.py):

    python delay_responder.py IFNAME

It creates the TUN device IFNAME (gone when the process exits), prints ``ready``, then reads
one JSON command a line on stdin and answers ``ok`` (or ``error: ...``) on stdout:

    {"addr": "198.19.0.20", "delay_ms": 80, "jitter_ms": 5}   answer echoes to addr
    {"addr": "198.19.0.20", "delay_ms": null}                  stop answering addr

Each reply leaves ``delay_ms + uniform(-jitter_ms, +jitter_ms)`` ms (never below 0) after its
request arrived, so jitter can reorder replies, as on a real path. End of stdin ends it.
"""

from __future__ import annotations

import fcntl
import heapq
import ipaddress
import json
import os
import random
import select
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
ICMP_ECHO_REQUEST = 8
ICMP_ECHO_REPLY = 0


def inet_checksum(data: bytes) -> int:
    """The 16-bit ones' complement checksum of RFC 1071."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def echo_reply(packet: bytes) -> tuple[str, bytes] | None:
    """(destination address of the request, reply packet) for an IPv4 echo request, else None."""
    if len(packet) < 20 or packet[0] >> 4 != 4:
        return None
    ihl = (packet[0] & 0x0F) * 4
    total_len = struct.unpack("!H", packet[2:4])[0]
    if packet[9] != 1 or ihl < 20 or total_len > len(packet) or total_len < ihl + 8:
        return None
    icmp = packet[ihl:total_len]
    if icmp[0] != ICMP_ECHO_REQUEST or icmp[1] != 0:
        return None
    src, dst = packet[12:16], packet[16:20]
    header = bytearray(packet[:20])  # options are not echoed back
    header[0] = 0x45
    header[2:4] = struct.pack("!H", 20 + len(icmp))
    header[6:8] = b"\0\0"  # no fragmentation flags
    header[8] = 64
    header[10:12] = b"\0\0"
    header[12:16], header[16:20] = dst, src
    header[10:12] = struct.pack("!H", inet_checksum(bytes(header)))
    body = bytearray(icmp)
    body[0] = ICMP_ECHO_REPLY
    body[2:4] = b"\0\0"
    body[2:4] = struct.pack("!H", inet_checksum(bytes(body)))
    return str(ipaddress.IPv4Address(dst)), bytes(header) + bytes(body)


def apply_command(line: str, delays: dict[str, tuple[float, float]]) -> str:
    """Apply one JSON command line to the delay table; return the answer line."""
    try:
        command = json.loads(line)
        addr = str(ipaddress.IPv4Address(command["addr"]))
        delay = command.get("delay_ms")
        if delay is None:
            delays.pop(addr, None)
        else:
            jitter = float(command.get("jitter_ms", 0.0))
            if float(delay) < 0 or jitter < 0:
                return "error: delay_ms and jitter_ms must be >= 0"
            delays[addr] = (float(delay) / 1000.0, jitter / 1000.0)
    except (ValueError, KeyError, TypeError) as exc:
        return f"error: {exc}"
    return "ok"


def open_tun(name: str) -> int:
    """Create the TUN device `name` (no packet info header) and return its file descriptor."""
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def serve(tun: int, commands: int) -> None:
    """Answer echoes on `tun` and commands on fd `commands` until the commands reach EOF."""
    delays: dict[str, tuple[float, float]] = {}
    pending: list[tuple[float, int, bytes]] = []
    sequence = 0
    buffer = b""
    while True:
        timeout = max(0.0, pending[0][0] - time.monotonic()) if pending else None
        readable, _, _ = select.select([tun, commands], [], [], timeout)
        if tun in readable:
            arrived = time.monotonic()
            answer = echo_reply(os.read(tun, 65535))
            if answer is not None and answer[0] in delays:
                delay, jitter = delays[answer[0]]
                due = arrived + max(0.0, delay + random.uniform(-jitter, jitter))
                sequence += 1
                heapq.heappush(pending, (due, sequence, answer[1]))
        if commands in readable:
            chunk = os.read(commands, 4096)
            if not chunk:
                return
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                print(apply_command(line.decode(), delays), flush=True)
        now = time.monotonic()
        while pending and pending[0][0] <= now:
            os.write(tun, heapq.heappop(pending)[2])


def main() -> None:
    tun = open_tun(sys.argv[1])
    print("ready", flush=True)
    serve(tun, sys.stdin.fileno())


if __name__ == "__main__":
    main()
