"""The ``linemon`` console script: client commands go to the light path, the rest to click."""

from __future__ import annotations

import sys

_CLIENT_OPTIONS = ("--socket", "--call-timeout")


def _command(argv: list[str]) -> str:
    index = 0
    while index < len(argv) and argv[index].split("=", 1)[0] in _CLIENT_OPTIONS:
        index += 1 if "=" in argv[index] else 2
    return argv[index] if index < len(argv) else ""


def main() -> None:
    argv = sys.argv[1:]
    from linemon_agent.clientcli import COMMANDS, run

    if _command(argv) in COMMANDS:
        sys.exit(run(argv))
    from linemon_agent.cli import main as cli_main

    cli_main()
