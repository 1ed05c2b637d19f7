"""JSON-RPC framing: ids, batches, notifications, pipelining, concurrency."""
from __future__ import annotations

import json
import threading
import time

import pytest

from conftest import assert_error, deposit, get_note, no_pending_message, pipeline, sha


def raw(c, obj):
    c.send_raw(json.dumps(obj, ensure_ascii=False).encode() + b"\n")
    return c.recv()


def test_response_echoes_id_and_version(conn):
    for rid in (1, 0, -7, 2**40, 2**53 + 1, 2**63 - 1, -2**63, 1.5, "abc", "", "ünïcode-id"):
        resp = raw(conn, {"jsonrpc": "2.0", "id": rid, "method": "trail.hello"})
        assert resp["jsonrpc"] == "2.0"
        assert resp["id"] == rid
        assert type(resp["id"]) is type(rid)
        assert resp["result"]["protocol"] == 1
        assert "error" not in resp


def test_error_response_echoes_id(conn):
    resp = raw(conn, {"jsonrpc": "2.0", "id": "req-9", "method": "trail.get", "params": {"id": "0" * 64}})
    assert resp["id"] == "req-9"
    assert_error(resp, -32001, "unknown_note")


def test_null_id_gets_answered_with_null(conn):
    # `"id": null` is a request with a null id (discouraged but legal), not a notification.
    resp = raw(conn, {"jsonrpc": "2.0", "id": None, "method": "trail.hello"})
    assert resp["id"] is None
    assert resp["result"]["protocol"] == 1


def test_notification_gets_no_response_but_is_executed(conn):
    conn.send({"jsonrpc": "2.0", "method": "trail.deposit", "params": {"body": "sent as notification"}})
    conn.send({"jsonrpc": "2.0", "method": "trail.get", "params": {"id": "0" * 64}})  # fails silently
    conn.send({"jsonrpc": "2.0", "method": "no.such.method"})  # fails silently
    resp = raw(conn, {"jsonrpc": "2.0", "id": 77, "method": "trail.get", "params": {"id": sha("sent as notification")}})
    assert resp["id"] == 77, "notifications must not be answered"
    assert resp["result"]["note"]["body"] == "sent as notification"


def test_batch_mixed(conn):
    a = deposit(conn, "batch existing")["id"]
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "trail.deposit", "params": {"body": "batch new"}},
        {"jsonrpc": "2.0", "id": "two", "method": "trail.get", "params": {"id": a}},
        {"jsonrpc": "2.0", "method": "trail.deposit", "params": {"body": "batch notification"}},
        {"jsonrpc": "2.0", "id": 3, "method": "trail.get", "params": {"id": "0" * 64}},
        {"jsonrpc": "2.0", "id": 4, "method": "trail.nope"},
        {"jsonrpc": "2.0", "id": 5, "method": "trail.hello"},
    ]
    conn.send(batch)
    resp = conn.recv()
    assert isinstance(resp, list), resp
    by_id = {r["id"]: r for r in resp}
    assert len(resp) == 5 and set(by_id) == {1, "two", 3, 4, 5}, resp
    assert by_id[1]["result"]["id"] == sha("batch new")
    assert by_id["two"]["result"]["note"]["id"] == a
    assert_error(by_id[3], -32001, "unknown_note")
    assert_error(by_id[4], -32601, "method_not_found")
    assert by_id[5]["result"]["protocol"] == 1
    # The notification inside the batch was executed.
    assert get_note(conn, sha("batch notification"))["body"] == "batch notification"


def test_batch_with_invalid_entries(conn):
    conn.send([{"jsonrpc": "2.0", "id": 1, "method": "trail.hello"}, 42, {"id": 3}])
    resp = conn.recv()
    assert isinstance(resp, list) and len(resp) == 3, resp
    ok = [r for r in resp if r.get("id") == 1]
    assert len(ok) == 1 and ok[0]["result"]["protocol"] == 1
    bad = [r for r in resp if r.get("id") != 1]
    for r in bad:
        assert_error(r, -32600, "invalid_request")
    assert conn.result("trail.hello")["protocol"] == 1


def test_empty_batch(conn):
    conn.send_raw(b"[]\n")
    resp = conn.recv()
    assert isinstance(resp, dict), resp
    assert resp["id"] is None
    assert_error(resp, -32600, "invalid_request")
    assert conn.result("trail.hello")["protocol"] == 1


def test_batch_of_notifications_only_gets_no_response(conn):
    conn.send([
        {"jsonrpc": "2.0", "method": "trail.deposit", "params": {"body": "quiet one"}},
        {"jsonrpc": "2.0", "method": "trail.deposit", "params": {"body": "quiet two"}},
    ])
    resp = raw(conn, {"jsonrpc": "2.0", "id": 5, "method": "trail.stats"})
    assert isinstance(resp, dict) and resp["id"] == 5, f"a batch of notifications must get no response: {resp}"
    assert resp["result"]["notes"] == 2


def test_batch_too_large(conn):
    batch = [{"jsonrpc": "2.0", "id": i, "method": "trail.hello"} for i in range(1001)]
    conn.send(batch)
    resp = conn.recv()
    if isinstance(resp, dict):
        assert_error(resp, -32600)
    else:
        assert len(resp) == 1001
    assert conn.result("trail.hello")["protocol"] == 1


