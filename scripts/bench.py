"""linemon benchmarks on this machine: every scenario of issue 6, side by side with its target.

1. scale: routers x lines at a 60 s interval, stepping up; on-time fraction, broker CPU as
   cores, peak RSS, sessions, overruns (and the emulators' CPU, which shares the cores);
2. cold vs warm: connect-login-ping-close per ping vs warm sessions, CPU and wall per ping;
3. overhead: broker time per ping with a router that answers instantly;
4. client path: `linemon ping` in a fresh process vs a bare interpreter, and the broker's
   socket at a paced 500 requests/s from concurrent clients;
5. delivery: values/s through the broker's reporter into a local trapper receiver and the
   real Zabbix lab (when up), batched and one value per connection;
6. transport: asyncssh vs paramiko (sessions, threads, CPU, RSS, round time);
7. router: many lines on one PE with 4 sessions (issue 11), with and without down probes.

Each scenario runs the real broker (``linemon broker``) against the router emulator
(tests/beds/emulator) on 127.31.0.0/16 and up. Results go to ``bench/results/<date>.json``;
stdout gets Markdown tables to paste into the README. ``--quick`` (CI) runs small sizes in
about a minute; the full run about 14-15 minutes on 2 cores (paramiko at 1,000 routers
is bounded: 90 s to open, 60 s a round).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchlib import clientpath, delivery, figures, router, scale  # noqa: E402

QUICK: dict[str, Any] = {
    "scale": [(20, 200)],
    "scale_interval": 10,
    "intervals": 2,
    "overhead": (10, 100, 10, 1),
    "transport": [20],
    "transport_rounds": 3,
    "pings": 20,
    "calls": 20,
    "rate": 500.0,
    "load_s": 3.0,
    "delivery": (50, 2_000, 300),
    "router": (200, 1),
}
FULL: dict[str, Any] = {
    # (routers, lines[, interval]): the last step is the seed's 180 s interval at full size
    "scale": [(100, 1_000), (500, 10_000), (1_000, 20_000), (5_000, 100_000, 180)],
    "scale_interval": 60,
    "intervals": 2,
    "overhead": (50, 500, 20, 2),
    "transport": [100, 1_000],
    "transport_rounds": 3,
    "pings": 100,
    "calls": 100,
    "rate": 500.0,
    "load_s": 10.0,
    "delivery": (200, 20_000, 2_000),
    "router": (2_000, 3),
}


def _run(result: dict[str, Any], name: str, job: Callable[[], Any]) -> None:
    """Run one scenario; a failure is recorded in the JSON and the run goes on."""
    t0 = time.monotonic()
    print(f"bench: {name} ...", file=sys.stderr, flush=True)
    try:
        result[name] = job()
    except Exception as exc:  # one broken scenario must not lose the others' figures
        traceback.print_exc()
        result[name] = {"error": f"{type(exc).__name__}: {exc}"}
        result["errors"].append(name)
    result["durations_s"][name] = round(time.monotonic() - t0, 1)


def _get(doc: Any, *path: str) -> float | None:
    for key in path:
        if not isinstance(doc, dict) or key not in doc:
            return None
        doc = doc[key]
    return float(doc) if isinstance(doc, int | float) else None


def targets(result: dict[str, Any]) -> list[figures.Target]:
    """Every figure the issue sets a target for, with met / missed."""
    rows: list[figures.Target] = []
    steps = result["scale"] if isinstance(result["scale"], list) else []
    for step in steps:
        if "error" in step:
            continue
        size = f"scale {step['routers']}x{step['lines']}"
        for figure, key, unit, op, bound, text in (
            ("on time (within 5 s of slot)", "on_time_pct", "%", ">=", 99.9, ">= 99.9 %"),
            ("broker CPU", "broker_cores", "cores", "<=", 1.0, "<= 1 core"),
            ("broker peak RSS", "peak_rss_mib", "MiB", "<=", 1024.0, "<= 1 GiB"),
        ):
            value = _get(step, key)
            rows.append(figures.Target(size, figure, value, unit, text,
                                       figures.check(value, op, bound)))
    checks = (
        ("cold vs warm", "CPU per ping, cold / broker warm", ("cold_vs_warm", "cpu_ratio_broker"),
         "x", ">=", 50.0, ">= 50x"),
        ("cold vs warm", "CPU per ping, cold in a fresh process / broker warm",
         ("cold_vs_warm", "cpu_ratio_broker_process"), "x", "info", 0.0, "(the agent-fork way)"),
        ("overhead", "broker time per ping, median", ("overhead", "overhead_ms", "median"),
         "ms", "<=", 20.0, "<= 20 ms"),
        ("overhead", "broker time per ping, p99", ("overhead", "overhead_ms", "p99"),
         "ms", "info", 0.0, "—"),
        ("client path", "`linemon ping` wall, median", ("client", "client_wall_ms", "median"),
         "ms", "<=", 80.0, "<= 80 ms"),
        ("client path", "`linemon ping` wall, p99", ("client", "client_wall_ms", "p99"),
         "ms", "info", 0.0, "—"),
        ("client path", "bare `python -c pass`, median",
         ("client", "bare_python_wall_ms", "median"), "ms", "info", 0.0, "(the floor)"),
        ("client path", "broker side p99 at 500 req/s (bucket bound)",
         ("client", "socket_load", "broker_side_ms", "p99_at_most"), "ms", "<=", 2.0, "<= 2 ms"),
        ("client path", "socket round trip p99 at 500 req/s (client side)",
         ("client", "socket_load", "round_trip_ms", "p99"), "ms", "info", 0.0, "—"),
        ("delivery", "local trapper, batched", ("delivery", "local_trapper", "batched",
         "values_per_s"), "values/s", ">=", 10_000.0, ">= 10,000/s"),
        ("delivery", "local trapper, one per connection", ("delivery", "local_trapper",
         "one_per_connection", "values_per_s"), "values/s", "info", 0.0, "(compare)"),
        ("delivery", "Zabbix 6.0 lab, batched", ("delivery", "zabbix", "batched",
         "values_per_s"), "values/s", ">=", 10_000.0, ">= 10,000/s"),
        ("delivery", "Zabbix 6.0 lab, one per connection", ("delivery", "zabbix",
         "one_per_connection", "values_per_s"), "values/s", "info", 0.0, "(compare)"),
    )
    checks += (
        ("router", "lines measured per interval, min (down probes on)",
         ("router", "down_probes_on", "measured_pct_min"), "%", ">=", 99.9, ">= 99.9 %"),
        ("router", "false timeouts (down probes on)",
         ("router", "down_probes_on", "false_timeouts"), "", "<=", 0.0, "0"),
        ("router", "router load (down probes on)", ("router", "down_probes_on", "load"),
         "", "info", 0.0, "—"),
        ("router", "lines measured per interval, min (down probes off)",
         ("router", "down_probes_off", "measured_pct_min"), "%", "info", 0.0,
         "(expect skipped: about twice the session time)"),
        ("router", "false timeouts (down probes off)",
         ("router", "down_probes_off", "false_timeouts"), "", "<=", 0.0, "0"),
        ("router", "router load (down probes off)", ("router", "down_probes_off", "load"),
         "", "info", 0.0, "—"),
    )
    for scenario, figure, path, unit, op, bound, text in checks:
        value = _get(result, *path)
        rows.append(figures.Target(scenario, figure, value, unit, text,
                                   figures.check(value, op, bound)))
    return rows


def transport_table(result: dict[str, Any]) -> str:
    rows = result["transport"] if isinstance(result["transport"], list) else []
    out = ["| transport | routers | sessions | threads | open all | round (median) | pings ok | "
           "CPU per ping | peak RSS |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        if "error" in row:
            out.append(f"| {row.get('transport')} | {row.get('routers')} | error: "
                       f"{row['error']} | | | | | | |")
            continue
        out.append(
            f"| {row['transport']} | {row['routers']} | {row['sessions']} | {row['threads']} "
            f"| {row['open_all_s']} s | {row['round_s']['median']} s | "
            f"{row['round_results'].get('ok', 0)}/{row['routers'] * row['rounds']} | "
            f"{row['cpu_ms_per_ping']} ms | {row['peak_rss_mib']} MiB |"
        )
    return "\n".join(out)


def scale_table(result: dict[str, Any]) -> str:
    rows = result["scale"] if isinstance(result["scale"], list) else []
    out = ["| routers | lines | on time | late p99 | overruns | broker cores | CPU per ping | "
           "peak RSS | sessions | emulator cores |",
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        if "error" in row:
            out.append(f"| {row['routers']} | {row['lines']} | error: {row['error']} "
                       "| | | | | | | |")
            continue
        out.append(
            f"| {row['routers']} | {row['lines']} | {row['on_time_pct']} % | "
            f"{row['lateness_s']['p99']} s | {row['overruns']} | {row['broker_cores']} | "
            f"{row['broker_cpu_ms_per_ping']} ms | {row['peak_rss_mib']} MiB | "
            f"{row['sessions_after']} | {row['emulator_cores']} |"
        )
    return "\n".join(out)


def _scale_steps(plan: dict[str, Any], work: Path) -> list[dict[str, Any]]:
    steps = []
    for n, (routers, lines, *rest) in enumerate(plan["scale"]):
        interval = rest[0] if rest else plan["scale_interval"]
        print(f"bench:   scale {routers} x {lines} at {interval} s", file=sys.stderr, flush=True)
        try:
            steps.append(scale.scheduled(work / f"scale{n}", routers, lines, interval,
                                         plan["intervals"]))
        except Exception as exc:  # keep the smaller steps' figures
            traceback.print_exc()
            steps.append({"routers": routers, "lines": lines,
                          "error": f"{type(exc).__name__}: {exc}"})
    return steps


def _transports(plan: dict[str, Any], work: Path) -> list[dict[str, Any]]:
    rows = []
    for routers in plan["transport"]:
        for name in ("asyncssh", "paramiko"):
            print(f"bench:   transport {name} x {routers}", file=sys.stderr, flush=True)
            try:
                rows.append(scale.transport(work / f"{name}{routers}", name, routers,
                                            plan["transport_rounds"]))
            except Exception as exc:
                traceback.print_exc()
                rows.append({"transport": name, "routers": routers,
                             "error": f"{type(exc).__name__}: {exc}"})
    return rows


def _step(text: str) -> tuple[int, ...]:
    """``5000x100000@180`` -> (5000, 100000, 180); the interval is optional."""
    size, _, interval = text.partition("@")
    routers, _, lines = size.partition("x")
    try:
        return tuple(int(v) for v in (routers, lines, *([interval] if interval else [])))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give ROUTERSxLINES or ROUTERSxLINES@SECONDS"
        ) from None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (CI, ~1.5 minutes)")
    parser.add_argument("--only", action="append", metavar="SCENARIO",
                        choices=["scale", "cold_vs_warm", "overhead", "client", "delivery",
                                 "transport", "router"],
                        help="run only these scenarios (repeat)")
    parser.add_argument("--scale-step", action="append", metavar="RxL[@S]", type=_step,
                        help="scale steps to run instead of the plan's: routers x lines at an "
                             "interval of S seconds, e.g. 5000x100000@180 (repeat)")
    parser.add_argument("--out", default=str(REPO / "bench" / "results"))
    args = parser.parse_args()
    # SIGTERM (CI timeout, kill PID) unwinds like Ctrl-C: every bed stops its own processes
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    plan = dict(QUICK if args.quick else FULL)
    if args.scale_step:
        plan["scale"] = args.scale_step
    work = Path(tempfile.mkdtemp(prefix="lmb-"))  # short: Unix socket paths <= 107 bytes
    wanted = set(args.only or ["scale", "cold_vs_warm", "overhead", "client", "delivery",
                               "transport", "router"])
    started = time.monotonic()
    result: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "kernel": platform.release(),
            "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
        },
        "quick": args.quick,
        "cpu_note": "CPU figures are user+sys CPU seconds from /proc; the machine may be "
                    "shared, so wall-time figures are noisier than CPU figures",
        "errors": [],
        "durations_s": {},
        "scale": [],
        "transport": [],
    }
    jobs: list[tuple[str, Callable[[], Any]]] = [
        ("scale", lambda: _scale_steps(plan, work)),
        ("cold_vs_warm", lambda: scale.cold_vs_warm(
            work / "coldwarm", plan["pings"],
            _get(result["scale"][0] if result["scale"] else {}, "broker_cpu_ms_per_ping"))),
        ("overhead", lambda: scale.overhead(work / "overhead", *plan["overhead"])),
        ("client", lambda: clientpath.client_path(work / "client", plan["calls"], plan["rate"],
                                                  plan["load_s"])),
        ("delivery", lambda: delivery.delivery(work / "delivery", *plan["delivery"])),
        ("transport", lambda: _transports(plan, work)),
        ("router", lambda: router.scenario(work / "router", *plan["router"])),
    ]
    try:
        for name, job in jobs:
            if name in wanted:
                _run(result, name, job)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["total_s"] = round(time.monotonic() - started, 1)
    checked = targets(result)
    result["targets"] = [
        {"scenario": t.scenario, "figure": t.figure, "value": t.value, "unit": t.unit,
         "target": t.target, "met": t.met}
        for t in checked
    ]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{result['date'].replace(':', '')}{'-quick' if args.quick else ''}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(figures.markdown(result["date"], os.cpu_count(), args.quick, checked))
    print()
    print(scale_table(result))
    print()
    print(transport_table(result))
    print()
    print(f"total {result['total_s']} s; results: {path}")
    if result["errors"]:
        print(f"scenarios that failed: {', '.join(result['errors'])}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
