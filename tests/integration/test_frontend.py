"""What an operator sees: a line's dashboard in the real Zabbix 6.0 frontend.

A line host, defined the seed's way and linked to the 6.0 line template (with its dashboard),
is measured by the real broker on the router emulator; its last hour is filled in before
that through the broker's own sender (``reporter.zabbix_sender``) with back-dated results of
the same shape, one a minute. Then headless Chromium (Debian's ``chromium``, driven over
the DevTools pipe by tests/beds/chromium.py, loopback only) logs in to the lab's frontend,
opens the host's dashboard and takes a screenshot; ``chart2.php`` renders the loss graph as a
PNG that differs from the same graph over an hour without data.

``LINEMON_SCREENSHOT_DIR=docs`` also writes the screenshot there (the README shows
docs/line-dashboard-6.0.png, made this way).
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import math
import os
import secrets
import struct
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from zabbix_utils import ZabbixAPI

from linemon_agent.broker.sender import zabbix_sender
from linemon_agent.config import ZabbixSettings
from tests.beds.chromium import Chromium, installed
from tests.beds.emulator.client import Emulator
from tests.functional.broker_proc import BrokerProcess
from tests.integration.conftest import ZabbixLab
from tests.integration.loop import api_broker_doc, line_emulator, seed_macros, until
from tests.integration.test_templates import LINE_TEMPLATE, TEMPLATES, import_file

pytestmark = [
    pytest.mark.zabbix,
    pytest.mark.skipif(installed() is None, reason="chromium not installed (Debian: chromium)"),
]
ROUTER_IP = "127.36.0.1"
LINE_IP = "198.51.100.96"
LINE_ID = "L-DASH"
SHOT = "line-dashboard-6.0.png"


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    with line_emulator(tmp_path, ROUTER_IP, [LINE_IP], loss=0.2, rtt_ms=12) as made:
        yield made


def backfill(lab: ZabbixLab, shape: dict[str, object], now: float) -> int:
    """An hour of results, one a minute, through the broker's sender; returns how many."""
    values = []
    for minute in range(60, 0, -1):
        wave = math.sin(minute / 9)
        loss = 0.0 if minute % 17 else 40.0
        rtt = 12 + 6 * wave
        result = dict(shape) | {
            "loss_pct": loss, "received": round(5 * (1 - loss / 100)),
            "rtt_min_ms": round(rtt - 2.5, 2), "rtt_avg_ms": round(rtt, 2),
            "rtt_max_ms": round(rtt + 4 + 3 * abs(wave), 2), "time": now - 60 * minute,
        }
        values.append({"host": LINE_IP, "key": "linemon.result", "value": json.dumps(result),
                       "clock": int(now - 60 * minute), "ns": 0})
    send = zabbix_sender(ZabbixSettings(server=lab.server, port=lab.trapper_port))
    processed, failed, _ = asyncio.run(send(values))
    assert (processed, failed) == (60, 0)
    return processed


@pytest.fixture
def viewer(zabbix_api: ZabbixAPI) -> Iterator[tuple[str, str]]:
    """A frontend user of our own, (name, password): what the browser changes in its profile
    (the period, folded filters) stays out of the shared Admin's."""
    name, password = f"linemon-viewer-{os.getpid()}", secrets.token_urlsafe(16)
    admins = zabbix_api.usergroup.get(filter={"name": "Zabbix administrators"},
                                      output=["usrgrpid"])[0]["usrgrpid"]
    super_admin = zabbix_api.role.get(filter={"type": "3"}, output=["roleid"])[0]["roleid"]
    userid = zabbix_api.user.create(username=name, passwd=password, roleid=super_admin,
                                    usrgrps=[{"usrgrpid": admins}], autologout="0")["userids"][0]
    yield name, password
    zabbix_api.user.delete([userid])


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def frontend_session(lab: ZabbixLab, user: tuple[str, str]) -> urllib.request.OpenerDirector:
    """A urllib opener logged in to the frontend (its zbx_session cookie), never proxied."""
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}),
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    form = urllib.parse.urlencode({"name": user[0], "password": user[1],
                                   "enter": "Sign in"}).encode()
    with opener.open(lab.url.replace("api_jsonrpc.php", "index.php"), form, timeout=30):
        pass
    return opener


