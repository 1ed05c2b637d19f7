"""Damage (issue 14): a truncated or corrupt archive pack, a corrupt page of
the database. Reading an affected note answers storage_unavailable (-32006)
naming the damaged file; every other note and call goes on being served.
`trailctl check` finds each damage and exits 4, 0 on a sound store, 3 when
the store cannot be opened. The files are damaged for real: bytes flipped,
a pack cut short, a b-tree page overwritten (daemon stopped, then restarted)."""
from __future__ import annotations

import json
import sqlite3
import time

import pytest

from conftest import store_execute, store_rows
from test_schemas import check as check_schema
from test_trailctl import run as ctl


def seed_archived(conn, ns, count, prefix):
    """`count` notes of about 400 bytes in `ns` (half-life 1 s), faded and
    compacted into one pack of several frames; returns their ids in order."""
    conn.result("trail.namespace.configure", {"ns": ns, "half_life_s": 1})
    ids = [conn.result("trail.deposit", {"ns": ns, "body": f"{prefix} {i} " + ("x%d " % i) * 90, "strength": 0.1})["id"]
           for i in range(count)]
    time.sleep(1.3)
    assert conn.result("trail.compact", {"ns": ns})["evaporated"] == count
    return ids


def frames_of(daemon, ns):
    """{pack file path: {offset: [ids]}} from the archive index."""
    out: dict = {}
    for name, offset, nid in store_rows(daemon, f"""
            SELECT p.name, n.pack_offset, n.id FROM note n JOIN pack p ON p.rowid = n.pack
            WHERE n.ns = '{ns}' AND n.state = 2 ORDER BY n.pack_offset"""):
        out.setdefault(str(daemon.data_dir / "packs" / name), {}).setdefault(offset, []).append(nid)
    return out


def check_store(daemon, *extra):
    p = ctl("check", "--data-dir", str(daemon.data_dir), "--json", *extra)
    report = json.loads(p.stdout) if p.stdout.strip() else None
    return p.returncode, report


def assert_damaged(err, file):
    assert err["code"] == -32006 and err["data"]["reason"] == "storage_unavailable", err
    assert err["data"]["file"] == file, err
    assert file in err["message"] and "trailctl check" in err["message"] and "backup" in err["message"], err


