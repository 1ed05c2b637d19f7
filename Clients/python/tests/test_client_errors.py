"""Each error class: the ones a client can provoke, in both flavours, and the
code-to-class mapping for the rest."""
from __future__ import annotations

import hashlib
from typing import Any

import pytest

import trail_client
from trail_client import (
    AmbiguousId, AsyncTrail, DaemonUnavailable, InternalError, InvalidNamespace, InvalidParams, InvalidRequest,
    MethodNotFound, NoteTooLarge, Overloaded, ParseError, PermissionDenied, Retracted, SemanticUnavailable,
    StorageUnavailable, Trail, TrailError, UnknownNote, UnknownSubscription,
)
from trail_client.errors import error_from_wire

ALL = {
    -32700: ParseError, -32600: InvalidRequest, -32601: MethodNotFound, -32602: InvalidParams,
    -32603: InternalError, -32001: UnknownNote, -32002: NoteTooLarge, -32003: PermissionDenied,
    -32004: InvalidNamespace, -32005: Overloaded, -32006: StorageUnavailable, -32007: AmbiguousId,
    -32008: UnknownSubscription, -32009: Retracted, -32010: SemanticUnavailable,
}


def colliding_bodies() -> tuple[str, str]:
    """Two bodies whose SHA-256 share the first 8 hex digits, found by brute
    force (a birthday search over 32 bits: ~80k candidates on average)."""
    seen: dict[str, str] = {}
    for i in range(400_000):
        body = f"ambiguous candidate {i}"
        prefix = hashlib.sha256(body.encode()).hexdigest()[:8]
        if prefix in seen:
            return seen[prefix], body
        seen[prefix] = body
    raise AssertionError("no 8-digit prefix collision in 400k candidates")


def check(err: TrailError, cls: type[TrailError], reason: str) -> None:
    assert type(err) is cls
    assert err.code == cls.code and err.reason == reason and err.data["reason"] == reason
    assert isinstance(err.message, str) and err.message.strip()


@pytest.mark.parametrize("code,cls", sorted(ALL.items()))
def test_every_code_maps_to_its_class(code: int, cls: type[TrailError]) -> None:
    err = error_from_wire({"code": code, "message": "m", "data": {"reason": "r", "x": 1}})
    assert type(err) is cls and isinstance(err, TrailError)
    assert (err.code, err.message, err.data) == (code, "m", {"reason": "r", "x": 1})
    assert getattr(trail_client, cls.__name__) is cls


def test_unknown_code_is_a_plain_trail_error() -> None:
    err = error_from_wire({"code": -32099, "message": "future", "data": None})
    assert type(err) is TrailError and err.code == -32099 and err.data == {}


def test_parse_error_from_a_raw_bad_line(client: Any) -> None:
    with pytest.raises(ParseError) as info:
        client.send_raw("this is not json")
    check(info.value, ParseError, "parse_error")
    with pytest.raises(ParseError):
        client.send_raw(b"\xff\xfe not utf-8\n")
    # The connection stays usable.
    assert client.deposit("after a parse error")["created"] is True


def test_invalid_request_from_a_raw_line(client: Any) -> None:
    with pytest.raises(InvalidRequest) as info:
        client.send_raw('{"jsonrpc":"1.0","id":"raw-1","method":"trail.stats"}')
    check(info.value, InvalidRequest, "invalid_request")
    assert client.send_raw('{"jsonrpc":"2.0","id":"raw-2","method":"trail.stats"}')["ns"] == "default"
    assert client.send_raw('{"jsonrpc":"2.0","method":"trail.stats"}') is None  # a notification


def test_frame_too_large_then_reconnect(client: Any) -> None:
    limit = client.server["limits"]["max_frame_bytes"]
    with pytest.raises(InvalidRequest) as info:
        client.deposit("x" * (limit + 10))
    assert info.value.reason == "frame_too_large"
    # The daemon closed that connection; the next call opens a new one.
    assert client.deposit("after the big frame")["created"] is True


def test_invalid_params(client: Any) -> None:
    with pytest.raises(InvalidParams) as info:
        client.deposit("bad strength", strength=0)
    check(info.value, InvalidParams, "invalid_params")
    assert info.value.data["field"] == "strength"
    with pytest.raises(InvalidParams) as info:
        client.call("trail.deposit", {"body": "x", "colour": "red"})
    assert info.value.data["field"] == "colour"
    with pytest.raises(InvalidParams):
        client.get("abc")  # shorter than 8 hex digits


