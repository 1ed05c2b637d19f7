"""Schemas/ against itself and against a real traild.

The first tests need no daemon: every file in Schemas/ is a valid JSON Schema
(draft 2020-12), every method has a params and a result schema, every `$ref`
resolves, and the schemas accept and refuse hand-made samples as the contract
says. The rest start a daemon (conftest.py), check every request's params
against its params schema before sending it, and every real result, event and
error against its schema. Where the daemon and a params schema must agree
(a request the daemon refuses with -32602 is one the schema refuses too), both
are asserted.
"""
from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from conftest import sha

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "Schemas"
BASE = "https://trail.local/schemas/"
DRAFT = "https://json-schema.org/draft/2020-12/schema"

METHODS = [
    "trail.hello", "trail.deposit", "trail.get", "trail.reinforce", "trail.sense", "trail.link",
    "trail.follow", "trail.retract", "trail.revive", "trail.stats", "trail.namespace.configure",
    "trail.namespace.list", "trail.compact", "trail.watch", "trail.unwatch",
    "trail.export", "trail.import",
]
SHARED = ["defs.json", "note.json", "error.json", "event.json", "gap.json", "record.json"]
# What trailctl prints with --json for the commands that are not one method.
TOOLS = ["trailctl.check.json", "trailctl.backup.json"]


# ---------------------------------------------------------------------------
# Loading and checking
# ---------------------------------------------------------------------------

def _load() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(SCHEMAS.glob("*.json"))}


DOCS = _load()
REGISTRY: Registry = Registry().with_resources(
    (doc["$id"], Resource.from_contents(doc, default_specification=DRAFT202012))
    for doc in DOCS.values() if "$id" in doc
)


def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(DOCS[name], registry=REGISTRY,
                                format_checker=Draft202012Validator.FORMAT_CHECKER)


def problems(name: str, instance: Any) -> list[str]:
    errs = sorted(validator(name).iter_errors(instance), key=lambda e: list(e.absolute_path))
    out = []
    for e in errs:
        where = "/".join(str(p) for p in e.absolute_path) or "(root)"
        out.append(f"{where}: {e.message} [schema {'/'.join(str(p) for p in e.absolute_schema_path)}]")
        for sub in e.context or []:
            subwhere = "/".join(str(p) for p in sub.absolute_path) or "(root)"
            out.append(f"    - {subwhere}: {sub.message}")
    return out


def check(name: str, instance: Any) -> None:
    """Fails with every violation of Schemas/`name` by `instance`."""
    found = problems(name, instance)
    assert not found, (f"{name} rejects {json.dumps(instance)[:2000]}:\n" + "\n".join(found))


def refuses(name: str, instance: Any) -> None:
    assert problems(name, instance), f"{name} should refuse {json.dumps(instance)[:500]}"


# ---------------------------------------------------------------------------
# The schema files themselves (no daemon)
# ---------------------------------------------------------------------------

def test_every_schema_is_valid_2020_12_with_its_id() -> None:
    assert DOCS, f"no schemas in {SCHEMAS}"
    for name, doc in DOCS.items():
        assert doc.get("$schema") == DRAFT, name
        assert doc.get("$id") == BASE + name, name
        Draft202012Validator.check_schema(doc)


def test_every_method_has_params_and_result_and_nothing_is_stray() -> None:
    expected = set(SHARED) | set(TOOLS)
    for m in METHODS:
        expected |= {f"{m}.params.json", f"{m}.result.json"}
    assert set(DOCS) == expected, (
        f"missing: {sorted(expected - set(DOCS))}, unexpected: {sorted(set(DOCS) - expected)}")


def _refs(node: Any, base: str) -> list[tuple[str, str]]:
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                out.append((base, v))
            else:
                out.extend(_refs(v, base))
    elif isinstance(node, list):
        for v in node:
            out.extend(_refs(v, base))
    return out


