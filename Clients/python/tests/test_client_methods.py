"""Every method of the contract, in both flavours (the `client` fixture runs
each test against Trail and AsyncTrail)."""
from __future__ import annotations

import hashlib
from typing import Any

import pytest

from trail_client import MethodNotFound, Trail, TrailError


def sha(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def test_hello_reports_the_daemon(client: Any) -> None:
    assert client.server["server"] == "traild"  # said on connect
    res = client.hello(client="tests/1")
    assert res["server"] == "traild" and res["protocol"] == 1
    assert res["limits"]["max_note_bytes"] >= 4096
    assert res["limits"]["min_id_prefix"] == 8


def test_deposit_new_and_again(client: Any, ns: str) -> None:
    body = "found sugar near the north wall"
    first = client.deposit(body, tags=["food", "north"])
    assert first == {"id": sha(body), "ns": ns, "created": True, "weight": pytest.approx(1.0), "deposits": 1}
    again = client.deposit(body, tags="extra", strength=2.0)
    assert again["id"] == first["id"] and again["created"] is False
    assert again["deposits"] == 2
    assert again["weight"] == pytest.approx(3.0, rel=1e-3)
    note = client.get(first["id"])["note"]
    assert note["tags"] == ["extra", "food", "north"]


def test_agent_from_hello_stamps_writes(client: Any, flavour_agent: str) -> None:
    res = client.deposit("stamped by the connection's agent")
    assert client.get(res["id"])["note"]["agent"] == flavour_agent
    res = client.deposit("stamped by the call's agent", agent="explicit-1")
    assert client.get(res["id"])["note"]["agent"] == "explicit-1"
    client.hello(agent="renamed-2")
    assert client.agent == "renamed-2"
    res = client.deposit("stamped after hello")
    assert client.get(res["id"])["note"]["agent"] == "renamed-2"


def test_get_by_prefix_and_namespace(client: Any, ns: str) -> None:
    res = client.deposit("prefix me")
    note = client.get(res["id"][:8])["note"]
    assert note["id"] == res["id"] and note["ns"] == ns and note["state"] == "live"
    assert note["retraction"] is None
    other = client.deposit("elsewhere", ns=ns + "-b")
    assert other["ns"] == ns + "-b"
    assert client.get(other["id"], ns=ns + "-b")["note"]["body"] == "elsewhere"


def test_reinforce_and_repel(client: Any) -> None:
    i = client.deposit("a path that helped")["id"]
    assert client.reinforce(i)["weight"] == pytest.approx(2.0, rel=1e-3)
    assert client.reinforce(i, delta=0.5)["weight"] == pytest.approx(2.5, rel=1e-3)
    res = client.repel(i)
    assert res["id"] == i and res["weight"] == pytest.approx(1.5, rel=1e-3)
    assert client.repel(i, 0.25)["weight"] == pytest.approx(1.25, rel=1e-3)
    assert client.repel(i, amount=10)["weight"] == 0  # floor at 0
    with pytest.raises(ValueError):
        client.repel(i, -1)


def test_sense_orders_filters_and_budgets(client: Any) -> None:
    heavy = client.deposit("the bridge is out on route nine", tags=["route", "warning"], strength=5)["id"]
    mid = client.deposit("route nine has a detour by the mill", tags=["route"], strength=3)["id"]
    light = client.deposit("the mill sells bread", tags=["food"], strength=1)["id"]
    notes = client.sense()["notes"]
    assert [n["id"] for n in notes] == [heavy, mid, light]
    assert all("score" in n for n in notes)
    assert [n["id"] for n in client.sense(tags=["route"])["notes"]] == [heavy, mid]
    assert [n["id"] for n in client.sense(tags=["route", "warning"])["notes"]] == [heavy]
    assert {n["id"] for n in client.sense(any_tags=["warning", "food"])["notes"]} == {heavy, light}
    assert [n["id"] for n in client.sense(limit=1)["notes"]] == [heavy]
    assert {n["id"] for n in client.sense("mill")["notes"]} == {mid, light}
    assert [n["id"] for n in client.sense(min_weight=2)["notes"]] == [heavy, mid]
    # Budget: walk the ranking, take each body that still fits: heavy (31 bytes)
    # leaves 20, mid (35) is skipped, light (20) fits exactly.
    budget = len("the bridge is out on route nine") + len("the mill sells bread")
    assert [n["id"] for n in client.sense(budget_bytes=budget)["notes"]] == [heavy, light]
    assert [n["id"] for n in client.sense(budget_bytes=budget - 1)["notes"]] == [heavy]
    assert client.sense(budget_bytes=0)["notes"] == []
    assert client.sense(include_faded=True)["notes"][0]["id"] == heavy


def test_link_and_follow(client: Any) -> None:
    a = client.deposit("start here")["id"]
    b = client.deposit("then go here", after=[a[:10]])["id"]
    c = client.deposit("or here")["id"]
    res = client.link(a, c, delta=3)
    assert res == {"from": a, "to": c, "weight": pytest.approx(3.0)}
    fwd = client.follow(a)
    assert fwd["from"] == a and isinstance(fwd["seed"], int)
    assert [t["to"] for t in fwd["trails"]] == [c, b]  # strongest first
    assert fwd["trails"][0]["note"]["body"] == "or here"
    back = client.follow(b, direction="backward")
    assert [(t["to"], t["direction"]) for t in back["trails"]] == [(a, "backward")]
    both = client.follow(c, direction="both", limit=5)
    assert [t["to"] for t in both["trails"]] == [a]
    one = client.follow(a, limit=1, explore=1.0, seed=7)
    assert one["seed"] == 7 and len(one["trails"]) == 1
    assert client.follow(a, limit=1, explore=1.0, seed=7)["trails"][0]["to"] == one["trails"][0]["to"]
    assert client.link(a, c, delta=-3)["weight"] == 0
    assert [t["to"] for t in client.follow(a, include_faded=True)["trails"]] == [b]


def test_retract_and_revive_keep_history(client: Any) -> None:
    i = client.deposit("the well water is safe")["id"]
    assert client.retract(i, "the well is poisoned", agent="medic") == {"id": i, "state": "retracted"}
    note = client.get(i)["note"]
    assert note["state"] == "retracted"
    assert note["retraction"]["reason"] == "the well is poisoned"
    assert note["retraction"]["agent"] == "medic"
    assert client.sense()["notes"] == []
    revived = client.revive(i)["note"]
    assert revived["id"] == i and revived["state"] == "live" and revived["retraction"] is None
    assert [n["id"] for n in client.sense()["notes"]] == [i]


def test_stats(client: Any, ns: str) -> None:
    a = client.deposit("one")["id"]
    client.deposit("two", after=[a])
    st = client.stats()
    assert st["ns"] == ns
    assert (st["notes"], st["live"], st["edges"], st["retracted"]) == (2, 2, 1, 0)
    assert st["total_weight"] == pytest.approx(2.0, rel=1e-3)
    assert st["connections"] >= 1 and st["uptime_s"] >= 0


def test_configure_and_list_namespaces(client: Any, ns: str) -> None:
    colony = ns + "-colony"
    res = client.configure_namespace(colony, half_life_s=3600, evaporate_below=0.1)
    assert res == {"ns": colony, "half_life_s": 3600, "evaporate_below": 0.1, "max_note_bytes": 4096, "contest_similarity": 0.9}
    assert client.configure_namespace(colony, max_note_bytes=100)["half_life_s"] == 3600
    listed = {n["ns"]: n for n in client.list_namespaces()["namespaces"]}
    assert "default" in listed
    assert listed[colony]["max_note_bytes"] == 100 and listed[colony]["notes"] == 0


def test_compact_evaporates_and_revive_brings_back(client: Any, ns: str) -> None:
    # A threshold above the deposit's strength: the note is faded at once.
    client.configure_namespace(ns, evaporate_below=0.6)
    faint = client.deposit("a faint trace", strength=0.5)["id"]
    strong = client.deposit("a strong trace", strength=2, after=[faint])["id"]
    assert client.get(faint)["note"]["state"] == "faded"
    try:
        report = client.compact()
    except MethodNotFound:
        pytest.skip("this traild has no compactor (trail.compact answers -32601)")
    assert report["ns"] == ns and report["evaporated"] == 1
    assert report["archived_bytes"] > 0 and report["duration_ms"] >= 0
    got = client.get(faint)
    assert got["note"]["state"] == "archived" and got["note"]["body"] == "a faint trace"
    assert [h["op"] for h in got["history"]][-1] == "evaporate"
    st = client.stats()
    assert st["archived"] == 1 and st["compaction"]["evaporated"] == 1
    assert [n["id"] for n in client.sense()["notes"]] == [strong]
    revived = client.revive(faint)["note"]
    assert revived["state"] == "live" and revived["weight"] >= 0.6


def test_get_answers_trails_and_history(client: Any) -> None:
    a = client.deposit("history start")["id"]
    b = client.deposit("history next", after=[a])["id"]
    client.reinforce(a, delta=0.5)
    got = client.get(a)
    assert got["trails"] == [{"other": b, "weight": pytest.approx(1.0, rel=1e-3), "direction": "forward"}]
    assert [h["op"] for h in got["history"]] == ["deposit", "reinforce"]
    assert got["history"][1]["delta"] == pytest.approx(0.5)


def test_export_and_import_records(client: Any, ns: str) -> None:
    a = client.deposit("exported one", tags=["x"])["id"]
    b = client.deposit("exported two", after=[a])["id"]
    records: list[Any] = []
    cursor = None
    while True:
        page = client.export(cursor=cursor, limit=1)
        records += page["records"]
        cursor = page["cursor"]
        if cursor is None:
            break
    assert [r["id"] for r in records] == [a, b]
    target = ns + "-copy"
    res = client.import_records(records, ns=target)
    assert res["notes"] == 2 and res["created"] == 2
    assert client.get(b, ns=target)["note"]["after"] == [a]
    assert client.import_records(records, ns=target)["created"] == 0  # a restore, not a deposit


def test_watch_and_unwatch_methods(client: Any) -> None:
    if isinstance(client, Trail):
        w = client.watch(tags=["x"])
        sub = w.subscription
    else:
        w = client.run(client.watch(tags=["x"]).start())
        sub = w.subscription
    assert isinstance(sub, str) and sub
    assert client.unwatch(sub) == {"ok": True}


def test_generic_call(client: Any, ns: str) -> None:
    res = client.call("trail.deposit", {"body": "by call", "ns": ns})
    assert res["id"] == sha("by call") and res["ns"] == ns
    # call() adds no default namespace: params go as given.
    assert client.call("trail.stats")["ns"] == "default"
    assert client.call("trail.namespace.list", None)["namespaces"]


def test_client_reconnects_after_close(client: Any) -> None:
    i = client.deposit("survives a reconnect")["id"]
    client.close()
    assert not client.connected
    assert client.get(i)["note"]["body"] == "survives a reconnect"
    assert client.connected
    assert client.server["server"] == "traild"


def test_unicode_bodies_round_trip(client: Any) -> None:
    body = "café ☕ naïve — 日本語 \u0000 end"
    res = client.deposit(body)
    assert res["id"] == sha(body)
    assert client.get(res["id"])["note"]["body"] == body


def test_errors_carry_code_message_data(client: Any) -> None:
    with pytest.raises(TrailError) as info:
        client.get("0123456789abcdef")
    e = info.value
    assert e.code == -32001 and e.data["reason"] == "unknown_note" and e.data["id"] == "0123456789abcdef"
    assert str(e) == e.message and e.message
