"""Decay (evaporation), reinforcement, repulsion and faded notes, on 1 s half-lives."""
from __future__ import annotations

import time

import pytest

from conftest import assert_error, configure, decay_bounds, deposit, get_note

NS = "fast"


def timed(fn, *args, **kwargs):
    t0 = time.monotonic()
    r = fn(*args, **kwargs)
    return r, t0, time.monotonic()


def test_configure_returns_settings(conn):
    r = configure(conn, NS, half_life_s=1)
    assert r["ns"] == NS
    assert r["half_life_s"] == pytest.approx(1.0)
    assert r["evaporate_below"] == pytest.approx(0.05)
    assert r["max_note_bytes"] == 4096
    r = configure(conn, NS, evaporate_below=0.5, max_note_bytes=100)
    assert r["half_life_s"] == pytest.approx(1.0), "settings not given are kept"
    assert r["evaporate_below"] == pytest.approx(0.5)
    assert r["max_note_bytes"] == 100
    listed = conn.result("trail.namespace.list", {})["namespaces"]
    mine = [n for n in listed if isinstance(n, dict) and n.get("ns") == NS]
    assert mine, listed
    assert mine[0]["half_life_s"] == pytest.approx(1.0)
    assert mine[0]["evaporate_below"] == pytest.approx(0.5)
    assert mine[0]["max_note_bytes"] == 100


def test_default_namespace_has_contract_defaults(conn):
    listed = conn.result("trail.namespace.list", {})["namespaces"]
    d = [n for n in listed if isinstance(n, dict) and n.get("ns") == "default"]
    assert d, listed
    assert d[0]["half_life_s"] == pytest.approx(604800)
    assert d[0]["evaporate_below"] == pytest.approx(0.05)
    assert d[0]["max_note_bytes"] == 4096


def test_weight_halves_over_one_half_life(conn):
    configure(conn, NS, half_life_s=1)
    r, d0, d1 = timed(deposit, conn, "evaporating", ns=NS, strength=8)
    assert r["weight"] == pytest.approx(8, rel=1e-2)
    time.sleep(1.0)
    note, g0, g1 = timed(get_note, conn, r["id"], ns=NS)
    lo, hi = decay_bounds(8, d0, d1, g0, g1)
    assert lo <= note["weight"] <= hi, (note["weight"], lo, hi)
    assert 3.0 < note["weight"] < 4.6


def test_reinforce_adds_to_decayed_weight(conn):
    configure(conn, NS, half_life_s=1)
    r, d0, d1 = timed(deposit, conn, "reinforce me", ns=NS, strength=4)
    time.sleep(1.0)
    rr, g0, g1 = timed(conn.result, "trail.reinforce", {"id": r["id"][:8], "ns": NS, "delta": 2})
    assert rr["id"] == r["id"], "reinforce answers with the full id"
    lo, hi = decay_bounds(4, d0, d1, g0, g1)
    assert lo + 2 <= rr["weight"] <= hi + 2, (rr["weight"], lo + 2, hi + 2)
    # 4 without decay would give 6: it must be well below.
    assert rr["weight"] < 5.0


def test_redeposit_adds_strength_to_decayed_weight(conn):
    configure(conn, NS, half_life_s=1)
    r, d0, d1 = timed(deposit, conn, "come back later", ns=NS, strength=4)
    time.sleep(1.0)
    again, g0, g1 = timed(deposit, conn, "come back later", ns=NS, strength=1)
    assert again["created"] is False
    assert again["deposits"] == 2
    lo, hi = decay_bounds(4, d0, d1, g0, g1)
    assert lo + 1 <= again["weight"] <= hi + 1, (again["weight"], lo + 1, hi + 1)


def test_reinforce_default_delta_is_one(conn):
    r = deposit(conn, "plus one")
    rr = conn.result("trail.reinforce", {"id": r["id"]})
    assert rr["weight"] == pytest.approx(2.0, rel=1e-3)


def test_repel_floors_at_zero_and_fades(conn):
    r = deposit(conn, "repelled", strength=1)
    rr = conn.result("trail.reinforce", {"id": r["id"], "delta": -5})
    assert rr["weight"] == 0
    note = get_note(conn, r["id"])
    assert note["weight"] == 0
    assert note["state"] == "faded"
    ids = [n["id"] for n in conn.result("trail.sense", {})["notes"]]
    assert r["id"] not in ids
    ids = [n["id"] for n in conn.result("trail.sense", {"include_faded": True})["notes"]]
    assert r["id"] in ids
    # Reinforcing from zero starts again from zero, not from the old weight.
    rr = conn.result("trail.reinforce", {"id": r["id"], "delta": 0.75})
    assert rr["weight"] == pytest.approx(0.75, rel=1e-3)
    assert get_note(conn, r["id"])["state"] == "live"


def test_partial_repel(conn):
    r = deposit(conn, "weakened", strength=3)
    rr = conn.result("trail.reinforce", {"id": r["id"], "delta": -1})
    assert rr["weight"] == pytest.approx(2.0, rel=1e-3)