@pytest.mark.engines("sqlite")
def test_damaged_packs_answer_storage_unavailable_and_check_finds_them(daemon_factory):
    d = daemon_factory("dmg", extra=["--compaction-interval", "0"])
    with d.connect() as conn:
        a = seed_archived(conn, "alpha", 300, "alpha note")
        b = seed_archived(conn, "beta", 300, "beta note")
        live = conn.result("trail.deposit", {"body": "a live note beside the damage"})["id"]

        code, report = check_store(d)
        assert code == 0, report
        check_schema("trailctl.check.json", report)
        assert report["sound"] is True and report["engine"] == "sqlite"
        assert report["checked"]["packs"] == 2 and report["checked"]["archived_notes"] == 600
        assert report["checked"]["frames"] >= 4 and report["checked"]["pages"] > 0

        [(pack_a, frames_a)] = frames_of(d, "alpha").items()
        [(pack_b, frames_b)] = frames_of(d, "beta").items()
        assert len(frames_a) >= 2 and len(frames_b) >= 2

        # Flip bytes in the middle of alpha's second frame.
        offsets_a = sorted(frames_a)
        hit, spared = offsets_a[1], offsets_a[0]
        with open(pack_a, "r+b") as f:
            f.seek(hit + 200)
            chunk = bytearray(f.read(16))
            f.seek(hit + 200)
            f.write(bytes(x ^ 0xFF for x in chunk))
        # Cut beta's pack short: its last frame loses its end.
        offsets_b = sorted(frames_b)
        with open(pack_b, "r+b") as f:
            f.truncate(offsets_b[-1] + 10)

        err = conn.error("trail.get", {"ns": "alpha", "id": frames_a[hit][0]})
        assert_damaged(err, pack_a)
        err = conn.error("trail.get", {"ns": "beta", "id": frames_b[offsets_b[-1]][0]})
        assert_damaged(err, pack_b)
        assert "truncated" in err["message"], err
        # Reviving a damaged note fails alone; the same pack's sound frames still serve.
        assert_damaged(conn.error("trail.revive", {"ns": "alpha", "id": frames_a[hit][-1]}), pack_a)
        assert conn.result("trail.get", {"ns": "alpha", "id": frames_a[spared][0]})["note"]["state"] == "archived"
        assert conn.result("trail.get", {"ns": "beta", "id": frames_b[offsets_b[0]][0]})["note"]["state"] == "archived"
        assert conn.result("trail.revive", {"ns": "alpha", "id": frames_a[spared][1]})["note"]["state"] == "live"
        assert conn.result("trail.get", {"id": live})["note"]["state"] == "live"
        assert conn.result("trail.deposit", {"body": "written after the damage"})["created"] is True
        assert conn.result("trail.sense", {"limit": 5})["notes"]
        assert conn.result("trail.stats", {"ns": "alpha"})["archived"] == 299
        assert d.alive()

        code, report = check_store(d)
        assert code == 4, report
        check_schema("trailctl.check.json", report)
        assert report["sound"] is False
        damage = [f for f in report["findings"] if f["severity"] == "damage"]
        assert {f["object"] for f in damage} == {pack_a, pack_b}, damage
        assert any(f"byte {hit}" in f["message"] for f in damage if f["object"] == pack_a), damage
        assert any("truncated" in f["message"] for f in damage if f["object"] == pack_b), damage

        # Human output names the files too, and the exit code is the same.
        p = ctl("check", "--data-dir", str(d.data_dir))
        assert p.returncode == 4 and "DAMAGED" in p.stdout and pack_a in p.stdout and pack_b in p.stdout, p

        # A pack gone altogether.
        (d.data_dir / "packs" / pack_b.rsplit("/", 1)[1]).unlink()
        err = conn.error("trail.get", {"ns": "beta", "id": b[0]})
        assert_damaged(err, pack_b)
        assert "missing" in err["message"]
        code, report = check_store(d)
        assert code == 4 and any(f["object"] == pack_b and "missing" in f["message"] for f in report["findings"]), report
        # A backup will not copy a store that lacks a pack its notes need.
        p = ctl("backup", "--data-dir", str(d.data_dir), str(d.data_dir.parent / "copy-of-damaged"))
        assert p.returncode == 1 and pack_b in p.stderr and "missing" in p.stderr, p
        assert not (d.data_dir.parent / "copy-of-damaged" / "trail.db").exists()
        assert conn.result("trail.get", {"ns": "alpha", "id": frames_a[spared][2]})["note"]["state"] == "archived"


def leaf_pages(db_path, table):
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return [r[0] for r in db.execute(
            "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY pageno", (table,))], \
            db.execute("PRAGMA page_size").fetchone()[0]
    finally:
        db.close()