def test_batch_of_1000_is_served(conn):
    batch = [{"jsonrpc": "2.0", "id": i, "method": "trail.deposit", "params": {"body": f"b{i}"}} for i in range(1000)]
    conn.send(batch)
    resp = conn.recv()
    assert isinstance(resp, list) and len(resp) == 1000
    assert sorted(r["id"] for r in resp) == list(range(1000))
    for r in resp:
        assert r["result"]["id"] == sha(f"b{r['id']}")
    assert conn.result("trail.stats")["notes"] == 1000


def test_pipelined_2000_requests(conn):
    reqs = []
    for i in range(1000):
        reqs.append(("trail.deposit", {"body": f"pipelined {i}", "tags": [f"g{i % 7}"]}))
        reqs.append(("trail.get", {"id": sha(f"pipelined {i}")}))
    responses = pipeline(conn, reqs)
    assert len(responses) == 2000
    for i in range(1000):
        dep, got = responses[2 * i], responses[2 * i + 1]
        assert "error" not in dep, dep
        assert dep["result"]["id"] == sha(f"pipelined {i}")
        assert dep["result"]["created"] is True
        # A request sent after a deposit on the same connection sees it.
        assert "error" not in got, got
        assert got["result"]["note"]["body"] == f"pipelined {i}"
    assert conn.result("trail.stats")["notes"] == 1000


def test_many_connections_at_once(daemon):
    conns = [daemon.connect() for _ in range(50)]
    try:
        for i, c in enumerate(conns):
            c.request("trail.deposit", {"body": f"from connection {i}"})
        for i, c in enumerate(conns):
            msg = c.recv()
            assert msg["result"]["id"] == sha(f"from connection {i}")
        stats = conns[0].result("trail.stats")
        assert stats["notes"] == 50
        assert stats["connections"] >= 50
    finally:
        for c in conns:
            c.close()


def test_concurrent_writers_same_note(daemon):
    body = "everyone deposits this"
    n_threads, per = 8, 25
    errors = []

    def work():
        try:
            with daemon.connect() as c:
                for _ in range(per):
                    deposit(c, body)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with daemon.connect() as c:
        note = get_note(c, sha(body))
        assert note["deposits"] == n_threads * per, "no deposit may be lost to a race"
        assert note["weight"] == pytest.approx(n_threads * per, rel=1e-3)


def test_client_disconnect_mid_line_is_harmless(daemon):
    c = daemon.connect()
    c.send_raw(b'{"jsonrpc":"2.0","id":1,"method":"trail.dep')
    c.close()
    c = daemon.connect()
    c.request("trail.deposit", {"body": "x" * 1000})
    c.close()  # gone before the answer
    with daemon.connect() as ok:
        assert ok.result("trail.hello")["protocol"] == 1
    assert daemon.proc.poll() is None


def test_request_split_across_many_writes(conn):
    msg = b'{"jsonrpc":"2.0","id":5,"method":"trail.deposit","params":{"body":"byte by byte \xc3\xa9"}}\n'
    for i in range(len(msg)):
        conn.send_raw(msg[i:i + 1])
        if i % 16 == 0:
            time.sleep(0.001)
    resp = conn.recv()
    assert resp["id"] == 5
    assert resp["result"]["id"] == sha("byte by byte é")


def test_several_requests_in_one_write(conn):
    msgs = b"".join(
        json.dumps({"jsonrpc": "2.0", "id": i, "method": "trail.deposit", "params": {"body": f"chunk {i}"}}).encode()
        + b"\n" for i in range(3))
    conn.send_raw(msgs + b'{"jsonrpc":"2.0","id":3,"method":"trail.st')
    time.sleep(0.1)
    conn.send_raw(b'ats"}\n')
    got = {}
    for _ in range(4):
        r = conn.recv()
        got[r["id"]] = r
    assert sorted(got) == [0, 1, 2, 3]
    assert got[3]["result"]["notes"] >= 0
    for i in range(3):
        assert got[i]["result"]["id"] == sha(f"chunk {i}")


def test_crlf_and_whitespace_lines(conn):
    conn.send_raw(b'  {"jsonrpc":"2.0","id":1,"method":"trail.hello"}  \r\n')
    resp = conn.recv()
    assert resp["id"] == 1 and resp["result"]["protocol"] == 1


def test_blank_lines_are_ignored_or_rejected_cleanly(conn):
    conn.send_raw(b"\n")
    resp = raw(conn, {"jsonrpc": "2.0", "id": 9, "method": "trail.hello"})
    if resp.get("id") is None:
        # The blank line was answered as an error: the next one must be our answer.
        assert "error" in resp
        resp = conn.recv()
    assert resp["id"] == 9 and resp["result"]["protocol"] == 1
    assert no_pending_message(conn, 0.2)


def test_stats_uptime_and_connections(daemon):
    with daemon.connect() as a, daemon.connect() as b:
        b.result("trail.hello")
        s = a.result("trail.stats")
        assert s["connections"] >= 2
        assert s["uptime_s"] >= 0
