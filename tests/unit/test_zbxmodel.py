"""Zabbix hosts + macros -> lines, the seed's way; bad macros skip the line with a reason."""

from __future__ import annotations

from linemon_agent import zbxmodel
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


# --- which hosts a proxy monitors (6.0 proxy_hostid; 7.0 proxyid and proxy groups) ---

def _row(hostid: str, **fields: str) -> dict[str, str]:
    return {"hostid": hostid, "host": f"198.51.100.{hostid}", **fields}


def test_a_60_host_is_its_proxys_by_proxy_hostid() -> None:
    rows = [_row("1", proxy_hostid="7"), _row("2", proxy_hostid="8"), _row("3", proxy_hostid="0")]
    assert [r["hostid"] for r in zbxmodel.proxy_hosts(rows, "7")] == ["1"]


def test_a_70_host_in_a_proxy_group_is_the_assigned_proxys() -> None:
    rows = [
        _row("1", monitored_by="1", proxyid="7", proxy_groupid="0", assigned_proxyid="0"),
        _row("2", monitored_by="2", proxyid="0", proxy_groupid="3", assigned_proxyid="7"),
        _row("3", monitored_by="2", proxyid="0", proxy_groupid="3", assigned_proxyid="8"),
        _row("4", monitored_by="2", proxyid="0", proxy_groupid="3", assigned_proxyid="0"),
        _row("5", monitored_by="0", proxyid="0", proxy_groupid="0", assigned_proxyid="0"),
    ]
    assert [r["hostid"] for r in zbxmodel.proxy_hosts(rows, "7")] == ["1", "2"]
    assert [r["hostid"] for r in zbxmodel.proxy_hosts(rows, "8")] == ["3"]
    # not yet assigned (no member online) or monitored by the server: nobody's
    assert zbxmodel.proxy_hosts(rows, "0") == []
    assert [zbxmodel.host_proxyid(r) for r in rows] == ["7", "7", "8", "0", "0"]


def test_a_host_found_by_both_queries_is_kept_once_and_a_stale_row_is_dropped() -> None:
    # 7.0 is asked by proxyids and by assigned_proxyid; a host reassigned between the two
    # answers shows up with the newer owner and must not stay with the old one.
    group = {"monitored_by": "2", "proxyid": "0", "proxy_groupid": "3"}
    rows = [_row("2", assigned_proxyid="7", **group), _row("2", assigned_proxyid="7", **group),
            _row("9", assigned_proxyid="8", **group)]
    assert [r["hostid"] for r in zbxmodel.proxy_hosts(rows, "7")] == ["2"]
