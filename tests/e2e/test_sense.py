"""trail.sense: ordering, filters, limit, budget and full-text query."""
from __future__ import annotations

import pytest

from conftest import assert_error, deposit, sha


def sense(conn, **params):
    return conn.result("trail.sense", params)["notes"]


def ids(notes):
    return [n["id"] for n in notes]


def test_orders_by_weight(conn):
    specs = {"w3": 3, "w1": 1, "w2": 2, "w2.5": 2.5, "w0.5": 0.5}
    for body, s in specs.items():
        deposit(conn, body, strength=s)
    notes = sense(conn)
    assert [n["body"] for n in notes] == ["w3", "w2.5", "w2", "w1", "w0.5"]
    for n in notes:
        assert n["score"] == pytest.approx(n["weight"], rel=1e-9)
        assert n["weight"] == pytest.approx(specs[n["body"]], rel=1e-3)
        # Each entry is a whole note.
        for key in ("id", "ns", "body", "tags", "after", "deposits", "agent", "state", "created_at", "updated_at",
                    "rank", "retraction"):
            assert key in n, (key, n)


def test_equal_weights_are_ordered_by_id(conn):
    # Weights deposited at different instants are never exactly equal, but
    # every note repelled to 0 has the same weight (and key): a true tie.
    ties = [f"tie {i}" for i in range(6)]
    for b in ties:
        deposit(conn, b)
        conn.result("trail.reinforce", {"id": sha(b), "delta": -10})
    deposit(conn, "positive", strength=1)
    notes = sense(conn, include_faded=True)
    assert [n["body"] for n in notes] == ["positive"] + sorted(ties, key=sha)
    assert all(n["weight"] == 0 for n in notes[1:])
    assert [n["id"] for n in sense(conn, include_faded=True, limit=3)] == [sha("positive")] + sorted(
        map(sha, ties))[:2]


def test_empty_and_unknown_namespace(conn):
    assert sense(conn) == []
    assert sense(conn, ns="nobody-wrote-here") == []


def test_bad_namespace(conn):
    assert_error(conn.call("trail.sense", {"ns": "UPPER"}), -32004, "invalid_namespace")


def test_namespace_filter(conn):
    deposit(conn, "in a", ns="a")
    deposit(conn, "in b", ns="b")
    assert ids(sense(conn, ns="a")) == [sha("in a")]
    assert ids(sense(conn, ns="b")) == [sha("in b")]
    assert sense(conn) == []


def test_tags_all_of_and_any_tags(conn):
    deposit(conn, "red round", tags=["red", "round"], strength=4)
    deposit(conn, "red square", tags=["red", "square"], strength=3)
    deposit(conn, "blue round", tags=["blue", "round"], strength=2)
    deposit(conn, "untagged", strength=1)
    assert ids(sense(conn, tags=["red"])) == [sha("red round"), sha("red square")]
    assert ids(sense(conn, tags=["red", "round"])) == [sha("red round")]
    assert ids(sense(conn, tags=["red", "blue"])) == []
    assert ids(sense(conn, any_tags=["square", "blue"])) == [sha("red square"), sha("blue round")]
    assert ids(sense(conn, tags=["round"], any_tags=["blue", "square"])) == [sha("blue round")]
    assert ids(sense(conn, tags=["nothing"])) == []


def test_limit(conn):
    for i in range(12):
        deposit(conn, f"note {i:02d}", strength=i + 1)
    assert len(sense(conn)) == 10, "limit defaults to 10"
    top3 = sense(conn, limit=3)
    assert ids(top3) == [sha("note 11"), sha("note 10"), sha("note 09")]
    assert len(sense(conn, limit=1000)) == 12
    assert len(sense(conn, limit=1)) == 1


@pytest.mark.parametrize("limit", [1001, 5000, -1, 2.5, "10"])
def test_limit_out_of_range(conn, limit):
    assert_error(conn.call("trail.sense", {"limit": limit}), -32602, "invalid_params", "limit")


