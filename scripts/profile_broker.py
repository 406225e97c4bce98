"""Broker CPU per ping, measured repeatably (issue 6), with an optional profile.

Two measurements, both against the router emulator (tests/beds/emulator) on 127.32.0.0/16:

``micro``   one warm linemon session (``transport.open_session``) in this process doing N
            pings of one IOS-XE line; and the same pings done cold (log in, ping, close each
            time). CPU is this process's user+sys (``resource.getrusage``; the emulator is a
            separate process), so the figures are CPU-seconds, not noisy wall time.
``broker``  the real broker (``linemon broker``) with R routers x L lines at a short
            interval; CPU is the broker process's user+sys from /proc over a window, divided
            by the results it produced in that window.

``--profile FILE`` writes a cProfile report on CPU time of the warm loop (micro; the
per-ping figures then include the profiler's own cost), or, for ``broker``, runs py-spy
(installed into .venv by hand; not a dependency) on the broker over the window, on-CPU
samples only, and writes its flat report to FILE.

    .venv/bin/python scripts/profile_broker.py micro --pings 2000 --cold 100
    .venv/bin/python scripts/profile_broker.py broker --routers 20 --lines 200 --interval 5
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import pstats
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchlib.bed import PASSWORD, broker_doc, fleet  # noqa: E402
from benchlib.procs import cpu_seconds as proc_cpu  # noqa: E402

from linemon_agent.models import PingRequest, Router  # noqa: E402
from linemon_agent.platforms import get_platform  # noqa: E402
from linemon_agent.secrets import Secret  # noqa: E402
from linemon_agent.settings import Credentials  # noqa: E402
from tests.beds.emulator.client import Emulator  # noqa: E402
from tests.functional.broker_proc import BIN, BrokerProcess  # noqa: E402

NETWORK = 32  # 127.32.0.0/16: this script's emulators


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- micro: one session in this process ---------------------------------------------------


async def _micro(emu: Emulator, pings: int, cold: int, profile: Path | None) -> dict[str, Any]:
    from linemon_agent.broker.hostkeys import HostKeys
    from linemon_agent.broker.transport import open_session

    host, port = emu.address("r0")
    router = Router(name="r0", host=host, port=port, platform="cisco_iosxe")
    creds = Credentials(name="default", username="lab", password=Secret(PASSWORD))
    keys = HostKeys("insecure", Path("/nonexistent"), Path("/nonexistent"))
    platform = get_platform("cisco_iosxe")
    request = PingRequest(target="198.51.100.1", count=5, timeout=1)
    command = platform.build_ping(request)

    session = await open_session(router, creds, keys, "asyncssh")
    for _ in range(20):  # warm caches (regex compilation, imports) before measuring
        platform.parse_ping(await session.send(command, 10.0), request)
    # cProfile on process CPU time: where the CPU goes, not where the loop waits
    profiler = cProfile.Profile(time.process_time) if profile is not None else None
    if profiler is not None:
        profiler.enable()
    cpu0, wall0 = self_cpu(), time.monotonic()
    for _ in range(pings):
        result = platform.parse_ping(await session.send(command, 10.0), request)
        assert result.status == "ok", result
    warm_cpu, warm_wall = self_cpu() - cpu0, time.monotonic() - wall0
    if profiler is not None and profile is not None:
        profiler.disable()
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text).strip_dirs()
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(40)
        profile.write_text(text.getvalue())
    await session.close()

    cpu0, wall0 = self_cpu(), time.monotonic()
    for _ in range(cold):
        session = await open_session(router, creds, keys, "asyncssh")
        platform.parse_ping(await session.send(command, 10.0), request)
        await session.close()
    cold_cpu, cold_wall = self_cpu() - cpu0, time.monotonic() - wall0
    out: dict[str, Any] = {
        "warm_pings": pings,
        "warm_cpu_ms_per_ping": round(warm_cpu / pings * 1000, 3),
        "warm_wall_ms_per_ping": round(warm_wall / pings * 1000, 3),
        "emulator_pings": emu.stats("r0").get("pings"),
    }
    if cold:
        out.update(
            cold_pings=cold,
            cold_cpu_ms_per_ping=round(cold_cpu / cold * 1000, 3),
            cold_wall_ms_per_ping=round(cold_wall / cold * 1000, 3),
            cold_over_warm_cpu=round(cold_cpu / cold / (warm_cpu / pings), 1),
        )
    return out


def micro(args: argparse.Namespace) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="linemon-prof-") as tmp,
        Emulator(fleet(1, NETWORK, args.time_scale), workdir=Path(tmp)) as emu,
    ):
        return asyncio.run(_micro(emu, args.pings, args.cold, args.profile))


# -- broker: the real broker process ------------------------------------------------------


def _results(proc: BrokerProcess) -> tuple[int, int]:
    """(all results, ok results) so far."""
    status = proc.client_json("status", "--json")
    return sum(int(v) for v in status["results"].values()), int(status["results"]["ok"])


def flat_report(raw: Path, top: int = 40) -> str:
    """py-spy's collapsed stacks as two tables: self samples and inclusive samples."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for row in raw.read_text().splitlines():
        stack, _, count = row.rpartition(" ")
        frames = [f.rsplit(" (", 1)[0] + " " + f.rsplit("/", 1)[-1] for f in stack.split(";")]
        n = int(count)
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    lines = [f"on-CPU samples: {total}", "", "self%   function"]
    lines += [f"{100 * n / total:5.1f}  {f}" for f, n in own.most_common(top)]
    lines += ["", "total%  function (inclusive)"]
    lines += [f"{100 * n / total:5.1f}  {f}" for f, n in inclusive.most_common(top)]
    return "\n".join(lines) + "\n"


