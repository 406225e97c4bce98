"""pytest fixtures for the router emulator; a test module imports the ones it uses::

    from tests.beds.emulator.fixtures import emulator_factory, platform_fleet  # noqa: F401

``emulator_factory(config)`` starts an emulator that is stopped after the test;
``platform_fleet`` is one emulator per test module with a router named after each platform
(user ``lab``, password ``lab``, ``time_scale`` 0.01, fixed seed). Both fail the test when
the emulator hit a bug of its own. ``scrapli_args(emulator, router)`` gives a scrapli
driver's keyword arguments, host key checking on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from linemon_agent.platforms import get_platform
from tests.beds.emulator.client import Emulator
from tests.beds.emulator.config import loopback_hosts
from tests.beds.emulator.render import PLATFORMS

USERNAME = "lab"
PASSWORD = "lab"


def platform_fleet_config(network: str = "127.2.0.0/24", **top: Any) -> dict[str, Any]:
    """One router per platform, named after it, on its own loopback address."""
    hosts = loopback_hosts(network)
    routers = {p: {"host": next(hosts), "platform": p} for p in PLATFORMS}
    return {
        "time_scale": 0.01,
        "seed": 20240601,
        "defaults": {"username": USERNAME, "password": PASSWORD},
        "routers": routers,
        **top,
    }


def scrapli_args(emulator: Emulator, router: str, transport: str = "asyncssh") -> dict[str, Any]:
    """Keyword arguments for a scrapli classic driver (Scrapli, AsyncScrapli or the generic
    drivers) reaching ``router`` with host key checking on."""
    host, port = emulator.address(router)
    args: dict[str, Any] = {
        "host": host,
        "port": port,
        "auth_username": USERNAME,
        "auth_password": PASSWORD,
        "auth_strict_key": True,
        "ssh_known_hosts_file": str(emulator.known_hosts),
        "transport": transport,
        # Generous: the machine may be busy; a test that wants a short wait sets its own.
        "timeout_socket": 15,
        "timeout_transport": 30,
        "timeout_ops": 30,
    }
    # The scrapli driver (and variant) linemon drives this platform with; linux is driven by
    # scrapli's GenericDriver.
    platform = get_platform(emulator.ready["routers"][router]["platform"])
    if platform.scrapli_platform != "generic":
        args["platform"] = platform.scrapli_platform
    if platform.scrapli_variant is not None:
        args["variant"] = platform.scrapli_variant
    return args


def check_no_internal_errors(emulator: Emulator) -> None:
    """Fail when the emulator hit a bug of its own (it printed a traceback to its log)."""
    errors = sum(int(s["internal_errors"]) for s in emulator.stats().values())
    if errors:
        log = emulator.log.read_text(errors="replace")[-3000:]
        raise AssertionError(f"the emulator failed {errors} time(s):\n{log}")


@pytest.fixture
def emulator_factory() -> Iterator[Callable[..., Emulator]]:
    """Start emulators (``factory(config, **Emulator options)``); after the test each must
    have hit no bug of its own, and all stop."""
    started: list[Emulator] = []

    def start(config: Mapping[str, Any], **options: Any) -> Emulator:
        emulator = Emulator(config, **options).start()
        started.append(emulator)
        return emulator

    yield start
    try:
        for emulator in started:
            check_no_internal_errors(emulator)
    finally:
        for emulator in reversed(started):
            emulator.stop()


@pytest.fixture(scope="module")
def platform_fleet() -> Iterator[Emulator]:
    with Emulator(platform_fleet_config()) as emulator:
        yield emulator
        check_no_internal_errors(emulator)
