"""The source of the linemon Zabbix templates: builds them as data and writes the 6.0/7.0 YAML.

Run `python zabbix_templates/generate.py` after a change; tests/unit/test_templates.py fails
when a committed YAML file differs from what this script writes. UUIDs are derived from a
stable name per object (an md5 digest with the uuid4 version and variant bits set), so they
are valid uuid4 strings, unique per file and object, and do not change between runs.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
VERSIONS = ("6.0", "7.0")
GROUP = "Templates/linemon"
LINE_T = "Template linemon line by trapper"
LLD_T = "Template linemon lines by agent LLD"
HEALTH_T = "Template linemon broker health"
EXT_LLD_T = "Template linemon lines by external check"
EXT_HEALTH_T = "Template linemon broker health by external check"


class Via:
    """How Zabbix asks the client: the agent's UserParameters, or the server's or proxy's
    external check `linemon[COMMAND,PARAM]` (linemon_agent/extcheck.py)."""

    def __init__(self, kind: str, discover: str, ping: str, status: str, routers: str,
                 who: str, guard: tuple[dict[str, Any], ...] = ()) -> None:
        self.kind, self.who, self.guard = kind, who, guard
        self.discover, self.ping, self.status, self.routers = discover, ping, status, routers

    def steps(self, *more: dict[str, Any]) -> list[dict[str, Any]]:
        """The preprocessing of an item that runs the client: the guard first."""
        return [*self.guard, *more]


# Zabbix takes an external check's output as the value whatever its exit code (measured: the
# labs' 6.0.14 and 7.0.22 servers stored "linemon: ..." and failed later, in JSON parsing, with
# their own words around the client's). The client's errors all start with "linemon: ": thrown
# here, the item or rule turns unsupported with those words in full.
CLIENT_ERROR = {"type": "JAVASCRIPT", "parameters": [
    "if (value.indexOf('linemon: ') === 0) { throw value; } return value;"]}


AGENT = Via("ZABBIX_PASSIVE", "linemon.discovery[{$LINEMON.ROUTER}]", "linemon.ping[{#LINE.ID}]",
            "linemon.status", "linemon.routers.json", "the Zabbix agent")
EXTERNAL = Via("EXTERNAL", "linemon[discover,{$LINEMON.ROUTER}]", "linemon[ping,{#LINE.ID}]",
               "linemon[status]", "linemon[routers]",
               "the Zabbix server or proxy (external check ExternalScripts/linemon)",
               (CLIENT_ERROR,))

# Numeric status codes: 0 and 1 are measurements, 2 and up say why there is none.
STATUS_CODES = (
    "ok", "no_reply", "parse_error", "command_error", "timeout", "router_unreachable",
    "auth_error", "host_key_error", "session_error", "overrun", "invalid_request",
    "session_refused", "skipped",
)
UNKNOWN_STATUS = 99
STATUS_JS = (
    "var codes = {" + ", ".join(f"{name}: {i}" for i, name in enumerate(STATUS_CODES))
    + "}; return codes.hasOwnProperty(value) ? codes[value] : " + str(UNKNOWN_STATUS) + ";"
)

LINE_MACROS = (
    ("{$LINEMON.ALLOWED_HOSTS}", "127.0.0.1", "Who may send results (the broker's address)."),
    ("{$LINEMON.LOSS.WARN}", "5", "Packet loss, %, that raises a warning."),
    ("{$LINEMON.LOSS.HIGH}", "50", "Packet loss, %, that raises an average problem."),
    ("{$LINEMON.RTT.HIGH}", "100", "Average round trip time, ms, that raises a warning."),
    ("{$LINEMON.DOWN.COUNT}", "#3",
     "Consecutive results with 100% loss that mean down, as #N (a count of values)."),
    ("{$LINEMON.NODATA}", "15m", "No result for this long raises a problem."),
)


def uuid_for(*names: str) -> str:
    """A stable uuid4-formatted id (32 hex digits) for the object named by ``names``."""
    digest = bytearray(hashlib.md5("\0".join(names).encode(), usedforsecurity=False).digest())
    digest[6] = (digest[6] & 0x0F) | 0x40
    digest[8] = (digest[8] & 0x3F) | 0x80
    return digest.hex()


class Builder:
    """Builds the three templates for one Zabbix version."""

    def __init__(self, version: str) -> None:
        self.version = version

    def uuid(self, *names: str) -> str:
        return uuid_for("linemon", self.version, *names)

    # -- items --------------------------------------------------------------------------

    def item(self, template: str, name: str, key: str, *, kind: str, value_type: str,
             **extra: Any) -> dict[str, Any]:
        item: dict[str, Any] = {"uuid": self.uuid(template, "item", key), "name": name}
        if kind != "ZABBIX_PASSIVE":
            item["type"] = kind
        item["key"] = key
        if kind in ("TRAP", "DEPENDENT") and self.version == "6.0":
            item["delay"] = "0"
        if "delay" in extra:
            item["delay"] = extra.pop("delay")
        item["history"] = extra.pop("history", "31d")
        if value_type in ("TEXT", "CHAR"):
            item["trends"] = "0"
        if value_type != "UNSIGNED":
            item["value_type"] = value_type
        item.update(extra)
        return item

    def dependent(self, template: str, name: str, key: str, master: str, path: str, *,
                  value_type: str, optional: bool = False, steps: tuple[dict[str, Any], ...] = (),
                  **extra: Any) -> dict[str, Any]:
        """A dependent item taking ``path`` from the master's JSON.

        ``optional``: a missing field or a JSON null is discarded instead of making the item
        unsupported (RTTs are null when nothing came back, sync is absent without the API sync).
        """
        jsonpath: dict[str, Any] = {"type": "JSONPATH", "parameters": [path]}
        preprocessing = [jsonpath]
        if optional:
            jsonpath["error_handler"] = "DISCARD_VALUE"
            preprocessing.append({"type": "NOT_MATCHES_REGEX", "parameters": ["^null$"],
                                  "error_handler": "DISCARD_VALUE"})
        preprocessing.extend(steps)
        tags = extra.pop("tags", [])
        return self.item(template, name, key, kind="DEPENDENT", value_type=value_type,
                         **extra, preprocessing=preprocessing, master_item={"key": master},
                         tags=tags)

    def trigger(self, template: str, name: str, expression: str, priority: str,
                **extra: Any) -> dict[str, Any]:
        return {"uuid": self.uuid(template, "trigger", name), "expression": expression,
                "name": name, "priority": priority, **extra}

    # -- one line's items, triggers and graphs (template 1 and the LLD prototypes) -------

    def line_items(self, template: str, suffix: str, label: str,
                   tags: list[dict[str, str]]) -> list[dict[str, Any]]:
        master = f"linemon.result{suffix}"

        def dep(name: str, key: str, path: str, value_type: str, **extra: Any) -> dict[str, Any]:
            return self.dependent(template, f"{label}{name}", f"{key}{suffix}", master, path,
                                  value_type=value_type, tags=tags, **extra)

        items = [
            self.item(template, f"{label}result", master, kind="TRAP", value_type="TEXT",
                      history="7d", allowed_hosts="{$LINEMON.ALLOWED_HOSTS}",
                      description="One JSON result per ping, sent by the linemon broker.",
                      tags=tags),
            dep("packet loss", "linemon.loss", "$.loss_pct", "FLOAT", units="%", optional=True),
            dep("RTT min", "linemon.rtt.min", "$.rtt_min_ms", "FLOAT", units="ms", optional=True),
            dep("RTT avg", "linemon.rtt.avg", "$.rtt_avg_ms", "FLOAT", units="ms", optional=True),
            dep("RTT max", "linemon.rtt.max", "$.rtt_max_ms", "FLOAT", units="ms", optional=True),
            dep("RTT stddev", "linemon.rtt.stddev", "$.rtt_stddev_ms", "FLOAT", units="ms",
                optional=True),
            dep("probes sent", "linemon.sent", "$.sent", "UNSIGNED", optional=True),
            dep("probes received", "linemon.received", "$.received", "UNSIGNED", optional=True),
            dep("status", "linemon.status", "$.status", "CHAR"),
            dep("status code", "linemon.status.code", "$.status", "UNSIGNED",
                valuemap={"name": "linemon status"},
                steps=({"type": "JAVASCRIPT", "parameters": [STATUS_JS]},)),
            dep("error", "linemon.error", "$.error", "TEXT", optional=True),
        ]
        return items

    def line_triggers(self, template: str, host: str, suffix: str,
                      label: str) -> list[dict[str, Any]]:
        def ref(key: str) -> str:
            return f"/{host}/{key}{suffix}"

        down_count = "{$LINEMON.DOWN.COUNT}"
        down = self.trigger(
            template, f"{label}line down (100% loss for the last {down_count} results)",
            f'min({ref("linemon.loss")},{down_count})=100'
            f' and last({ref("linemon.loss")},{down_count})=100', "HIGH",
            description="The last {$LINEMON.DOWN.COUNT} results all had 100% packet loss. "
                        "The second test (the Nth last value) keeps a new line with fewer "
                        "results from firing.",
        )
        high = self.trigger(
            template, f"{label}packet loss over {{$LINEMON.LOSS.HIGH}}%",
            f'last({ref("linemon.loss")})>={{$LINEMON.LOSS.HIGH}}', "AVERAGE",
            opdata="Loss: {ITEM.LASTVALUE1}",
            dependencies=[{"name": down["name"], "expression": down["expression"]}],
        )
        warn = self.trigger(
            template, f"{label}packet loss over {{$LINEMON.LOSS.WARN}}%",
            f'last({ref("linemon.loss")})>={{$LINEMON.LOSS.WARN}}', "WARNING",
            opdata="Loss: {ITEM.LASTVALUE1}",
            dependencies=[{"name": high["name"], "expression": high["expression"]}],
        )
        rtt = self.trigger(
            template, f"{label}RTT over {{$LINEMON.RTT.HIGH}} ms",
            f'last({ref("linemon.rtt.avg")})>{{$LINEMON.RTT.HIGH}}', "WARNING",
            opdata="RTT avg: {ITEM.LASTVALUE1}",
        )
        failing = self.trigger(
            template, f"{label}linemon cannot measure the line",
            f'last({ref("linemon.status.code")})>=2', "AVERAGE",
            opdata="Status: {ITEM.LASTVALUE1}",
            description="The broker reported an error status (not ok or no_reply): the router "
                        "is unreachable, refused the login or the command, or the output was "
                        "not understood. See the error item.",
        )
        stale = self.trigger(
            template, f"{label}no result for {{$LINEMON.NODATA}}",
            f'nodata({ref("linemon.result")},{{$LINEMON.NODATA}})=1', "WARNING",
            description="The broker sent nothing: is it running, does it know this line, "
                        "and is its address in {$LINEMON.ALLOWED_HOSTS}?",
        )
        return [down, high, warn, rtt, failing, stale]

    def graph(self, host: str, name: str, keys: tuple[tuple[str, str], ...],
              uuid_name: str = "", suffix: str = "") -> dict[str, Any]:
        """A graph of ``keys`` (key, colour) of ``host``'s items."""
        return {
            "uuid": self.uuid(host, "graph", uuid_name or name),
            "name": name,
            "graph_items": [
                {"sortorder": str(i), "color": color,
                 "item": {"host": host, "key": f"{key}{suffix}"}}
                for i, (key, color) in enumerate(keys)
            ],
        }

    def line_graphs(self, template: str, host: str, suffix: str,
                    label: str) -> list[dict[str, Any]]:
        def graph(name: str, keys: tuple[tuple[str, str], ...]) -> dict[str, Any]:
            made = self.graph(host, f"{label}{name}", keys, uuid_name=name, suffix=suffix)
            made["uuid"] = self.uuid(template, "graph", name)
            return made

        return [
            graph("packet loss", (("linemon.loss", "F63100"),)),
            graph("RTT", (("linemon.rtt.min", "199C0D"), ("linemon.rtt.avg", "2774A4"),
                          ("linemon.rtt.max", "F63100"))),
        ]

    # -- dashboards (6.0: a 24-column grid, upper-case widget types, "graphid";
    #    7.0: 72 columns, lower-case types, "graphid.0": both read from each release's export)

    def widget(self, kind: str, x: int, y: int, width: int, height: int, field: str,
               value: dict[str, str], **extra: str) -> dict[str, Any]:
        """One widget showing one graph, graph prototype or item (``kind``: GRAPH,
        GRAPH_PROTOTYPE or ITEM) on a 24-column grid, scaled to 7.0's 72."""
        seven = self.version != "6.0"
        scale = 3 if seven else 1
        types = {"GRAPH": ("GRAPH_CLASSIC", "graph"),
                 "GRAPH_PROTOTYPE": ("GRAPH_PROTOTYPE", "graphprototype"),
                 "ITEM": ("ITEM", "item")}
        place = {"x": str(x * scale), "y": str(y), "width": str(width * scale),
                 "height": str(height)}
        return {"type": types[kind][seven], **{k: v for k, v in place.items() if v != "0"},
                **extra,
                "fields": [{"type": kind, "name": f"{field}.0" if seven else field,
                            "value": value}]}

    def dashboard(self, template: str, name: str,
                  widgets: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"uuid": self.uuid(template, "dashboard", name), "name": name,
                 "pages": [{"widgets": widgets}]}]

    # -- the templates ------------------------------------------------------------------

    def template(self, name: str, description: str, macros: tuple[tuple[str, str, str], ...],
                 **content: Any) -> dict[str, Any]:
        return {
            "uuid": self.uuid(name, "template"),
            "template": name,
            "name": name,
            "description": description,
            "groups": [{"name": GROUP}],
            **content,
            "tags": [{"tag": "class", "value": "network"}, {"tag": "target", "value": "linemon"}],
            "macros": [{"macro": m, "value": v, "description": d} for m, v, d in macros],
        }

    def valuemaps(self, template: str) -> list[dict[str, Any]]:
        mappings = [{"value": str(i), "newvalue": name} for i, name in enumerate(STATUS_CODES)]
        mappings.append({"value": str(UNKNOWN_STATUS), "newvalue": "unknown"})
        return [{"uuid": self.uuid(template, "valuemap"), "name": "linemon status",
                 "mappings": mappings}]

    def line_trapper(self) -> dict[str, Any]:
        tags = [{"tag": "component", "value": "line"}]
        items = self.line_items(LINE_T, "", "linemon: ", tags)
        for trigger in self.line_triggers(LINE_T, LINE_T, "", "linemon: "):
            owner = trigger["expression"].split("/")[2].split(")")[0].split(",")[0]
            next(i for i in items if i["key"] == owner).setdefault("triggers", []).append(trigger)
        template = self.template(
            LINE_T,
            "Ping results of one customer line, sent by the linemon broker to the trapper item "
            "linemon.result of the line's host. Dependent items take each field of the JSON.",
            LINE_MACROS, items=items, valuemaps=self.valuemaps(LINE_T),
        )
        def value(x: int, key: str) -> dict[str, Any]:
            return self.widget("ITEM", x, 5, 6, 3, "itemid", {"host": LINE_T, "key": key})

        template["dashboards"] = self.dashboard(LINE_T, "linemon line", [
            self.widget("GRAPH", 0, 0, 12, 5, "graphid",
                        {"host": LINE_T, "name": "linemon: packet loss"}),
            self.widget("GRAPH", 12, 0, 12, 5, "graphid", {"host": LINE_T, "name": "linemon: RTT"}),
            value(0, "linemon.status.code"), value(6, "linemon.loss"),
            value(12, "linemon.rtt.avg"), value(18, "linemon.rtt.max"),
        ])
        return self.export(template, graphs=self.line_graphs(LINE_T, LINE_T, "", "linemon: "))

    def lines_lld(self, via: Via = AGENT) -> dict[str, Any]:
        name = LLD_T if via is AGENT else EXT_LLD_T
        suffix, label = "[{#LINE.ID}]", "Line {#LINE.ID}: "
        tags = [{"tag": "component", "value": "line"}, {"tag": "line", "value": "{#LINE.ID}"},
                {"tag": "router", "value": "{#LINE.ROUTER}"},
                {"tag": "target", "value": "{#LINE.TARGET}"}]
        prototypes = self.line_items(name, suffix, label, tags)
        prototypes.append(self.item(
            name, f"{label}queue a ping now", via.ping,
            kind=via.kind, value_type="UNSIGNED", delay="{#LINE.INTERVAL}",
            history="1d", status="DISABLED",
            **({"preprocessing": via.steps()} if via.guard else {}),
            description=f"For Zabbix-scheduled setups only: {via.who} asks the broker to "
                        "ping the line now (linemon ping --line); the result arrives by "
                        "trapper. Leave disabled when the broker schedules the pings itself.",
            tags=tags,
        ))
        rule = {
            "uuid": self.uuid(name, "discovery"),
            "name": "linemon lines",
            **({} if via is AGENT else {"type": via.kind}),
            "key": via.discover,
            "delay": "{$LINEMON.LLD.INTERVAL}",
            "lifetime": "7d",
            "description": "The lines the broker knows (linemon discover), all of them or those "
                           "of router {$LINEMON.ROUTER}.",
            **({"preprocessing": via.steps()} if via.guard else {}),
            "item_prototypes": prototypes,
            "trigger_prototypes": self.line_triggers(name, name, suffix, label),
            "graph_prototypes": self.line_graphs(name, name, suffix, label),
        }
        macros = (
            *LINE_MACROS,
            ("{$LINEMON.ROUTER}", "", "Discover only this router's lines (empty: all)."),
            ("{$LINEMON.LLD.INTERVAL}", "1h", "How often to discover the lines."),
        )
        template = self.template(
            name,
            "The lines of one router (or of the whole broker) discovered through "
            f"{via.who}; each line's results arrive by trapper as linemon.result[<line id>].",
            macros, discovery_rules=[rule], valuemaps=self.valuemaps(name),
        )
        return self.export(template)

    def broker_health(self, via: Via = AGENT) -> dict[str, Any]:
        t, master = (HEALTH_T if via is AGENT else EXT_HEALTH_T), via.status
        tags = [{"tag": "component", "value": "broker"}]
        change = ({"type": "SIMPLE_CHANGE", "parameters": [""]},)

        def dep(name: str, key: str, path: str, value_type: str = "UNSIGNED",
                **extra: Any) -> dict[str, Any]:
            return self.dependent(t, f"linemon broker: {name}", key, master, path,
                                  value_type=value_type, tags=tags, **extra)

        def ref(key: str) -> str:
            return f"/{t}/{key}"

        items = [
            self.item(t, "linemon broker: status", master, kind=via.kind,
                      value_type="TEXT", delay="1m", history="1d",
                      description="The broker's health (linemon status --json). Anything but a "
                                  "JSON object (the client's error text) makes it unsupported.",
                      preprocessing=via.steps({"type": "MATCHES_REGEX",
                                               "parameters": ["^\\s*\\{"]}),
                      tags=tags),
            dep("routers", "linemon.routers", "$.routers"),
            dep("lines", "linemon.lines", "$.lines"),
            dep("sessions", "linemon.sessions", "$.sessions"),
            dep("sessions busy", "linemon.sessions.busy", "$.sessions_busy"),
            dep("queue depth", "linemon.queue_depth", "$.queue_depth"),
            dep("overruns", "linemon.overruns", "$.overruns", steps=change),
            dep("routers in backoff", "linemon.routers_in_backoff", "$.routers_in_backoff"),
            dep("rejected lines", "linemon.rejected_lines", "$.rejected_lines"),
            dep("values pending", "linemon.delivery.pending", "$.delivery.pending"),
            dep("values failed", "linemon.delivery.failed", "$.delivery.failed", steps=change),
            dep("values rejected", "linemon.delivery.rejected", "$.delivery.rejected",
                steps=change),
            dep("send errors", "linemon.delivery.send_errors", "$.delivery.send_errors",
                steps=change),
            dep("oldest pending value age", "linemon.delivery.oldest_pending_age",
                "$.delivery.oldest_pending_age_s", "FLOAT", units="s"),
            dep("API sync staleness", "linemon.sync.stale", "$.sync.stale_s", "FLOAT",
                units="s", optional=True),
        ]
        triggers = [
            self.trigger(t, "linemon broker: down or not answering",
                         f"nodata({ref(master)},{{$LINEMON.BROKER.NODATA}})=1", "HIGH",
                         description="No health JSON for {$LINEMON.BROKER.NODATA}: the broker "
                                     f"is stopped, its socket refuses {via.who} (group and "
                                     "mode), or the status item is unsupported."),
            self.trigger(t, "linemon broker: {$LINEMON.SPOOL.PENDING.MAX} values waiting "
                            "for {$LINEMON.SPOOL.WINDOW}",
                         f"min({ref('linemon.delivery.pending')},{{$LINEMON.SPOOL.WINDOW}})"
                         ">{$LINEMON.SPOOL.PENDING.MAX}", "WARNING",
                         opdata="Pending: {ITEM.LASTVALUE1}"),
            self.trigger(t, "linemon broker: undelivered values older than "
                            "{$LINEMON.SPOOL.AGE.MAX}",
                         f"last({ref('linemon.delivery.oldest_pending_age')})"
                         ">{$LINEMON.SPOOL.AGE.MAX}", "AVERAGE",
                         opdata="Oldest: {ITEM.LASTVALUE1}"),
            self.trigger(t, "linemon broker: errors sending to Zabbix",
                         f"sum({ref('linemon.delivery.send_errors')},{{$LINEMON.ERRORS.WINDOW}})>0",
                         "WARNING"),
            self.trigger(t, "linemon broker: Zabbix rejected values",
                         f"sum({ref('linemon.delivery.rejected')},{{$LINEMON.ERRORS.WINDOW}})>0",
                         "WARNING",
                         description="Values for items Zabbix does not know, or not allowed "
                                     "from the broker's address."),
            self.trigger(t, "linemon broker: routers in reconnect backoff",
                         f"min({ref('linemon.routers_in_backoff')},{{$LINEMON.BACKOFF.WINDOW}})>0",
                         "WARNING", opdata="Routers: {ITEM.LASTVALUE1}"),
            self.trigger(t, "linemon broker: line definitions rejected",
                         f"last({ref('linemon.rejected_lines')})>0", "WARNING",
                         opdata="Rejected: {ITEM.LASTVALUE1}"),
            self.trigger(t, "linemon broker: pings overrunning their interval",
                         f"sum({ref('linemon.overruns')},{{$LINEMON.ERRORS.WINDOW}})>0", "INFO"),
            self.trigger(t, "linemon broker: line list from the API is stale",
                         f"last({ref('linemon.sync.stale')})>{{$LINEMON.SYNC.STALE.MAX}}",
                         "WARNING", opdata="Stale: {ITEM.LASTVALUE1}"),
        ]
        for trigger in triggers:
            owner = trigger["expression"].split("/")[2].split(")")[0].split(",")[0]
            next(i for i in items if i["key"] == owner).setdefault("triggers", []).append(trigger)
        macros = (
            ("{$LINEMON.BROKER.NODATA}", "5m", "No health data for this long means down."),
            ("{$LINEMON.SPOOL.PENDING.MAX}", "1000", "Values waiting for delivery."),
            ("{$LINEMON.SPOOL.WINDOW}", "10m", "How long the spool must stay above the max."),
            ("{$LINEMON.SPOOL.AGE.MAX}", "10m", "Age of the oldest undelivered value."),
            ("{$LINEMON.ERRORS.WINDOW}", "10m", "Window for send errors, rejects, overruns."),
            ("{$LINEMON.BACKOFF.WINDOW}", "5m", "How long a router must stay in backoff."),
            ("{$LINEMON.SYNC.STALE.MAX}", "15m", "Age of the last good Zabbix API sync."),
            ("{$LINEMON.ROUTER.LOAD.MAX}", "0.9",
             "A router's load (session time needed / had) above which it is over budget."),
            ("{$LINEMON.ROUTER.LOAD.WINDOW}", "15m", "How long the load must stay above it."),
        )
        items.append(self.item(
            t, "linemon broker: routers JSON", via.routers, kind=via.kind,
            value_type="TEXT", delay="1m", history="1d",
            description="The broker's routers with their sessions and load "
                        "(linemon routers --json).",
            preprocessing=via.steps({"type": "MATCHES_REGEX", "parameters": ["^\\s*\\["]}),
            tags=tags))
        template = self.template(
            t, f"Health of the linemon broker on this host, read by {via.who} from the "
               "broker's socket (linemon status --json, linemon routers --json).",
            macros, items=items, discovery_rules=[self.router_rule(t, via.routers)],
        )
        template["dashboards"] = self.dashboard(t, "linemon broker", [
            self.widget("GRAPH", 0, 0, 12, 5, "graphid",
                        {"host": t, "name": "linemon broker: delivery"}),
            self.widget("GRAPH", 12, 0, 12, 5, "graphid",
                        {"host": t, "name": "linemon broker: lines and sessions"}),
            self.widget("GRAPH_PROTOTYPE", 0, 5, 24, 5, "graphid",
                        {"host": t, "name": "Router {#ROUTER}: load"}, name="Router load"),
        ])
        graphs = [
            self.graph(t, "linemon broker: delivery", (
                ("linemon.delivery.pending", "2774A4"), ("linemon.delivery.failed", "F63100"),
                ("linemon.delivery.rejected", "A54F10"), ("linemon.delivery.send_errors",
                                                          "FF00FF"))),
            self.graph(t, "linemon broker: lines and sessions", (
                ("linemon.lines", "199C0D"), ("linemon.sessions", "2774A4"),
                ("linemon.sessions.busy", "F7941D"), ("linemon.queue_depth", "F63100"))),
        ]
        return self.export(template, graphs=graphs)

    def router_rule(self, t: str, routers: str) -> dict[str, Any]:
        """Per-router load and skipped pings, discovered from the routers JSON."""
        key = "linemon.router.load[{#ROUTER}]"
        tags = [{"tag": "component", "value": "router"}, {"tag": "router", "value": "{#ROUTER}"}]
        pick = "$[?(@.name=='{#ROUTER}')]"

        def dep(name: str, key: str, field: str, value_type: str,
                **extra: Any) -> dict[str, Any]:
            return self.dependent(t, f"Router {{#ROUTER}}: {name}", key, routers,
                                  f"{pick}.{field}.first()", value_type=value_type, tags=tags,
                                  **extra)

        prototypes = [
            dep("load", key, "load", "FLOAT",
                description="Session time the router's lines need per second divided by its "
                            "max_sessions: 1 means every session is busy all the time; above "
                            "that pings wait and are skipped."),
            dep("sessions needed", "linemon.router.sessions_needed[{#ROUTER}]",
                "sessions_needed", "UNSIGNED"),
            dep("pings skipped", "linemon.router.skipped[{#ROUTER}]", "skipped", "UNSIGNED",
                steps=({"type": "SIMPLE_CHANGE", "parameters": [""]},)),
        ]
        trigger = self.trigger(
            t, "Router {#ROUTER}: over its session budget (load > {$LINEMON.ROUTER.LOAD.MAX})",
            f"min(/{t}/{key},{{$LINEMON.ROUTER.LOAD.WINDOW}})>{{$LINEMON.ROUTER.LOAD.MAX}}",
            "WARNING", opdata="Load: {ITEM.LASTVALUE1}",
            description="Its lines need more session time than its sessions give: pings "
                        "queue and are skipped. Raise the router's max_sessions to the "
                        "'sessions needed' item (if the router allows as many vty sessions), "
                        "lengthen the lines' intervals or send fewer probes per ping.")
        timing = {"delay": "0"} if self.version == "6.0" else {}
        return {
            "uuid": self.uuid(t, "discovery", "routers"),
            "name": "linemon routers",
            "type": "DEPENDENT",
            "key": "linemon.routers.discovery",
            **timing,
            "lifetime": "7d",
            "description": "The broker's routers, from the routers JSON.",
            "master_item": {"key": routers},
            "lld_macro_paths": [{"lld_macro": "{#ROUTER}", "path": "$.name"}],
            "item_prototypes": prototypes,
            "trigger_prototypes": [trigger],
            "graph_prototypes": [self.graph(t, "Router {#ROUTER}: load", ((key, "F7941D"),))],
        }

    def export(self, template: dict[str, Any], **top: Any) -> dict[str, Any]:
        name = template["template"]
        groups_key = "groups" if self.version == "6.0" else "template_groups"
        return {"zabbix_export": {
            "version": self.version,
            groups_key: [{"uuid": self.uuid(name, "group", GROUP), "name": GROUP}],
            "templates": [template],
            **top,
        }}


