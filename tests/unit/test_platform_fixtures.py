"""Each platform fixture checks both the command built for a request and the parse of its output.

A fixture is ``tests/fixtures/platforms/<platform>/<command>.txt`` (the device's answer, byte
for byte) with a ``.json`` beside it::

    {"request": {"target": "192.0.2.1", "vrf": "CUST"},   # optional: omit for output-only cases
     "command": "ping vrf CUST 192.0.2.1 repeat 5",      # what build_ping(request) must give
     "expected": {"status": "ok", "sent": 5, ...},        # fields the parse must give exactly
     "source": "where the output comes from", "notes": "what it tests"}

``expected.status`` of ``parse_error`` or ``command_error`` means the parse must raise.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from linemon_agent.errors import CommandError, ParseError
from linemon_agent.models import PingRequest
from linemon_agent.platforms import get_platform
from tests.conftest import FIXTURES

CASES = sorted((FIXTURES / "platforms").glob("*/*.json"))
RAISES = {"parse_error": ParseError, "command_error": CommandError}


@pytest.mark.parametrize("case", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_fixture(case: Path) -> None:
    meta = json.loads(case.read_text())
    platform = get_platform(case.parent.name)
    assert "source" in meta, "every fixture names where its output comes from"
    request = PingRequest.from_strings(meta["request"]) if "request" in meta else None
    if request is not None:
        assert platform.build_ping(request) == meta["command"]
    output = case.with_suffix(".txt").read_bytes().decode("utf-8")
    expected = meta["expected"]
    error = RAISES.get(expected.get("status", ""))
    if error is not None:
        with pytest.raises(error):
            platform.parse_ping(output, request)
        return
    got = platform.parse_ping(output, request).to_dict()
    assert {key: got.get(key) for key in expected} == expected
