"""A colony across hosts when the network does not hold (issue 24).

Three hosts, each a network namespace (tests/netwire.py): `db` runs the
PostgreSQL server on 10.77.0.1, `a` and `b` each run a traild whose store is
that server, and the clients of each host talk to their own daemon over its
Unix socket. Traffic between the hosts goes only over the wire, on
addresses that exist only inside these namespaces.

- A partition: host a's link is cut for 10 s while both hosts deposit and
  reinforce. a answers -32006 within its statement timeout, b keeps
  serving, a serves again within a second of the heal; every acknowledged
  deposit is there, and no reinforcement is counted twice (the write log
  holds, per host, at least the acknowledged ones and at most the tried
  ones).
- The same with the cut made silently in the wire (packets dropped, the
  host's own link up): connections hang rather than fail, which only the
  statement timeout ends.
- A slow, lossy network: 200 ms each way and 5 % of packets lost on every
  link; the colony still works, and the test prints its throughput and
  latencies (Daemon/README quotes them).
"""
from __future__ import annotations

import contextlib
import statistics
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from conftest import ENGINES, Daemon, pgcluster_module, helper_module

netwire = helper_module("netwire")
UNAVAILABLE_HERE = netwire.available()

pytestmark = [
    pytest.mark.skipif("postgres" not in ENGINES,
                       reason="needs the postgres engine: set TRAIL_E2E_ENGINES to include postgres"),
    pytest.mark.skipif(UNAVAILABLE_HERE is not None, reason=f"no hosts here: {UNAVAILABLE_HERE}"),
]

STORAGE_UNAVAILABLE = -32006
STATEMENT_TIMEOUT_S = 2.0
CONNECT_TIMEOUT_S = 2
NS = "partition"
LOSSY_LOAD_S = 10.0


class Worker(threading.Thread):
    """One client of one host: deposits a new note, then reinforces one of
    the shared notes, over and over on one connection to its own daemon,
    keeping every answer with its time and how long it took."""

    def __init__(self, daemon: Daemon, host: str, index: int, shared: list[str], sense: bool = False) -> None:
        super().__init__(daemon=True)
        self.d, self.host, self.index, self.shared, self.sense = daemon, host, index, shared, sense
        # (op, start, seconds, result or None, error or None)
        self.calls: list[tuple[str, float, float, Any, Any]] = []
        self.stop = threading.Event()

    def call(self, c: Any, op: str, method: str, params: dict[str, Any]) -> None:
        start = time.monotonic()
        resp = c.call(method, params)
        took = time.monotonic() - start
        self.calls.append((op, start, took, resp.get("result"), resp.get("error")))
        if "error" in resp:
            time.sleep(0.05)

    def run(self) -> None:
        i = 0
        with self.d.connect() as c:
            while not self.stop.is_set():
                self.call(c, "deposit", "trail.deposit",
                          {"ns": NS, "body": f"host {self.host} worker {self.index} deposit {i}", "agent": self.host})
                target = self.shared[i % len(self.shared)]
                self.call(c, "reinforce", "trail.reinforce", {"ns": NS, "id": target, "agent": self.host})
                if self.sense:
                    self.call(c, "sense", "trail.sense", {"ns": NS, "limit": 10})
                i += 1

    def acked(self, op: str) -> list[tuple[float, Any]]:
        return [(start + took, result) for o, start, took, result, error in self.calls if o == op and error is None]

    def errors(self) -> list[tuple[float, float, Any]]:
        return [(start, took, error) for _, start, took, _, error in self.calls if error is not None]


@contextlib.contextmanager
def colony(tmp_path: Path, url_parameters: str) -> Iterator[tuple[Any, Any, str, dict[str, Daemon]]]:
    """Hosts db, a and b; the server on db; a traild on a and on b."""
    pgcluster = pgcluster_module()
    with netwire.Hosts(["db", "a", "b"]) as hosts:
        server = pgcluster.Cluster(settings={"listen_addresses": f"'{hosts.address('db')}'"}, netns=hosts.ns("db"),
                                   hba=[f"host all all {netwire.SUBNET}.0/24 scram-sha-256"])
        daemons: dict[str, Daemon] = {}
        try:
            server.start()
            db = server.create_database()
            url = server.url(db).replace("127.0.0.1", hosts.address("db")) + url_parameters
            for host in ("a", "b"):
                daemons[host] = Daemon(tmp_path / f"{host}.sock", tmp_path / host, store=url, database=db, pg=server,
                                       command=hosts.run(host, [])).start()
            yield hosts, server, db, daemons
        finally:
            for d in daemons.values():
                if d.alive():
                    d.terminate()
            server.close()