def test_budget_bytes_walks_ranking(conn):
    deposit(conn, "AAAAAA", strength=5)        # 6 bytes
    deposit(conn, "BBBBBBBBBB", strength=4)    # 10 bytes
    deposit(conn, "CCC", strength=3)           # 3 bytes
    deposit(conn, "DDDD", strength=2)          # 4 bytes
    deposit(conn, "EE", strength=1)            # 2 bytes
    # 12: A (6 left) - B does not fit - C (3 left) - D does not fit - E (1 left)
    assert [n["body"] for n in sense(conn, budget_bytes=12)] == ["AAAAAA", "CCC", "EE"]
    assert [n["body"] for n in sense(conn, budget_bytes=12, limit=2)] == ["AAAAAA", "CCC"]
    assert [n["body"] for n in sense(conn, budget_bytes=5)] == ["CCC", "EE"]
    assert sense(conn, budget_bytes=1) == []
    assert sense(conn, budget_bytes=0) == []
    assert len(sense(conn, budget_bytes=1000)) == 5


def test_budget_still_stops_at_limit(conn):
    for i in range(15):
        deposit(conn, f"n{i:02d}", strength=i + 1)
    assert len(sense(conn, budget_bytes=10_000)) == 10, "the default limit still applies"
    assert [n["body"] for n in sense(conn, budget_bytes=10_000, limit=2)] == ["n14", "n13"]
    assert len(sense(conn, budget_bytes=9)) == 3


def test_budget_counts_utf8_bytes(conn):
    deposit(conn, "ééé", strength=2)   # 3 characters, 6 bytes
    deposit(conn, "abcd", strength=1)  # 4 bytes
    assert [n["body"] for n in sense(conn, budget_bytes=5)] == ["abcd"]
    assert [n["body"] for n in sense(conn, budget_bytes=6)] == ["ééé"]
    assert [n["body"] for n in sense(conn, budget_bytes=10)] == ["ééé", "abcd"]


def test_budget_negative_is_invalid(conn):
    assert_error(conn.call("trail.sense", {"budget_bytes": -1}), -32602, "invalid_params", "budget_bytes")


def test_min_weight(conn):
    deposit(conn, "heavy", strength=5)
    deposit(conn, "middle", strength=2)
    deposit(conn, "light", strength=0.5)
    assert [n["body"] for n in sense(conn, min_weight=1)] == ["heavy", "middle"]
    assert [n["body"] for n in sense(conn, min_weight=3)] == ["heavy"]
    assert sense(conn, min_weight=10) == []
    assert len(sense(conn, min_weight=0)) == 3


def test_query_matches_and_excludes(conn):
    deposit(conn, "the ant found sugar near the nest", strength=1)
    deposit(conn, "slime mold grows toward oats", strength=5)
    deposit(conn, "ants follow pheromone trails home", strength=2)
    assert [n["body"] for n in sense(conn, query="sugar")] == ["the ant found sugar near the nest"]
    assert sense(conn, query="zebra") == []
    # Stemming: "ants" and "ant" are the same word.
    got = {n["body"] for n in sense(conn, query="ants")}
    assert got == {"the ant found sugar near the nest", "ants follow pheromone trails home"}
    got = {n["body"] for n in sense(conn, query="OATS")}
    assert got == {"slime mold grows toward oats"}


def test_query_folds_diacritics(conn):
    deposit(conn, "café au lait")
    deposit(conn, "plain water")
    assert [n["body"] for n in sense(conn, query="cafe")] == ["café au lait"]
    assert [n["body"] for n in sense(conn, query="CAFÉ")] == ["café au lait"]


def test_query_any_word_matches(conn):
    deposit(conn, "alpha only")
    deposit(conn, "beta only")
    deposit(conn, "gamma only")
    got = {n["body"] for n in sense(conn, query="alpha beta")}
    assert got == {"alpha only", "beta only"}


