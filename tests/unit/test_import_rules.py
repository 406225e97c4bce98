"""The import rules of README "Layout", checked by importing each module in a fresh interpreter
and reading what ``sys.modules`` then holds (an import inside a function counts only when run,
so the client path is also checked by running a client command)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "linemon_agent"
HEAVY = ("click", "scrapli", "asyncssh", "paramiko", "zabbix_utils", "filelock")


def _loaded(code: str) -> set[str]:
    probe = code + "\nimport json, sys; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    return set(json.loads(out.splitlines()[-1]))


def _top(modules: set[str], prefix: str) -> set[str]:
    return {m for m in modules if m == prefix or m.startswith(prefix + ".")}


@pytest.mark.parametrize(
    "module",
    ["options", "errors", "protocol", "client", "clientcli", "extcheck"],
)
def test_client_path_imports_nothing_heavy(module: str) -> None:
    loaded = _loaded(f"import linemon_agent.{module}")
    assert not {m for m in loaded if m.split(".")[0] in HEAVY}
    assert not _top(loaded, "linemon_agent.broker")
    assert not _top(loaded, "linemon_agent.config")


def test_a_client_command_runs_without_click_or_the_broker(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        f"sys.argv = ['linemon', '--socket', {str(tmp_path / 'none.sock')!r}, 'status']\n"
        "from linemon_agent import entry\n"
        "try:\n    entry.main()\nexcept SystemExit:\n    pass\n"
    )
    loaded = _loaded(code)
    assert not {m for m in loaded if m.split(".")[0] in HEAVY}
    assert not _top(loaded, "linemon_agent.broker")


@pytest.mark.parametrize(
    "module", ["models", "validate", "platforms", "zbxmodel", "config", "settings"]
)
def test_shared_modules_import_no_broker(module: str) -> None:
    loaded = _loaded(f"import linemon_agent.{module}")
    assert not _top(loaded, "linemon_agent.broker")
    assert not _top(loaded, "scrapli") and not _top(loaded, "asyncssh")


@pytest.mark.parametrize("module", ["models", "validate", "platforms", "settings"])
def test_models_and_platforms_import_no_config_parser(module: str) -> None:
    loaded = _loaded(f"import linemon_agent.{module}")
    assert not _top(loaded, "linemon_agent.config") and "tomllib" not in loaded


def _imports(path: Path) -> set[str]:
    """Modules a file imports, resolved to dotted names (relative ones within broker/)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = "linemon_agent.broker" + (f".{base}" if base else "")
            names.add(base)
            if not node.module:
                names.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_only_the_session_layer_imports_scrapli() -> None:
    importers = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if any(name.split(".")[0] == "scrapli" for name in _imports(path))
    }
    assert importers == {"broker/transport.py", "broker/enable.py"}


def test_handlers_import_only_the_service_of_the_broker() -> None:
    broker = {
        name
        for name in _imports(PACKAGE / "broker" / "handlers.py")
        if name.startswith("linemon_agent.broker")
    }
    assert broker == {"linemon_agent.broker.service"}


def test_nothing_outside_the_broker_imports_it_but_the_broker_command() -> None:
    importers = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if not path.relative_to(PACKAGE).as_posix().startswith("broker/")
        and any(name.startswith("linemon_agent.broker") for name in _imports(path))
    }
    assert importers <= {"cli.py"}