def test_every_ref_resolves() -> None:
    for name, doc in DOCS.items():
        resolver = REGISTRY.resolver(base_uri=doc["$id"])
        for base, ref in _refs(doc, doc["$id"]):
            resolved = resolver.lookup(ref)  # raises when it does not resolve
            assert isinstance(resolved.contents, dict), (name, ref)


def test_params_schemas_are_strict() -> None:
    for m in METHODS:
        doc = DOCS[f"{m}.params.json"]
        assert doc.get("type") == "object", m
        assert doc.get("additionalProperties") is False, m
        refuses(f"{m}.params.json", {"no_such_param": 1})


ID = sha("a sample note")
NOTE = {
    "id": ID, "ns": "default", "body": "a sample note", "tags": ["a", "b/c"], "after": [sha("x")],
    "weight": 1.5, "rank": None, "deposits": 2, "agent": None, "state": "live",
    "created_at": "2026-11-22T23:59:59.123Z", "updated_at": "2026-11-22T23:59:59.999Z",
    "retraction": None,
}


def test_note_schema_samples() -> None:
    check("note.json", NOTE)
    check("note.json", {**NOTE, "state": "retracted", "agent": "bob", "rank": 0.25,
                        "retraction": {"reason": "wrong", "agent": None, "at": "2026-01-01T00:00:00.000Z"}})
    refuses("note.json", {**NOTE, "extra": 1})
    refuses("note.json", {**NOTE, "id": ID.upper()})
    refuses("note.json", {**NOTE, "created_at": "2026-11-22T23:59:59Z"})
    refuses("note.json", {**NOTE, "created_at": "2026-11-22T23:59:59.123+00:00"})
    refuses("note.json", {**NOTE, "weight": -0.1})
    refuses("note.json", {**NOTE, "deposits": 0})
    refuses("note.json", {**NOTE, "state": "gone"})
    refuses("note.json", {**NOTE, "tags": ["Upper"]})
    refuses("note.json", {**NOTE, "state": "retracted"})  # retraction null on a retracted note
    refuses("note.json", {k: v for k, v in NOTE.items() if k != "retraction"})
    check("trail.sense.result.json", {"notes": [{**NOTE, "score": 3.0}]})
    refuses("trail.sense.result.json", {"notes": [NOTE]})
    refuses("trail.sense.result.json", {"notes": [{**NOTE, "score": 1.0, "extra": 1}]})
    check("event.json", {"subscription": "s1", "event": "deposited", "note": NOTE})
    check("event.json", {"subscription": "s1", "event": "linked", "note": NOTE,
                         "trail": {"from": sha("x"), "to": ID, "weight": 1.0}})
    refuses("event.json", {"subscription": "s1", "event": "linked", "note": NOTE})
    refuses("event.json", {"subscription": "s1", "event": "touched", "note": NOTE})
    check("event.json", {"subscription": "s1", "event": "deposited", "note": NOTE, "seq": 42})
    refuses("event.json", {"subscription": "s1", "event": "deposited", "note": NOTE, "seq": 0})
    check("gap.json", {"subscription": "s1", "from": 18021, "to": 40377})
    refuses("gap.json", {"subscription": "s1", "from": 18021})
    refuses("gap.json", {"subscription": "s1", "from": 1, "to": 2, "note": NOTE})


