"""The linemon Zabbix template files: up to date, well formed, consistent (no Zabbix needed).

PyYAML is not a dependency, so the files are read by a parser for exactly the block subset
that zabbix_templates/generate.py writes (mappings, lists, single-quoted one-line scalars);
anything outside that subset fails the test. The checks then run on the parsed files.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2] / "zabbix_templates"
FILES = sorted(ROOT.glob("*/*_[67].0.yaml"))
UUID4 = re.compile(r"[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}")
LINE = re.compile(r"^( *)(- )?(?:([a-z_]+):(?: (.*))?|('.*'))$")
FUNCTION_REF = re.compile(r"\(/([^/]+)/((?:[^,()\[]|\[[^\]]*\])+)")


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("linemon_templates", ROOT / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def scalar(text: str) -> str:
    assert text.startswith("'") and text.endswith("'") and len(text) >= 2, text
    inner = text[1:-1]
    assert "'" not in inner.replace("''", ""), text
    return inner.replace("''", "'")


def parse(text: str) -> Any:
    """Parse the generator's YAML subset into dicts, lists and strings."""
    rows = []
    for number, raw in enumerate(text.splitlines(), 1):
        match = LINE.match(raw)
        assert match, f"line {number} is outside the YAML subset: {raw!r}"
        rows.append((len(match[1]), bool(match[2]), match[3], match[4], match[5]))
    value, end = _block(rows, 0, 0)
    assert end == len(rows), f"line {end + 1}: unexpected indentation"
    return value


def _block(rows: list[tuple[int, bool, Any, Any, Any]], i: int, indent: int) -> tuple[Any, int]:
    if rows[i][1]:
        items: list[Any] = []
        while i < len(rows) and rows[i][0] == indent and rows[i][1]:
            if rows[i][4] is not None:
                items.append(scalar(rows[i][4]))
                i += 1
                continue
            # "- key: value" opens a mapping whose keys sit two columns further in
            rows[i] = (indent + 2, False, *rows[i][2:])
            mapping, i = _block(rows, i, indent + 2)
            items.append(mapping)
        return items, i
    mapping: dict[str, Any] = {}
    while i < len(rows) and rows[i][0] == indent and not rows[i][1]:
        _, _, key, value, bare = rows[i]
        assert key is not None and bare is None and key not in mapping, rows[i]
        if value is None:
            mapping[key], i = _block(rows, i + 1, indent + 2)
        else:
            mapping[key] = scalar(value)
            i += 1
    return mapping, i


@pytest.fixture(scope="module")
def parsed() -> dict[Path, dict[str, Any]]:
    return {path: parse(path.read_text(encoding="utf-8"))["zabbix_export"] for path in FILES}


def walk(node: Any, key: str) -> list[Any]:
    """Every value stored under ``key`` anywhere in ``node``."""
    found = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                found.append(v)
            found.extend(walk(v, key))
    elif isinstance(node, list):
        for element in node:
            found.extend(walk(element, key))
    return found


def test_the_files_are_what_the_generator_writes() -> None:
    rendered = generator().render()
    assert sorted(ROOT / path for path in rendered) == FILES
    stale = [p for p, text in rendered.items() if (ROOT / p).read_text(encoding="utf-8") != text]
    assert stale == [], "run: python zabbix_templates/generate.py"


def test_parser_rejects_what_it_does_not_know() -> None:
    with pytest.raises(AssertionError):
        parse("key: plain scalar")
    with pytest.raises(AssertionError):
        parse("a:\n  b: 'x'\n c: 'y'")


def test_versions_and_group_keys(parsed: dict[Path, dict[str, Any]]) -> None:
    assert len(parsed) == 10
    for path, export in parsed.items():
        version = path.stem.rsplit("_", 1)[1]
        assert export["version"] == version
        groups = export["groups" if version == "6.0" else "template_groups"]
        assert [g["name"] for g in groups] == ["Templates/linemon"]
        assert {"groups", "template_groups"} & set(export) == {
            "groups" if version == "6.0" else "template_groups"}


def test_every_uuid_is_a_unique_uuid4(parsed: dict[Path, dict[str, Any]]) -> None:
    uuids = [u for export in parsed.values() for u in walk(export, "uuid")]
    assert len(uuids) > 100
    assert [u for u in uuids if not UUID4.fullmatch(u)] == []
    assert len(set(uuids)) == len(uuids)


