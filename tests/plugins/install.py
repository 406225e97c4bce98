"""Install the example platform plugin for a test run only, never into the user's venv.

``scripts/test`` used to pip-install ``tests/plugins/linemon_example_platform`` into
``.venv``, so ``example_os`` showed up in a user's ``linemon platforms`` afterwards. This
installs it into a directory of its own instead: the module, and a ``.dist-info`` whose
``entry_points.txt`` is written from the plugin's own ``pyproject.toml`` (what pip would
write), so the registry finds it through ``importlib.metadata`` exactly as it finds a real
plugin. No build, no network: a few milliseconds.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

PLUGIN = Path(__file__).parent / "linemon_example_platform"


def install(site: Path, source: Path = PLUGIN) -> Path:
    """Install the plugin at ``source`` into ``site`` (put ``site`` on sys.path/PYTHONPATH)."""
    project = tomllib.loads((source / "pyproject.toml").read_text())
    meta = project["project"]
    site.mkdir(parents=True, exist_ok=True)
    for module in project["tool"]["setuptools"]["py-modules"]:
        shutil.copy(source / f"{module}.py", site / f"{module}.py")
    dist = site / f"{meta['name'].replace('-', '_')}-{meta['version']}.dist-info"
    dist.mkdir(exist_ok=True)
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {meta['name']}\nVersion: {meta['version']}\n"
    )
    groups = [
        f"[{group}]\n" + "".join(f"{name} = {value}\n" for name, value in entries.items())
        for group, entries in meta.get("entry-points", {}).items()
    ]
    (dist / "entry_points.txt").write_text("\n".join(groups))
    return site
