"""Trails: edges made by deposit(after) and link, follow, and exploration."""
from __future__ import annotations

import pytest

from conftest import assert_error, deposit, get_note, sha


def follow(conn, from_, **params):
    return conn.result("trail.follow", {"from": from_, **params})


def test_after_creates_edge_from_parent(conn):
    a = deposit(conn, "parent")["id"]
    b = deposit(conn, "child", after=[a])["id"]
    f = follow(conn, a)
    assert [(t["to"], t["direction"]) for t in f["trails"]] == [(b, "forward")]
    assert f["trails"][0]["weight"] == pytest.approx(1.0, rel=1e-3)
    assert f["trails"][0]["note"]["id"] == b
    assert f["trails"][0]["note"]["body"] == "child"
    # Nothing goes out of the child.
    assert follow(conn, b)["trails"] == []
    back = follow(conn, b, direction="backward")["trails"]
    assert [(t["to"], t["direction"]) for t in back] == [(a, "backward")]
    assert back[0]["note"]["id"] == a
    both = follow(conn, b, direction="both")["trails"]
    assert [(t["to"], t["direction"]) for t in both] == [(a, "backward")]
    assert conn.result("trail.stats", {})["edges"] == 1


def test_after_edge_weight_uses_strength_and_grows_on_redeposit(conn):
    a = deposit(conn, "start")["id"]
    deposit(conn, "next", after=[a], strength=2)
    assert follow(conn, a)["trails"][0]["weight"] == pytest.approx(2.0, rel=1e-3)
    deposit(conn, "next", after=[a], strength=1)
    assert follow(conn, a)["trails"][0]["weight"] == pytest.approx(3.0, rel=1e-3)


def test_after_with_several_parents(conn):
    a = deposit(conn, "from a")["id"]
    b = deposit(conn, "from b")["id"]
    c = deposit(conn, "joined", after=[a, b])["id"]
    assert [t["to"] for t in follow(conn, a)["trails"]] == [c]
    assert [t["to"] for t in follow(conn, b)["trails"]] == [c]
    assert {t["to"] for t in follow(conn, c, direction="backward")["trails"]} == {a, b}


def test_link_and_delta(conn):
    a = deposit(conn, "link from")["id"]
    b = deposit(conn, "link to")["id"]
    r = conn.result("trail.link", {"from": a[:8], "to": b[:10].upper(), "delta": 2.5})
    assert (r["from"], r["to"]) == (a, b), "link answers with full ids"
    assert r["weight"] == pytest.approx(2.5, rel=1e-3)
    r = conn.result("trail.link", {"from": a, "to": b})
    assert r["weight"] == pytest.approx(3.5, rel=1e-3), "delta defaults to 1"
    r = conn.result("trail.link", {"from": a, "to": b, "delta": -1})
    assert r["weight"] == pytest.approx(2.5, rel=1e-3)
    # A link is directed: nothing goes from b to a.
    assert follow(conn, b)["trails"] == []
    assert [t["to"] for t in follow(conn, b, direction="backward")["trails"]] == [a]


def test_link_repelled_to_zero_is_not_followed(conn):
    a = deposit(conn, "zero from")["id"]
    b = deposit(conn, "zero to")["id"]
    c = deposit(conn, "other to")["id"]
    conn.result("trail.link", {"from": a, "to": b, "delta": 1})
    conn.result("trail.link", {"from": a, "to": c, "delta": 1})
    r = conn.result("trail.link", {"from": a, "to": b, "delta": -10})
    assert r["weight"] == 0
    assert [t["to"] for t in follow(conn, a)["trails"]] == [c]


def test_self_link_is_invalid(conn):
    a = deposit(conn, "self")["id"]
    assert_error(conn.call("trail.link", {"from": a, "to": a}), -32602, "invalid_params")
    assert_error(conn.call("trail.link", {"from": a, "to": a[:8]}), -32602, "invalid_params")
    assert follow(conn, a)["trails"] == []


def test_link_unknown_ends(conn):
    a = deposit(conn, "known end")["id"]
    missing = sha("unknown end")
    assert_error(conn.call("trail.link", {"from": a, "to": missing}), -32001, "unknown_note")
    assert_error(conn.call("trail.link", {"from": missing, "to": a}), -32001, "unknown_note")
    assert conn.result("trail.stats", {})["edges"] == 0