def test_params_schema_samples() -> None:
    ok = [
        ("trail.deposit.params.json", {"body": "x", "ns": "a.b_c-d", "tags": ["t", "x:y/z"], "after": [ID[:8]],
                                       "agent": "agent 7", "strength": 1e6, "force": True}),
        ("trail.get.params.json", {"id": ID.upper()}),
        ("trail.reinforce.params.json", {"id": ID, "delta": -1e6}),
        ("trail.sense.params.json", {"query": "x", "tags": ["a"], "any_tags": ["b"], "limit": 1000,
                                     "budget_bytes": 0, "min_weight": 0, "include_faded": True}),
        ("trail.follow.params.json", {"from": ID, "direction": "both", "limit": 1, "explore": 1,
                                      "seed": 2 ** 53}),
        ("trail.retract.params.json", {"id": ID, "reason": "superseded"}),
        ("trail.namespace.configure.params.json", {"ns": "n", "half_life_s": 1, "evaporate_below": 0,
                                                   "max_note_bytes": 65536}),
        ("trail.namespace.list.params.json", {}),
        ("trail.unwatch.params.json", {"subscription": "s"}),
    ]
    for name, params in ok:
        check(name, params)
    bad = [
        ("trail.deposit.params.json", {}),
        ("trail.deposit.params.json", {"body": ""}),
        ("trail.deposit.params.json", {"body": "x", "strength": 0}),
        ("trail.deposit.params.json", {"body": "x", "strength": 1e6 + 1}),
        ("trail.deposit.params.json", {"body": "x", "tags": [f"t{i}" for i in range(17)]}),
        ("trail.deposit.params.json", {"body": "x", "tags": ["-x"]}),
        ("trail.deposit.params.json", {"body": "x", "after": [ID] * 33}),
        ("trail.deposit.params.json", {"body": "x", "agent": ""}),
        ("trail.deposit.params.json", {"body": "x", "agent": "a\nb"}),
        ("trail.deposit.params.json", {"body": "x", "agent": "a" * 129}),
        ("trail.deposit.params.json", {"body": "x", "ns": "Default"}),
        ("trail.get.params.json", {"id": ID[:7]}),
        ("trail.get.params.json", {"id": ID + "0"}),
        ("trail.get.params.json", {"id": "g" * 8}),
        ("trail.reinforce.params.json", {"id": ID, "delta": -1e6 - 1}),
        ("trail.sense.params.json", {"limit": 0}),
        ("trail.sense.params.json", {"limit": 1001}),
        ("trail.sense.params.json", {"limit": 2.5}),
        ("trail.sense.params.json", {"budget_bytes": -1}),
        ("trail.sense.params.json", {"min_weight": -1}),
        ("trail.follow.params.json", {"from": ID, "explore": 1.01}),
        ("trail.follow.params.json", {"from": ID, "seed": 2 ** 53 + 1}),
        ("trail.follow.params.json", {"from": ID, "seed": -1}),
        ("trail.follow.params.json", {"from": ID, "direction": "sideways"}),
        ("trail.retract.params.json", {"id": ID}),
        ("trail.retract.params.json", {"id": ID, "reason": ""}),
        ("trail.namespace.configure.params.json", {}),
        ("trail.namespace.configure.params.json", {"ns": "n", "half_life_s": 0.5}),
        ("trail.namespace.configure.params.json", {"ns": "n", "half_life_s": 3.2e9}),
        ("trail.namespace.configure.params.json", {"ns": "n", "max_note_bytes": 65537}),
        ("trail.namespace.list.params.json", {"ns": "default"}),
        ("trail.unwatch.params.json", {}),
    ]
    for name, params in bad:
        refuses(name, params)


def test_error_schema_samples() -> None:
    check("error.json", {"code": -32001, "message": "No note.", "data": {"reason": "unknown_note", "id": ID}})
    check("error.json", {"code": -32600, "message": "Too long.", "data": {"reason": "frame_too_large", "limit": 1 << 20}})
    check("error.json", {"code": -32602, "message": "Bad.", "data": {"reason": "invalid_params", "field": "x", "more": 1}})
    refuses("error.json", {"code": -32001, "message": "No note.", "data": {"reason": "note_too_large", "limit": 1, "size": 2}})
    refuses("error.json", {"code": -32002, "message": "Too big.", "data": {"reason": "note_too_large"}})
    refuses("error.json", {"code": -32001, "message": "No note.", "data": {}})
    refuses("error.json", {"code": -32001, "message": "", "data": {"reason": "unknown_note", "id": ID}})
    refuses("error.json", {"code": -1, "message": "What.", "data": {"reason": "what"}})


# ---------------------------------------------------------------------------
# Against a real daemon
# ---------------------------------------------------------------------------

