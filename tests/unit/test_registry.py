"""The platform registry: core names, entry-point plugins, clear errors for unknown names."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from linemon_agent.errors import UnknownPlatformError
from linemon_agent.models import PingRequest
from linemon_agent.platforms import CORE_PLATFORMS, _plugin_specs, get_platform, platform_names
from linemon_agent.platforms.base import Platform
from tests.plugins.install import install

EXPECTED_CORE = {
    "cisco_iosxe",
    "cisco_iosxr",
    "cisco_nxos",
    "juniper_junos",
    "arista_eos",
    "huawei_vrp",
    "mikrotik_routeros",
    "mikrotik_routeros_v6",
    "h3c_comware",
    "nokia_sros",
    "nokia_sros_classic",
    "nokia_srlinux",
    "vyos",
    "linux",
}


def test_core_platforms_all_load() -> None:
    assert set(CORE_PLATFORMS) == EXPECTED_CORE
    for name in CORE_PLATFORMS:
        platform = get_platform(name)
        assert isinstance(platform, Platform)
        assert platform.name == name
        assert platform.description and platform.scrapli_platform


def test_unknown_platform_lists_known_ones() -> None:
    with pytest.raises(UnknownPlatformError) as info:
        get_platform("cisco_ios_classic")
    message = str(info.value)
    assert "cisco_ios_classic" in message
    for name in EXPECTED_CORE:
        assert name in message


@pytest.fixture
def example_plugin(tmp_path: Path) -> Iterator[Path]:
    """The example plugin, installed for this test only (tests/plugins/install.py)."""
    site = install(tmp_path / "site")
    sys.path.insert(0, str(site))
    _plugin_specs.cache_clear()
    get_platform.cache_clear()
    try:
        yield site
    finally:
        sys.path.remove(str(site))
        sys.modules.pop("linemon_example_platform", None)
        _plugin_specs.cache_clear()
        get_platform.cache_clear()


def test_entry_point_plugin_is_found_and_works(example_plugin: Path) -> None:
    """tests/plugins/linemon_example_platform, found through its entry point."""
    assert "example_os" in platform_names()
    platform = get_platform("example_os")
    assert platform.build_ping(PingRequest("192.0.2.9", count=3, vrf="V1")) == (
        "xping 192.0.2.9 count 3 vrf V1"
    )
    result = platform.parse_ping("sent 3 received 2 rtt 4.5 ms")
    assert (result.sent, result.received, result.loss_pct) == (3, 2, 33.333)


def test_mikrotik_v6_spells_the_vrf_routing_table() -> None:
    request = PingRequest("192.0.2.7", count=3, vrf="CUST1")
    assert get_platform("mikrotik_routeros").build_ping(request).endswith("vrf=CUST1")
    assert get_platform("mikrotik_routeros_v6").build_ping(request).endswith(
        "routing-table=CUST1"
    )


def test_every_scrapli_platform_name_is_one_scrapli_resolves() -> None:
    """scrapli imports a community platform as scrapli_community.<name with _ as .>."""
    import importlib

    from scrapli import Scrapli

    for name in CORE_PLATFORMS:
        platform = get_platform(name)
        if platform.scrapli_platform in ("generic", *Scrapli.CORE_PLATFORM_MAP):
            continue
        module = importlib.import_module(
            "scrapli_community." + platform.scrapli_platform.replace("_", ".")
        )
        details = module.SCRAPLI_PLATFORM
        assert details, name
        if platform.scrapli_variant is not None:
            assert platform.scrapli_variant in details["variants"], name


def test_linemon_platforms_lists_an_installed_plugin(tmp_path: Path) -> None:
    """`linemon platforms` of a process that has the plugin on its path lists it; the plugin
    is never put in the venv itself (scripts/test removes one an older run installed)."""
    site = install(tmp_path / "site")
    linemon = str(Path(sys.executable).parent / "linemon")
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run([linemon, "platforms"], capture_output=True, text=True, env=env,
                          timeout=60)
    assert done.returncode == 0 and "example_os" in done.stdout, done.stderr
