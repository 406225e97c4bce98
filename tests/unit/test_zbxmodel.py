"""Zabbix hosts + macros -> lines, the seed's way; bad macros skip the line with a reason."""

from __future__ import annotations

from linemon_agent.zbxmodel import ZbxHost, ZbxTemplate, build, resolve_macros

TAG = [("TempType", "LINE")]
SEED_MACROS = {
    "{$LINE_ID}": "L-1001",
    "{$LINE_CHECK_INTERVAL}": "120",
    "{$LINE_ROUTER_IP}": "192.0.2.1",
    "{$LINE_ROUTER_USERNAME}": "netops",
    "{$LINE_ROUTER_PASSWORD}": "pw-from-macro",
    "{$LINE_ROUTER_PLATFORM}": "cisco_iosxe",
    "{$LINE_ROUTER_PROTOCOL}": "ssh",
}


def test_macro_resolution_order() -> None:
    templates = {
        "10": ZbxTemplate("10", {"{$A}": "t10", "{$B}": "t10"}, ["20"]),
        "20": ZbxTemplate("20", {"{$A}": "t20", "{$C}": "t20"}),
    }
    host = ZbxHost("1", "198.51.100.7", {"{$B}": "host"}, ["10"], TAG)
    macros = resolve_macros(host, templates, {"{$A}": "g", "{$D}": "g"})
    assert macros == {"{$A}": "t10", "{$B}": "host", "{$C}": "t20", "{$D}": "g"}


def test_seed_line_is_monitored_without_change() -> None:
    host = ZbxHost("1", "198.51.100.7", SEED_MACROS, [], TAG)
    result = build([host], {}, {}, profiles=[])
    assert result.errors == {}
    line = result.lines["L-1001"]
    assert (line.request.target, line.interval, line.zabbix_host) == (
        "198.51.100.7",
        120,
        "198.51.100.7",
    )
    router = result.routers[line.router]
    assert (router.host, router.platform, router.port) == ("192.0.2.1", "cisco_iosxe", 22)
    assert result.macro_credentials[router.name] == ("netops", "pw-from-macro", "")
    assert any("password taken from a Zabbix macro" in w for w in result.warnings)
    assert "pw-from-macro" not in " ".join(result.warnings)


def test_linemon_macros_and_local_profile() -> None:
    macros = {
        "{$LINE_ROUTER_IP}": "192.0.2.2",
        "{$LINE_ROUTER_PLATFORM}": "juniper_junos",
        "{$LINE_CREDENTIALS}": "core",
        "{$LINE_VRF}": "CUST42",
        "{$LINE_COUNT}": "10",
    }
    host = ZbxHost("2", "line-cust-42", {**macros, "{$LINE_TARGET}": "198.51.100.42"}, [], TAG)
    result = build([host], {}, {"{$LINE_CHECK_INTERVAL}": "60"}, profiles=["core"])
    line = result.lines["line-cust-42"]
    assert line.request.vrf == "CUST42" and line.request.count == 10 and line.interval == 60
    assert line.request.target == "198.51.100.42"
    assert result.routers[line.router].credentials == "core" and not result.macro_credentials


def test_hostile_macros_skip_the_line_with_reason() -> None:
    hosts = []
    hostile = {
        "{$LINE_VRF}": "CUST;reload",
        "{$LINE_ROUTER_IP}": "192.0.2.1\nreload",
        "{$LINE_COUNT}": "5 | include",
        "{$LINE_CHECK_INTERVAL}": "0",
        "{$LINE_ROUTER_PLATFORM}": "acme_os",
        "{$LINE_ROUTER_PROTOCOL}": "rsh",
        "{$LINE_SOURCE}": "$(id)",
        "{$LINE_ID}": "a b",
    }
    for index, (macro, value) in enumerate(hostile.items()):
        macros = {**SEED_MACROS, macro: value, "{$LINE_ID}": f"L-{index}"}
        if macro == "{$LINE_ID}":
            macros[macro] = value
        hosts.append(ZbxHost(str(index), f"198.51.100.{index + 1}", macros, [], TAG))
    hosts.append(ZbxHost("99", "198.51.100.99", {**SEED_MACROS, "{$LINE_ID}": "ok"}, [], TAG))
    hosts.append(ZbxHost("98", "not-a-line", SEED_MACROS, [], [("TempType", "ROUTER")]))
    result = build(hosts, {}, {}, profiles=[])
    assert list(result.lines) == ["ok"]
    assert len(result.errors) == len(hostile)
    for reason in result.errors.values():
        assert "\n" not in reason and reason.isascii()


def test_unresolved_macro_reference_is_refused() -> None:
    macros = {**SEED_MACROS, "{$LINE_VRF}": "{$CUSTOMER_VRF}"}
    result = build([ZbxHost("1", "198.51.100.7", macros, [], TAG)], {}, {}, profiles=[])
    assert "unresolved macro" in result.errors["198.51.100.7"]


def test_report_host_macro_sends_results_to_one_host_a_key_per_line() -> None:
    """{$LINE_REPORT_HOST}: the LLD style, results on a router/agent host as linemon.result[id]."""
    hosts = [
        ZbxHost("1", "198.51.100.7", {**SEED_MACROS, "{$LINE_REPORT_HOST}": "pe1 lines"}, [], TAG),
        ZbxHost("2", "198.51.100.8", {**SEED_MACROS, "{$LINE_ID}": "L-1002"}, [], TAG),
    ]
    result = build(hosts, {}, {}, profiles=[])
    assert result.errors == {}
    reported = result.lines["L-1001"]
    assert (reported.zabbix_host, reported.zabbix_key) == ("pe1 lines", "linemon.result[L-1001]")
    plain = result.lines["L-1002"]
    assert (plain.zabbix_host, plain.zabbix_key) == ("198.51.100.8", "linemon.result")


def test_hostile_report_host_skips_the_line() -> None:
    for bad in ("pe1\nsend", "pe1;x", "{$OTHER}", "x" * 200, " pe1"):
        host = ZbxHost("1", "198.51.100.7", {**SEED_MACROS, "{$LINE_REPORT_HOST}": bad}, [], TAG)
        result = build([host], {}, {}, profiles=[])
        assert result.lines == {}, bad
        assert "{$LINE_REPORT_HOST}" in result.errors["198.51.100.7"], bad