def call(c: Any, method: str, params: dict[str, Any] | None = None) -> Any:
    """Checks the params, calls, checks the response envelope and the result."""
    check(f"{method}.params.json", params if params is not None else {})
    resp = c.call(method, params)
    assert resp.get("jsonrpc") == "2.0" and "error" not in resp, resp
    assert set(resp) == {"jsonrpc", "id", "result"}, resp
    check(f"{method}.result.json", resp["result"])
    return resp["result"]


def error_of(resp: dict[str, Any], code: int, reason: str) -> dict[str, Any]:
    assert resp.get("jsonrpc") == "2.0" and "result" not in resp and "error" in resp, resp
    assert set(resp) == {"jsonrpc", "id", "error"}, resp
    err = resp["error"]
    check("error.json", err)
    assert err["code"] == code and err["data"]["reason"] == reason, resp
    return err


def fail(c: Any, method: str, params: dict[str, Any] | None, code: int, reason: str) -> dict[str, Any]:
    """A request that the daemon refuses: checks the error against error.json."""
    return error_of(c.call(method, params), code, reason)


def next_event(c: Any, sub: str | None = None, timeout: float = 10.0) -> dict[str, Any]:
    """The next trail.event notification on `c` (for subscription `sub` when
    given; events of other subscriptions are checked and skipped)."""
    deadline = time.monotonic() + timeout
    c.sock.settimeout(timeout)
    try:
        while time.monotonic() < deadline:
            msg = c.recv()
            if isinstance(msg, dict) and msg.get("method") == "trail.event":
                assert "id" not in msg, msg
                assert set(msg) == {"jsonrpc", "method", "params"} and msg["jsonrpc"] == "2.0", msg
                check("event.json", msg["params"])
                if sub is None or msg["params"].get("subscription") == sub:
                    return msg["params"]
    finally:
        c.sock.settimeout(30.0)
    raise AssertionError("no trail.event arrived")


def test_hello(conn: Any) -> None:
    r = call(conn, "trail.hello", {"client": "test_schemas/1", "agent": "schema-checker"})
    assert r["limits"]["max_limit"] == 1000 and r["limits"]["min_id_prefix"] == 8
    assert r["defaults"] == {"half_life_s": 604800, "evaporate_below": 0.05, "max_note_bytes": 4096, "contest_similarity": 0.9}
    call(conn, "trail.hello", {})
    call(conn, "trail.hello")


