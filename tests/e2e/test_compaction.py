"""The compactor: evaporation into archive packs, revival, trail rank,
landmark rebase, crash safety and the separate trail-compactor process."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import PsqlSession, compactor_store_args, store_execute, store_rows
from test_schemas import check

ROOT = Path(__file__).resolve().parents[2]


def compactor_bin() -> str:
    path = os.environ.get("TRAIL_COMPACTOR_BIN") or str(ROOT / ".build" / "debug" / "trail-compactor")
    if not os.path.exists(path):
        pytest.fail(f"trail-compactor not found at {path}")
    return path


def seed_faint(conn, ns="fast", faint=50):
    conn.result("trail.namespace.configure", {"ns": ns, "half_life_s": 1})
    strong = conn.result("trail.deposit", {"ns": ns, "body": "the strong mark", "strength": 1000})["id"]
    ids = []
    for i in range(faint):
        ids.append(conn.result("trail.deposit", {"ns": ns, "body": f"faint mark {i} \u00e9\u0000",
                                                 "strength": 0.1, "tags": ["faint", f"n{i % 3}"],
                                                 "after": [strong]})["id"])
    # 0.1 halves below 0.05 after 1 s; the strong one stays far above.
    time.sleep(1.3)
    return strong, ids


def pack_files(daemon):
    d = daemon.data_dir / "packs"
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def archive_units(daemon):
    """How many archive packs (SQLite: files, each named by the index) or
    archive blocks (PostgreSQL: rows) the store holds."""
    if daemon.engine == "sqlite":
        files = pack_files(daemon)
        assert len(store_rows(daemon, "SELECT name FROM pack")) == len(files)
        return len(files)
    return store_rows(daemon, "SELECT count(*) FROM archive_block")[0][0]


# Where a PostgreSQL compaction is stopped for kill -9, by a trigger the test
# adds to the database (the engine has no fault points of its own): the
# trigger waits on an advisory lock the test holds once the store has at
# least `blocks` archive blocks. Each point stands for the SQLite one of the
# same name: (table, trigger timing and condition, blocks).
PG_FAULTS = {
    # the batch's frame is made, its block row not yet inserted
    "pack-written": ("archive_block", "BEFORE INSERT", "true", 0),
    # the block row is inserted, its notes are being moved to it, not committed
    "index-written": ("note", "BEFORE UPDATE OF state", "NEW.state = 2", 1),
    # the first batch has committed; the second is stopped like index-written
    "committed": ("note", "BEFORE UPDATE OF state", "NEW.state = 2", 2),
    # a bulk evaporation has set its notes aside (committed), no block written yet
    "marked": ("archive_block", "BEFORE INSERT", "true", 0),
}
HOLD_LOCK = 7_777_001


def kill_compactor_at(daemon, fault, batch, ns="fast"):
    """Runs trail-compactor on the (stopped) daemon's store and kills it with
    SIGKILL at `fault`: on SQLite it kills itself there (TRAIL_TEST_FAULT); on
    PostgreSQL a trigger holds its transaction there (PG_FAULTS) and the test
    kills it, then waits until the server has rolled back what it left."""
    args = [compactor_bin(), *compactor_store_args(daemon), "--ns", ns, "--batch", str(batch)]
    if daemon.engine == "sqlite":
        proc = subprocess.run(args, env={**os.environ, "TRAIL_TEST_FAULT": fault}, capture_output=True, timeout=60)
        assert proc.returncode == -9, proc.stderr.decode()
        return
    table, timing, condition, blocks = PG_FAULTS[fault]
    store_execute(daemon, f"""
        CREATE FUNCTION test_hold() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF (SELECT count(*) FROM archive_block) >= {blocks} THEN
                PERFORM pg_advisory_xact_lock_shared({HOLD_LOCK});
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER test_hold {timing} ON {table} FOR EACH ROW WHEN ({condition}) EXECUTE FUNCTION test_hold();
        """)
    waiting = (f"SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
               f"AND wait_event_type = 'Lock' AND wait_event = 'advisory'")
    with PsqlSession(daemon.pg, daemon.database) as holder:
        holder.run(f"SELECT pg_advisory_lock({HOLD_LOCK})")
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 30
            while store_rows(daemon, waiting)[0][0] == 0:
                assert proc.poll() is None, proc.communicate()[1].decode()
                assert time.monotonic() < deadline, "trail-compactor never reached the fault point"
                time.sleep(0.05)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=30)
        assert proc.returncode == -9
        holder.run(f"SELECT pg_advisory_unlock({HOLD_LOCK})")
    # The killed compactor's backends notice it is gone once they run again, and roll back.
    deadline = time.monotonic() + 30
    while store_rows(daemon, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                             "AND application_name = 'traild'")[0][0] > 0:
        assert time.monotonic() < deadline, "the killed compactor's sessions did not end"
        time.sleep(0.05)
    store_execute(daemon, f"DROP TRIGGER test_hold ON {table}; DROP FUNCTION test_hold()")


def test_evaporate_get_sense_revive_and_restart(daemon_factory):
    d = daemon_factory("c", extra=["--compaction-interval", "0"])
    with d.connect() as conn:
        strong, ids = seed_faint(conn)
        watcher = d.connect()
        sub = watcher.result("trail.watch", {"ns": "fast"})["subscription"]
        report = conn.result("trail.compact", {"ns": "fast"})
        check("trail.compact.result.json", report)
        assert report["ns"] == "fast" and report["evaporated"] == 50 and report["archived_bytes"] > 0
        assert report["ranked"] == 1
        events = [watcher.recv() for _ in range(50)]
        assert {e["params"]["event"] for e in events} == {"evaporated"}
        assert {e["params"]["note"]["id"] for e in events} == set(ids)
        assert all(e["params"]["subscription"] == sub for e in events)
        watcher.close()

        stats = conn.result("trail.stats", {"ns": "fast"})
        check("trail.stats.result.json", stats)
        assert (stats["notes"], stats["live"], stats["faded"], stats["archived"], stats["edges"]) == (51, 1, 0, 50, 0)
        assert stats["archived_bytes"] > 0 and stats["compression_ratio"] > 1
        assert stats["compaction"]["evaporated"] == 50 and stats["compaction"]["ns"] == "fast"

        got = conn.result("trail.get", {"ns": "fast", "id": ids[7][:10]})
        check("trail.get.result.json", got)
        note = got["note"]
        assert note["state"] == "archived" and note["body"] == "faint mark 7 \u00e9\u0000"
        assert note["tags"] == ["faint", "n1"] and note["after"] == [strong]
        assert 0 < note["weight"] < 0.05
        assert got["trails"][0]["other"] == strong and got["trails"][0]["direction"] == "backward"
        assert [h["op"] for h in got["history"]] == ["deposit", "evaporate"]

        sensed = conn.result("trail.sense", {"ns": "fast", "include_faded": True, "limit": 100})["notes"]
        assert [n["id"] for n in sensed] == [strong]
        assert conn.result("trail.sense", {"ns": "fast", "query": "faint"})["notes"] == []
        assert conn.result("trail.follow", {"ns": "fast", "from": strong})["trails"] == []

        revived = conn.result("trail.revive", {"ns": "fast", "id": ids[0]})["note"]
        assert revived["state"] == "live" and revived["weight"] == pytest.approx(1.0, rel=0.05)
        trails = conn.result("trail.follow", {"ns": "fast", "from": strong})["trails"]
        assert [t["to"] for t in trails] == [ids[0]]
        assert conn.result("trail.sense", {"ns": "fast", "query": "faint"})["notes"][0]["id"] == ids[0]
        # Depositing an archived body revives it and adds its strength.
        again = conn.result("trail.deposit", {"ns": "fast", "body": "faint mark 1 \u00e9\u0000", "strength": 2})
        assert not again["created"] and again["deposits"] == 2
        assert again["weight"] == pytest.approx(2.0, abs=0.06)
        assert conn.result("trail.stats", {"ns": "fast"})["archived"] == 48
    assert d.terminate() == 0

    d2 = daemon_factory("c", extra=["--compaction-interval", "0"], socket_path=d.socket_path, data_dir=d.data_dir)
    with d2.connect() as conn:
        stats = conn.result("trail.stats", {"ns": "fast"})
        assert (stats["notes"], stats["archived"]) == (51, 48)
        assert conn.result("trail.get", {"ns": "fast", "id": ids[9]})["note"]["body"] == "faint mark 9 \u00e9\u0000"
        assert conn.result("trail.get", {"ns": "fast", "id": ids[0]})["note"]["state"] in ("live", "faded")
        # Export carries archived notes with their state and trails.
        page = conn.result("trail.export", {"ns": "fast", "limit": 1000})
        states = {r["id"]: r["state"] for r in page["records"]}
        assert len(states) == 51 and list(states.values()).count("archived") == 48


def test_rank_matches_a_direct_computation(daemon):
    # A small known graph: a -> b (3), a -> c (1), b -> c (2), c -> a (1), d isolated.
    with daemon.connect() as conn:
        conn.result("trail.namespace.configure", {"ns": "g", "half_life_s": 1e9})
        w = {"a": 1.0, "b": 2.0, "c": 1.0, "d": 4.0}
        ids = {k: conn.result("trail.deposit", {"ns": "g", "body": k, "strength": v})["id"] for k, v in w.items()}
        for s, t, x in [("a", "b", 3), ("a", "c", 1), ("b", "c", 2), ("c", "a", 1)]:
            conn.result("trail.link", {"ns": "g", "from": ids[s], "to": ids[t], "delta": x})
        assert conn.result("trail.compact", {"ns": "g"})["ranked"] == 4
        got = {k: conn.result("trail.get", {"ns": "g", "id": i})["note"]["rank"] for k, i in ids.items()}
    nodes = list(w)
    p = {k: w[k] / sum(w.values()) for k in nodes}
    edges = {"a": {"b": 3, "c": 1}, "b": {"c": 2}, "c": {"a": 1}, "d": {}}
    r = dict(p)
    for _ in range(1000):
        dangling = sum(r[k] for k in nodes if not edges[k])
        nxt = {k: 0.15 * p[k] + 0.85 * dangling * p[k] for k in nodes}
        for s in nodes:
            out = sum(edges[s].values())
            for t, x in edges[s].items():
                nxt[t] += 0.85 * r[s] * x / out
        r = nxt
    for k in nodes:
        assert got[k] == pytest.approx(4 * r[k], rel=1e-6), k
    assert got["c"] > got["a"]  # c is reached from both a and b


def test_rebase_keeps_every_weight(daemon_factory, tmp_path):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"rebase_after_half_lives": 0, "compaction_interval_s": 0}))
    d = daemon_factory("r", extra=["--config", str(cfg)])
    with d.connect() as conn:
        conn.result("trail.namespace.configure", {"ns": "slow", "half_life_s": 1e7})
        ids = [conn.result("trail.deposit", {"ns": "slow", "body": f"note {i}", "strength": 0.5 + i})["id"] for i in range(5)]
        conn.result("trail.link", {"ns": "slow", "from": ids[0], "to": ids[1], "delta": 2.5})
        landmark = store_rows(d, "SELECT landmark FROM namespace WHERE name = 'slow'")[0][0]
        before = [conn.result("trail.get", {"ns": "slow", "id": i})["note"]["weight"] for i in ids]
        trail_before = conn.result("trail.follow", {"ns": "slow", "from": ids[0]})["trails"][0]["weight"]
        time.sleep(0.05)
        conn.result("trail.compact", {"ns": "slow"})
        assert conn.result("trail.stats", {"ns": "slow"})["compaction"]["rebased"] is True
        assert store_rows(d, "SELECT landmark FROM namespace WHERE name = 'slow'")[0][0] > landmark
        after = [conn.result("trail.get", {"ns": "slow", "id": i})["note"]["weight"] for i in ids]
        trail_after = conn.result("trail.follow", {"ns": "slow", "from": ids[0]})["trails"][0]["weight"]
    for x, y in zip(before, after):
        assert y == pytest.approx(x, rel=1e-7)
    assert trail_after == pytest.approx(trail_before, rel=1e-7)


# Batches of 2 make 15 batches of the 30 faint notes: a bulk evaporation, which
# sets them all aside first ("marked" kills it just after).
@pytest.mark.parametrize("fault,batch", [("pack-written", 10), ("index-written", 10), ("committed", 10), ("marked", 2)])
def test_kill9_during_compaction_loses_and_duplicates_nothing(daemon_factory, fault, batch):
    d = daemon_factory("k", extra=["--compaction-interval", "0"])
    with d.connect() as conn:
        strong, ids = seed_faint(conn, faint=30)
    assert d.terminate() == 0
    kill_compactor_at(d, fault, batch)
    # SQLite: the killed run left one pack; committed or not, the daemon's start sweeps what no index names.
    # PostgreSQL: the server rolled back the killed transaction, block row included.
    d2 = daemon_factory("k", extra=["--compaction-interval", "0"], socket_path=d.socket_path, data_dir=d.data_dir)
    expected_archived = 0 if fault != "committed" else 10
    with d2.connect() as conn:
        stats = conn.result("trail.stats", {"ns": "fast"})
        assert stats["notes"] == 31 and stats["archived"] == expected_archived
        assert stats["faded"] == 30 - expected_archived
        for i in [strong, *ids]:
            assert conn.result("trail.get", {"ns": "fast", "id": i})["note"]["id"] == i
        assert archive_units(d2) == (1 if fault == "committed" else 0)
        # SQLite sets each batch aside before packing it from a read: a batch
        # killed before its commit stays set aside (still faded), for the next
        # run. The second batch is set aside before the first is archived, so a
        # kill in the first archiving write (index written) leaves both, and a
        # kill just after its commit leaves the second.
        set_aside = (30 if fault == "marked" else 0 if d.engine != "sqlite"
                     else 20 if fault == "index-written" else 10)
        assert store_rows(d2, "SELECT count(*) FROM note WHERE state = 3")[0][0] == set_aside
        report = conn.result("trail.compact", {"ns": "fast"})
        assert report["evaporated"] == 30 - expected_archived
        stats = conn.result("trail.stats", {"ns": "fast"})
        assert (stats["notes"], stats["archived"], stats["live"]) == (31, 30, 1)
        for i in ids:
            assert conn.result("trail.get", {"ns": "fast", "id": i})["note"]["state"] == "archived"
        assert store_rows(d2, "SELECT count(*) FROM note WHERE state = 3")[0][0] == 0


def test_trail_compactor_beside_a_running_daemon(daemon_factory):
    d = daemon_factory("b", extra=["--compaction-interval", "0"])
    with d.connect() as conn:
        strong, ids = seed_faint(conn, faint=40)
        proc = subprocess.Popen([compactor_bin(), *compactor_store_args(d), "--batch", "7"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # The daemon keeps serving reads and writes while the compactor runs.
        written = [conn.result("trail.deposit", {"ns": "other", "body": f"during {i}"})["id"] for i in range(50)]
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
        reports = {r["ns"]: r for r in map(json.loads, out.decode().splitlines())}
        assert reports["fast"]["evaporated"] == 40
        stats = conn.result("trail.stats", {"ns": "fast"})
        assert (stats["archived"], stats["live"]) == (40, 1)
        assert stats["compaction"]["evaporated"] == 40
        assert conn.result("trail.get", {"ns": "fast", "id": ids[3]})["note"]["state"] == "archived"
        assert conn.result("trail.stats", {"ns": "other"})["notes"] == 50
        assert all(conn.result("trail.get", {"ns": "other", "id": i}) for i in written)


def test_trail_compactor_bad_usage(tmp_path):
    for args, words in [([], "--data-dir"), (["--data-dir", str(tmp_path), "--once", "--interval", "5"], "not both"),
                        (["--data-dir", str(tmp_path / "none")], "no store")]:
        proc = subprocess.run([compactor_bin(), *args], capture_output=True, timeout=30)
        assert proc.returncode != 0
        assert words in proc.stderr.decode()


def test_background_compaction_runs_on_its_interval(daemon_factory):
    d = daemon_factory("bg", extra=["--compaction-interval", "1"])
    with d.connect() as conn:
        strong, ids = seed_faint(conn, faint=5)
        deadline = time.time() + 10
        while time.time() < deadline:
            if conn.result("trail.stats", {"ns": "fast"})["archived"] == 5:
                break
            time.sleep(0.2)
        assert conn.result("trail.stats", {"ns": "fast"})["archived"] == 5
        assert conn.result("trail.stats", {"ns": "fast"})["compaction"] is not None


@pytest.mark.engines("sqlite")
def test_a_damaged_pack_is_reported_not_served(daemon_factory):
    d = daemon_factory("dmg", extra=["--compaction-interval", "0"])
    with d.connect() as conn:
        strong, ids = seed_faint(conn, faint=5)
        conn.result("trail.compact", {"ns": "fast"})
        (name,) = pack_files(d)
        path = d.data_dir / "packs" / name
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
        err = conn.error("trail.get", {"ns": "fast", "id": ids[2]})
        assert err["code"] == -32006 and err["data"]["reason"] == "storage_unavailable"
        assert str(path) in err["message"] and err["data"]["file"] == str(path), err
        # Nothing else is affected and the daemon keeps serving.
        assert conn.result("trail.get", {"ns": "fast", "id": strong})["note"]["state"] == "live"
        assert conn.result("trail.stats", {"ns": "fast"})["archived"] == 5


@pytest.mark.engines("postgres")
def test_a_damaged_archive_block_is_reported_not_served(daemon_factory):
    # The PostgreSQL counterpart of a damaged pack file: one byte of a block's frame flipped.
    d = daemon_factory("dmg", extra=["--compaction-interval", "0"])
    with d.connect() as conn:
        conn.result("trail.namespace.configure", {"ns": "kept", "half_life_s": 1})
        kept = [conn.result("trail.deposit", {"ns": "kept", "body": f"kept mark {i}", "strength": 0.1})["id"]
                for i in range(3)]
        strong, ids = seed_faint(conn, faint=5)
        assert conn.result("trail.compact", {"ns": "fast"})["evaporated"] == 5
        assert conn.result("trail.compact", {"ns": "kept"})["evaporated"] == 3
        (bad,) = [seq for seq, ns in store_rows(d, "SELECT seq, ns FROM archive_block ORDER BY seq") if ns == "fast"]
        store_execute(d, "UPDATE archive_block SET frame = set_byte(frame, length(frame) / 2, "
                         f"get_byte(frame, length(frame) / 2) # 255) WHERE seq = {bad}")
        for i in ids:
            for method in ("trail.get", "trail.revive"):
                err = conn.error(method, {"ns": "fast", "id": i})
                assert err["code"] == -32006 and err["data"]["reason"] == "storage_unavailable", err
                assert f"archive block {bad}" in err["message"], err
        # Nothing else is affected and the daemon keeps serving: the live note,
        # the notes of the intact block (which revive), counts, writes.
        assert conn.result("trail.get", {"ns": "fast", "id": strong})["note"]["state"] == "live"
        assert conn.result("trail.get", {"ns": "kept", "id": kept[0]})["note"]["body"] == "kept mark 0"
        assert conn.result("trail.revive", {"ns": "kept", "id": kept[1]})["note"]["state"] == "live"
        assert conn.result("trail.stats", {"ns": "fast"})["archived"] == 5
        assert conn.result("trail.stats", {"ns": "kept"})["archived"] == 2
        assert conn.result("trail.deposit", {"ns": "fast", "body": "written after the damage"})["created"]
        assert conn.result("trail.sense", {"ns": "fast"})["notes"][0]["id"] == strong
