"""The client commands the Zabbix agent calls (ping, discover, status, ...), without click.

argparse and the stdlib socket client only: one call costs little more than the interpreter's
own start, so thousands of agent calls a minute stay cheap. ``linemon --help`` lists these
commands too; they are dispatched here before click is imported.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Callable
from typing import Any

from linemon_agent import protocol
from linemon_agent.client import (
    DEFAULT_CONFIG,
    DEFAULT_SOCKET,
    EXIT_FAILURE,
    ClientError,
    call,
    socket_path,
)
from linemon_agent.options import NAMES, PING_OPTIONS

COMMANDS = protocol.OPS  # one client command per socket operation
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
#: the client's own options, accepted before or after the command (entry.py skips them too)
CLIENT_OPTIONS = ("--socket", "--config", "--call-timeout")
#: how long each command waits for the broker by default, in seconds
CALL_TIMEOUT = 5.0
LONG_CALL_TIMEOUT = {"ping --wait": 600.0, "sync": 120.0, "reload": 120.0}
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports Ctrl-C
EXIT_PIPE = 141  # 128 + SIGPIPE, as a shell reports `cat` cut short by `| head`


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or not 0 < value <= 86400:
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most 86400 s: {text!r}")
    return value


def _client_options(parser: argparse.ArgumentParser, default: Any) -> None:
    """--socket, --config, --call-timeout; ``default`` is SUPPRESS after the command, so a
    value given before it is not overwritten."""
    group = parser.add_argument_group("connection (before or after the command)")
    group.add_argument(
        "--socket",
        metavar="PATH",
        default=default,
        help="the broker's Unix socket (default: $LINEMON_SOCKET, else [broker] socket of "
        f"the configuration file, else {DEFAULT_SOCKET})",
    )
    group.add_argument(
        "--config",
        metavar="FILE",
        default=default,
        help="the broker's configuration file, read for its [broker] socket only "
        f"(default: $LINEMON_CONFIG, else {DEFAULT_CONFIG} if it exists)",
    )
    group.add_argument(
        "--call-timeout",
        metavar="SECONDS",
        type=_seconds,
        default=default,
        help=f"seconds to wait for the broker's answer (default {CALL_TIMEOUT:g}; "
        + ", ".join(f"{k} {v:g}" for k, v in LONG_CALL_TIMEOUT.items())
        + ")",
    )


def _ping_arguments(ping: argparse.ArgumentParser) -> None:
    ping.add_argument("router", nargs="?", metavar="ROUTER", help="router name in the broker")
    ping.add_argument("target", nargs="?", metavar="TARGET", help="address or host name to ping")
    ping.add_argument("--line", metavar="ID", help="ping this configured line now instead")
    for option in PING_OPTIONS:
        flags = [option.flag, option.short] if option.short else [option.flag]
        ping.add_argument(*flags, dest=option.name, metavar=option.name.upper(), help=option.help)
    ping.add_argument(
        "--zabbix-host", metavar="HOST", help="also send the result to this Zabbix host"
    )
    ping.add_argument(
        "--zabbix-key",
        metavar="KEY",
        help="... under this trapper item key (default linemon.result)",
    )
    ping.add_argument(
        "--wait",
        action="store_true",
        help="wait for the ping and print its result as JSON (waits up to "
        f"{LONG_CALL_TIMEOUT['ping --wait']:g} s unless --call-timeout)",
    )


def _router_filter(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--router", metavar="NAME", help="only this router's lines")


def _json_flag(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--json", action="store_true", help="print JSON")


def _line_argument(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("line", metavar="LINE", help="line id")


def _no_arguments(cmd: argparse.ArgumentParser) -> None:
    pass


PING_DESCRIPTION = (
    "Ping TARGET from ROUTER (a router of the broker's configuration), or a configured line "
    "with --line. Prints 1 once the broker has queued the ping; with --wait, the result as "
    "JSON. Options left out take the platform's defaults."
)
ARGUMENTS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], ...]] = {
    "ping": (_ping_arguments,),
    "discover": (_router_filter,),
    "status": (_json_flag,),
    "routers": (_json_flag,),
    "lines": (_router_filter, _json_flag),
    "result": (_line_argument,),
    "sync": (_no_arguments,),
    "reload": (_no_arguments,),
}


def _parser(only: str = "") -> argparse.ArgumentParser:
    """The client's parser; with ``only`` (a command named on the command line), just that
    command's subparser: every argparse parser costs about a millisecond (its help formatter
    and gettext lookups), and the agent pays it on every call."""
    parser = argparse.ArgumentParser(
        prog="linemon",
        description="linemon broker client: ask the running broker over its Unix socket",
        epilog="Exit codes: see the README (0 done, 2 usage, 4 not found, 69 broker not "
        "running, 77 permission denied, 78 configuration, ...).",
    )
    _client_options(parser, None)
    # prog= spares argparse a help formatter (and its shutil import) on every agent call
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", prog="linemon")
    for name in [only] if only in COMMANDS else COMMANDS:
        description = PING_DESCRIPTION if name == "ping" else SUMMARIES[name]
        cmd = sub.add_parser(name, help=SUMMARIES[name], description=description)
        _client_options(cmd, argparse.SUPPRESS)
        for add in ARGUMENTS[name]:
            add(cmd)
    return parser


def command_word(argv: list[str]) -> str:
    """The command in ``argv``: the first word that is no client option or its value."""
    index = 0
    while index < len(argv) and argv[index].split("=", 1)[0] in CLIENT_OPTIONS:
        index += 1 if "=" in argv[index] else 2
    return argv[index] if index < len(argv) else ""


def _ping_args(ns: argparse.Namespace) -> dict[str, Any]:
    if ns.line:
        if ns.router or ns.target:
            raise ClientError("give ROUTER TARGET or --line ID, not both", EXIT_USAGE)
        return {"line": ns.line, "wait": ns.wait}
    if not ns.router or not ns.target:
        raise ClientError("give ROUTER TARGET, or --line ID", EXIT_USAGE)
    args = {"router": ns.router, "target": ns.target, "wait": ns.wait}
    for key in (*NAMES, "zabbix_host", "zabbix_key"):
        value = getattr(ns, key)
        if value is not None:
            args[key] = value
    return args


def _cell(value: Any) -> str:
    return "-" if value is None else str(value)


def format_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """Rows as aligned columns under upper-case headers (None shows as -)."""
    cells = [[_cell(row.get(c, "")) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    out = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))]
    out += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(line.rstrip() for line in out)


def _line_view(row: dict[str, Any]) -> dict[str, Any]:
    last = row.get("last") or {}
    return {
        **row,
        "status": last.get("status", "-"),
        "loss_pct": last.get("loss_pct", ""),
        "rtt_avg_ms": last.get("rtt_avg_ms", ""),
    }


ROUTER_COLUMNS = ["name", "host", "platform", "sessions", "max_sessions", "backoff_s", "last_error"]
LINE_COLUMNS = ["id", "router", "target", "vrf", "interval", "status", "loss_pct", "rtt_avg_ms"]


def _pretty(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True)


def _execute(ns: argparse.Namespace) -> str:
    """Run one command against the broker; returns what to print."""
    command = ns.command
    path = socket_path(ns.socket, ns.config)
    if command == "ping":
        args = _ping_args(ns)
        key = "ping --wait" if ns.wait else "ping"
    else:
        args = {}
        if getattr(ns, "router", None):
            args["router"] = ns.router
        if command == "result":
            args["line"] = ns.line
        key = command
    timeout = ns.call_timeout or LONG_CALL_TIMEOUT.get(key, CALL_TIMEOUT)
    data = call(command, args, path=path, timeout=timeout)
    if command == "ping":
        return _pretty(data) if ns.wait else str(data)
    if command == "discover":
        return json.dumps(data, separators=(",", ":"))
    if command in ("status", "routers", "lines") and not ns.json:
        if command == "status":
            return "\n".join(
                f"{k}: {json.dumps(v) if isinstance(v, dict | list) else v}"
                for k, v in data.items()
            )
        if command == "routers":
            return format_table(data, ROUTER_COLUMNS)
        return format_table([_line_view(r) for r in data], LINE_COLUMNS)
    return _pretty(data)


def run(argv: list[str]) -> int:
    """Parse ``argv``, ask the broker, print; returns the exit code. Never a traceback for
    anything a user can type, a closed stdout or Ctrl-C."""
    try:
        try:
            ns = _parser(command_word(argv)).parse_args(argv)
        except SystemExit as exc:  # --help, or a usage error (already on stderr)
            sys.stdout.flush()  # --help's text into a closed stdout fails here, not at exit
            return exc.code if isinstance(exc.code, int) else 0
        out = _execute(ns)
        sys.stdout.write(out + "\n")
        sys.stdout.flush()
    except ClientError as exc:
        print(f"linemon: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # `linemon status | head -3`: the reader has all it wants
        # stdout is still buffered: point it at /dev/null so the interpreter's flush at
        # exit does not fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PIPE
    except KeyboardInterrupt:
        print("linemon: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        # a broker answer of an unexpected shape (another version?): words, not a traceback
        print(f"linemon: unexpected answer from the broker: {exc!r}", file=sys.stderr)
        return EXIT_FAILURE
    return 0