def test_notes_and_trails(conn: Any) -> None:
    c = conn
    call(c, "trail.hello", {"client": "test_schemas", "agent": "ant-1"})
    a = call(c, "trail.deposit", {"body": "found sugar near the north wall", "tags": ["food", "north"]})
    assert a["created"] is True and a["id"] == sha("found sugar near the north wall")
    b = call(c, "trail.deposit", {"body": "the sugar pile is behind the loose brick", "tags": ["food"],
                                  "after": [a["id"]], "agent": "ant-2", "strength": 2.5})
    d = call(c, "trail.deposit", {"body": "water drips by the east pipe", "tags": ["water", "east"],
                                  "after": [a["id"][:10].upper()]})
    again = call(c, "trail.deposit", {"body": "found sugar near the north wall", "tags": ["sweet"]})
    assert again["created"] is False and again["deposits"] == 2 and again["id"] == a["id"]
    # A note whose body is not ASCII.
    e = call(c, "trail.deposit", {"body": "Ölfleck — vorsicht, rutschig ☂", "after": [b["id"], d["id"]]})

    note = call(c, "trail.get", {"id": a["id"]})["note"]
    assert note["tags"] == ["food", "north", "sweet"] and note["agent"] == "ant-1"
    note = call(c, "trail.get", {"id": b["id"][:12], "ns": "default"})["note"]
    assert note["after"] == [a["id"]] and note["agent"] == "ant-2"
    call(c, "trail.get", {"id": e["id"]})

    r = call(c, "trail.reinforce", {"id": d["id"], "delta": 0.5, "agent": "ant-3"})
    assert r["id"] == d["id"]
    call(c, "trail.reinforce", {"id": d["id"][:8]})
    call(c, "trail.reinforce", {"id": d["id"], "delta": -0.25})

    s = call(c, "trail.sense", {})
    assert len(s["notes"]) == 4
    call(c, "trail.sense", {"ns": "default", "limit": 2, "include_faded": True})
    q = call(c, "trail.sense", {"query": "sugar", "tags": ["food"]})
    assert {n["id"] for n in q["notes"]} == {a["id"], b["id"]}
    call(c, "trail.sense", {"query": "water pipe", "any_tags": ["water", "north"], "min_weight": 0.01,
                            "budget_bytes": 100, "limit": 1000})
    call(c, "trail.sense", {"ns": "nobody-here"})

    link = call(c, "trail.link", {"from": b["id"], "to": d["id"], "delta": 2, "agent": "ant-4"})
    assert link["from"] == b["id"] and link["to"] == d["id"]
    call(c, "trail.link", {"from": b["id"][:8], "to": d["id"][:8], "ns": "default"})
    call(c, "trail.link", {"from": d["id"], "to": b["id"], "delta": -0.5})

    f = call(c, "trail.follow", {"from": a["id"]})
    assert {t["to"] for t in f["trails"]} == {b["id"], d["id"]}
    assert all(t["direction"] == "forward" for t in f["trails"])
    back = call(c, "trail.follow", {"from": e["id"], "direction": "backward", "limit": 5})
    assert {t["to"] for t in back["trails"]} == {b["id"], d["id"]}
    both = call(c, "trail.follow", {"from": b["id"], "direction": "both", "include_faded": True})
    assert {t["direction"] for t in both["trails"]} == {"forward", "backward"}
    x1 = call(c, "trail.follow", {"from": a["id"], "explore": 0.7, "seed": 12345, "limit": 2})
    x2 = call(c, "trail.follow", {"from": a["id"], "explore": 0.7, "seed": 12345, "limit": 2})
    assert x1["seed"] == 12345 and [t["to"] for t in x1["trails"]] == [t["to"] for t in x2["trails"]]
    call(c, "trail.follow", {"from": a["id"], "explore": 1})
    call(c, "trail.follow", {"from": a["id"], "seed": 2 ** 53})

    r = call(c, "trail.retract", {"id": d["id"], "reason": "the pipe was fixed", "agent": "ant-5"})
    assert r == {"id": d["id"], "state": "retracted"}
    gone = call(c, "trail.get", {"id": d["id"]})["note"]
    assert gone["state"] == "retracted" and gone["retraction"]["reason"] == "the pipe was fixed"
    fail(c, "trail.deposit", {"body": "water drips by the east pipe"}, -32009, "retracted")
    fail(c, "trail.reinforce", {"id": d["id"]}, -32009, "retracted")
    back = call(c, "trail.deposit", {"body": "water drips by the east pipe", "force": True})
    assert back["created"] is False
    call(c, "trail.retract", {"id": d["id"][:9], "reason": "fixed again", "ns": "default"})
    live = call(c, "trail.revive", {"id": d["id"], "agent": "ant-6"})["note"]
    assert live["state"] == "live" and live["retraction"] is None
    call(c, "trail.retract", {"id": d["id"], "reason": "gone for good"})
    call(c, "trail.revive", {"id": d["id"][:16], "ns": "default"})

    st = call(c, "trail.stats", {})
    assert st["ns"] == "default" and st["notes"] == 4 and st["edges"] >= 4
    call(c, "trail.stats", {"ns": "default"})
    call(c, "trail.stats")


