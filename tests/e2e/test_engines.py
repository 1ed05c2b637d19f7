"""Between the engines: an export from a SQLite daemon imports into a
PostgreSQL one and back with identical notes, states and trails (contract §9's
"everything holds on it", held to the embedded engine's own answers)."""
from __future__ import annotations

import pytest

from test_export_import import export_all, seed


def full_state(conn, ns):
    """Every note of `ns` with what a restore must keep, and its trails out."""
    _, records, _ = export_all(conn, ns, limit=4)
    state = {}
    for r in records:
        state[r["id"]] = (r["body"], tuple(r["tags"]), tuple(r["after"]), r["deposits"], r["agent"], r["state"],
                          r["created_at"], r["updated_at"], r["retraction"] and r["retraction"]["reason"],
                          round(r["weight"], 3),
                          tuple(sorted((t["to"], round(t["weight"], 3)) for t in r["trails"])))
    return state


@pytest.mark.engines("sqlite")
def test_sqlite_to_postgres_and_back(daemon_factory):
    lite = daemon_factory("lite")
    pg = daemon_factory("pg", db="engines")          # --store postgres://... of a fresh database
    back = daemon_factory("back")
    with lite.connect() as s, pg.connect() as p, back.connect() as b:
        assert p.result("trail.hello", {})["store"] == "postgres"
        seed(s, "colony")
        # Some notes archived, with trails to live ones.
        s.result("trail.namespace.configure", {"ns": "colony", "evaporate_below": 1.2})
        report = s.result("trail.compact", {"ns": "colony"})
        assert report["evaporated"] > 0
        s.result("trail.namespace.configure", {"ns": "colony", "evaporate_below": 0.05})
        original = full_state(s, "colony")
        assert {v[5] for v in original.values()} == {"live", "retracted", "archived"}
        page, records, _ = export_all(s, "colony", limit=4)
        for target, conn in ((pg, p), (back, b)):
            conn.result("trail.namespace.configure", {"ns": "colony", **page["settings"]})
            conn.result("trail.import", {"ns": "colony", "records": records})
            assert full_state(conn, "colony") == original, target
            page, records, _ = export_all(conn, "colony", limit=4)
        stats = [c.result("trail.stats", {"ns": "colony"}) for c in (s, p, b)]
        assert len({(x["notes"], x["archived"], x["retracted"], x["edges"]) for x in stats}) == 1, stats
        # An archived note comes back on the PostgreSQL daemon with its body and trails.
        archived = next(i for i, v in original.items() if v[5] == "archived")
        revived = p.result("trail.revive", {"ns": "colony", "id": archived})["note"]
        assert revived["state"] == "live" and revived["body"] == original[archived][0]