@pytest.mark.engines("sqlite")
def test_corrupt_database_page_answers_storage_unavailable_for_its_notes_only(daemon_factory):
    d = daemon_factory("page", extra=["--compaction-interval", "0"])
    with d.connect() as conn:
        ids = [conn.result("trail.deposit", {"ns": "pages", "body": f"page note {i} " + "y" * 1500})["id"]
               for i in range(60)]
    assert d.terminate() == 0
    db_path = d.data_dir / "trail.db"
    assert check_store(d, "--quick")[0] == 0
    pages, page_size = leaf_pages(db_path, "note")
    assert len(pages) >= 10, pages
    victim = pages[len(pages) // 2]
    with open(db_path, "r+b") as f:
        f.seek((victim - 1) * page_size)
        f.write(b"\xee" * 64)          # the page header and its first cell pointers

    code, report = check_store(d, "--quick")
    assert code == 4 and "quick_check" in report["findings"][0]["message"], report
    code, report = check_store(d)
    assert code == 4, report
    damage = [f for f in report["findings"] if f["severity"] == "damage"]
    assert damage and all(f["object"].startswith(str(db_path)) for f in damage), damage
    assert any("(note)" in f["object"] for f in damage), damage

    d.start()
    failed, served = [], []
    with d.connect() as conn:
        for nid in ids:
            resp = conn.call("trail.get", {"ns": "pages", "id": nid})
            if "error" in resp:
                assert_damaged(resp["error"], str(db_path))
                assert "malformed" in resp["error"]["message"], resp
                failed.append(nid)
            else:
                assert resp["result"]["note"]["id"] == nid
                served.append(nid)
        assert failed and len(served) >= 40, (len(failed), len(served))
        # Other calls go on: a deposit, a sense of another namespace, stats.
        new = conn.result("trail.deposit", {"ns": "other", "body": "after the page went bad"})["id"]
        assert [n["id"] for n in conn.result("trail.sense", {"ns": "other"})["notes"]] == [new]
        conn.result("trail.hello")
    assert d.alive()


@pytest.mark.engines("sqlite")
def test_check_exit_codes_for_missing_and_unopenable_stores(tmp_path):
    p = ctl("check", "--data-dir", str(tmp_path / "nothing-here"))
    assert p.returncode == 3 and "no database" in p.stderr, p
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "trail.db").write_bytes(b"this is not a database at all" * 200)
    p = ctl("check", "--data-dir", str(bad), "--json")
    assert p.returncode in (3, 4), p
    p = ctl("check", "--store", "mysql://nope")
    assert p.returncode == 2, p


@pytest.mark.engines("postgres")
def test_check_on_postgres_finds_a_damaged_archive_block(daemon_factory):
    d = daemon_factory("pgcheck", extra=["--compaction-interval", "0"])
    with d.connect() as conn:
        ids = seed_archived(conn, "old", 50, "archived note")
        live = conn.result("trail.deposit", {"body": "a live note"})["id"]

    def check_pg(store):
        p = ctl("check", "--store", store, "--json")
        return p.returncode, (json.loads(p.stdout) if p.stdout.strip() else p.stderr)

    code, report = check_pg(d.store)
    assert code == 0, report
    check_schema("trailctl.check.json", report)
    assert report["engine"] == "postgres" and report["sound"] is True
    assert report["checked"]["archive_blocks"] >= 1 and report["checked"]["archived_notes"] == 50
    assert report["checked"]["schema_version"] >= 1

    # amcheck, when the cluster has it: the B-tree indexes of trail's tables,
    # once the daemon's role may run bt_index_check.
    assert any(f["object"] == "amcheck" and "not installed" in f["message"] for f in report["findings"]), report
    try:
        store_execute(d, "CREATE EXTENSION IF NOT EXISTS amcheck")
        has_amcheck = True
    except Exception:  # noqa: BLE001 - a cluster without contrib
        has_amcheck = False
    if has_amcheck:
        code, report = check_pg(d.store)
        assert code == 0 and any(f["object"] == "amcheck" and "GRANT" in f["message"] for f in report["findings"]), report
        store_execute(d, "GRANT EXECUTE ON FUNCTION bt_index_check(regclass) TO trail")
        code, report = check_pg(d.store)
        assert code == 0 and report["checked"]["indexes"] >= 5 and not report["findings"], report

    (bad,) = [seq for (seq,) in store_rows(d, "SELECT seq FROM archive_block ORDER BY seq")][:1]
    store_execute(d, "UPDATE archive_block SET frame = set_byte(frame, length(frame) / 2, "
                     f"get_byte(frame, length(frame) / 2) # 255) WHERE seq = {bad}")
    code, report = check_pg(d.store)
    assert code == 4, report
    damage = [f for f in report["findings"] if f["severity"] == "damage"]
    assert [f["object"] for f in damage] == [f"archive_block {bad}"], damage
    with d.connect() as conn:
        err = conn.error("trail.get", {"ns": "old", "id": ids[0]})
        assert err["code"] == -32006 and err["data"]["file"] == f"archive block {bad}", err
        assert "trailctl check" in err["message"], err
        assert conn.result("trail.get", {"id": live})["note"]["state"] == "live"

    code, message = check_pg("postgres://trail@127.0.0.1:1/nothing")
    assert code == 3 and "cannot reach" in message, message