def test_link_across_namespaces_is_unknown(conn):
    a = deposit(conn, "ns one", ns="one")["id"]
    b = deposit(conn, "ns two", ns="two")["id"]
    assert_error(conn.call("trail.link", {"from": a, "to": b, "ns": "one"}), -32001, "unknown_note")


def test_link_requires_from_and_to(conn):
    a = deposit(conn, "lonely")["id"]
    assert_error(conn.call("trail.link", {"from": a}), -32602, "invalid_params", "to")
    assert_error(conn.call("trail.link", {"to": a}), -32602, "invalid_params", "from")


def test_follow_strongest_first_and_limit(conn):
    a = deposit(conn, "hub")["id"]
    targets = {}
    for name, w in [("weak", 1), ("strong", 3), ("medium", 2), ("faint", 0.5)]:
        targets[name] = deposit(conn, name)["id"]
        conn.result("trail.link", {"from": a, "to": targets[name], "delta": w})
    f = follow(conn, a)
    assert [t["to"] for t in f["trails"]] == [targets[n] for n in ("strong", "medium", "weak", "faint")]
    assert [t["weight"] for t in f["trails"]] == pytest.approx([3, 2, 1, 0.5], rel=1e-3)
    assert [t["to"] for t in follow(conn, a, limit=2)["trails"]] == [targets["strong"], targets["medium"]]
    assert_error(conn.call("trail.follow", {"from": a, "limit": 1001}), -32602, "invalid_params", "limit")


def test_follow_both_directions(conn):
    hub = deposit(conn, "middle")["id"]
    up = deposit(conn, "upstream")["id"]
    down = deposit(conn, "downstream")["id"]
    conn.result("trail.link", {"from": up, "to": hub, "delta": 5})
    conn.result("trail.link", {"from": hub, "to": down, "delta": 2})
    both = follow(conn, hub, direction="both")["trails"]
    assert [(t["to"], t["direction"]) for t in both] == [(up, "backward"), (down, "forward")]
    assert [(t["to"], t["direction"]) for t in follow(conn, hub)["trails"]] == [(down, "forward")]
    assert [(t["to"], t["direction"]) for t in follow(conn, hub, direction="backward")["trails"]] == [(up, "backward")]


def test_follow_skips_retracted_targets(conn):
    a = deposit(conn, "before retraction")["id"]
    b = deposit(conn, "will be retracted", after=[a])["id"]
    c = deposit(conn, "stays", after=[a])["id"]
    conn.result("trail.retract", {"id": b, "reason": "dead end"})
    assert [t["to"] for t in follow(conn, a)["trails"]] == [c]


def test_follow_skips_faded_targets_unless_asked(conn):
    a = deposit(conn, "source of faded")["id"]
    b = deposit(conn, "faded target", after=[a], strength=2)["id"]
    c = deposit(conn, "live target", after=[a])["id"]
    conn.result("trail.reinforce", {"id": b, "delta": -10})
    assert get_note(conn, b)["state"] == "faded"
    assert [t["to"] for t in follow(conn, a)["trails"]] == [c]
    assert [t["to"] for t in follow(conn, a, include_faded=True)["trails"]] == [b, c]


def test_follow_unknown_from(conn):
    assert_error(conn.call("trail.follow", {"from": sha("nowhere")}), -32001, "unknown_note")


def test_link_on_retracted_note(conn):
    a = deposit(conn, "live end")["id"]
    b = deposit(conn, "retracted end")["id"]
    conn.result("trail.retract", {"id": b, "reason": "bad"})
    assert_error(conn.call("trail.link", {"from": a, "to": b}), -32009, "retracted")
    assert_error(conn.call("trail.link", {"from": b, "to": a}), -32009, "retracted")


def _fan(conn, weights):
    hub = deposit(conn, "explore hub")["id"]
    out = []
    for i, w in enumerate(weights):
        t = deposit(conn, f"explore target {i}")["id"]
        conn.result("trail.link", {"from": hub, "to": t, "delta": w})
        out.append(t)
    return hub, out


