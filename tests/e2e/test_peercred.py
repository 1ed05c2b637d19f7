"""Every write records who made it: the agent and the peer's uid and pid (SO_PEERCRED)."""
from __future__ import annotations

import os

from conftest import store_rows


def test_write_log_records_peer_credentials(daemon, conn):
    conn.result("trail.hello", {"client": "pytest", "agent": "ant-7"})
    r = conn.result("trail.deposit", {"body": "who wrote me"})
    conn.result("trail.reinforce", {"id": r["id"], "delta": 0.5, "agent": "ant-8"})
    rows = store_rows(daemon, "SELECT op, agent, uid, pid FROM write_log WHERE op IN ('deposit', 'reinforce') ORDER BY seq")
    assert rows == [("deposit", "ant-7", os.getuid(), os.getpid()), ("reinforce", "ant-8", os.getuid(), os.getpid())]
    # The agent named in hello is the note's first depositor.
    assert conn.result("trail.get", {"id": r["id"]})["note"]["agent"] == "ant-7"
