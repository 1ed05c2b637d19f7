"""trail.export and trail.import (beyond the contract): a faithful, idempotent,
all-or-nothing restore between two daemons."""
from __future__ import annotations

import hashlib

import pytest

from test_schemas import check


def export_all(conn, ns="default", limit=3):
    records, cursor, pages = [], None, 0
    while True:
        params = {"ns": ns, "limit": limit}
        if cursor:
            params["cursor"] = cursor
        check("trail.export.params.json", params)
        page = conn.result("trail.export", params)
        check("trail.export.result.json", page)
        records += page["records"]
        pages += 1
        cursor = page["cursor"]
        if cursor is None:
            return page, records, pages


def seed(conn, ns="colony"):
    conn.result("trail.namespace.configure", {"ns": ns, "half_life_s": 86400, "max_note_bytes": 8192})
    a = conn.result("trail.deposit", {"ns": ns, "body": "root: read the build log first", "tags": ["build"], "agent": "ant-1"})["id"]
    b = conn.result("trail.deposit", {"ns": ns, "body": "then check libzstd-dev", "after": [a], "strength": 2.5})["id"]
    c = conn.result("trail.deposit", {"ns": ns, "body": "caf\u00e9 \u2603 unicode survives\u0000", "after": [a, b]})["id"]
    conn.result("trail.deposit", {"ns": ns, "body": "then check libzstd-dev", "tags": ["deps"]})
    d = conn.result("trail.deposit", {"ns": ns, "body": "bad advice: delete the cache"})["id"]
    conn.result("trail.retract", {"ns": ns, "id": d, "reason": "it wiped a colleague's work", "agent": "ant-2"})
    conn.result("trail.link", {"ns": ns, "from": c, "to": b, "delta": 0.5})
    for i in range(5):
        conn.result("trail.deposit", {"ns": ns, "body": f"filler {i}"})
    return a, b, c, d


def comparable(note):
    return {k: note[k] for k in ("id", "body", "tags", "after", "deposits", "agent", "state", "created_at", "retraction")}


def test_round_trip_between_two_daemons(daemon_factory):
    src = daemon_factory("src")
    dst = daemon_factory("dst")
    with src.connect() as s, dst.connect() as d:
        ids = seed(s)
        page, records, pages = export_all(s, "colony", limit=3)
        assert pages == 4 and len(records) == 9
        assert page["settings"]["half_life_s"] == 86400
        for r in records:
            assert r["id"] == hashlib.sha256(r["body"].encode()).hexdigest()
        d.result("trail.namespace.configure", {"ns": "copy", **page["settings"]})
        check("trail.import.params.json", {"ns": "copy", "records": records})
        report = d.result("trail.import", {"ns": "copy", "records": records})
        check("trail.import.result.json", report)
        assert report == {"ns": "copy", "notes": 9, "created": 9, "trails": 4}
        for nid in ids:
            a = s.result("trail.get", {"ns": "colony", "id": nid})["note"]
            b = d.result("trail.get", {"ns": "copy", "id": nid})["note"]
            assert comparable(a) == comparable(b)
            assert b["weight"] == pytest.approx(a["weight"], rel=0.01)
        fa = s.result("trail.follow", {"ns": "colony", "from": ids[0], "limit": 10})["trails"]
        fb = d.result("trail.follow", {"ns": "copy", "from": ids[0], "limit": 10})["trails"]
        assert [(t["to"], round(t["weight"], 3)) for t in fa] == [(t["to"], round(t["weight"], 3)) for t in fb]
        # Idempotent: the same records again change nothing.
        again = d.result("trail.import", {"ns": "copy", "records": records})
        assert again["created"] == 0
        assert d.result("trail.stats", {"ns": "copy"})["notes"] == 9
        assert d.result("trail.stats", {"ns": "copy"})["edges"] == 4
        assert d.result("trail.stats", {"ns": "copy"})["retracted"] == 1


def test_staged_import_commits_once_and_closing_drops_it(daemon_factory):
    src = daemon_factory("src")
    dst = daemon_factory("dst")
    with src.connect() as s:
        seed(s)
        _, records, _ = export_all(s, "colony", limit=100)
    with dst.connect() as d:
        held = d.result("trail.import", {"ns": "colony", "records": records[:4], "stage": "x1", "commit": False})
        assert held == {"ns": "colony", "staged": 4}
        check("trail.import.result.json", held)
        assert d.result("trail.stats", {"ns": "colony"})["notes"] == 0
    with dst.connect() as d:
        # A new connection does not see the first one's stage, so the trail c -> b leads nowhere.
        d.result("trail.import", {"ns": "colony", "records": records[2:], "stage": "x1", "commit": False})
        bad = d.error("trail.import", {"ns": "colony", "records": [], "stage": "x1", "commit": True})
        assert bad["code"] == -32602 and "records[" in bad["data"]["field"]
        assert d.result("trail.stats", {"ns": "colony"})["notes"] == 0
        d.result("trail.import", {"ns": "colony", "records": records[:4], "stage": "x2", "commit": False})
        done = d.result("trail.import", {"ns": "colony", "records": records[4:], "stage": "x2", "commit": True})
        assert done["notes"] == 9 and done["created"] == 9


@pytest.mark.parametrize("field,value", [
    ("id", "0" * 64),
    ("body", ""),
    ("weight", -1),
    ("state", "faded"),
    ("tags", ["Bad Tag"]),
    ("created_at", "yesterday"),
    ("deposits", 0),
    ("trails", [{"to": "f" * 64, "weight": 1}]),
])
def test_bad_record_refuses_the_whole_import(daemon, conn, field, value):
    conn.result("trail.deposit", {"ns": "src", "body": "one"})
    conn.result("trail.deposit", {"ns": "src", "body": "two"})
    _, records, _ = export_all(conn, "src", limit=100)
    records[1][field] = value
    err = conn.error("trail.import", {"ns": "target", "records": records})
    assert err["code"] == -32602
    assert err["data"]["field"].startswith("records[1]")
    assert conn.result("trail.stats", {"ns": "target"})["notes"] == 0
    # The connection still serves.
    assert conn.result("trail.import", {"ns": "target", "records": records[:1]})["created"] == 1