def test_faded_notes(conn: Any) -> None:
    c = conn
    call(c, "trail.namespace.configure", {"ns": "quick", "half_life_s": 1, "evaporate_below": 0.5})
    n = call(c, "trail.deposit", {"body": "short-lived", "ns": "quick", "strength": 1.0})
    m = call(c, "trail.deposit", {"body": "longer-lived", "ns": "quick", "strength": 1000, "after": [n["id"]]})
    time.sleep(1.3)
    note = call(c, "trail.get", {"id": n["id"], "ns": "quick"})["note"]
    assert note["state"] == "faded", note
    s = call(c, "trail.sense", {"ns": "quick", "include_faded": True})
    assert {x["state"] for x in s["notes"]} == {"faded", "live"}
    call(c, "trail.follow", {"from": m["id"], "ns": "quick", "direction": "backward", "include_faded": True})
    st = call(c, "trail.stats", {"ns": "quick"})
    assert st["faded"] == 1 and st["live"] == 1


def test_namespaces(conn: Any) -> None:
    c = conn
    r = call(c, "trail.namespace.configure", {"ns": "colony-7", "half_life_s": 3600, "evaporate_below": 0.01,
                                              "max_note_bytes": 65536})
    assert r == {"ns": "colony-7", "half_life_s": 3600, "evaporate_below": 0.01, "max_note_bytes": 65536,
                 "contest_similarity": 0.9}
    call(c, "trail.namespace.configure", {"ns": "colony-7"})
    call(c, "trail.namespace.configure", {"ns": "bounds", "half_life_s": 3.15e9, "evaporate_below": 1e6,
                                          "max_note_bytes": 1})
    call(c, "trail.deposit", {"body": "hello colony", "ns": "colony-7", "tags": ["greeting"]})
    lst = call(c, "trail.namespace.list", {})
    names = {n["ns"] for n in lst["namespaces"]}
    assert {"default", "colony-7", "bounds"} <= names
    call(c, "trail.namespace.list")


def test_watch_events(daemon: Any) -> None:
    with daemon.connect() as watcher, daemon.connect() as writer:
        sub = call(watcher, "trail.watch", {})["subscription"]
        tagged = call(watcher, "trail.watch", {"ns": "default", "tags": ["food"]})["subscription"]
        assert sub != tagged

        a = call(writer, "trail.deposit", {"body": "crumbs under the table", "tags": ["food"]})
        seen = [next_event(watcher), next_event(watcher)]
        assert {ev["subscription"] for ev in seen} == {sub, tagged}
        assert all(ev["event"] == "deposited" and ev["note"]["id"] == a["id"] for ev in seen)

        b = call(writer, "trail.deposit", {"body": "a spider lives here"})
        ev = next_event(watcher, sub)
        assert ev["event"] == "deposited" and ev["note"]["id"] == b["id"]

        call(writer, "trail.reinforce", {"id": b["id"]})
        assert next_event(watcher, sub)["event"] == "reinforced"
        call(writer, "trail.link", {"from": a["id"], "to": b["id"]})
        ev = next_event(watcher, sub)
        assert ev["event"] == "linked" and ev["trail"]["from"] == a["id"] and ev["note"]["id"] == b["id"]
        call(writer, "trail.retract", {"id": b["id"], "reason": "the spider moved out"})
        ev = next_event(watcher, sub)
        assert ev["event"] == "retracted" and ev["note"]["state"] == "retracted"
        call(writer, "trail.revive", {"id": b["id"]})
        assert next_event(watcher, sub)["event"] == "revived"

        assert call(watcher, "trail.unwatch", {"subscription": sub}) == {"ok": True}
        call(watcher, "trail.unwatch", {"subscription": tagged})
        fail(watcher, "trail.unwatch", {"subscription": sub}, -32008, "unknown_subscription")
        # Another connection's subscription is unknown here.
        other = call(writer, "trail.watch", {})["subscription"]
        fail(watcher, "trail.unwatch", {"subscription": other}, -32008, "unknown_subscription")


