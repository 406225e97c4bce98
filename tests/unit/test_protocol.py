"""The wire format: versioned, bounded, errors coded."""

from __future__ import annotations

import pytest

from linemon_agent import protocol


def test_round_trip() -> None:
    op, args = protocol.decode_request(protocol.request("ping", router="pe1", wait=True))
    assert (op, args) == ("ping", {"router": "pe1", "wait": True})
    assert protocol.decode_reply(protocol.ok({"a": 1})) == {"a": 1}


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (b"not json\n", protocol.E_BAD_REQUEST),
        (b"[1,2]\n", protocol.E_BAD_REQUEST),
        (b'{"v": 2, "op": "status"}\n', protocol.E_VERSION),
        (b'{"op": "status"}\n', protocol.E_VERSION),
        (b'{"v": 1, "op": "rm -rf"}\n', protocol.E_UNKNOWN_OP),
        (b'{"v": 1, "op": "status", "args": []}\n', protocol.E_BAD_REQUEST),
        (b"\xff\xfe\n", protocol.E_BAD_REQUEST),
        (b'{"v":1,"op":"status","x":"' + b"a" * protocol.MAX_REQUEST_BYTES + b'"}\n',
         protocol.E_BAD_REQUEST),
    ],
)
def test_bad_requests_are_coded(frame: bytes, code: str) -> None:
    with pytest.raises(protocol.ProtocolError) as info:
        protocol.decode_request(frame)
    assert info.value.code == code


def test_error_reply_raises_with_code() -> None:
    with pytest.raises(protocol.ProtocolError) as info:
        protocol.decode_reply(protocol.error(protocol.E_NOT_FOUND, "no router 'x'"))
    assert info.value.code == protocol.E_NOT_FOUND and "no router" in info.value.message
