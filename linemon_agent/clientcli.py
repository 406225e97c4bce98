"""The client commands the Zabbix agent calls (ping, discover, status, ...), without click.

argparse and the stdlib socket client only: one call costs little more than the interpreter's
own start, so thousands of agent calls a minute stay cheap. ``linemon --help`` lists these
commands too; they are dispatched here before click is imported.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from linemon_agent.client import ClientError, call
from linemon_agent.options import NAMES, PING_OPTIONS

COMMANDS = ("ping", "discover", "status", "routers", "lines", "result", "sync", "reload")
SUMMARIES = {
    "ping": "queue a ping on the broker (prints 1 at once; --wait prints the result)",
    "discover": "print Zabbix LLD JSON of the broker's lines",
    "status": "the broker's health and counters",
    "routers": "routers and their sessions",
    "lines": "lines with their last results",
    "result": "the last result of one line (JSON)",
    "sync": "sync lines from the Zabbix API now",
    "reload": "reload the broker's configuration file",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="linemon", description="linemon broker client")
    parser.add_argument(
        "--socket", help="broker socket (default $LINEMON_SOCKET or /run/linemon/broker.sock)"
    )
    parser.add_argument(
        "--call-timeout", type=float, default=5.0, help="seconds to wait for the broker (default 5)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    ping = sub.add_parser("ping", help=SUMMARIES["ping"])
    ping.add_argument("router", nargs="?", help="router name from the broker's configuration")
    ping.add_argument("target", nargs="?", help="address or host name to ping")
    ping.add_argument("--line", help="ping a configured line now instead of ROUTER TARGET")
    for option in PING_OPTIONS:
        ping.add_argument(option.flag, dest=option.name, help=option.help)
    ping.add_argument("--zabbix-host", help="also send the result to this Zabbix host")
    ping.add_argument("--zabbix-key", help="... under this trapper item key")
    ping.add_argument("--wait", action="store_true", help="wait and print the result as JSON")

    discover = sub.add_parser("discover", help=SUMMARIES["discover"])
    discover.add_argument("--router")
    for name in ("status", "routers"):
        cmd = sub.add_parser(name, help=SUMMARIES[name])
        cmd.add_argument("--json", action="store_true", help="print JSON")
    lines = sub.add_parser("lines", help=SUMMARIES["lines"])
    lines.add_argument("--router")
    lines.add_argument("--json", action="store_true", help="print JSON")
    result = sub.add_parser("result", help=SUMMARIES["result"])
    result.add_argument("line")
    sub.add_parser("sync", help=SUMMARIES["sync"])
    sub.add_parser("reload", help=SUMMARIES["reload"])
    return parser


def _ping_args(ns: argparse.Namespace) -> dict[str, Any]:
    if ns.line:
        return {"line": ns.line, "wait": ns.wait}
    if not ns.router or not ns.target:
        raise ClientError("give ROUTER TARGET, or --line ID", 2)
    args = {"router": ns.router, "target": ns.target, "wait": ns.wait}
    for key in (*NAMES, "zabbix_host", "zabbix_key"):
        value = getattr(ns, key)
        if value is not None:
            args[key] = value
    return args


def _cell(value: Any) -> str:
    return "-" if value is None else str(value)


def _print_table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    cells = [[_cell(row.get(c, "")) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


def _line_view(row: dict[str, Any]) -> dict[str, Any]:
    last = row.get("last") or {}
    return {
        **row,
        "status": last.get("status", "-"),
        "loss_pct": last.get("loss_pct", ""),
        "rtt_avg_ms": last.get("rtt_avg_ms", ""),
    }


def run(argv: list[str]) -> int:
    ns = _parser().parse_args(argv)
    command = ns.command
    try:
        if command == "ping":
            args = _ping_args(ns)
            timeout = 600.0 if ns.wait else ns.call_timeout
            result = call("ping", ns.socket, timeout, **args)
            print(json.dumps(result, indent=2, sort_keys=True) if ns.wait else result)
        elif command == "discover":
            rows = call(
                "discover",
                ns.socket,
                ns.call_timeout,
                **({"router": ns.router} if ns.router else {}),
            )
            print(json.dumps(rows, separators=(",", ":")))
        elif command in ("status", "routers", "lines"):
            extra = {"router": ns.router} if getattr(ns, "router", None) else {}
            data = call(command, ns.socket, ns.call_timeout, **extra)
            if ns.json:
                print(json.dumps(data, indent=2, sort_keys=True))
            elif command == "status":
                for key, value in data.items():
                    print(f"{key}: {json.dumps(value) if isinstance(value, dict) else value}")
            elif command == "routers":
                _print_table(
                    data,
                    [
                        "name",
                        "host",
                        "platform",
                        "sessions",
                        "max_sessions",
                        "backoff_s",
                        "last_error",
                    ],
                )
            else:
                _print_table(
                    [_line_view(r) for r in data],
                    [
                        "id",
                        "router",
                        "target",
                        "vrf",
                        "interval",
                        "status",
                        "loss_pct",
                        "rtt_avg_ms",
                    ],
                )
        elif command == "result":
            print(
                json.dumps(
                    call("result", ns.socket, ns.call_timeout, line=ns.line),
                    indent=2,
                    sort_keys=True,
                )
            )
        else:
            print(json.dumps(call(command, ns.socket, 120.0), indent=2, sort_keys=True))
    except ClientError as exc:
        print(f"linemon: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0