def _collections(template: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """The template's items, then each discovery rule's item prototypes."""
    return [template.get("items", []),
            *[rule["item_prototypes"] for rule in template.get("discovery_rules", [])]]


def test_every_dependent_item_has_its_master(parsed: dict[Path, dict[str, Any]]) -> None:
    checked = 0
    for export in parsed.values():
        for template in export["templates"]:
            keys = {i["key"] for items in _collections(template) for i in items}
            for items in _collections(template):
                for item in items:
                    if item.get("type") == "DEPENDENT":
                        assert item["master_item"]["key"] in keys, item["key"]
                        checked += 1
    assert checked > 30


def test_every_expression_uses_the_templates_own_keys(
    parsed: dict[Path, dict[str, Any]]
) -> None:
    for path, export in parsed.items():
        for template in export["templates"]:
            keys = {i["key"] for items in _collections(template) for i in items}
            expressions = walk(template, "expression")
            assert expressions, path
            for expression in expressions:
                refs = FUNCTION_REF.findall(expression)
                assert refs, expression
                for host, key in refs:
                    assert (host, key) in {(template["template"], k) for k in keys}, expression
            macros = {m["macro"] for m in template["macros"]}
            used = {m for e in expressions for m in re.findall(r"\{\$[A-Z0-9_.]+\}", e)}
            assert used <= macros, path


def test_graphs_and_valuemaps_point_at_what_exists(parsed: dict[Path, dict[str, Any]]) -> None:
    for export in parsed.values():
        (template,) = export["templates"]
        keys = {i["key"] for items in _collections(template) for i in items}
        for graph_item in walk(export, "graph_items"):
            for entry in graph_item:
                assert entry["item"] == {"host": template["template"], "key": entry["item"]["key"]}
                assert entry["item"]["key"] in keys
        maps = {m["name"] for m in template.get("valuemaps", [])}
        assert {v["name"] for v in walk(template, "valuemap")} <= maps


def test_triggers_under_an_item_reference_that_item(parsed: dict[Path, dict[str, Any]]) -> None:
    for export in parsed.values():
        for item in export["templates"][0].get("items", []):
            for trigger in item.get("triggers", []):
                assert f"/{item['key']}" in trigger["expression"]


def test_status_codes_match_linemon() -> None:
    from linemon_agent.models import ALL_STATUSES

    assert generator().STATUS_CODES == ALL_STATUSES


def test_external_check_templates_mirror_the_agent_ones(
    parsed: dict[Path, dict[str, Any]]
) -> None:
    """The same items, triggers and graphs; only the keys the client answers differ, and each
    of those is a `linemon[COMMAND,...]` that linemon_agent/extcheck.py accepts."""
    from linemon_agent import extcheck

    gen = generator()
    agent_to_external = {getattr(gen.AGENT, f): getattr(gen.EXTERNAL, f)
                         for f in ("discover", "ping", "status", "routers")}
    pairs = {"linemon_lines_agent_lld": "linemon_lines_external",
             "linemon_broker_health": "linemon_broker_health_external"}
    checked = 0
    for version in ("6.0", "7.0"):
        for agent_dir, external_dir in pairs.items():
            (agent,) = parsed[ROOT / agent_dir / f"{agent_dir}_{version}.yaml"]["templates"]
            (external,) = parsed[ROOT / external_dir / f"{external_dir}_{version}.yaml"][
                "templates"]
            keys = {agent_to_external.get(k, k) for k in walk(agent, "key")}
            assert keys == set(walk(external, "key"))
            assert len(walk(agent, "expression")) == len(walk(external, "expression"))
            for items in [*_collections(external), external.get("discovery_rules", [])]:
                for item in items:
                    if item.get("type") == "EXTERNAL":
                        assert item["key"].startswith("linemon[") and item["key"][-1] == "]"
                        command, *params = item["key"][len("linemon["):-1].split(",")
                        assert command in extcheck.KEYS and len(params) <= 1, item["key"]
                        checked += 1
    assert checked == 2 * 4  # per version: discovery, ping, status, routers