def test_query_score_is_weight_times_relevance(conn):
    # Same length, same term frequency: same relevance, so score ratio == weight ratio.
    deposit(conn, "apple pie one", strength=1)
    deposit(conn, "apple pie two", strength=3)
    deposit(conn, "banana split three", strength=10)
    deposit(conn, "cherry tart four", strength=10)
    notes = sense(conn, query="apple")
    assert [n["body"] for n in notes] == ["apple pie two", "apple pie one"]
    for n in notes:
        assert n["score"] >= n["weight"] * (1 - 1e-9), n
    assert notes[0]["score"] / notes[1]["score"] == pytest.approx(3.0, rel=1e-3)


def test_query_with_filters(conn):
    deposit(conn, "food at the left branch", tags=["food"], strength=1)
    deposit(conn, "food at the right branch", tags=["danger"], strength=2)
    assert [n["body"] for n in sense(conn, query="food", tags=["food"])] == ["food at the left branch"]
    assert [n["body"] for n in sense(conn, query="food", min_weight=1.5)] == ["food at the right branch"]
    assert len(sense(conn, query="food", limit=1)) == 1


def test_query_excludes_retracted(conn):
    r = deposit(conn, "wrong turn at the river")
    deposit(conn, "right turn at the river")
    conn.result("trail.retract", {"id": r["id"], "reason": "it was wrong"})
    assert [n["body"] for n in sense(conn, query="river")] == ["right turn at the river"]
    assert [n["body"] for n in sense(conn, query="river", include_faded=True)] == ["right turn at the river"]
    assert [n["body"] for n in sense(conn)] == ["right turn at the river"]


@pytest.mark.parametrize("query", ["", "   ", "!!! ???"])
def test_query_without_words_is_invalid(conn, query):
    deposit(conn, "anything")
    assert_error(conn.call("trail.sense", {"query": query}), -32602, "invalid_params", "query")


def test_query_with_fts_syntax_is_safe(conn):
    deposit(conn, "quote \" and star * and NEAR(a b) OR c")
    deposit(conn, "unrelated")
    for q in ['"unbalanced', "a*", "NEAR(a b)", "x OR", "AND", "-minus", "col:umn", "^caret"]:
        resp = conn.call("trail.sense", {"query": q})
        # Either a result or a clean invalid_params; never an internal error.
        if "error" in resp:
            assert_error(resp, -32602, "invalid_params", "query")
        else:
            assert isinstance(resp["result"]["notes"], list)
    assert conn.result("trail.hello", {})["protocol"] == 1


def test_sense_excludes_retracted_even_with_include_faded(conn):
    r = deposit(conn, "retracted note")
    deposit(conn, "kept note")
    conn.result("trail.retract", {"id": r["id"], "reason": "obsolete"})
    assert [n["body"] for n in sense(conn, include_faded=True)] == ["kept note"]


def test_query_follows_note_lifecycle(conn):
    a = deposit(conn, "phoenix rises again")["id"]
    deposit(conn, "phoenix in another colony", ns="elsewhere")
    assert [n["id"] for n in sense(conn, query="phoenix")] == [a], "a query stays in its namespace"
    conn.result("trail.retract", {"id": a, "reason": "myth"})
    assert sense(conn, query="phoenix") == []
    conn.result("trail.revive", {"id": a})
    assert [n["id"] for n in sense(conn, query="phoenix")] == [a]
    deposit(conn, "phoenix rises again", tags=["late"])
    assert [n["id"] for n in sense(conn, query="phoenix", tags=["late"])] == [a]
    assert [n["id"] for n in sense(conn, tags=["late"])] == [a]


def test_query_finds_many_and_limits(conn):
    for i in range(30):
        deposit(conn, f"common word number {i}", strength=1 + i / 100)
    deposit(conn, "nothing in common")
    assert len(sense(conn, query="number")) == 10
    got = sense(conn, query="number", limit=1000)
    assert len(got) == 30
    scores = [n["score"] for n in got]
    assert scores == sorted(scores, reverse=True)
