"""`trailctl backup` (issue 14): a consistent online copy of the embedded store
while the daemon goes on writing. traild started on the copy has every note
acknowledged before the backup began, and its archived notes read from the
copied packs. For PostgreSQL the command refuses and points to pg_dump."""
from __future__ import annotations

import json
import subprocess
import threading
import time

import pytest

from test_damage import check_store, seed_archived
from test_schemas import check as check_schema
from test_trailctl import clean_env, trailctl_bin
from test_trailctl import run as ctl


@pytest.mark.engines("sqlite")
def test_backup_under_load_has_every_note_acknowledged_before_it(daemon_factory, tmp_path):
    d = daemon_factory("live", extra=["--compaction-interval", "0"])
    with d.connect() as conn:
        archived = seed_archived(conn, "old", 400, "archived note")
        # A store worth copying: 20,000 notes of 300 bytes, in pipelined batches.
        for start in range(0, 20_000, 500):
            for i in range(start, start + 500):
                conn.request("trail.deposit", {"ns": "bulk", "body": f"bulk {i} " + "z" * 300})
            for _ in range(500):
                assert "error" not in conn.recv()

    acked: list[tuple[float, str]] = []
    stop = threading.Event()

    def writer() -> None:
        with d.connect() as c:
            i = 0
            while not stop.is_set():
                nid = c.result("trail.deposit", {"ns": "load", "body": f"written under load {i}"})["id"]
                acked.append((time.monotonic(), nid))
                i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    time.sleep(0.5)
    began = time.monotonic()
    before = [nid for t, nid in acked if t < began]
    copy = tmp_path / "copy"
    p = ctl("backup", "--data-dir", str(d.data_dir), str(copy), "--json", timeout=300)
    ended = time.monotonic()
    time.sleep(0.3)
    stop.set()
    thread.join()
    assert p.returncode == 0, p
    report = json.loads(p.stdout)
    check_schema("trailctl.backup.json", report)
    during = [nid for t, nid in acked if began <= t < ended]
    print(f"\nbackup under load: {report['notes']} notes, {report['bytes'] / 1e6:.1f} MB, "
          f"{report['seconds']:.2f} s (trailctl {ended - began:.2f} s); {len(before)} writes acknowledged before, "
          f"{len(during)} during it")
    assert len(before) > 50 and len(during) > 0, (len(before), len(during))
    assert report["packs"] == 1 and report["archived_notes"] == 400
    assert report["notes"] >= 400 + 20_000 + len(before) + 1

    assert sorted(p.name for p in copy.iterdir()) == ["packs", "trail.db"]
    assert len(list((copy / "packs").iterdir())) == 1
    code, checked = check_store(type("D", (), {"data_dir": copy})())
    assert code == 0 and checked["sound"], checked

    c = daemon_factory("copy", data_dir=copy)
    with c.connect() as conn:
        missing = []
        for start in range(0, len(before), 200):
            chunk = before[start:start + 200]
            for nid in chunk:
                conn.request("trail.get", {"ns": "load", "id": nid})
            missing += [r for r in (conn.recv() for _ in chunk) if "error" in r]
        assert not missing, missing[:3]
        for nid in archived[::40]:
            note = conn.result("trail.get", {"ns": "old", "id": nid})["note"]
            assert note["state"] == "archived" and note["body"].startswith("archived note")
        assert conn.result("trail.stats", {"ns": "bulk"})["notes"] == 20_000
        assert conn.result("trail.revive", {"ns": "old", "id": archived[0]})["note"]["state"] == "live"
        # The copy is a store of its own: it takes writes.
        assert conn.result("trail.deposit", {"body": "written on the copy"})["created"] is True


@pytest.mark.engines("sqlite")
def test_backup_refuses_an_existing_store_and_postgres(daemon_factory, tmp_path):
    d = daemon_factory("src")
    d.result("trail.deposit", {"body": "one note"})
    target = tmp_path / "twice"
    assert ctl("backup", "--data-dir", str(d.data_dir), str(target)).returncode == 0
    p = ctl("backup", "--data-dir", str(d.data_dir), str(target))
    assert p.returncode == 1 and "exists already" in p.stderr, p
    p = ctl("backup", "--data-dir", str(tmp_path / "none"), str(tmp_path / "x"))
    assert p.returncode == 3 and "no store" in p.stderr, p
    p = ctl("backup", "--store", "postgres://trail@127.0.0.1:5432/trail", str(tmp_path / "pg"))
    assert p.returncode == 2 and "pg_dump" in p.stderr, p


@pytest.mark.engines("sqlite")
def test_backup_takes_the_copy_again_when_a_pack_is_swept_under_it(daemon_factory, tmp_path):
    d = daemon_factory("swept", extra=["--compaction-interval", "0"])
    with d.connect() as conn:
        gone = seed_archived(conn, "gone", 5, "swept note")
        kept = seed_archived(conn, "kept", 5, "kept note")
    # The first snapshot names both packs; while it waits before copying
    # them, every note of one pack is revived and a compaction sweeps it away.
    copy = tmp_path / "copy"
    backup = subprocess.Popen([trailctl_bin(), "backup", "--data-dir", str(d.data_dir), str(copy), "--json"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=clean_env(TRAIL_TEST_BACKUP_PAUSE="3"))
    time.sleep(1)
    with d.connect() as conn:
        for nid in gone:
            conn.result("trail.revive", {"ns": "gone", "id": nid})
        packs_before = len(list((d.data_dir / "packs").iterdir()))
        conn.result("trail.compact", {"ns": "kept"})
        assert len(list((d.data_dir / "packs").iterdir())) == packs_before - 1
    out, err = backup.communicate(timeout=60)
    assert backup.returncode == 0, err
    report = json.loads(out)
    assert report["retries"] == 1 and report["packs"] == 1 and report["archived_notes"] == 5, report
    c = daemon_factory("copy", data_dir=copy)
    with c.connect() as conn:
        assert {conn.result("trail.get", {"ns": "gone", "id": n})["note"]["state"] for n in gone} == {"live"}
        assert {conn.result("trail.get", {"ns": "kept", "id": n})["note"]["state"] for n in kept} == {"archived"}