# Requests the daemon must refuse as invalid params, and so must the schema.
BAD_PARAMS: list[tuple[str, dict[str, Any], str | None]] = [
    ("trail.deposit", {"body": "x", "colour": "red"}, "colour"),
    ("trail.deposit", {}, "body"),
    ("trail.deposit", {"body": ""}, "body"),
    ("trail.deposit", {"body": 42}, "body"),
    ("trail.deposit", {"body": "x", "strength": 0}, "strength"),
    ("trail.deposit", {"body": "x", "strength": 2e6}, "strength"),
    ("trail.deposit", {"body": "x", "tags": ["Bad Tag"]}, "tags"),
    ("trail.deposit", {"body": "x", "tags": [f"t{i}" for i in range(17)]}, "tags"),
    ("trail.deposit", {"body": "x", "after": ["abc"]}, "after"),
    ("trail.deposit", {"body": "x", "agent": "tab\there"}, "agent"),
    ("trail.deposit", {"body": "x", "force": "yes"}, "force"),
    ("trail.get", {"id": "1234567"}, "id"),
    ("trail.get", {"id": "zzzzzzzz"}, "id"),
    ("trail.get", {}, "id"),
    ("trail.reinforce", {"id": ID, "delta": -1e7}, "delta"),
    ("trail.sense", {"limit": 0}, "limit"),
    ("trail.sense", {"limit": 1001}, "limit"),
    ("trail.sense", {"limit": 1.5}, "limit"),
    ("trail.sense", {"budget_bytes": -1}, "budget_bytes"),
    ("trail.sense", {"min_weight": -0.5}, "min_weight"),
    ("trail.sense", {"include_faded": 1}, "include_faded"),
    ("trail.follow", {"from": ID, "explore": 2}, "explore"),
    ("trail.follow", {"from": ID, "seed": -3}, "seed"),
    ("trail.follow", {"from": ID, "seed": 2 ** 53 + 2}, "seed"),
    ("trail.follow", {"from": ID, "direction": "up"}, "direction"),
    ("trail.retract", {"id": ID}, "reason"),
    ("trail.retract", {"id": ID, "reason": ""}, "reason"),
    ("trail.retract", {"id": ID, "reason": "   "}, "reason"),
    ("trail.namespace.configure", {"ns": "n", "half_life_s": 0}, "half_life_s"),
    ("trail.namespace.configure", {"ns": "n", "evaporate_below": -1}, "evaporate_below"),
    ("trail.namespace.configure", {"ns": "n", "max_note_bytes": 0}, "max_note_bytes"),
    ("trail.namespace.configure", {"ns": "n", "max_note_bytes": 70000}, "max_note_bytes"),
    ("trail.namespace.list", {"verbose": True}, "verbose"),
    ("trail.stats", {"ns": 7}, "ns"),
    ("trail.watch", {"tags": "food"}, "tags"),
    ("trail.unwatch", {}, "subscription"),
    ("trail.hello", {"agent": ""}, "agent"),
    ("trail.hello", {"protocol": 2}, "protocol"),
]


def test_invalid_params_agree_with_schemas(conn: Any) -> None:
    mismatched = []
    for method, params, field in BAD_PARAMS:
        refuses(f"{method}.params.json", params)
        resp = conn.call(method, params)
        if "error" not in resp:
            mismatched.append(f"{method} {params}: daemon accepted it: {resp}")
            continue
        err = error_of(resp, -32602, "invalid_params")
        if field is not None and err["data"].get("field") != field:
            mismatched.append(f"{method} {params}: data.field is {err['data'].get('field')!r}, expected {field!r}")
    assert not mismatched, "\n".join(mismatched)


def test_bad_namespace_is_invalid_namespace(conn: Any) -> None:
    refuses("trail.deposit.params.json", {"body": "x", "ns": "Not Valid"})
    err = fail(conn, "trail.deposit", {"body": "x", "ns": "Not Valid"}, -32004, "invalid_namespace")
    assert err["data"]["ns"] == "Not Valid"
    fail(conn, "trail.sense", {"ns": "-leading-dash"}, -32004, "invalid_namespace")


