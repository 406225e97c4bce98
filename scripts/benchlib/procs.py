"""CPU and memory of other processes, read from /proc (user+sys CPU, RSS, peak RSS, threads)."""

from __future__ import annotations

import os
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def status_kib(pid: int, key: str) -> int:
    """One numeric field of /proc/PID/status (VmRSS, VmHWM in KiB; Threads as a count)."""
    for row in Path(f"/proc/{pid}/status").read_text().splitlines():
        if row.startswith(key + ":"):
            return int(row.split()[1])
    return 0


def cpu_total(pids: list[int]) -> float:
    return sum(cpu_seconds(pid) for pid in pids)


def memory(pid: int) -> dict[str, float]:
    """RSS now, peak RSS (VmHWM) in MiB, and the thread count."""
    return {
        "rss_mib": round(status_kib(pid, "VmRSS") / 1024, 1),
        "peak_rss_mib": round(status_kib(pid, "VmHWM") / 1024, 1),
        "threads": status_kib(pid, "Threads"),
    }
