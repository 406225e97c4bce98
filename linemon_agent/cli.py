"""The ``linemon`` command line (click): argument parsing and printing only."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from linemon_agent import __version__
from linemon_agent.errors import LinemonError
from linemon_agent.options import PING_OPTIONS

EXIT_USAGE = 2
EXIT_PARSE = 3


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"linemon: {message}", err=True)
    sys.exit(code)


def _request_options(func: Any) -> Any:
    """The ping options shared by every command that builds a ping."""
    for option in reversed(PING_OPTIONS):
        names = [option.flag, option.short] if option.short else [option.flag]
        func = click.option(*names, option.name, help=option.help)(func)
    return func


CLIENT_EPILOG = (
    "The client commands (ping, discover, status, routers, lines, result, sync, reload) ask "
    "the running broker over its Unix socket. Before or after the command they take "
    "--socket PATH (default $LINEMON_SOCKET, else [broker] socket of the configuration), "
    "--config FILE (default $LINEMON_CONFIG, else /etc/linemon/linemon.toml) and "
    "--call-timeout SECONDS (default 5). See `linemon ping --help`; exit codes in the README."
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=CLIENT_EPILOG)
@click.version_option(__version__, prog_name="linemon")
def cli() -> None:
    """linemon: ping customer lines from the routers that carry them, for Zabbix."""


@cli.command("platforms")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def platforms_cmd(as_json: bool) -> None:
    """List the router platforms and the ping options each supports."""
    from linemon_agent.platforms import get_platform, platform_names
    from linemon_agent.platforms.base import OPTIONS

    rows: list[dict[str, Any]] = []
    for name in platform_names():
        try:
            platform = get_platform(name)
        except LinemonError as exc:
            rows.append({"name": name, "error": str(exc)})
            continue
        rows.append(
            {
                "name": name,
                "description": platform.description,
                "options": [opt for opt in OPTIONS if opt in platform.supports],
                "size_range": list(platform.size_range),
                "timeout_range": list(platform.timeout_range),
            }
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        if "error" in row:
            click.echo(f"{row['name']:<20} ERROR {row['error']}")
            continue
        options = ", ".join(["count", *row["options"]])
        click.echo(f"{row['name']:<20} {row['description']}")
        click.echo(f"{'':<20} options: {options}")


@cli.command("parse")
@click.option("--platform", "-p", "platform_name", required=True, help="platform name")
@click.argument("source", type=click.File("r", encoding="utf-8", errors="replace"), default="-")
def parse_cmd(platform_name: str, source: Any) -> None:
    """Parse a saved router ping output (FILE, or - for stdin) and print the result as JSON.

    Exits 0 with the normalized result, 3 when the output cannot be read as a ping
    (a parse error or a refusal by the router), 2 on a usage error.
    """
    from linemon_agent.errors import CommandError, ParseError, UnknownPlatformError
    from linemon_agent.platforms import get_platform

    try:
        platform = get_platform(platform_name)
    except UnknownPlatformError as exc:
        _fail(str(exc), EXIT_USAGE)
        return
    text = source.read()
    try:
        result = platform.parse_ping(text)
    except (ParseError, CommandError) as exc:
        _fail(str(exc), EXIT_PARSE)
        return
    click.echo(json.dumps(result.to_dict(), indent=2, sort_keys=True))


@cli.command("command")
@click.option("--platform", "-p", "platform_name", required=True, help="platform name")
@click.argument("target")
@_request_options
def command_cmd(platform_name: str, target: str, **options: str | None) -> None:
    """Print the exact ping command linemon would send to a router of PLATFORM."""
    from linemon_agent.models import PingRequest
    from linemon_agent.platforms import get_platform

    try:
        platform = get_platform(platform_name)
        request = PingRequest.from_strings({"target": target, **options})
        click.echo(platform.build_ping(request))
    except LinemonError as exc:
        _fail(str(exc), EXIT_USAGE)


@cli.command("broker")
@click.option(
    "--config",
    "config_file",
    help="TOML file (default $LINEMON_CONFIG or /etc/linemon/linemon.toml)",
)
def broker_cmd(config_file: str | None) -> None:
    """Run the broker in the foreground (what the systemd service runs)."""
    from linemon_agent.broker.server import main as broker_main
    from linemon_agent.config import config_path

    sys.exit(broker_main(config_path(config_file)))


@cli.group("config")
def config_group() -> None:
    """Configuration file tools."""


@config_group.command("check")
@click.option(
    "--config",
    "config_file",
    help="TOML file (default $LINEMON_CONFIG or /etc/linemon/linemon.toml)",
)
def config_check_cmd(config_file: str | None) -> None:
    """Validate the configuration file and print a summary; exit 78 when it is wrong.

    Beyond parsing: under host_key_policy = "strict", the known_hosts file must exist and
    hold every router's key; the TLS files to Zabbix are read and checked (PSK, certificate
    against key) without contacting Zabbix.
    """
    from linemon_agent import zbxtls
    from linemon_agent.broker.sender import zabbix_sender
    from linemon_agent.config import config_path, load_config
    from linemon_agent.configcheck import host_key_problems
    from linemon_agent.configerrors import Errors

    path = config_path(config_file)
    try:
        config = load_config(path)
        errors = Errors(str(path))
        host_key_problems(config, errors)
        errors.raise_if_any()
        # With use_agent_config the TLS files are the agent's (load_config checks [zabbix]'s).
        zabbix_sender(config.zabbix)  # what the broker builds at start: the same checks
        tls = zbxtls.from_zabbix(config.zabbix)
        if config.zabbix.use_agent_config:
            tls = zbxtls.read_agent(config.zabbix.agent_config)
            zbxtls.load(tls, str(config.zabbix.agent_config))
    except LinemonError as exc:
        _fail(str(exc), 78)
        return
    click.echo(
        f"{path}: OK: {len(config.routers)} routers, {len(config.lines)} lines, "
        f"{len(config.credentials)} credentials profiles; to Zabbix: {zbxtls.describe(tls)}"
    )


def _client_passthrough(name: str, summary: str) -> None:
    """List a light-path client command in ``linemon --help`` (entry.py runs it)."""

    @cli.command(
        name,
        help=summary,
        add_help_option=False,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def passthrough(args: tuple[str, ...]) -> None:
        from linemon_agent.clientcli import run

        sys.exit(run([name, *args]))


def _register_client_commands() -> None:
    from linemon_agent.clientcli import SUMMARIES

    for name, summary in SUMMARIES.items():
        _client_passthrough(name, summary)


_register_client_commands()


def main() -> None:
    cli()