def test_error_responses(daemon: Any, conn: Any) -> None:
    c = conn
    err = fail(c, "trail.nope", {}, -32601, "method_not_found")
    assert "trail.nope" in err["message"]
    fail(c, "trail.get", {"id": ID}, -32001, "unknown_note")
    fail(c, "trail.get", {"id": ID, "ns": "empty-ns"}, -32001, "unknown_note")
    fail(c, "trail.reinforce", {"id": ID[:8]}, -32001, "unknown_note")
    fail(c, "trail.follow", {"from": ID}, -32001, "unknown_note")
    a = call(c, "trail.deposit", {"body": "one end"})
    fail(c, "trail.link", {"from": a["id"], "to": ID}, -32001, "unknown_note")
    fail(c, "trail.deposit", {"body": "dangling", "after": [ID]}, -32001, "unknown_note")

    # Two bodies whose ids share their first 8 hex digits (a birthday search,
    # about 80 000 hashes): the 8-digit prefix is ambiguous.
    seen: dict[str, str] = {}
    i = 0
    while True:
        body = f"twin {i}"
        prefix = sha(body)[:8]
        if prefix in seen:
            break
        seen[prefix] = body
        i += 1
    first = call(c, "trail.deposit", {"body": seen[prefix]})["id"]
    second = call(c, "trail.deposit", {"body": body})["id"]
    err = fail(c, "trail.get", {"id": prefix}, -32007, "ambiguous_id")
    assert set(err["data"]["matches"]) == {first, second} and err["data"]["prefix"] == prefix
    assert call(c, "trail.get", {"id": first[:12]})["note"]["id"] == first

    call(c, "trail.namespace.configure", {"ns": "tiny", "max_note_bytes": 16})
    err = fail(c, "trail.deposit", {"body": "x" * 17, "ns": "tiny"}, -32002, "note_too_large")
    assert err["data"]["limit"] == 16 and err["data"]["size"] == 17
    err = fail(c, "trail.deposit", {"body": "é" * 9, "ns": "tiny"}, -32002, "note_too_large")
    assert err["data"]["size"] == 18
    err = fail(c, "trail.deposit", {"body": "y" * 4097}, -32002, "note_too_large")
    assert err["data"]["limit"] == 4096

    # Protocol errors, checked the same way.
    c.send_raw(b'{"jsonrpc": "2.0", "id": 99, "method": \n')
    error_of(c.recv(), -32700, "parse_error")
    c.send({"jsonrpc": "1.0", "id": 100, "method": "trail.hello"})
    error_of(c.recv(), -32600, "invalid_request")
    c.send({"jsonrpc": "2.0", "id": 101, "method": "trail.hello", "params": [1, 2]})
    error_of(c.recv(), -32602, "invalid_params")
    c.send([])
    error_of(c.recv(), -32600, "invalid_request")
    # A batch: each answer checked on its own.
    c.send([{"jsonrpc": "2.0", "id": 102, "method": "trail.hello"},
            {"jsonrpc": "2.0", "id": 103, "method": "trail.get", "params": {"id": ID}}])
    answers = c.recv()
    assert isinstance(answers, list) and len(answers) == 2, answers
    by_id = {x["id"]: x for x in answers}
    check("trail.hello.result.json", by_id[102]["result"])
    error_of(by_id[103], -32001, "unknown_note")
    # The connection is still usable.
    call(c, "trail.hello", {})

    # A line over the frame limit: an error with id null, then the connection closes.
    with daemon.connect() as big:
        try:
            big.send_raw(b'{"jsonrpc": "2.0", "id": 1, "method": "trail.deposit", "params": {"body": "'
                         + b"z" * (1 << 20) + b'"}}\n')
        except (BrokenPipeError, ConnectionResetError):
            pass  # the daemon may close before reading the whole line; its answer is already sent
        try:
            resp = big.recv()
        except (ConnectionError, socket.error) as e:  # pragma: no cover - reported below
            pytest.fail(f"no error response before the connection closed: {e}")
        assert resp.get("id") is None, resp
        err = error_of(resp, -32600, "frame_too_large")
        assert err["data"]["limit"] == 1 << 20