def test_explore_same_seed_same_order(conn):
    hub, _ = _fan(conn, [1, 2, 3, 4, 5, 6])
    for seed in (0, 1, 42, 2**53):
        a = follow(conn, hub, explore=0.7, seed=seed)
        b = follow(conn, hub, explore=0.7, seed=seed)
        assert a["seed"] == seed and b["seed"] == seed
        assert [t["to"] for t in a["trails"]] == [t["to"] for t in b["trails"]]
        assert len(a["trails"]) == 6, "sampling is without replacement: every trail once"
        assert len({t["to"] for t in a["trails"]}) == 6
    orders = {tuple(t["to"] for t in follow(conn, hub, explore=1, seed=s)["trails"]) for s in range(30)}
    assert len(orders) > 1, "different seeds should give different draws"


def test_explore_without_seed_reports_a_reproducible_seed(conn):
    hub, _ = _fan(conn, [1, 2, 3, 4])
    first = follow(conn, hub, explore=1)
    seed = first["seed"]
    assert isinstance(seed, int) and 0 <= seed <= 2**53
    again = follow(conn, hub, explore=1, seed=seed)
    assert [t["to"] for t in again["trails"]] == [t["to"] for t in first["trails"]]


def test_explore_zero_is_strongest_first(conn):
    hub, (weak, strong) = _fan(conn, [1, 9])
    for s in range(10):
        assert [t["to"] for t in follow(conn, hub, explore=0, seed=s)["trails"]] == [strong, weak]


def test_explore_one_prefers_stronger_trails(conn):
    hub, (weak, strong) = _fan(conn, [1, 9])
    firsts = {weak: 0, strong: 0}
    for s in range(200):
        trails = follow(conn, hub, explore=1, seed=s)["trails"]
        assert len(trails) == 2
        firsts[trails[0]["to"]] += 1
    # P(strong first) = 0.9 at explore = 1: expected 180 of 200.
    assert firsts[strong] > 150, firsts
    assert firsts[weak] >= 3, f"a weak trail must sometimes be drawn first at explore=1: {firsts}"


def test_explore_near_zero_is_almost_greedy(conn):
    hub, (weak, strong) = _fan(conn, [1, 2])
    strong_first = sum(
        follow(conn, hub, explore=0.05, seed=s)["trails"][0]["to"] == strong for s in range(50)
    )
    # weight^(1/0.05): 2^20 to 1.
    assert strong_first == 50


@pytest.mark.parametrize("explore", [-0.1, 1.1, 2, "0.5"])
def test_explore_out_of_range(conn, explore):
    hub, _ = _fan(conn, [1])
    assert_error(conn.call("trail.follow", {"from": hub, "explore": explore}), -32602, "invalid_params", "explore")


@pytest.mark.parametrize("seed", [-1, 2**53 + 2, 1.5, "7"])
def test_seed_out_of_range(conn, seed):
    hub, _ = _fan(conn, [1])
    assert_error(conn.call("trail.follow", {"from": hub, "explore": 0.5, "seed": seed}), -32602, "invalid_params",
                 "seed")


def test_direction_must_be_known(conn):
    hub, _ = _fan(conn, [1])
    assert_error(conn.call("trail.follow", {"from": hub, "direction": "sideways"}), -32602, "invalid_params",
                 "direction")


def test_follow_note_reflects_state(conn):
    a = deposit(conn, "state source")["id"]
    b = deposit(conn, "state target", after=[a], tags=["x"])["id"]
    t = follow(conn, a)["trails"][0]
    note = get_note(conn, b)
    for key in ("id", "ns", "body", "tags", "after", "deposits", "state", "agent", "created_at"):
        assert t["note"][key] == note[key], key
    assert t["note"]["after"] == [a]
    assert t["note"]["weight"] == pytest.approx(1.0, rel=1e-3)


def test_after_may_name_a_faded_note(conn):
    a = deposit(conn, "faded parent")["id"]
    conn.result("trail.reinforce", {"id": a, "delta": -10})
    assert get_note(conn, a)["state"] == "faded"
    b = deposit(conn, "child of faded", after=[a])["id"]
    assert get_note(conn, b)["after"] == [a]
    assert [t["to"] for t in follow(conn, a)["trails"]] == [b]
