"""Limits that keep the daemon up: at most max_connections at once (issue 14)."""
from __future__ import annotations

import json
import socket
import time

import pytest

from conftest import assert_error, deposit, no_pending_message, pipeline


def test_one_connection_beyond_the_limit_is_told_why_and_closed(daemon_factory):
    d = daemon_factory("lim", extra=["--max-connections", "3"])
    held = [d.connect() for _ in range(3)]
    for c in held:
        assert c.result("trail.hello")["server"] == "traild"
    # The fourth: one line saying why (overloaded, the limit, id null), then end of stream.
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(str(d.socket_path))
    f = s.makefile("rwb")
    line = f.readline()
    resp = json.loads(line)
    assert resp["id"] is None
    err = assert_error(resp, -32005, "overloaded")
    assert err["data"]["limit"] == 3 and "at most 3 connections" in err["message"]
    assert f.readline() == b""
    s.close()
    # The connections it serves are untouched, and a closed one makes room.
    deposit(held[0], "still serving")
    held.pop().close()
    deadline = time.monotonic() + 5
    while True:
        c = d.connect()
        try:
            assert c.result("trail.sense")["notes"][0]["body"] == "still serving"
            break
        except Exception:
            c.close()
            assert time.monotonic() < deadline, "no room after a connection closed"
            time.sleep(0.05)
    c.close()
    for c in held:
        c.close()
    assert d.alive()


def test_max_connections_in_the_config_and_bad_values(daemon_factory, tmp_path):
    import subprocess
    from conftest import traild_bin
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"max_connections": 1}))
    d = daemon_factory("cfgl", extra=["--config", str(cfg)])
    with d.connect() as c:
        assert c.result("trail.hello")["server"] == "traild"
        with d.connect() as c2:
            # Refused: the refusal line, then the end.
            resp = c2.recv()
            assert resp["error"]["data"]["limit"] == 1 and resp["error"]["code"] == -32005
    for bad in ({"max_connections": 0}, {"max_connections": "10"}):
        cfg.write_text(json.dumps(bad))
        r = subprocess.run([traild_bin(), "--config", str(cfg), "--socket", str(tmp_path / "x.sock"),
                            "--data-dir", str(tmp_path / "x")], capture_output=True, text=True, timeout=30)
        assert r.returncode != 0 and "max_connections" in r.stderr, r.stderr
    r = subprocess.run([traild_bin(), "--max-connections", "0", "--socket", str(tmp_path / "y.sock"),
                        "--data-dir", str(tmp_path / "y")], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "--max-connections" in r.stderr, r.stderr


def _anon_kib(pid: int) -> int:
    """The daemon's anonymous resident memory (heap, buffers), not counting mapped store pages."""
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("RssAnon:"):
            return int(line.split()[1])
    raise AssertionError("no RssAnon in /proc status")


@pytest.mark.engines("sqlite")
def test_a_watcher_that_never_reads_costs_a_bounded_backlog(daemon_factory, tmp_path):
    """Events for a watcher that stops reading are dropped past its backlog
    (4 MiB by default) and counted: the daemon's memory stays flat while far
    more than that is published, and the watcher's next event says how many
    it missed."""
    d = daemon_factory("watchbound")
    writer = d.connect()
    body = "x" * 2000
    total = 0

    def flood(n: int) -> None:
        nonlocal total
        for start in range(0, n, 2000):
            batch = [("trail.deposit", {"ns": "flood", "body": f"{total + i} {body}"}) for i in range(start, min(n, start + 2000))]
            for r in pipeline(writer, batch, timeout=120):
                assert "result" in r, r
        total += n

    flood(8000)  # warm up: caches and pools reach their size
    base = _anon_kib(d.proc.pid)
    flood(8000)
    unwatched_mib = (_anon_kib(d.proc.pid) - base) / 1024
    watcher = d.connect()
    watcher.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sub = watcher.result("trail.watch", {"ns": "flood"})["subscription"]
    published = total
    before = _anon_kib(d.proc.pid)
    flood(36000)  # ~90 MB of events the watcher never reads
    published = total - published
    grown_mib = (_anon_kib(d.proc.pid) - before) / 1024
    stats = writer.result("trail.stats", {"ns": "flood"})
    assert stats["watchers"] == 1
    dropped = stats["events_dropped"]
    print(f"watcher backlog: {published} events of ~2.6 KB published to a watcher that does not read, {dropped} dropped; "
          f"anonymous memory grew {grown_mib:.1f} MiB (8000 deposits unwatched before: {unwatched_mib:.1f} MiB)")
    assert dropped > published * 0.8
    assert grown_mib < 12, f"anonymous memory grew {grown_mib:.1f} MiB while a watcher did not read"

    # The watcher reads again: what was kept arrives, then an event that says how many were dropped.
    received = 0
    while True:
        msg = watcher.recv()
        assert msg["method"] == "trail.event" and msg["params"]["subscription"] == sub
        received += 1
        assert "dropped" not in msg["params"]
        if no_pending_message(watcher, wait=0.5):
            break
    deposit(writer, "after the flood", ns="flood")
    last = watcher.recv()
    assert last["params"]["note"]["body"] == "after the flood"
    assert last["params"]["dropped"] == published - received == dropped
    assert received * 2600 <= 4 * 1024 * 1024 + 300_000  # what was kept fits in the backlog (and the socket)
    assert d.alive()


def test_watch_backlog_bytes_in_the_config_and_bad_values(daemon_factory, tmp_path):
    import subprocess
    from conftest import traild_bin
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"watch_backlog_bytes": 8192}))
    d = daemon_factory("wb", extra=["--config", str(cfg)])
    with d.connect() as w, d.connect() as c:
        w.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        w.result("trail.watch", {"ns": "small"})
        for r in pipeline(c, [("trail.deposit", {"ns": "small", "body": f"{i} " + "y" * 1500}) for i in range(600)]):
            assert "result" in r
        assert c.result("trail.stats", {"ns": "small"})["events_dropped"] > 400
    for bad in ({"watch_backlog_bytes": 100}, {"watch_backlog_bytes": "4MiB"}, {"watch_backlog_bytes": 2 ** 31}):
        cfg.write_text(json.dumps(bad))
        r = subprocess.run([traild_bin(), "--config", str(cfg), "--socket", str(tmp_path / "x.sock"),
                            "--data-dir", str(tmp_path / "x")], capture_output=True, text=True, timeout=30)
        assert r.returncode != 0 and "watch_backlog_bytes" in r.stderr, r.stderr