def broker(args: argparse.Namespace) -> dict[str, Any]:
    from tests.beds.trapper import TrapperBed

    with tempfile.TemporaryDirectory(prefix="linemon-prof-") as tmp:
        work = Path(tmp)
        (work / "emu").mkdir()
        with Emulator(fleet(args.routers, NETWORK, args.time_scale), workdir=work / "emu") as emu:
            trapper = TrapperBed()
            trapper.start()
            try:
                doc = broker_doc([emu], work, trapper.port, args.lines, args.interval, "asyncssh")
                # warning: the cost of the pings, not of their log lines; 200 lines in 10 s is
                # 20 pings/s a router, above the default limit of 10/s
                doc["broker"].update(log_level="warning", router_pings_per_second=100)
                proc = BrokerProcess(work, doc).start(wait=60.0)
                try:
                    time.sleep(args.interval + args.warmup)  # sessions open, first round done
                    pid = proc.proc.pid if proc.proc else 0
                    spy = None
                    if args.profile is not None:
                        spy = subprocess.Popen(
                            [str(BIN / "py-spy"), "record", "--pid", str(pid), "--duration",
                             str(int(args.window)), "--rate", "250", "--format", "raw",
                             "--output", str(work / "spy.raw"), "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                        )
                    n0, c0, e0 = _results(proc), proc_cpu(pid), proc_cpu(emu.pid)
                    time.sleep(args.window)
                    n1, c1, e1 = _results(proc), proc_cpu(pid), proc_cpu(emu.pid)
                    if spy is not None and args.profile is not None:
                        spy.wait(timeout=60)
                        args.profile.write_text(flat_report(work / "spy.raw"))
                        shutil.copy(work / "spy.raw", args.profile.with_suffix(".raw"))
                    status = proc.client_json("status", "--json")
                finally:
                    proc.stop(timeout=60.0)
            finally:
                trapper.stop()
    pings = n1[0] - n0[0]
    return {
        "routers": args.routers,
        "lines": args.routers * args.lines,
        "interval_s": args.interval,
        "window_s": args.window,
        "pings": pings,
        "pings_ok": n1[1] - n0[1],
        "pings_per_s": round(pings / args.window, 1),
        "broker_cpu_s": round(c1 - c0, 2),
        "broker_cores": round((c1 - c0) / args.window, 3),
        "broker_cpu_ms_per_ping": round((c1 - c0) / max(pings, 1) * 1000, 3),
        "emulator_cpu_ms_per_ping": round((e1 - e0) / max(pings, 1) * 1000, 3),
        "late_total": status["pings_late"],
        "overruns_total": status["overruns"],
        "delivery": status["delivery"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    m = sub.add_parser("micro", help="one warm session in-process, and cold pings")
    m.add_argument("--pings", type=int, default=2000)
    m.add_argument("--cold", type=int, default=100)
    b = sub.add_parser("broker", help="the real broker process under load")
    b.add_argument("--routers", type=int, default=20)
    b.add_argument("--lines", type=int, default=200)
    b.add_argument("--interval", type=int, default=5)
    b.add_argument("--warmup", type=float, default=3.0)
    b.add_argument("--window", type=float, default=20.0)
    for p in (m, b):
        p.add_argument("--time-scale", type=float, default=0.01)
        p.add_argument("--profile", type=Path, default=None)
    args = parser.parse_args()
    out = micro(args) if args.mode == "micro" else broker(args)
    print(json.dumps(out, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