def test_export_paging_and_bad_cursor(conn):
    for i in range(7):
        conn.result("trail.deposit", {"body": f"n{i}"})
    _, records, pages = export_all(conn, "default", limit=2)
    assert len(records) == 7 and pages == 4
    assert len({r["id"] for r in records}) == 7
    assert conn.error("trail.export", {"cursor": "abc"})["code"] == -32602
    assert conn.result("trail.export", {"ns": "nothing-here"})["records"] == []


def test_sense_query_with_common_words_takes_the_heaviest_matches(conn):
    """Past 2,000 matches a query's words are common: the heaviest matches are scored."""
    records = []
    for i in range(2100):
        body = f"common word number {i}"
        records.append({"id": hashlib.sha256(body.encode()).hexdigest(), "body": body, "tags": ["odd" if i % 2 else "even"],
                        "after": [], "weight": 1.0 + (i % 7) / 100, "deposits": 1, "agent": None, "state": "live",
                        "rank": None, "created_at": "2026-11-25T00:00:00.000Z", "updated_at": "2026-11-25T00:00:00.000Z",
                        "retraction": None, "trails": []})
    for start in range(0, 2100, 1000):
        conn.result("trail.import", {"ns": "big", "records": records[start:start + 1000]})
    heavy = conn.result("trail.deposit", {"ns": "big", "body": "a common but heavy word", "strength": 50, "tags": ["odd"]})["id"]
    conn.result("trail.deposit", {"ns": "big", "body": "unrelated and heavy", "strength": 100})
    notes = conn.result("trail.sense", {"ns": "big", "query": "common", "limit": 5})["notes"]
    assert notes[0]["id"] == heavy and len(notes) == 5
    assert all("common" in n["body"] for n in notes)
    weights = [n["weight"] for n in notes[1:]]
    assert weights == sorted(weights, reverse=True)
    odd = conn.result("trail.sense", {"ns": "big", "query": "common", "tags": ["odd"], "limit": 50})["notes"]
    assert odd[0]["id"] == heavy and len(odd) == 50 and all(n["tags"] == ["odd"] for n in odd)
    # A rare word still gets exact text scoring.
    rare = conn.result("trail.sense", {"ns": "big", "query": "heavy"})["notes"]
    assert {n["body"] for n in rare} == {"a common but heavy word", "unrelated and heavy"}


@pytest.mark.parametrize("method,params,field", [
    ("trail.import", {"records": "not a list"}, "records"),
    ("trail.import", {}, "records"),
    ("trail.import", {"records": [{}] * 1001}, "records"),
    ("trail.import", {"records": [], "stage": "bad stage!"}, "stage"),
    ("trail.import", {"records": [], "stage": "x" * 65}, "stage"),
    ("trail.import", {"records": [], "commit": "yes"}, "commit"),
    ("trail.import", {"records": [42]}, "records[0]"),
    ("trail.import", {"records": [], "colour": 1}, "colour"),
    ("trail.export", {"limit": 0}, "limit"),
    ("trail.export", {"limit": 1001}, "limit"),
    ("trail.export", {"cursor": 5}, "cursor"),
    ("trail.compact", {"ns": 7}, "ns"),
    ("trail.compact", {"full": True}, "full"),
])
def test_bad_export_import_and_compact_params(conn, method, params, field):
    conn.result("trail.deposit", {"body": "still here"})
    err = conn.error(method, params)
    assert err["code"] == -32602 and err["data"]["field"] == field, err
    # Nothing changed and the connection still serves.
    stats = conn.result("trail.stats", {})
    assert stats["notes"] == 1 and stats["archived"] == 0


def test_bad_namespace_in_export_import_and_compact(conn):
    for method, params in [("trail.export", {"ns": "Bad NS"}), ("trail.import", {"ns": "Bad NS", "records": []}),
                           ("trail.compact", {"ns": "Bad NS"})]:
        err = conn.error(method, params)
        assert err["code"] == -32004 and err["data"]["reason"] == "invalid_namespace", err
    assert conn.result("trail.hello", {})["protocol"] == 1


def test_import_refuses_a_retraction_reason_or_agent_with_nul(conn):
    """U+0000 in a record's retraction is refused, naming the field; nothing is imported."""
    body = "retracted once"
    base = {"id": hashlib.sha256(body.encode()).hexdigest(), "body": body, "tags": [], "after": [], "weight": 1.0,
            "deposits": 1, "agent": None, "state": "retracted", "rank": None,
            "created_at": "2026-11-25T00:00:00.000Z", "updated_at": "2026-11-25T00:00:00.000Z", "trails": []}
    for retraction, field in [({"reason": "bad\u0000", "agent": None, "at": "2026-11-25T00:00:00.000Z"}, "reason"),
                              ({"reason": "fine", "agent": "a\u0000b", "at": "2026-11-25T00:00:00.000Z"}, "agent")]:
        err = conn.error("trail.import", {"records": [dict(base, retraction=retraction)]})
        assert err["code"] == -32602 and field in err["data"]["field"], err
    assert conn.result("trail.stats", {})["notes"] == 0
    conn.result("trail.import", {"records": [dict(base, retraction={"reason": "fine", "agent": "ant", "at": "2026-11-25T00:00:00.000Z"})]})
    assert conn.result("trail.stats", {})["retracted"] == 1
