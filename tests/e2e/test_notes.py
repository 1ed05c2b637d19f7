"""Notes: content addressing, get by id and prefix, re-deposit semantics."""
from __future__ import annotations

import hashlib
import time

import pytest

from conftest import RFC3339_MS, assert_error, deposit, get_note, sha

UNICODE_BODIES = [
    "hello, colony",
    "ants 🐜 and slime 🍄 molds",
    "蚂蚁留下信息素的痕迹",
    "caf\u00e9",            # precomposed é
    "cafe\u0301",           # e + combining acute accent
    "שלום עולם, trail מימין לשמאל",
    "مرحبا بالعالم",
    "  leading and trailing spaces  ",
    "line one\nline two\ttabbed",
    "zero\u200bwidth",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 outside the BMP 𐍈",
    "nul\u0000inside",      # U+0000 is valid UTF-8 text; bodies are bytes, not C strings
    "\u0000",
]


def test_hello_reports_server_protocol_and_limits(conn):
    r = conn.result("trail.hello", {"client": "pytest", "agent": "tester"})
    assert isinstance(r["server"], str) and r["server"]
    assert isinstance(r["version"], str) and r["version"]
    assert r["protocol"] == 1
    assert "store" in r
    assert r["limits"]["max_frame_bytes"] == 1 << 20
    assert isinstance(r["defaults"], dict)


def test_hello_without_params(conn):
    assert conn.result("trail.hello")["protocol"] == 1


@pytest.mark.parametrize("body", UNICODE_BODIES)
def test_id_is_sha256_of_utf8_bytes(conn, body):
    r = deposit(conn, body)
    assert r["id"] == hashlib.sha256(body.encode("utf-8")).hexdigest()
    assert r["created"] is True
    assert r["ns"] == "default"
    assert r["deposits"] == 1
    assert r["weight"] == pytest.approx(1.0, rel=1e-3)
    note = get_note(conn, r["id"])
    assert note["body"] == body, "the body must come back byte for byte"
    assert note["id"] == r["id"]


def test_precomposed_and_combining_are_different_notes(conn):
    a = deposit(conn, "caf\u00e9")
    b = deposit(conn, "cafe\u0301")
    assert a["id"] != b["id"]
    assert a["created"] is True and b["created"] is True
    assert get_note(conn, a["id"])["body"] == "caf\u00e9"
    assert get_note(conn, b["id"])["body"] == "cafe\u0301"
    stats = conn.result("trail.stats", {})
    assert stats["notes"] == 2


def test_whitespace_is_not_trimmed(conn):
    a = deposit(conn, "same")
    b = deposit(conn, "same ")
    assert a["id"] != b["id"]
    assert b["id"] == sha("same ")


def test_new_note_shape(conn):
    r = deposit(conn, "shape of a note", tags=["b", "a"], agent="scout-1")
    note = get_note(conn, r["id"])
    assert note["id"] == sha("shape of a note")
    assert note["ns"] == "default"
    assert note["body"] == "shape of a note"
    assert note["tags"] == ["a", "b"]
    assert note["after"] == []
    assert note["weight"] == pytest.approx(1.0, rel=1e-3)
    assert note["rank"] is None
    assert note["deposits"] == 1
    assert note["agent"] == "scout-1"
    assert note["state"] == "live"
    assert note["retraction"] is None
    assert RFC3339_MS.match(note["created_at"]), note["created_at"]
    assert RFC3339_MS.match(note["updated_at"]), note["updated_at"]


def test_updated_at_moves_created_at_stays(conn):
    r = deposit(conn, "timestamps")
    before = get_note(conn, r["id"])
    assert before["updated_at"] >= before["created_at"]
    time.sleep(0.02)
    conn.result("trail.reinforce", {"id": r["id"]})
    after = get_note(conn, r["id"])
    assert after["created_at"] == before["created_at"]
    assert after["updated_at"] > before["updated_at"]


def test_agent_is_null_when_not_given(conn):
    r = deposit(conn, "anonymous")
    assert get_note(conn, r["id"])["agent"] is None


def test_strength_sets_initial_weight(conn):
    r = deposit(conn, "strong", strength=2.5)
    assert r["weight"] == pytest.approx(2.5, rel=1e-3)
    assert get_note(conn, r["id"])["weight"] == pytest.approx(2.5, rel=1e-3)


def test_get_by_prefix_and_uppercase(conn):
    r = deposit(conn, "find me by prefix")
    full = r["id"]
    assert get_note(conn, full[:8])["id"] == full
    assert get_note(conn, full[:13])["id"] == full
    assert get_note(conn, full[:8].upper())["id"] == full
    assert get_note(conn, full.upper())["id"] == full


