"""The ``linemon`` console script: client commands go to the light path, the rest to click."""

from __future__ import annotations

import sys


def main() -> None:
    argv = sys.argv[1:]
    from linemon_agent.clientcli import COMMANDS, command_word, run

    if command_word(argv) in COMMANDS:
        sys.exit(run(argv))
    from linemon_agent.cli import main as cli_main

    cli_main()