def test_note_fades_below_threshold_and_comes_back(conn):
    configure(conn, NS, half_life_s=1, evaporate_below=0.5)
    keep = deposit(conn, "stays strong", ns=NS, strength=100)["id"]
    r = deposit(conn, "fades away", ns=NS, strength=1)
    assert get_note(conn, r["id"], ns=NS)["state"] == "live"
    live = [n["id"] for n in conn.result("trail.sense", {"ns": NS})["notes"]]
    assert r["id"] in live
    time.sleep(1.3)
    note = get_note(conn, r["id"], ns=NS)
    assert note["weight"] < 0.5
    assert note["state"] == "faded"
    sensed = conn.result("trail.sense", {"ns": NS})["notes"]
    assert [n["id"] for n in sensed] == [keep], "sense leaves faded notes out"
    with_faded = conn.result("trail.sense", {"ns": NS, "include_faded": True})["notes"]
    assert [n["id"] for n in with_faded] == [keep, r["id"]]
    assert with_faded[1]["state"] == "faded"
    stats = conn.result("trail.stats", {"ns": NS})
    assert stats["notes"] == 2
    assert stats["faded"] == 1
    assert stats["live"] == 1
    # Reinforced above the threshold, it is live again.
    conn.result("trail.reinforce", {"id": r["id"], "ns": NS, "delta": 1})
    assert get_note(conn, r["id"], ns=NS)["state"] == "live"
    assert r["id"] in [n["id"] for n in conn.result("trail.sense", {"ns": NS})["notes"]]
    assert conn.result("trail.stats", {"ns": NS})["faded"] == 0


def test_trail_weights_decay_too(conn):
    configure(conn, NS, half_life_s=1)
    a = deposit(conn, "edge from", ns=NS, strength=100)["id"]
    b = deposit(conn, "edge to", ns=NS, strength=100)["id"]
    link, d0, d1 = timed(conn.result, "trail.link", {"from": a, "to": b, "ns": NS, "delta": 4})
    assert link["weight"] == pytest.approx(4, rel=1e-2)
    time.sleep(1.0)
    f, g0, g1 = timed(conn.result, "trail.follow", {"from": a, "ns": NS})
    assert len(f["trails"]) == 1
    lo, hi = decay_bounds(4, d0, d1, g0, g1)
    assert lo <= f["trails"][0]["weight"] <= hi, (f["trails"][0]["weight"], lo, hi)
    # link adds to the decayed trail weight.
    again, a0, a1 = timed(conn.result, "trail.link", {"from": a, "to": b, "ns": NS, "delta": 1})
    lo, hi = decay_bounds(4, d0, d1, a0, a1)
    assert lo + 1 <= again["weight"] <= hi + 1


def test_changing_half_life_keeps_current_weight(conn):
    r = deposit(conn, "slow then fast", ns=NS, strength=4)
    assert get_note(conn, r["id"], ns=NS)["weight"] == pytest.approx(4, rel=1e-3)
    _, c0, c1 = timed(configure, conn, NS, half_life_s=1)
    note = get_note(conn, r["id"], ns=NS)
    assert note["weight"] == pytest.approx(4, rel=2e-2), "reconfiguring must not jump the weight"
    time.sleep(1.0)
    note, g0, g1 = timed(get_note, conn, r["id"], ns=NS)
    lo, hi = decay_bounds(4, c0, c1, g0, g1)
    assert lo <= note["weight"] <= hi, (note["weight"], lo, hi)


def test_default_half_life_barely_decays(conn):
    r = deposit(conn, "a week to halve", strength=1)
    time.sleep(0.2)
    assert get_note(conn, r["id"])["weight"] == pytest.approx(1.0, rel=1e-4)


@pytest.mark.parametrize("settings,field", [
    ({"half_life_s": 0}, "half_life_s"),
    ({"half_life_s": 0.5}, "half_life_s"),
    ({"half_life_s": -1}, "half_life_s"),
    ({"half_life_s": 4e9}, "half_life_s"),
    ({"half_life_s": "1"}, "half_life_s"),
    ({"evaporate_below": -0.1}, "evaporate_below"),
    ({"evaporate_below": 2e6}, "evaporate_below"),
    ({"max_note_bytes": 0}, "max_note_bytes"),
    ({"max_note_bytes": 65537}, "max_note_bytes"),
    ({"max_note_bytes": 10.5}, "max_note_bytes"),
])
def test_configure_out_of_range(conn, settings, field):
    assert_error(conn.call("trail.namespace.configure", {"ns": NS, **settings}), -32602, "invalid_params", field)
    assert conn.result("trail.hello", {})["protocol"] == 1


def test_configure_bad_namespace(conn):
    err = assert_error(conn.call("trail.namespace.configure", {"ns": "Bad NS", "half_life_s": 1}), -32004,
                       "invalid_namespace")
    assert err["data"]["ns"] == "Bad NS"


def test_configure_requires_ns(conn):
    assert_error(conn.call("trail.namespace.configure", {"half_life_s": 1}), -32602, "invalid_params", "ns")


def test_configure_max_note_bytes_applies(conn):
    configure(conn, NS, max_note_bytes=10)
    deposit(conn, "0123456789", ns=NS)
    err = assert_error(conn.call("trail.deposit", {"body": "0123456789a", "ns": NS}), -32002, "note_too_large")
    assert err["data"]["limit"] == 10
    assert err["data"]["size"] == 11
    # Other namespaces keep the default.
    deposit(conn, "0123456789a")
    configure(conn, NS, max_note_bytes=65536)
    deposit(conn, "x" * 65536, ns=NS)