def test_line_dashboard_in_the_real_frontend(
    zabbix_lab: ZabbixLab, zabbix_api: ZabbixAPI, emulator: Emulator, tmp_path: Path,
    viewer: tuple[str, str],
) -> None:
    api = zabbix_api
    assert import_file(api, TEMPLATES / "linemon_line_trapper"
                       / "linemon_line_trapper_6.0.yaml") is True
    template = api.template.get(filter={"host": LINE_TEMPLATE}, output=["templateid"])[0]
    group = f"linemon-frontend-{os.getpid()}"
    groupid = api.hostgroup.create(name=group)["groupids"][0]
    hostid = api.host.create(host=LINE_IP, name=f"{LINE_ID} ({LINE_IP})",
                             groups=[{"groupid": groupid}],
                             templates=[{"templateid": template["templateid"]}],
                             tags=[{"tag": "TempType", "value": "LINE"}],
                             macros=seed_macros(LINE_ID, ROUTER_IP))["hostids"][0]
    base = zabbix_lab.url.replace("api_jsonrpc.php", "")
    try:
        zabbix_lab.reload_config_cache()
        with BrokerProcess(tmp_path, api_broker_doc(zabbix_lab, tmp_path,
                                                    host_group=group)) as broker:
            item = api.item.get(hostids=[hostid], filter={"key_": "linemon.result"},
                                output=["itemid"])[0]["itemid"]
            first = until(lambda: api.history.get(itemids=[item], history=4, limit=1), 60,
                          "the broker's first result in history")
            shape = json.loads(first[0]["value"])
            assert (shape["line"], shape["status"]) == (LINE_ID, "ok")
            backfill(zabbix_lab, shape, float(first[0]["clock"]))
            time.sleep(25)  # two more of the broker's own results (10 s interval)
            assert broker.client_json("status", "--json")["delivery"]["rejected"] == 0
        loss = api.item.get(hostids=[hostid], filter={"key_": "linemon.loss"},
                            output=["itemid"])[0]["itemid"]
        count = len(api.history.get(itemids=[loss], history=0, time_from=int(time.time()) - 3700))
        assert count >= 62, count

        # chart2.php draws the loss graph with data: it differs from an hour with none.
        opener = frontend_session(zabbix_lab, viewer)
        graph = api.graph.get(hostids=[hostid], filter={"name": "linemon: packet loss"},
                              output=["graphid"])[0]["graphid"]

        def chart(period: str) -> bytes:
            query = f"graphid={graph}&{period}&width=900&height=200&profileIdx=web.charts"
            with opener.open(f"{base}chart2.php?{query}", timeout=30) as answer:
                assert answer.headers["Content-Type"] == "image/png"
                png: bytes = answer.read()
            # a graph, not a one-line error image (what a frontend error gives)
            width, height = png_size(png)
            assert width >= 900 and height >= 200, (width, height)
            return png

        with_data, without = chart("from=now-1h&to=now"), chart("from=now-30d&to=now-29d")
        (tmp_path / "chart2-loss.png").write_bytes(with_data)
        assert with_data != without and len(with_data) > len(without)

        # The host's dashboard (the template's) in Chromium, as an operator opens it.
        with Chromium(tmp_path / "browser") as browser:
            browser.open(f"{base}index.php")
            browser.evaluate(f"document.querySelector('#name').value = {viewer[0]!r};"
                             f"document.querySelector('#password').value = {viewer[1]!r};"
                             "document.querySelector('#enter').click()")
            browser.wait_event("Page.loadEventFired")
            browser.open(f"{base}zabbix.php?action=host.dashboard.view&hostid={hostid}"
                         "&from=now-1h&to=now")
            until(lambda: browser.evaluate(
                "(() => { const imgs = [...document.querySelectorAll('.dashboard-grid img')];"
                " return imgs.length >= 2 && imgs.every(i => i.complete && i.naturalWidth > 0)"
                " && !document.querySelector('.dashboard-grid .is-loading'); })()"), 60,
                "the dashboard's graphs drawn", every=0.5)
            # fold the time selector away, as it is once an operator has picked a period
            browser.evaluate("document.querySelector('li.ui-tabs-active a.btn-time')?.click()")
            time.sleep(2)
            text = browser.evaluate("document.body.innerText")
            # the frontend's language (en_US) needs that locale when PHP starts: `zabbix-lab
            # up` generates it; a frontend started before that needs a restart (down, up)
            assert "Locale for language" not in text, "en_US.UTF-8 missing for the frontend"
            for title in ("linemon: packet loss", "linemon: RTT", "linemon: status code"):
                assert title in text, title
            shot = browser.screenshot()
        assert shot.startswith(b"\x89PNG") and len(shot) > 20_000
        (tmp_path / SHOT).write_bytes(shot)
        if os.environ.get("LINEMON_SCREENSHOT_DIR"):
            target = Path(os.environ["LINEMON_SCREENSHOT_DIR"])
            target.mkdir(parents=True, exist_ok=True)
            (target / SHOT).write_bytes(shot)
    finally:
        api.host.delete([hostid])
        api.hostgroup.delete([groupid])
