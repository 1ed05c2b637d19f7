"""Limits that keep the daemon up: at most max_connections at once (issue 14)."""
from __future__ import annotations

import json
import socket
import time

from conftest import assert_error, deposit


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