@pytest.mark.parametrize("bad", ["", "a", "abcdef1", "1234567"])
def test_get_prefix_shorter_than_8_is_invalid_params(conn, bad):
    deposit(conn, "short prefix target")
    assert_error(conn.call("trail.get", {"id": bad}), -32602, "invalid_params", "id")


@pytest.mark.parametrize("bad", ["zzzzzzzz", "12345678g", "1234-5678", "0x12345678", "a" * 65])
def test_get_non_hex_or_too_long_is_invalid_params(conn, bad):
    assert_error(conn.call("trail.get", {"id": bad}), -32602, "invalid_params", "id")


def test_get_unknown_note(conn):
    missing = sha("never deposited")
    err = assert_error(conn.call("trail.get", {"id": missing}), -32001, "unknown_note")
    assert err["data"]["id"] == missing


def test_get_unknown_prefix(conn):
    deposit(conn, "something")
    prefix = "00000000" if not sha("something").startswith("00000000") else "ffffffff"
    assert_error(conn.call("trail.get", {"id": prefix}), -32001, "unknown_note")


# Two bodies whose ids share the first 8 hex digits (found by brute force).
COLLIDE_A = "collide 31899"
COLLIDE_B = "collide 39735"


def test_ambiguous_prefix_is_reported(conn):
    ida, idb = sha(COLLIDE_A), sha(COLLIDE_B)
    assert ida[:8] == idb[:8] and ida[8] != idb[8], "the fixture pair must share exactly 8 hex digits"
    deposit(conn, COLLIDE_A)
    # One note with the prefix: not ambiguous yet.
    assert get_note(conn, ida[:8])["id"] == ida
    deposit(conn, COLLIDE_B)
    err = assert_error(conn.call("trail.get", {"id": ida[:8]}), -32007, "ambiguous_id")
    assert err["data"]["prefix"] == ida[:8]
    assert sorted(err["data"]["matches"]) == sorted([ida, idb])
    # One more digit settles it.
    assert get_note(conn, ida[:9])["id"] == ida
    assert get_note(conn, idb[:9])["id"] == idb
    # Ambiguity applies to other id-taking methods too.
    assert_error(conn.call("trail.reinforce", {"id": ida[:8]}), -32007, "ambiguous_id")


def test_nul_in_body_roundtrips_everywhere(conn):
    body = "before\u0000after"
    r = deposit(conn, body, tags=["nul"])
    assert r["id"] == sha(body)
    assert get_note(conn, r["id"])["body"] == body
    assert [n["body"] for n in conn.result("trail.sense", {"tags": ["nul"]})["notes"]] == [body]
    assert deposit(conn, "before")["created"] is True, "a body cut at NUL is another note"


def test_ambiguous_prefix_in_after(conn):
    ida = deposit(conn, COLLIDE_A)["id"]
    deposit(conn, COLLIDE_B)
    assert_error(conn.call("trail.deposit", {"body": "child", "after": [ida[:8]]}), -32007, "ambiguous_id")
    assert get_note(conn, deposit(conn, "child", after=[ida[:9]])["id"])["after"] == [ida]


def test_redeposit_same_id_counts_and_adds_weight(conn):
    first = deposit(conn, "reinforced by re-deposit", strength=2.0)
    again = deposit(conn, "reinforced by re-deposit", strength=1.5)
    assert again["id"] == first["id"]
    assert again["created"] is False
    assert again["deposits"] == 2
    assert again["weight"] == pytest.approx(3.5, rel=1e-3)
    third = deposit(conn, "reinforced by re-deposit")
    assert third["deposits"] == 3
    assert third["weight"] == pytest.approx(4.5, rel=1e-3)
    note = get_note(conn, first["id"])
    assert note["deposits"] == 3
    assert note["weight"] == pytest.approx(4.5, rel=1e-3)


def test_redeposit_unions_tags_and_after_and_keeps_first_agent(conn):
    x = deposit(conn, "origin x")["id"]
    y = deposit(conn, "origin y")["id"]
    z = deposit(conn, "origin z")["id"]
    body = "merged note"
    deposit(conn, body, tags=["b", "a"], after=[x, y], agent="alice")
    r = deposit(conn, body, tags=["c", "a"], after=[z, x], agent="bob")
    assert r["created"] is False
    note = get_note(conn, r["id"])
    assert note["tags"] == ["a", "b", "c"]
    assert note["after"] == [x, y, z], "after keeps first-given order, re-deposits append new ids"
    assert note["agent"] == "alice"
    assert note["deposits"] == 2


