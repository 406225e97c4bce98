"""The Zabbix external check: `linemon[COMMAND,PARAM]` run by the server or proxy itself.

Zabbix runs ``ExternalScripts/linemon COMMAND [PARAM]`` (each key parameter is one argument)
as its own user, in one of its pollers, and waits for it: so this is the agent keys' light
path (stdlib only, one socket call, no argparse) with a short call timeout. Nothing on the
command line chooses the socket or any option: the socket comes from $LINEMON_SOCKET or the
broker's configuration file, as for the client. A parameter (a router name or a line id,
often from a macro) must be a name as the broker's configuration allows one, and a command
one of four, before anything is sent.

Output mirrors the agent keys: JSON for status, routers and discover, ``1`` for a queued
ping. Any failure prints ``linemon: <words>`` and exits non-zero, which Zabbix turns into an
unsupported item showing those words.
"""

from __future__ import annotations

import json
import re
import sys

from linemon_agent.client import ClientError, call, socket_path

#: COMMAND -> (op of the broker, what its parameter is: "" none, "router" optional, "line")
KEYS = {
    "status": ("status", ""),
    "routers": ("routers", ""),
    "discover": ("discover", "router"),
    "ping": ("ping", "line"),
}
USAGE = (
    "usage: linemon[status], linemon[routers], linemon[discover,<router or empty>], "
    "linemon[ping,<line id>]"
)
#: The broker's own rule for router names and line ids (validate._NAME; a unit test keeps
#: them equal): no option, space, quote or shell character can pass.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z")
#: Seconds to wait for the broker. Each of these is an instant operation on the broker, and
#: Zabbix kills a check at its Timeout (3 s by default, 1 s the least): answer inside it, in
#: our words, rather than be cut off in Zabbix's.
CALL_TIMEOUT = 2.0
EXIT_USAGE = 2
#: who must restart after joining the socket's group (it reads its groups when it starts)
RESTART = "the Zabbix server or proxy that runs this check"


def request(argv: list[str]) -> tuple[str, dict[str, object]]:
    """The broker operation and arguments for a key's parameters; ClientError (exit 2) for
    anything else. Pure: no socket, no environment."""
    command, *params = argv or [""]
    if command not in KEYS:
        shown = f"unknown command {_shown(command)}; " if command else ""
        raise ClientError(shown + USAGE, EXIT_USAGE)
    op, wants = KEYS[command]
    # Zabbix passes empty parameters as empty arguments: `linemon[status,]` is `status ''`
    while params and params[-1] == "":
        params.pop()
    if len(params) > (1 if wants else 0):
        raise ClientError(f"too many parameters for {command}; {USAGE}", EXIT_USAGE)
    value = params[0] if params else ""
    if wants == "line" and not value:
        raise ClientError(f"ping needs a line id; {USAGE}", EXIT_USAGE)
    if value and not NAME.match(value):
        raise ClientError(
            f"invalid {wants} {_shown(value)}: a name of letters, digits, '_', '.' and '-' "
            "(up to 128, not starting with '-', '_' or '.')",
            EXIT_USAGE,
        )
    if wants == "line":
        return op, {"line": value, "wait": False}
    return op, ({wants: value} if value else {})


def _shown(value: str) -> str:
    """A parameter as the message shows it: quoted, control characters escaped, cut short."""
    return repr(value[:64] + ("..." if len(value) > 64 else ""))


def render(op: str, data: object) -> str:
    """What the item receives: compact JSON, or the ping's ``1``."""
    if op == "ping":
        return str(data)
    return json.dumps(data, separators=(",", ":"), sort_keys=op != "discover")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        op, params = request(args)
        data = call(op, params, path=socket_path(), timeout=CALL_TIMEOUT, restart=RESTART)
        sys.stdout.write(render(op, data) + "\n")
        sys.stdout.flush()
    except ClientError as exc:
        print(f"linemon: {exc}", file=sys.stderr)
        return exc.exit_code
    except (ValueError, TypeError) as exc:  # an answer of another shape (another version?)
        print(f"linemon: unexpected answer from the broker: {exc!r}", file=sys.stderr)
        return 1
    return 0


def run() -> None:
    """The console script ``linemon-extcheck`` (installed as ExternalScripts/linemon)."""
    sys.exit(main())
