"""Retraction and revival."""
from __future__ import annotations

import pytest

from conftest import RFC3339_MS, assert_error, deposit, get_note, sha


def test_retract_requires_a_reason(conn):
    r = deposit(conn, "needs a reason")
    assert_error(conn.call("trail.retract", {"id": r["id"]}), -32602, "invalid_params", "reason")
    assert_error(conn.call("trail.retract", {"id": r["id"], "reason": ""}), -32602, "invalid_params", "reason")
    assert_error(conn.call("trail.retract", {"id": r["id"], "reason": 42}), -32602, "invalid_params", "reason")
    assert get_note(conn, r["id"])["state"] == "live", "a refused retraction changes nothing"


def test_retract_reason_too_long(conn):
    r = deposit(conn, "long reason")
    assert_error(conn.call("trail.retract", {"id": r["id"], "reason": "x" * 1025}), -32602, "invalid_params",
                 "reason")
    conn.result("trail.retract", {"id": r["id"], "reason": "x" * 1024})


def test_retract_shows_in_get_and_stats(conn):
    r = deposit(conn, "soon retracted", agent="writer")
    res = conn.result("trail.retract", {"id": r["id"][:8], "reason": "turned out wrong", "agent": "critic"})
    assert res["id"] == r["id"]
    assert res["state"] == "retracted"
    note = get_note(conn, r["id"])
    assert note["state"] == "retracted"
    assert note["body"] == "soon retracted"
    assert note["agent"] == "writer"
    assert note["retraction"]["reason"] == "turned out wrong"
    assert note["retraction"]["agent"] == "critic"
    assert RFC3339_MS.match(note["retraction"]["at"])
    s = conn.result("trail.stats", {})
    assert s["retracted"] == 1
    assert s["notes"] == 1
    assert s["live"] == 0


def test_retract_unknown(conn):
    assert_error(conn.call("trail.retract", {"id": sha("ghost"), "reason": "r"}), -32001, "unknown_note")


def test_deposit_of_retracted_body_is_refused(conn):
    r = deposit(conn, "do not repeat this", strength=2)
    conn.result("trail.retract", {"id": r["id"], "reason": "it leads into the river"})
    err = assert_error(conn.call("trail.deposit", {"body": "do not repeat this"}), -32009, "retracted")
    assert err["data"]["id"] == r["id"]
    assert err["data"]["retraction"]["reason"] == "it leads into the river"
    assert "at" in err["data"]["retraction"]
    note = get_note(conn, r["id"])
    assert note["deposits"] == 1, "a refused deposit is not counted"
    assert note["state"] == "retracted"


def test_force_deposit_revives(conn):
    r = deposit(conn, "forced back", strength=2)
    conn.result("trail.retract", {"id": r["id"], "reason": "premature"})
    again = deposit(conn, "forced back", force=True, strength=1)
    assert again["id"] == r["id"]
    assert again["created"] is False
    assert again["deposits"] == 2
    assert again["weight"] == pytest.approx(3.0, rel=1e-3)
    note = get_note(conn, r["id"])
    assert note["state"] == "live"
    assert note["retraction"] is None
    assert r["id"] in [n["id"] for n in conn.result("trail.sense", {})["notes"]]


def test_force_on_a_live_or_new_note_is_a_plain_deposit(conn):
    r = deposit(conn, "forced new", force=True)
    assert r["created"] is True
    r = deposit(conn, "forced new", force=True)
    assert r["created"] is False and r["deposits"] == 2


def test_revive(conn):
    r = deposit(conn, "revive me", strength=1.5)
    conn.result("trail.retract", {"id": r["id"], "reason": "oops"})
    assert r["id"] not in [n["id"] for n in conn.result("trail.sense", {})["notes"]]
    note = conn.result("trail.revive", {"id": r["id"][:8]})["note"]
    assert note["id"] == r["id"]
    assert note["state"] == "live"
    assert note["retraction"] is None
    assert note["weight"] == pytest.approx(1.5, rel=1e-3)
    assert r["id"] in [n["id"] for n in conn.result("trail.sense", {})["notes"]]
    # After revival the body can be deposited normally.
    assert deposit(conn, "revive me")["deposits"] == 2
    assert conn.result("trail.stats", {})["retracted"] == 0


def test_revive_unknown(conn):
    assert_error(conn.call("trail.revive", {"id": sha("never")}), -32001, "unknown_note")


def test_reinforce_retracted_is_refused(conn):
    r = deposit(conn, "no reinforcing")
    conn.result("trail.retract", {"id": r["id"], "reason": "stale"})
    err = assert_error(conn.call("trail.reinforce", {"id": r["id"]}), -32009, "retracted")
    assert err["data"]["retraction"]["reason"] == "stale"


def test_after_may_name_a_retracted_note(conn):
    a = deposit(conn, "retracted parent")["id"]
    conn.result("trail.retract", {"id": a, "reason": "wrong"})
    b = deposit(conn, "child of retracted", after=[a])["id"]
    assert get_note(conn, b)["after"] == [a]


def test_retraction_in_other_namespace_is_separate(conn):
    a = deposit(conn, "two homes", ns="x")["id"]
    deposit(conn, "two homes", ns="y")
    conn.result("trail.retract", {"id": a, "ns": "x", "reason": "only here"})
    assert get_note(conn, a, ns="y")["state"] == "live"
    assert deposit(conn, "two homes", ns="y")["deposits"] == 2
    assert_error(conn.call("trail.deposit", {"body": "two homes", "ns": "x"}), -32009, "retracted")


def test_retract_reason_with_nul_is_refused(conn):
    """No store's text holds U+0000 (PostgreSQL refuses it): a clear error, nothing changed, the connection serves on."""
    r = deposit(conn, "nul in the reason")
    assert_error(conn.call("trail.retract", {"id": r["id"], "reason": "bad\u0000reason"}), -32602, "invalid_params", "reason")
    assert get_note(conn, r["id"])["state"] == "live"
    conn.result("trail.retract", {"id": r["id"], "reason": "two lines\nand a\ttab are fine"})
    assert get_note(conn, r["id"])["retraction"]["reason"] == "two lines\nand a\ttab are fine"
