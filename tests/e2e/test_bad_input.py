"""Bad input of every kind: each gets an error and the connection stays usable
(except an over-long line, which closes only that connection)."""
from __future__ import annotations

import json
import socket
import time

import pytest

from conftest import assert_error, deposit, get_note, sha


def line(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode() + b"\n"


def req(method, params=None, rid=1):
    msg = {"jsonrpc": "2.0", "id": rid, "method": method}
    if params is not None:
        msg["params"] = params
    return msg


def still_works(c):
    """A good request on the same connection after the bad one."""
    r = c.result("trail.deposit", {"body": "still works"})
    assert r["id"] == sha("still works")


# --- framing and JSON-RPC envelope ----------------------------------------

ENVELOPE_CASES = [
    ("bad json", b'{"jsonrpc": "2.0", "id": 1, "method": \n', (-32700,)),
    ("truncated object", b'{"jsonrpc":"2.0","id":1\n', (-32700,)),
    ("garbage", b"hello there\n", (-32700,)),
    ("trailing garbage", b'{"jsonrpc":"2.0","id":1,"method":"trail.hello"} xyz\n', (-32700,)),
    ("invalid utf-8 bytes", b"\xff\xfe\xfd\n", (-32700,)),
    ("invalid utf-8 inside a string",
     b'{"jsonrpc":"2.0","id":1,"method":"trail.deposit","params":{"body":"bad \xc3\x28 byte"}}\n',
     (-32700, -32602)),
    ("lone surrogate escape",
     b'{"jsonrpc":"2.0","id":1,"method":"trail.deposit","params":{"body":"\\ud800"}}\n',
     (-32700, -32602)),
    ("number", b"42\n", (-32600,)),
    ("string", b'"x"\n', (-32600,)),
    ("null", b"null\n", (-32600,)),
    ("true", b"true\n", (-32600,)),
    ("wrong jsonrpc version", line({"jsonrpc": "1.0", "id": 1, "method": "trail.hello"}), (-32600,)),
    ("jsonrpc as number", line({"jsonrpc": 2.0, "id": 1, "method": "trail.hello"}), (-32600,)),
    ("missing jsonrpc", line({"id": 1, "method": "trail.hello"}), (-32600,)),
    ("missing method", line({"jsonrpc": "2.0", "id": 1}), (-32600,)),
    ("method not a string", line({"jsonrpc": "2.0", "id": 1, "method": 42}), (-32600,)),
    ("method null", line({"jsonrpc": "2.0", "id": 1, "method": None}), (-32600,)),
    ("id an object", line({"jsonrpc": "2.0", "id": {"a": 1}, "method": "trail.hello"}), (-32600,)),
    ("id an array", line({"jsonrpc": "2.0", "id": [1], "method": "trail.hello"}), (-32600,)),
    ("params a number", line({"jsonrpc": "2.0", "id": 1, "method": "trail.hello", "params": 42}), (-32600, -32602)),
    ("params a string", line({"jsonrpc": "2.0", "id": 1, "method": "trail.stats", "params": "x"}), (-32600, -32602)),
    ("params an array", line({"jsonrpc": "2.0", "id": 1, "method": "trail.deposit", "params": ["body"]}),
     (-32600, -32602)),
    ("unknown method", line(req("trail.frobnicate")), (-32601,)),
    ("method case", line(req("TRAIL.HELLO")), (-32601,)),
    ("empty method", line(req("")), (-32601, -32600)),
    ("deeply nested", b"[" * 100000 + b"]" * 100000 + b"\n", (-32700, -32600)),
]


@pytest.mark.parametrize("name,payload,codes", ENVELOPE_CASES, ids=[c[0] for c in ENVELOPE_CASES])
def test_envelope_errors_keep_connection(shared_daemon, shared_conn, name, payload, codes):
    daemon, conn = shared_daemon, shared_conn
    conn.send_raw(payload)
    resp = conn.recv()
    if isinstance(resp, list):  # a nested array may be read as a batch
        assert len(resp) >= 1
        resp = resp[0]
    assert_error(resp, codes)
    if resp["error"]["code"] == -32600:
        assert resp["error"]["data"]["reason"] == "invalid_request", resp
    assert resp["id"] in (1, None), resp
    if resp["error"]["code"] == -32700 or name in ("number", "string", "null", "true"):
        assert resp["id"] is None, "an id that cannot be read is answered as null"
    if codes == (-32601,):
        assert resp["id"] == 1
    still_works(conn)
    assert daemon.proc.poll() is None


def test_unknown_method_names_it(conn):
    err = assert_error(conn.call("trail.frobnicate", {}), -32601, "method_not_found")
    assert "trail.frobnicate" in err["message"]


def test_many_bad_lines_in_a_row(conn):
    payload = b"".join([b"{bad\n", b"\xff\n", b"42\n", line(req("nope.nope", rid=3)), line(req("trail.hello", rid=4))])
    conn.send_raw(payload)
    answers = [conn.recv() for _ in range(5)]
    assert [a.get("id") for a in answers[:4]] == [None, None, None, 3]
    assert answers[4]["id"] == 4 and answers[4]["result"]["protocol"] == 1


# --- params ------------------------------------------------------------------

def _known(conn):
    return deposit(conn, "a known note")["id"]


PARAM_CASES = [
    # (method, params, code, field)
    ("trail.deposit", {"body": 42}, -32602, "body"),
    ("trail.deposit", {"body": None}, -32602, "body"),
    ("trail.deposit", {"body": ["x"]}, -32602, "body"),
    ("trail.deposit", {}, -32602, "body"),
    ("trail.deposit", {"body": ""}, -32602, "body"),
    ("trail.deposit", {"body": "x", "tags": "a"}, -32602, "tags"),
    ("trail.deposit", {"body": "x", "tags": [1]}, -32602, "tags"),
    ("trail.deposit", {"body": "x", "after": "abcdef12"}, -32602, "after"),
    ("trail.deposit", {"body": "x", "after": ["xyz"]}, -32602, "after"),
    ("trail.deposit", {"body": "x", "strength": "1"}, -32602, "strength"),
    ("trail.deposit", {"body": "x", "strength": True}, -32602, "strength"),
    ("trail.deposit", {"body": "x", "strength": 0}, -32602, "strength"),
    ("trail.deposit", {"body": "x", "strength": -1}, -32602, "strength"),
    ("trail.deposit", {"body": "x", "strength": 1e7}, -32602, "strength"),
    ("trail.deposit", {"body": "x", "strength": 1000000.5}, -32602, "strength"),
    ("trail.deposit", {"body": "x", "force": "true"}, -32602, "force"),
    ("trail.deposit", {"body": "x", "force": 1}, -32602, "force"),
    ("trail.deposit", {"body": "x", "agent": 7}, -32602, "agent"),
    ("trail.deposit", {"body": "x", "agent": ""}, -32602, "agent"),
    ("trail.deposit", {"body": "x", "agent": "a" * 129}, -32602, "agent"),
    ("trail.deposit", {"body": "x", "agent": "é" * 65}, -32602, "agent"),
    ("trail.deposit", {"body": "x", "agent": "bell\u0007"}, -32602, "agent"),
    ("trail.deposit", {"body": "x", "agent": "new\nline"}, -32602, "agent"),
    ("trail.deposit", {"body": "x", "colour": "red"}, -32602, "colour"),
    ("trail.deposit", {"body": "x", "ns": 5}, -32602, "ns"),
    ("trail.get", {}, -32602, "id"),
    ("trail.get", {"id": 12345678}, -32602, "id"),
    ("trail.get", {"id": "KNOWN", "extra": True}, -32602, "extra"),
    ("trail.reinforce", {"id": "KNOWN", "delta": "2"}, -32602, "delta"),
    ("trail.reinforce", {"id": "KNOWN", "delta": 1e7}, -32602, "delta"),
    ("trail.reinforce", {"id": "KNOWN", "delta": -1e7}, -32602, "delta"),
    ("trail.reinforce", {"id": "KNOWN", "strength": 1}, -32602, "strength"),
    ("trail.link", {"from": "KNOWN", "to": "KNOWN2", "delta": 2e6}, -32602, "delta"),
    ("trail.link", {"from": "KNOWN", "to": "KNOWN2", "weight": 1}, -32602, "weight"),
    ("trail.sense", {"limit": 1001}, -32602, "limit"),
    ("trail.sense", {"limit": "5"}, -32602, "limit"),
    ("trail.sense", {"limit": 1.5}, -32602, "limit"),
    ("trail.sense", {"tags": "red"}, -32602, "tags"),
    ("trail.sense", {"any_tags": [None]}, -32602, "any_tags"),
    ("trail.sense", {"min_weight": "0"}, -32602, "min_weight"),
    ("trail.sense", {"include_faded": "yes"}, -32602, "include_faded"),
    ("trail.sense", {"budget_bytes": "10"}, -32602, "budget_bytes"),
    ("trail.sense", {"query": 5}, -32602, "query"),
    ("trail.sense", {"order": "asc"}, -32602, "order"),
    ("trail.follow", {}, -32602, "from"),
    ("trail.follow", {"from": "KNOWN", "direction": 1}, -32602, "direction"),
    ("trail.follow", {"from": "KNOWN", "explore": 1.5}, -32602, "explore"),
    ("trail.retract", {"id": "KNOWN"}, -32602, "reason"),
    ("trail.retract", {"id": "KNOWN", "reason": ""}, -32602, "reason"),
    ("trail.revive", {}, -32602, "id"),
    ("trail.stats", {"verbose": True}, -32602, "verbose"),
    ("trail.hello", {"client": 3}, -32602, "client"),
    ("trail.hello", {"whatever": 3}, -32602, "whatever"),
    ("trail.namespace.list", {"bogus": 1}, -32602, "bogus"),
    ("trail.watch", {"tags": "x"}, -32602, "tags"),
    ("trail.unwatch", {"subscription": 5}, -32602, "subscription"),
]


def _fill(params, ids):
    out = {}
    for k, v in params.items():
        out[k] = ids.get(v, v) if isinstance(v, str) else v
    return out


@pytest.mark.parametrize("method,params,code,field", PARAM_CASES,
                         ids=[f"{m}-{i}" for i, (m, *_rest) in enumerate(PARAM_CASES)])
def test_invalid_params(shared_conn, method, params, code, field):
    conn = shared_conn
    ids = {"KNOWN": _known(conn), "KNOWN2": deposit(conn, "another known note")["id"]}
    before = conn.result("trail.stats")
    assert_error(conn.call(method, _fill(params, ids)), code, "invalid_params", field)
    after = conn.result("trail.stats")
    assert after["notes"] == before["notes"] and after["edges"] == before["edges"], "a refused write wrote"
    assert after["total_weight"] == pytest.approx(before["total_weight"], rel=1e-6)
    still_works(conn)


@pytest.mark.parametrize("number", [b"1e400", b"-1e400", b"1e999999"])
def test_infinite_numbers(shared_conn, number):
    conn = shared_conn
    conn.send_raw(b'{"jsonrpc":"2.0","id":1,"method":"trail.deposit","params":{"body":"inf","strength":' + number
                  + b"}}\n")
    resp = conn.recv()
    assert_error(resp, (-32602, -32700))
    assert_error(conn.call("trail.get", {"id": sha("inf")}), -32001, "unknown_note")
    still_works(conn)


def test_huge_integer_limit(conn):
    conn.send_raw(b'{"jsonrpc":"2.0","id":1,"method":"trail.sense","params":{"limit":'
                  + b"9" * 400 + b"}}\n")
    assert_error(conn.recv(), (-32602, -32700))
    still_works(conn)


BAD_NAMESPACES = ["", "Default", "UPPER", "-leading", ".leading", "_leading", "has space", "a/b", "a:b",
                  "a" * 65, "é", "ns\u0000x", "tab\there"]


@pytest.mark.parametrize("ns", BAD_NAMESPACES)
def test_bad_namespace_names(shared_conn, ns):
    conn = shared_conn
    for method, params in [("trail.deposit", {"body": "x"}), ("trail.sense", {}), ("trail.stats", {})]:
        err = assert_error(conn.call(method, {**params, "ns": ns}), -32004, "invalid_namespace")
        assert err["data"]["ns"] == ns
    still_works(conn)


def test_longest_namespace_is_fine(conn):
    ns = "a" + "b._-9" * 12 + "xyz"
    assert len(ns) == 64
    assert deposit(conn, "x", ns=ns)["ns"] == ns


BAD_TAGS = ["", "UPPER", "-x", ".x", "has space", "a" * 65, "é", "semi;colon", "star*"]


@pytest.mark.parametrize("tag", BAD_TAGS)
def test_bad_tags(shared_conn, tag):
    conn = shared_conn
    assert_error(conn.call("trail.deposit", {"body": "tagged badly", "tags": ["ok", tag]}), -32602,
                 "invalid_params", "tags")
    assert_error(conn.call("trail.get", {"id": sha("tagged badly")}), -32001, "unknown_note")
    still_works(conn)


def test_tag_limits(conn):
    sixteen = [f"t{i}" for i in range(16)]
    assert get_note(conn, deposit(conn, "16 tags", tags=sixteen)["id"])["tags"] == sorted(sixteen)
    longest = "a" + "b:/._-" * 10 + "xyz"
    assert len(longest) == 64
    deposit(conn, "longest tag", tags=[longest])
    assert_error(conn.call("trail.deposit", {"body": "17 tags", "tags": [f"t{i}" for i in range(17)]}), -32602,
                 "invalid_params", "tags")
    still_works(conn)


def test_too_many_after(conn):
    parents = [deposit(conn, f"parent {i}")["id"] for i in range(33)]
    child = deposit(conn, "32 parents", after=parents[:32])["id"]
    assert len(get_note(conn, child)["after"]) == 32
    assert_error(conn.call("trail.deposit", {"body": "33 parents", "after": parents}), -32602, "invalid_params",
                 "after")
    assert_error(conn.call("trail.get", {"id": sha("33 parents")}), -32001, "unknown_note")
    still_works(conn)


def test_agent_limits(conn):
    deposit(conn, "agent 128", agent="a" * 128)
    deposit(conn, "agent utf8", agent="é" * 64)  # 128 bytes
    deposit(conn, "agent unicode", agent="蚁-scout 🐜")
    assert_error(conn.call("trail.deposit", {"body": "agent 129", "agent": "a" * 129}), -32602, "invalid_params",
                 "agent")
    still_works(conn)


def test_body_too_large(conn):
    err = assert_error(conn.call("trail.deposit", {"body": "x" * 4097}), -32002, "note_too_large")
    assert err["data"]["limit"] == 4096
    assert err["data"]["size"] == 4097
    err = assert_error(conn.call("trail.deposit", {"body": "é" * 2049}), -32002, "note_too_large")
    assert err["data"]["size"] == 4098, "size counts UTF-8 bytes"
    still_works(conn)


def test_body_far_too_large_but_within_frame(conn):
    err = assert_error(conn.call("trail.deposit", {"body": "y" * 900_000}), -32002, "note_too_large")
    assert err["data"]["size"] == 900_000
    still_works(conn)


def test_empty_body(conn):
    assert_error(conn.call("trail.deposit", {"body": ""}), -32602, "invalid_params", "body")
    assert_error(conn.call("trail.get", {"id": sha("")}), -32001, "unknown_note")
    still_works(conn)


def test_unknown_namespace_reads(conn):
    assert conn.result("trail.sense", {"ns": "never-seen"})["notes"] == []
    assert_error(conn.call("trail.get", {"id": "0" * 64, "ns": "never-seen"}), -32001, "unknown_note")
    still_works(conn)


# --- the frame limit ----------------------------------------------------------

def _send_ignoring_reset(c, data: bytes) -> None:
    try:
        c.send_raw(data)
    except (BrokenPipeError, ConnectionResetError):
        pass


def _read_until_closed(c, timeout=10.0):
    """All lines until the daemon closes the connection."""
    lines = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            ln = c.read_line()
        except ConnectionResetError:
            return lines, True
        if ln == b"" and not c.buf:
            return lines, True
        lines.append(ln)
    return lines, False


def test_over_long_line_closes_only_that_connection(daemon):
    with daemon.connect() as other:
        other.result("trail.hello")
        big = daemon.connect()
        _send_ignoring_reset(big, b'{"jsonrpc":"2.0","id":1,"method":"trail.deposit","params":{"body":"'
                             + b"a" * (1 << 20) + b"aaaa")
        _send_ignoring_reset(big, b"b" * 200_000)
        _send_ignoring_reset(big, b'"}}\n')
        lines, closed = _read_until_closed(big)
        big.close()
        assert lines, "the daemon must answer before closing"
        resp = json.loads(lines[0])
        err = assert_error(resp, -32600)
        assert resp["id"] is None
        assert err["data"]["reason"] == "frame_too_large"
        assert closed, "the connection must be closed after frame_too_large"
        assert len(lines) == 1, f"nothing after the error: {lines[1:3]}"
        # The daemon keeps serving the other connection and new ones.
        assert other.result("trail.hello")["protocol"] == 1
        deposit(other, "after the big line")
        with daemon.connect() as fresh:
            assert get_note(fresh, sha("after the big line"))["body"] == "after the big line"
        assert_error(other.call("trail.get", {"id": sha("a" * ((1 << 20) + 4))}), -32001)
    assert daemon.proc.poll() is None


def test_over_long_line_without_newline(daemon):
    big = daemon.connect()
    _send_ignoring_reset(big, b"z" * ((1 << 20) + 10))
    lines, closed = _read_until_closed(big)
    big.close()
    assert lines and json.loads(lines[0])["error"]["data"]["reason"] == "frame_too_large"
    assert json.loads(lines[0])["id"] is None
    assert closed
    assert daemon.result("trail.hello")["protocol"] == 1


def _hello_line(size: int) -> bytes:
    prefix = b'{"jsonrpc":"2.0","id":1,"method":"trail.hello","params":{"client":"'
    suffix = b'"}}'
    line = prefix + b"c" * (size - len(prefix) - len(suffix)) + suffix
    assert len(line) == size
    return line + b"\n"


def test_frame_limit_boundary(daemon):
    limit = 1 << 20
    with daemon.connect() as c:
        c.send_raw(_hello_line(limit))
        resp = c.recv()
        assert resp["id"] == 1, "a line of exactly max_frame_bytes (without its newline) is accepted"
        still_works(c)
    big = daemon.connect()
    _send_ignoring_reset(big, _hello_line(limit + 1))
    lines, closed = _read_until_closed(big)
    big.close()
    assert lines and json.loads(lines[0])["error"]["data"]["reason"] == "frame_too_large"
    assert closed


def test_line_just_under_the_limit_is_read(daemon):
    with daemon.connect() as c:
        prefix = b'{"jsonrpc":"2.0","id":1,"method":"trail.hello","params":{"client":"'
        suffix = b'"}}'
        pad = (1 << 20) - len(prefix) - len(suffix) - 1000
        c.send_raw(prefix + b"c" * pad + suffix + b"\n")
        resp = c.recv()
        # Too long a client name is a params error, but the frame itself was accepted.
        assert resp["id"] == 1
        if "error" in resp:
            assert_error(resp, -32602, "invalid_params", "client")
        still_works(c)


def test_many_connections_opened_and_dropped(daemon):
    for _ in range(100):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(str(daemon.socket_path))
        s.close()
    assert daemon.result("trail.hello")["protocol"] == 1