def test_method_not_found(client: Any) -> None:
    with pytest.raises(MethodNotFound) as info:
        client.call("trail.teleport", {})
    check(info.value, MethodNotFound, "method_not_found")


def test_unknown_note(client: Any, ns: str) -> None:
    with pytest.raises(UnknownNote) as info:
        client.get("deadbeef")
    check(info.value, UnknownNote, "unknown_note")
    assert info.value.data["id"] == "deadbeef" and info.value.data["ns"] == ns
    with pytest.raises(UnknownNote):
        client.reinforce("deadbeefdeadbeef")


def test_note_too_large(client: Any, ns: str) -> None:
    with pytest.raises(NoteTooLarge) as info:
        client.deposit("y" * 4097)
    check(info.value, NoteTooLarge, "note_too_large")
    assert info.value.data["limit"] == 4096 and info.value.data["size"] == 4097
    client.configure_namespace(ns, max_note_bytes=10)
    with pytest.raises(NoteTooLarge) as info:
        client.deposit("é" * 6)  # 12 bytes
    assert info.value.data["size"] == 12


def test_invalid_namespace(client: Any) -> None:
    for bad in ("Upper", "-dash-first", "has space", "x" * 65):
        with pytest.raises(InvalidNamespace) as info:
            client.deposit("somewhere", ns=bad)
        check(info.value, InvalidNamespace, "invalid_namespace")
        assert info.value.data["ns"] == bad


def test_ambiguous_id(client: Any) -> None:
    a, b = colliding_bodies()
    ia, ib = client.deposit(a)["id"], client.deposit(b)["id"]
    assert ia[:8] == ib[:8] and ia != ib
    with pytest.raises(AmbiguousId) as info:
        client.get(ia[:8])
    check(info.value, AmbiguousId, "ambiguous_id")
    assert set(info.value.data["matches"]) == {ia, ib}
    # More digits resolve it.
    assert client.get(ia[:20])["note"]["body"] == a


def test_unknown_subscription(client: Any) -> None:
    with pytest.raises(UnknownSubscription) as info:
        client.unwatch("never-issued")
    check(info.value, UnknownSubscription, "unknown_subscription")
    assert info.value.data["subscription"] == "never-issued"


def test_retracted(client: Any) -> None:
    i = client.deposit("the ford is shallow")["id"]
    client.retract(i, "the river rose")
    with pytest.raises(Retracted) as info:
        client.deposit("the ford is shallow")
    check(info.value, Retracted, "retracted")
    assert info.value.data["retraction"]["reason"] == "the river rose"
    with pytest.raises(Retracted):
        client.reinforce(i)
    res = client.deposit("the ford is shallow", force=True)
    assert res["id"] == i and client.get(i)["note"]["state"] == "live"


def test_daemon_unavailable_sync(tmp_path: Any) -> None:
    path = str(tmp_path / "nobody-listens.sock")
    with pytest.raises(DaemonUnavailable) as info:
        Trail(path)
    e = info.value
    assert isinstance(e, TrailError) and e.code is None and e.reason == "daemon_unavailable"
    assert path in e.message and "start" in e.message and "traild" in e.message
    assert e.socket_path == path
    # A socket file with nobody behind it (a dead daemon's) is unavailable too.
    import socket as _socket
    stale = str(tmp_path / "stale.sock")
    s = _socket.socket(_socket.AF_UNIX)
    s.bind(stale)
    s.close()
    with pytest.raises(DaemonUnavailable) as info:
        Trail(stale)
    assert stale in info.value.message


def test_daemon_unavailable_async(tmp_path: Any) -> None:
    import asyncio
    path = str(tmp_path / "nobody.sock")

    async def main() -> None:
        t = AsyncTrail(path)
        with pytest.raises(DaemonUnavailable) as info:
            await t.connect()
        assert path in info.value.message and "traild" in info.value.message
        with pytest.raises(DaemonUnavailable):
            await t.stats()  # the first call connects, and fails the same way

    asyncio.run(main())


def test_daemon_unavailable_when_the_daemon_goes_away(daemon_factory: Any) -> None:
    d = daemon_factory()
    t = Trail(d.sock, timeout=10)
    t.deposit("before the daemon stops")
    d.stop()
    with pytest.raises(DaemonUnavailable) as info:
        t.stats()
    assert d.sock in info.value.message
    t.close()
