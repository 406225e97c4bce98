"""The ``linemon`` console script: client commands go to the light path, the rest to click."""

from __future__ import annotations

import sys


def main() -> None:
    argv = sys.argv[1:]
    from linemon_agent.clientcli import CLIENT_OPTIONS, COMMANDS, command_word, run

    word = command_word(argv)
    # `linemon --socket S` without a command, or with --help: the client's own usage
    own = bool(argv) and argv[0].split("=", 1)[0] in CLIENT_OPTIONS and word[:1] in ("", "-")
    if word in COMMANDS or own:
        sys.exit(run(argv))
    from linemon_agent.cli import main as cli_main

    cli_main()
