"""The broker socket's wire format: one JSON object per line, versioned and size-bounded.

Stdlib only: the thin client imports this on every Zabbix agent call.

Request:  {"v": 1, "op": "ping", "args": {...}}
Reply:    {"v": 1, "ok": true, "result": ...}
          {"v": 1, "ok": false, "error": {"code": "invalid_argument", "message": "..."}}
"""

from __future__ import annotations

import json

TYPE_CHECKING = False  # typing costs ~5 ms of start-up CPU (-X importtime); only mypy needs it
if TYPE_CHECKING:
    from typing import Any

VERSION = 1
MAX_REQUEST_BYTES = 64 * 1024
MAX_REPLY_BYTES = 64 * 1024 * 1024

# The socket's operations, each a client command of the same name (clientcli), in help order.
OPS = ("ping", "discover", "status", "routers", "lines", "result", "sync", "reload")

# Error codes, and the exit code the client gives for each: the only such table.
E_BAD_REQUEST = "bad_request"
E_VERSION = "version_mismatch"
E_UNKNOWN_OP = "unknown_op"
E_INVALID = "invalid_argument"
E_NOT_FOUND = "not_found"
E_UNAVAILABLE = "unavailable"
E_PERMISSION = "permission_denied"
E_BUSY = "busy"
E_TIMEOUT = "timeout"
E_SHUTTING_DOWN = "shutting_down"
E_INTERNAL = "internal"
EXIT_CODES = {
    E_BAD_REQUEST: 2,
    E_VERSION: 5,
    E_UNKNOWN_OP: 5,
    E_INVALID: 2,
    E_NOT_FOUND: 4,
    E_UNAVAILABLE: 69,  # EX_UNAVAILABLE, as when the broker itself is down
    E_PERMISSION: 77,  # EX_NOPERM
    E_BUSY: 6,
    E_TIMEOUT: 7,
    E_SHUTTING_DOWN: 6,
    E_INTERNAL: 1,
}
# An error's kind (linemon_agent.errors.KIND_*) -> the code the socket answers with.
KIND_CODES = {
    "invalid": E_INVALID,
    "not_found": E_NOT_FOUND,
    "unavailable": E_UNAVAILABLE,
    "timeout": E_TIMEOUT,
    "permission": E_PERMISSION,
    "shutting_down": E_SHUTTING_DOWN,
    "internal": E_INTERNAL,
}


class ProtocolError(Exception):
    """A frame that is not a valid request or reply. ``code`` is one of the E_* codes."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


def encode(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=True).encode("ascii") + b"\n"


def request(op: str, **args: Any) -> bytes:
    return encode({"v": VERSION, "op": op, "args": args})


def ok(result: Any) -> bytes:
    return encode({"v": VERSION, "ok": True, "result": result})


def error(code: str, message: str) -> bytes:
    return encode({"v": VERSION, "ok": False, "error": {"code": code, "message": message}})


def error_for(kind: str, message: str) -> bytes:
    """The reply for an error of ``kind`` (unknown kinds are internal)."""
    return error(KIND_CODES.get(kind, E_INTERNAL), message)


def decode_request(line: bytes) -> tuple[str, dict[str, Any]]:
    """Check one request frame: returns (op, args) or raises ProtocolError."""
    if len(line) > MAX_REQUEST_BYTES:
        raise ProtocolError(E_BAD_REQUEST, f"request larger than {MAX_REQUEST_BYTES} bytes")
    try:
        obj = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError(E_BAD_REQUEST, "request is not a JSON object") from None
    if not isinstance(obj, dict):
        raise ProtocolError(E_BAD_REQUEST, "request is not a JSON object")
    version = obj.get("v")
    if version != VERSION:
        raise ProtocolError(
            E_VERSION, f"client speaks protocol {version!r}, broker speaks {VERSION}"
        )
    op = obj.get("op")
    if not isinstance(op, str) or op not in OPS:
        raise ProtocolError(E_UNKNOWN_OP, f"unknown operation {str(op)[:40]!r}")
    args = obj.get("args", {})
    if not isinstance(args, dict):
        raise ProtocolError(E_BAD_REQUEST, "args must be a JSON object")
    return op, args


def decode_reply(line: bytes) -> Any:
    """The result of a reply frame, or ProtocolError carrying the broker's error."""
    try:
        obj = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError(E_BAD_REQUEST, "broker reply is not JSON") from None
    if not isinstance(obj, dict):
        raise ProtocolError(E_BAD_REQUEST, "broker reply is not a JSON object")
    if obj.get("v") != VERSION:
        raise ProtocolError(
            E_VERSION, f"broker speaks protocol {obj.get('v')!r}, this client {VERSION}"
        )
    if obj.get("ok") is True:
        return obj.get("result")
    err = obj.get("error") or {}
    raise ProtocolError(str(err.get("code", E_INTERNAL)), str(err.get("message", "")))