def test_watch_catch_up_rows_bad_values_stop_traild_with_one_clear_line(tmp_path):
    import subprocess
    from conftest import traild_bin
    cfg = tmp_path / "cfg.json"
    for bad in ({"watch_catch_up_rows": 0}, {"watch_catch_up_rows": "10k"}, {"watch_catch_up_rows": 1.5},
                {"watch_catch_up_rows": 10 ** 7}, {"watch_catch_up_rows": True}):
        cfg.write_text(json.dumps(bad))
        r = subprocess.run([traild_bin(), "--config", str(cfg), "--socket", str(tmp_path / "x.sock"),
                            "--data-dir", str(tmp_path / "x")], capture_output=True, text=True, timeout=30)
        assert r.returncode != 0, (bad, r.stderr)
        assert "watch_catch_up_rows" in r.stderr and "from 1 to 1000000" in r.stderr, (bad, r.stderr)
    cfg.write_text(json.dumps({"watch_catch_up_rows": 5}))
    proc = subprocess.Popen([traild_bin(), "--config", str(cfg), "--socket", str(tmp_path / "ok.sock"),
                             "--data-dir", str(tmp_path / "ok")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "ready" in (proc.stdout.readline() if proc.stdout else "")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.engines("sqlite")
def test_a_client_that_sends_and_never_reads_is_paused_not_buffered(daemon_factory):
    """One connection's requests in flight are bounded (512) and nothing more
    is read from it while its answers cannot be written: a client that
    pipelines without reading stops being read, traild's memory stays flat,
    and when it reads again every request is answered, in order."""
    import threading
    d = daemon_factory("inflight")
    with d.connect() as setup:
        for r in pipeline(setup, [("trail.deposit", {"body": f"{i} " + "z" * 1000}) for i in range(10)]):
            assert "result" in r
    c = d.connect()
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    total = 20000  # each answer is ten notes, ~11 KB: 220 MB if traild buffered them
    line = lambda i: json.dumps({"jsonrpc": "2.0", "id": i, "method": "trail.sense", "params": {"limit": 10}}).encode() + b"\n"
    sent = [0]

    def writer() -> None:
        for i in range(total):
            c.sock.sendall(line(i))
            sent[0] = i + 1

    t = threading.Thread(target=writer, daemon=True)
    before = _anon_kib(d.proc.pid)
    t.start()
    time.sleep(3)
    stalled_at = sent[0]
    time.sleep(2)
    grown_mib = (_anon_kib(d.proc.pid) - before) / 1024
    print(f"in flight: the client got {stalled_at} of {total} requests out before traild stopped reading; "
          f"anonymous memory grew {grown_mib:.1f} MiB")
    assert sent[0] == stalled_at < total // 4, "traild kept reading a client that does not read"
    assert grown_mib < 16
    # Another connection is served meanwhile.
    with d.connect() as other:
        assert len(other.result("trail.sense", {"limit": 3})["notes"]) == 3
    # Reading again: everything is answered, in order.
    for i in range(total):
        msg = c.recv()
        assert msg["id"] == i and len(msg["result"]["notes"]) == 10
    t.join(timeout=30)
    assert sent[0] == total
    c.close()