def test_tags_sorted_and_deduplicated(conn):
    r = deposit(conn, "tagged", tags=["zeta", "alpha", "zeta", "m:n/o.p_q-r"])
    assert get_note(conn, r["id"])["tags"] == ["alpha", "m:n/o.p_q-r", "zeta"]


def test_after_accepts_prefix_and_stores_full_id(conn):
    a = deposit(conn, "prefix parent")["id"]
    b = deposit(conn, "prefix child", after=[a[:8].upper()])["id"]
    assert get_note(conn, b)["after"] == [a]


def test_after_unknown_note_is_refused(conn):
    missing = sha("not here")
    assert_error(conn.call("trail.deposit", {"body": "orphan", "after": [missing]}), -32001, "unknown_note")
    # Nothing was written.
    assert_error(conn.call("trail.get", {"id": sha("orphan")}), -32001, "unknown_note")


def test_namespaces_are_separate(conn):
    body = "shared body"
    a = deposit(conn, body, ns="colony-a")
    b = deposit(conn, body, ns="colony-b")
    assert a["id"] == b["id"] == sha(body)
    assert a["created"] is True and b["created"] is True
    assert a["ns"] == "colony-a" and b["ns"] == "colony-b"
    assert get_note(conn, a["id"], ns="colony-a")["ns"] == "colony-a"
    assert_error(conn.call("trail.get", {"id": a["id"]}), -32001, "unknown_note")
    assert_error(conn.call("trail.get", {"id": a["id"], "ns": "never-written"}), -32001, "unknown_note")
    names = [n["ns"] if isinstance(n, dict) else n for n in conn.result("trail.namespace.list", {})["namespaces"]]
    assert {"default", "colony-a", "colony-b"} <= set(names)


def test_stats_counts(conn):
    a = deposit(conn, "stat one", strength=2)["id"]
    deposit(conn, "stat two", strength=3, after=[a])
    s = conn.result("trail.stats", {})
    assert s["ns"] == "default"
    assert s["notes"] == 2
    assert s["live"] == 2
    assert s["faded"] == 0
    assert s["archived"] == 0
    assert s["retracted"] == 0
    assert s["edges"] == 1
    assert s["total_weight"] == pytest.approx(5.0, rel=1e-3)
    assert s["store_bytes"] > 0
    assert s["uptime_s"] >= 0
    assert s["connections"] >= 1
    assert "compaction" in s
    empty = conn.result("trail.stats", {"ns": "nothing-here"})
    assert empty["notes"] == 0 and empty["edges"] == 0


def test_large_body_at_the_limit_roundtrips(conn):
    body = "é" * 2048  # 4096 bytes, exactly max_note_bytes
    r = deposit(conn, body)
    assert r["id"] == sha(body)
    assert get_note(conn, r["id"])["body"] == body


def test_redeposits_keep_a_note_within_16_tags_and_32_after(conn):
    """Contract §3: a note has at most 16 tags and 32 `after`; a re-deposit
    unions both. Forty re-deposits, each naming a note of its own and a tag
    of its own: the note keeps its first tags while there is room (16), and
    the 32 `after` named last, in the order they were first named. A tag
    that did not join finds nothing; every trail stays (follow backward
    gives all forty)."""
    sources = [conn.result("trail.deposit", {"body": f"source {i:02d}", "ns": "cap"})["id"] for i in range(40)]
    first = conn.result("trail.deposit", {"body": "the popular finding", "ns": "cap", "tags": ["t-00"]})
    for i, src in enumerate(sources):
        again = conn.result("trail.deposit", {"body": "the popular finding", "ns": "cap", "after": [src], "tags": [f"t-{i + 1:02d}"]})
        assert again["id"] == first["id"] and again["created"] is False
    note = conn.result("trail.get", {"id": first["id"], "ns": "cap"})["note"]
    assert note["deposits"] == 41
    assert note["tags"] == [f"t-{i:02d}" for i in range(16)]
    assert note["after"] == sources[-32:]
    by_tag = lambda tag: [n["id"] for n in conn.result("trail.sense", {"ns": "cap", "tags": [tag]})["notes"]]  # noqa: E731
    assert by_tag("t-15") == [first["id"]] and by_tag("t-16") == [] and by_tag("t-40") == []
    back = conn.result("trail.follow", {"from": first["id"], "ns": "cap", "direction": "backward", "limit": 100})
    assert sorted(t["to"] for t in back["trails"]) == sorted(sources)