def dump(data: Any, indent: int = 0) -> list[str]:
    """Block-style YAML for dicts, lists and strings; every scalar single-quoted, one line."""
    pad = " " * indent
    out: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(value, dict | list):
                out.append(f"{pad}{key}:")
                out.extend(dump(value, indent + 2))
            else:
                out.append(f"{pad}{key}: {quote(value)}")
        return out
    for element in data:
        if isinstance(element, dict | list):
            lines = dump(element, indent + 2)
            out.append(f"{pad}- {lines[0].lstrip()}")
            out.extend(lines[1:])
        else:
            out.append(f"{pad}- {quote(element)}")
    return out


def quote(value: str) -> str:
    if not isinstance(value, str) or "\n" in value:
        raise ValueError(f"only one-line strings are written: {value!r}")
    return "'" + value.replace("'", "''") + "'"


FILES = {"linemon_line_trapper": ("line_trapper", AGENT),
         "linemon_lines_agent_lld": ("lines_lld", AGENT),
         "linemon_broker_health": ("broker_health", AGENT),
         "linemon_lines_external": ("lines_lld", EXTERNAL),
         "linemon_broker_health_external": ("broker_health", EXTERNAL)}


def render() -> dict[Path, str]:
    """Every template file (relative path -> YAML text)."""
    files: dict[Path, str] = {}
    for version in VERSIONS:
        builder = Builder(version)
        for folder, (method, via) in FILES.items():
            data = getattr(builder, method)() if via is AGENT else getattr(builder, method)(via)
            files[Path(folder) / f"{folder}_{version}.yaml"] = "\n".join(dump(data)) + "\n"
    return files


if __name__ == "__main__":
    for path, text in render().items():
        (HERE / path).parent.mkdir(exist_ok=True)
        (HERE / path).write_text(text, encoding="utf-8")
        print(path)
