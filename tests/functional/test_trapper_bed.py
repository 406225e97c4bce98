"""The trapper receiver bed: Zabbix 6.0 framing, counts, recording and its failure modes."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from zabbix_utils import ItemValue, Sender
from zabbix_utils.exceptions import ProcessingError
from zabbix_utils.types import TrapperResponse

from tests.beds.trapper import (
    FLAG_LARGE,
    FLAG_PROTOCOL,
    FrameError,
    TrapperBed,
    check_flags,
    check_lengths,
    decode_data,
    encode_packet,
    judge,
    sender_reply,
)

REPO = Path(__file__).resolve().parents[2]
KNOWN = {("router-a", "linemon.ping[198.19.0.10]"), ("router-a", "linemon.ping[198.19.0.20]")}


@pytest.fixture
def trapper() -> Iterator[TrapperBed]:
    with TrapperBed(known=KNOWN) as bed:
        yield bed


def sender(bed: TrapperBed, **options: object) -> Sender:
    return Sender(server="127.0.0.1", port=bed.port, timeout=2, **options)


def exchange(port: int, packet: bytes) -> bytes:
    """Send raw bytes, return everything the server sent back before closing."""
    with socket.create_connection(("127.0.0.1", port), timeout=3) as conn:
        conn.sendall(packet)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer


def reply_json(packet: bytes) -> dict[str, str]:
    flags = check_flags(packet[:5])
    datalen, reserved = check_lengths(flags, packet[5:13])
    return json.loads(decode_data(flags, packet[13:13 + datalen], reserved))


def test_framing_round_trip_plain_and_compressed() -> None:
    payload = json.dumps({"request": "sender data", "data": []}).encode()
    for compressed in (False, True):
        packet = encode_packet(payload, compressed)
        flags = check_flags(packet[:5])
        datalen, reserved = check_lengths(flags, packet[5:13])
        assert len(packet) == 13 + datalen
        assert decode_data(flags, packet[13:], reserved) == payload
        assert bool(reserved) == compressed


def test_large_packet_lengths_are_eight_bytes_each() -> None:
    flags = check_flags(b"ZBXD" + bytes([FLAG_PROTOCOL | FLAG_LARGE]))
    assert check_lengths(flags, struct.pack("<QQ", 42, 0)) == (42, 0)


@pytest.mark.parametrize("prefix", [b"HTTP/", b"ZBXD\x00", b"ZBXD\x09"])
def test_foreign_or_unknown_flags_are_refused(prefix: bytes) -> None:
    with pytest.raises(FrameError):
        check_flags(prefix)


def test_oversized_and_lying_packets_are_refused() -> None:
    with pytest.raises(FrameError, match="too large"):
        check_lengths(FLAG_PROTOCOL, struct.pack("<II", 1 << 30, 0))
    with pytest.raises(FrameError, match="header said"):
        decode_data(FLAG_PROTOCOL | 0x02, zlib.compress(b"x" * 100), 10)


def test_reply_text_parses_as_zabbix_utils_expects() -> None:
    reply = json.loads(sender_reply(3, 1, 0.000055))
    assert reply == {"response": "success",
                     "info": "processed: 3; failed: 1; total: 4; seconds spent: 0.000055"}
    parsed = TrapperResponse().parse(reply)
    assert (parsed["processed"], parsed["failed"], parsed["total"]) == ("3", "1", "4")


def test_values_without_host_key_or_value_fail() -> None:
    payload = json.dumps({"request": "sender data", "data": [
        {"host": "h", "key": "k", "value": "1"}, {"host": "h", "key": "k"},
        {"key": "k", "value": "1"}, "junk"]}).encode()
    verdict = judge(payload, None, batch=7)
    assert [v.processed for v in verdict.values] == [True, False, False, False]
    assert {v.batch for v in verdict.values} == {7}


def test_sender_counts_known_and_unknown_items(trapper: TrapperBed) -> None:
    items = [
        ItemValue("router-a", "linemon.ping[198.19.0.10]", '{"loss":0}', clock=1700000000, ns=5),
        ItemValue("router-a", "linemon.ping[198.19.0.20]", '{"loss":50}', clock=1700000001, ns=6),
        ItemValue("router-b", "linemon.ping[198.19.0.30]", '{"loss":0}', clock=1700000002, ns=7),
    ]
    answer = sender(trapper).send(items)
    assert (answer.processed, answer.failed, answer.total) == (2, 1, 3)
    got = trapper.values()
    assert [(v.host, v.key, v.value, v.clock, v.ns, v.processed) for v in got] == [
        ("router-a", "linemon.ping[198.19.0.10]", '{"loss":0}', 1700000000, 5, True),
        ("router-a", "linemon.ping[198.19.0.20]", '{"loss":50}', 1700000001, 6, True),
        ("router-b", "linemon.ping[198.19.0.30]", '{"loss":0}', 1700000002, 7, False),
    ]
    assert [b.number for b in trapper.batches()] == [1]


def test_chunks_arrive_as_separate_batches_and_known_set_changes(trapper: TrapperBed) -> None:
    trapper.set_known(None)
    items = [ItemValue(f"h{i}", "k", str(i)) for i in range(5)]
    answer = sender(trapper, chunk_size=2).send(items)
    assert (answer.processed, answer.failed) == (5, 0)
    assert [v.batch for v in trapper.values()] == [1, 1, 2, 2, 3]
    trapper.set_known([("h0", "k")])
    answer = sender(trapper).send(items[:2])
    assert (answer.processed, answer.failed) == (1, 1)


def test_compressed_request_gets_compressed_reply(trapper: TrapperBed) -> None:
    answer = sender(trapper, compression=True).send_value(
        "router-a", "linemon.ping[198.19.0.10]", 1.5)
    assert answer.processed == 1
    assert trapper.batches()[-1].compressed is True


def test_down_refuses_and_up_returns_on_the_same_port(trapper: TrapperBed) -> None:
    port = trapper.port
    trapper.go_down()
    with pytest.raises(ProcessingError, match="Couldn't connect"):
        sender(trapper).send_value("router-a", "linemon.ping[198.19.0.10]", 1)
    trapper.come_up()
    assert trapper.port == port
    assert sender(trapper).send_value("router-a", "linemon.ping[198.19.0.10]", 2).processed == 1
    assert [v.value for v in trapper.values()] == ["2"]


def test_close_without_reply_records_but_sender_fails(trapper: TrapperBed) -> None:
    trapper.set_close_without_reply(True)
    with pytest.raises(ProcessingError, match="Unexpected response"):
        sender(trapper).send_value("router-a", "linemon.ping[198.19.0.10]", 1)
    assert [b.replied for b in trapper.batches()] == [False]
    assert len(trapper.values()) == 1


def test_reply_delay_past_the_sender_timeout(trapper: TrapperBed) -> None:
    trapper.set_reply_delay(1.5)
    slow = Sender(server="127.0.0.1", port=trapper.port, timeout=0.5)
    with pytest.raises(TimeoutError):
        slow.send_value("router-a", "linemon.ping[198.19.0.10]", 1)
    assert len(trapper.wait_for_values(1, timeout=1)) == 1
    patient = Sender(server="127.0.0.1", port=trapper.port, timeout=3)
    assert patient.send_value("router-a", "linemon.ping[198.19.0.10]", 2).processed == 1


def test_bad_json_gets_failed_reply_and_unknown_request_gets_none(trapper: TrapperBed) -> None:
    reply = reply_json(exchange(trapper.port, encode_packet(b"{not json")))
    assert reply["response"] == "failed"
    assert "JSON" in reply["info"]
    assert exchange(trapper.port, encode_packet(b'{"request":"active checks"}')) == b""
    assert exchange(trapper.port, b"GET / HTTP/1.0\r\n\r\n") == b""


def test_real_zabbix_sender_binary(trapper: TrapperBed, tmp_path: Path) -> None:
    binary = shutil.which("zabbix_sender")
    if binary is None:
        pytest.skip("zabbix_sender not installed (Debian package zabbix-agent)")
    lines = tmp_path / "values.txt"
    lines.write_text('router-a linemon.ping[198.19.0.10] 1700000000 "{\\"loss\\":0}"\n'
                     "router-c some.key 1700000001 5\n")
    done = subprocess.run([binary, "-z", "127.0.0.1", "-p", str(trapper.port), "-T",
                           "-i", str(lines)], capture_output=True, text=True, timeout=10)
    assert "processed: 1; failed: 1; total: 2" in done.stdout
    assert done.returncode == 2  # zabbix_sender's "some values failed"
    assert [(v.host, v.value, v.clock) for v in trapper.values()] == [
        ("router-a", '{"loss":0}', 1700000000), ("router-c", "5", 1700000001)]


def test_standalone_process_serves_and_obeys_signals() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.beds.trapper", "--port", "0",
         "--known", "router-a:linemon.ping[198.19.0.10]"],
        cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        port = int(json.loads(process.stdout.readline())["listening"].rsplit(":", 1)[1])
        client = Sender(server="127.0.0.1", port=port, timeout=2)
        answer = client.send([ItemValue("router-a", "linemon.ping[198.19.0.10]", "1"),
                              ItemValue("router-a", "other", "2")])
        assert (answer.processed, answer.failed) == (1, 1)
        batch = json.loads(process.stdout.readline())
        assert [(v["key"], v["processed"]) for v in batch["values"]] == [
            ("linemon.ping[198.19.0.10]", True), ("other", False)]
        process.send_signal(signal.SIGUSR1)
        # down: refused, or reset when the close races an accepted connection
        with pytest.raises((ProcessingError, ConnectionResetError)):
            for _ in range(300):  # until the signal has been acted on (slow under CI load)
                client.send_value("router-a", "linemon.ping[198.19.0.10]", 3)
                time.sleep(0.05)
        process.send_signal(signal.SIGUSR2)
        for _ in range(300):
            try:
                assert client.send_value("router-a", "linemon.ping[198.19.0.10]", 4).processed
                break
            except (ProcessingError, ConnectionResetError):
                time.sleep(0.05)
        else:
            pytest.fail("the receiver did not come back up after SIGUSR2")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