def reinforcements_logged(server: Any, db: str) -> dict[str, int]:
    out = server.psql("SELECT agent || ' ' || count(*) FROM write_log WHERE op = 'reinforce' GROUP BY agent", db=db)
    return {agent: int(n) for agent, n in (line.split() for line in out.split("\n") if line.strip())}


def notes_stored(server: Any, db: str) -> set[str]:
    out = server.psql(f"SELECT id FROM note WHERE ns = '{NS}'", db=db)
    return {line.strip() for line in out.split("\n") if line.strip()}


def partition(tmp_path: Path, silent: bool) -> dict[str, Any]:
    """Cuts host a from the database for 10 s while both hosts write."""
    parameters = f"?connect_timeout={CONNECT_TIMEOUT_S}&statement_timeout={int(STATEMENT_TIMEOUT_S * 1000)}ms"
    with colony(tmp_path, parameters) as (hosts, server, db, daemons):
        shared = [daemons["a"].result("trail.deposit", {"ns": NS, "body": f"shared note {k}"})["id"] for k in range(4)]
        workers = [Worker(daemons[h], h, i, shared) for h in ("a", "b") for i in range(2)]
        for w in workers:
            w.start()
        try:
            time.sleep(2.0)
            assert all(w.acked("deposit") for w in workers), [w.errors()[-1:] for w in workers]
            cut_at = time.monotonic()
            if silent:
                hosts.link("a", "db", cut=True)
            else:
                hosts.link_down("a")
            time.sleep(10.0)
            healed_at = time.monotonic()
            if silent:
                hosts.link("a", "db", cut=False)
            else:
                hosts.link_down("a", down=False)
            deadline = healed_at + 15
            while time.monotonic() < deadline and not all(
                    w.acked("deposit") and w.acked("deposit")[-1][0] > healed_at for w in workers if w.host == "a"):
                time.sleep(0.02)
            time.sleep(1.0)
        finally:
            for w in workers:
                w.stop.set()
            for w in workers:
                w.join(timeout=30)
        a = [w for w in workers if w.host == "a"]
        b = [w for w in workers if w.host == "b"]
        # Calls a started while it was cut (the first statement timeout after the cut aside).
        a_errors = [(s, took, e) for w in a for s, took, e in w.errors()]
        a_in_cut = [(s, took, e) for s, took, e in a_errors if cut_at <= s < healed_at]
        back = [min((t for t, _ in w.acked("deposit") + w.acked("reinforce") if t > healed_at), default=None) for w in a]
        acked_ids = {r["id"] for w in workers for _, r in w.acked("deposit")}
        stored = notes_stored(server, db)
        logged = reinforcements_logged(server, db)
        tried = {h: sum(1 for w in workers if w.host == h for c in w.calls if c[0] == "reinforce") for h in ("a", "b")}
        acked_r = {h: sum(len(w.acked("reinforce")) for w in workers if w.host == h) for h in ("a", "b")}
        return {
            "a_errors_in_cut": len(a_in_cut),
            "a_codes": {e["code"] for _, _, e in a_errors},
            "a_slowest_error": max((took for _, took, _ in a_errors), default=0.0),
            "b_errors": [e for w in b for _, _, e in w.errors()],
            "b_acked_in_cut": sum(1 for w in b for t, _ in w.acked("deposit") if cut_at <= t < healed_at),
            "back_after_heal": [None if t is None else t - healed_at for t in back],
            "acked": len(acked_ids), "missing": len(acked_ids - stored),
            "reinforce": {h: (acked_r[h], logged.get(h, 0), tried[h]) for h in ("a", "b")},
            "wire": hosts.stats(),
            "alive": all(d.alive() for d in daemons.values()),
        }


