"""What `linemon config check` checks beyond parsing: the files a valid configuration relies on.

Under ``host_key_policy = "strict"`` the broker refuses every router whose key is not in
``known_hosts``; a check that passed while none of them could be reached would be no check.
"""

from __future__ import annotations

from linemon_agent.configerrors import Errors
from linemon_agent.settings import Config


def host_key_problems(config: Config, errors: Errors) -> None:
    """Report a missing or unreadable known_hosts file, and each router absent from it."""
    broker = config.broker
    if broker.host_key_policy != "strict":
        return  # tofu learns keys, insecure checks none
    if not config.routers and not config.zabbix_api.url:
        return  # no router to reach yet
    path = broker.known_hosts
    if path.exists() and not path.is_file():
        errors.add("broker.known_hosts", f"{path} is not a file")
        return
    if not path.exists():
        errors.add(
            "broker.known_hosts",
            f'{path} does not exist, and with host_key_policy = "strict" no router can be '
            f"reached: add the routers' keys (ssh-keyscan -p PORT HOST >> {path}) or set "
            'host_key_policy = "tofu"',
        )
        return
    import asyncssh

    try:
        known = asyncssh.read_known_hosts(str(path))
    except (OSError, ValueError) as exc:
        errors.add("broker.known_hosts", f"cannot read {path}: {exc}")
        return
    for router in config.routers.values():
        # the broker's own test (transport.HostKeys.is_known): a host key, a CA or a revocation
        matched = known.match(router.host, router.host, router.port)
        if not (matched[0] or matched[1] or matched[2]):
            name = router.host if router.port == 22 else f"[{router.host}]:{router.port}"
            errors.add(
                f"routers {router.name!r}",
                f"{name} has no key in {path}: the broker will refuse it "
                f"(ssh-keyscan -p {router.port} {router.host} >> {path})",
            )