@pytest.mark.parametrize("silent", [False, True], ids=["link-down", "silent-drop"])
def test_a_host_cut_from_the_database_for_10_s(tmp_path, silent):
    m = partition(tmp_path, silent)
    kind = "dropped silently in the wire" if silent else "its link down"
    print(f"host a cut from the database for 10 s ({kind}): a answered {m['a_errors_in_cut']} calls -32006 "
          f"(the slowest in {m['a_slowest_error']:.2f} s); b acknowledged {m['b_acked_in_cut']} deposits meanwhile; "
          f"a served again {['%.3f s' % t for t in m['back_after_heal'] if t is not None]} after the heal; "
          f"{m['acked']} deposits acknowledged, {m['missing']} missing; reinforcements (acknowledged, logged, tried) "
          f"{m['reinforce']}")
    assert m["alive"]
    assert m["a_errors_in_cut"] > 0
    assert m["a_codes"] == {STORAGE_UNAVAILABLE}, m["a_codes"]
    # Within its statement timeout (and a connect's, which may start just before it).
    assert m["a_slowest_error"] <= STATEMENT_TIMEOUT_S + 1.0, m
    assert m["b_errors"] == [], m["b_errors"][:5]
    assert m["b_acked_in_cut"] > 0
    assert all(t is not None and t <= 1.0 for t in m["back_after_heal"]), m["back_after_heal"]
    assert m["missing"] == 0, m
    for host, (acked, logged, tried) in m["reinforce"].items():
        assert acked <= logged <= tried, (host, acked, logged, tried)


def test_a_slow_lossy_network_still_carries_the_colony(tmp_path):
    # A connect over this link takes a few round trips of 0.4 s and a lost
    # SYN costs 1 s: the 5 s default is too short for it, as for libpq's users.
    # Likewise a write: 16 clients reinforce the same 4 notes from two hosts,
    # so each daemon's transaction waits for the other's row locks, held
    # over several 0.4 s round trips and retransmits; with the 10 s default
    # some reinforcements timed out (5 of 48 calls in one CI run).
    with colony(tmp_path, "?connect_timeout=10&statement_timeout=30s") as (hosts, server, db, daemons):
        hosts.every_link(delay=0.2, loss=0.05)
        shared = [daemons["a"].result("trail.deposit", {"ns": NS, "body": f"shared note {k}"})["id"] for k in range(4)]
        workers = [Worker(daemons[h], h, i, shared, sense=True) for h in ("a", "b") for i in range(8)]
        started = time.monotonic()
        for w in workers:
            w.start()
        time.sleep(LOSSY_LOAD_S)
        for w in workers:
            w.stop.set()
        for w in workers:
            w.join(timeout=60)
        elapsed = time.monotonic() - started
        calls = [c for w in workers for c in w.calls]
        errors = [c for c in calls if c[4] is not None]
        acked_ids = {r["id"] for w in workers for _, r in w.acked("deposit")}
        missing = acked_ids - notes_stored(server, db)
        stats = hosts.stats()
        figures = {}
        for op in ("deposit", "reinforce", "sense"):
            took = sorted(c[2] for c in calls if c[0] == op and c[4] is None)
            figures[op] = (len(took) / elapsed, statistics.median(took) * 1000, took[int(0.99 * (len(took) - 1))] * 1000)
        print("200 ms each way, 5 % loss on every link, 16 clients (8 per host): " +
              "; ".join(f"{op} {rate:.1f}/s p50 {p50:.0f} ms p99 {p99:.0f} ms" for op, (rate, p50, p99) in figures.items()) +
              f"; {len(errors)} of {len(calls)} calls failed; wire {stats}")
        assert all(d.alive() for d in daemons.values())
        assert {e[4]["code"] for e in errors} <= {STORAGE_UNAVAILABLE}
        assert len(errors) <= 0.01 * len(calls), errors[:5]
        assert all(rate > 0 for rate, _, _ in figures.values())
        assert sum(v["dropped"] for v in stats.values()) > 0  # the loss was real
        assert not missing
        logged = reinforcements_logged(server, db)
        for h in ("a", "b"):
            acked = sum(len(w.acked("reinforce")) for w in workers if w.host == h)
            tried = sum(1 for w in workers if w.host == h for c in w.calls if c[0] == "reinforce")
            assert acked <= logged.get(h, 0) <= tried
