"""Many daemons, one database (contract §9), against real daemons on one real
PostgreSQL database of the session's throwaway cluster: concurrent deposits and
reinforcements through two daemons, watch across daemons (and after its
listening connection is cut), kill -9 of a daemon under load, the database
stopped under load, concurrent compactions, the database's clock against a
daemon whose clock is a day ahead (libfaketime), bad starts, and the password
kept out of every output.

These run only with the postgres engine in $TRAIL_E2E_ENGINES (they skip
otherwise); they do not depend on the `engine` parametrization.
"""
from __future__ import annotations

import datetime
import glob
import json
import random
import re
import socket
import subprocess
import sys
import threading
import time
from typing import Any
from urllib.parse import quote

import pytest

from conftest import ENGINES, ROOT, Conn, Daemon, assert_bad_start, deposit, get_note, pipeline, sha, store_rows, traild_bin
from test_compaction import compactor_bin
from test_trailctl import clean_env, trailctl_bin

pytestmark = pytest.mark.skipif("postgres" not in ENGINES,
                                reason="needs the postgres engine: set TRAIL_E2E_ENGINES to include postgres")

HALF_LIFE = 604800.0  # the default half-life (7 days)
STORAGE_UNAVAILABLE = -32006
NO_BACKGROUND = ["--compaction-interval", "0"]


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def decayed_bounds(expected: float, elapsed: float, half_life: float = HALF_LIFE) -> tuple[float, float]:
    """Bounds on a weight made of deposits adding up to `expected`, all made
    within the last `elapsed` seconds: each decayed by a factor in
    [2^(-elapsed/h), 1], so the sum lies in [expected * 2^(-elapsed/h), expected]
    (with 1e-9 relative slack for the float rounding of keys and logarithms).
    At h = 7 days and up to a minute, the window is under 7e-5 relative, while
    one lost write in these tests (at least 0.25 in sums of 5.5 to 291) moves
    a weight by more than 8e-4: it cannot hide in it."""
    return expected * 2 ** (-elapsed / half_life) * (1 - 1e-9), expected * (1 + 1e-9)


def next_event(watcher: Conn, timeout: float = 10.0) -> dict[str, Any]:
    """The next trail.event notification on `watcher` (answers skipped), within `timeout`."""
    watcher.sock.settimeout(timeout)
    try:
        while True:
            msg = watcher.recv()
            if isinstance(msg, dict) and msg.get("method") == "trail.event":
                assert "id" not in msg, msg
                return msg["params"]
    finally:
        watcher.sock.settimeout(30.0)


def event_within(watcher: Conn, timeout: float) -> dict[str, Any] | None:
    """The next event if one comes within `timeout`, else None."""
    try:
        return next_event(watcher, timeout)
    except (socket.timeout, TimeoutError):
        return None


def seconds_of(rfc3339: str) -> float:
    return datetime.datetime.strptime(rfc3339, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def psql_db(d: Daemon, sql: str) -> str:
    """Runs `sql` as the superuser on `d`'s database."""
    assert d.pg is not None and d.database is not None
    return d.pg.psql(sql, db=d.database)


class Writers:
    """Threads that call one daemon until told to stop (or their connection
    dies), recording every call: (started, ended, method, params, response
    or None when the connection broke)."""

    def __init__(self, daemon: Daemon, count: int, make_call: Any, name: str) -> None:
        self.daemon = daemon
        self.make_call = make_call  # (thread index, call index) -> (method, params)
        self.stop = threading.Event()
        self.calls: list[list[tuple[float, float, str, dict[str, Any], dict[str, Any] | None]]] = [[] for _ in range(count)]
        self.threads = [threading.Thread(target=self._run, args=(k,), name=f"{name}-{k}", daemon=True)
                        for k in range(count)]
        #: (thread name, method, started, ended, the exception) of each call whose connection broke.
        self.broken: list[tuple[str, str, float, float, BaseException]] = []

    def start(self) -> "Writers":
        for t in self.threads:
            t.start()
        return self

    def _run(self, k: int) -> None:
        log = self.calls[k]
        try:
            conn = self.daemon.connect()
        except OSError:
            return
        try:
            i = 0
            while not self.stop.is_set():
                method, params = self.make_call(k, i)
                i += 1
                started = time.monotonic()
                try:
                    resp = conn.call(method, params)
                except (OSError, ConnectionError, ValueError) as exc:
                    ended = time.monotonic()
                    log.append((started, ended, method, params, None))
                    self.broken.append((threading.current_thread().name, method, started, ended, exc))
                    return
                log.append((started, time.monotonic(), method, params, resp))
                if "error" in resp:
                    time.sleep(0.05)  # no busy loop while the store is down
        finally:
            conn.close()

    def join(self, timeout: float = 60) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout)
            assert not t.is_alive(), f"{t.name} did not stop"

    def all(self) -> list[tuple[float, float, str, dict[str, Any], dict[str, Any] | None]]:
        return [c for log in self.calls for c in log]

    def acked(self, method: str | None = None) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(params, result) of every call answered without error."""
        return [(p, r["result"]) for _, _, m, p, r in self.all()
                if r is not None and "error" not in r and (method is None or m == method)]

    def acked_count(self) -> int:
        return sum(1 for _, _, _, _, r in self.all() if r is not None and "error" not in r)


def readable_through(d: Daemon, ids: list[str], ns: str = "default") -> dict[str, dict[str, Any]]:
    """Every note of `ids` through `d` (pipelined), asserting each is there."""
    with d.connect() as c:
        found = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            for id_, resp in zip(chunk, pipeline(c, [("trail.get", {"ns": ns, "id": x}) for x in chunk])):
                assert "error" not in resp, f"acknowledged note {id_} is not readable: {resp}"
                found[id_] = resp["result"]["note"]
        return found


def wait_until(what: str, check: Any, timeout: float = 30.0, pause: float = 0.1) -> float:
    """Calls check() until it is true; returns the seconds it took."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, f"{what}: not within {timeout} s"
        time.sleep(pause)
    return time.monotonic() - started


# ---------------------------------------------------------------------------
# concurrent writes through two daemons
# ---------------------------------------------------------------------------

def test_the_same_bodies_deposited_through_two_daemons_at_once(pg_daemon_pair):
    a, b = pg_daemon_pair
    bodies = [f"a colony note deposited by everyone #{i}" for i in range(50)]
    threads_each = 4
    # Thread k of daemon j deposits every body once, in its own order, with its own strength.
    strength = {(j, k): 0.25 * (k + 1) + 0.125 * j for j in range(2) for k in range(threads_each)}
    results: dict[tuple[int, int], list[dict[str, Any]]] = {}
    barrier = threading.Barrier(2 * threads_each)
    errors: list[BaseException] = []

    def run(j: int, k: int) -> None:
        try:
            order = bodies[:]
            random.Random(j * 100 + k).shuffle(order)
            with (a if j == 0 else b).connect() as c:
                barrier.wait(timeout=30)
                results[(j, k)] = [deposit(c, body, strength=strength[(j, k)], agent=f"d{j}t{k}") for body in order]
        except BaseException as e:  # noqa: BLE001 - surfaced below
            errors.append(e)

    started = time.monotonic()
    threads = [threading.Thread(target=run, args=(j, k)) for j in range(2) for k in range(threads_each)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors

    total = sum(strength.values())
    writers = len(strength)
    by_body: dict[str, list[dict[str, Any]]] = {}
    for got in results.values():
        for r in got:
            by_body.setdefault(r["id"], []).append(r)
    assert set(by_body) == {sha(b_) for b_ in bodies}
    for id_, answers in by_body.items():
        # One insert won; every deposit saw the ones before it (a row lock orders them).
        assert sum(r["created"] for r in answers) == 1, answers
        assert sorted(r["deposits"] for r in answers) == list(range(1, writers + 1)), answers
    for d in (a, b):
        with d.connect() as c:
            for body in bodies:
                note = get_note(c, sha(body))
                lo, hi = decayed_bounds(total, time.monotonic() - started)
                assert note["deposits"] == writers
                assert lo <= note["weight"] <= hi, (note["weight"], total)
            stats = c.result("trail.stats", {})
            assert stats["notes"] == 50
            lo, hi = decayed_bounds(50 * total, time.monotonic() - started)
            assert lo <= stats["total_weight"] <= hi
    assert dict(store_rows(a, "SELECT op, count(*) FROM write_log GROUP BY op")) == \
        {"deposit": 50, "redeposit": 50 * (writers - 1)}


def test_reinforcements_and_trails_through_both_daemons_at_once_lose_nothing(pg_daemon_pair):
    a, b = pg_daemon_pair
    with a.connect() as c:
        x = deposit(c, "the note everyone reinforces")["id"]
        y = deposit(c, "where everyone goes next")["id"]
    threads_each, rounds = 4, 40
    delta = {(j, k): 0.5 + 0.25 * k + 0.0625 * j for j in range(2) for k in range(threads_each)}
    barrier = threading.Barrier(2 * threads_each)
    errors: list[BaseException] = []

    def run(j: int, k: int) -> None:
        try:
            with (a if j == 0 else b).connect() as c:
                barrier.wait(timeout=30)
                for i in range(rounds):
                    # Alternate the order so that the two kinds of write interleave differently.
                    calls = [("trail.reinforce", {"id": x, "delta": delta[(j, k)]}),
                             ("trail.link", {"from": x, "to": y, "delta": delta[(j, k)] / 2})]
                    for method, params in (calls if i % 2 else calls[::-1]):
                        c.result(method, params)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    started = time.monotonic()
    threads = [threading.Thread(target=run, args=(j, k)) for j in range(2) for k in range(threads_each)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    added = rounds * sum(delta.values())
    for d in (a, b):
        with d.connect() as c:
            lo, hi = decayed_bounds(1 + added, time.monotonic() - started)
            assert lo <= get_note(c, x)["weight"] <= hi
            trails = c.result("trail.follow", {"from": x})["trails"]
            lo, hi = decayed_bounds(added / 2, time.monotonic() - started)
            assert [t["to"] for t in trails] == [y] and lo <= trails[0]["weight"] <= hi
    counts = dict(store_rows(a, "SELECT op, count(*) FROM write_log WHERE op IN ('reinforce', 'link') GROUP BY op"))
    assert counts == {"reinforce": 2 * threads_each * rounds, "link": 2 * threads_each * rounds}


# ---------------------------------------------------------------------------
# watch across daemons
# ---------------------------------------------------------------------------

def test_watch_on_one_daemon_sees_the_writes_of_another(pg_daemons):
    a, b = pg_daemons.pair(extra=NO_BACKGROUND)
    with a.connect() as watcher, b.connect() as w:
        sub = watcher.result("trail.watch", {"ns": "colony"})["subscription"]
        fast_sub = watcher.result("trail.watch", {"ns": "fast"})["subscription"]

        x = deposit(w, "written through b", ns="colony", tags=["seen"])["id"]
        ev = next_event(watcher)
        assert (ev["subscription"], ev["event"], ev["note"]["id"]) == (sub, "deposited", x)
        assert ev["note"]["body"] == "written through b" and ev["note"]["tags"] == ["seen"]

        y = deposit(w, "also through b", ns="colony")["id"]
        assert next_event(watcher)["note"]["id"] == y

        w.result("trail.reinforce", {"ns": "colony", "id": x, "delta": 2})
        ev = next_event(watcher)
        assert (ev["event"], ev["note"]["id"]) == ("reinforced", x)
        assert ev["note"]["weight"] == pytest.approx(3.0, rel=1e-4)

        w.result("trail.link", {"ns": "colony", "from": x, "to": y, "delta": 1.5})
        ev = next_event(watcher)
        assert (ev["event"], ev["note"]["id"]) == ("linked", y)
        assert ev["trail"]["from"] == x and ev["trail"]["to"] == y
        assert ev["trail"]["weight"] == pytest.approx(1.5, rel=1e-4)

        w.result("trail.retract", {"ns": "colony", "id": y, "reason": "misleading"})
        ev = next_event(watcher)
        assert (ev["event"], ev["note"]["id"], ev["note"]["state"]) == ("retracted", y, "retracted")
        assert ev["note"]["retraction"]["reason"] == "misleading"

        w.result("trail.revive", {"ns": "colony", "id": y})
        ev = next_event(watcher)
        assert (ev["event"], ev["note"]["id"], ev["note"]["state"]) == ("revived", y, "live")

        # Evaporation by a compaction through b, then a revival from the archive through b.
        w.result("trail.namespace.configure", {"ns": "fast", "half_life_s": 1})
        faint = [deposit(w, f"faint mark {i}", ns="fast", strength=0.1)["id"] for i in range(3)]
        assert [next_event(watcher)["note"]["id"] for _ in faint] == faint
        time.sleep(1.3)  # 0.1 halves below evaporate_below (0.05) after 1 s
        assert w.result("trail.compact", {"ns": "fast"})["evaporated"] == 3
        evs = [next_event(watcher) for _ in faint]
        assert {(e["subscription"], e["event"], e["note"]["state"]) for e in evs} == {(fast_sub, "evaporated", "archived")}
        assert sorted(e["note"]["id"] for e in evs) == sorted(faint)
        assert {e["note"]["body"] for e in evs} == {f"faint mark {i}" for i in range(3)}
        w.result("trail.revive", {"ns": "fast", "id": faint[0]})
        ev = next_event(watcher)
        assert (ev["subscription"], ev["event"], ev["note"]["id"], ev["note"]["state"]) == \
            (fast_sub, "revived", faint[0], "live")

        # Cut the listening connections, twice, while b writes: a catches up from the
        # write log when its listener is back, so every write arrives, once, in order,
        # each event with its write-log seq.
        assert psql_db(a, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                          "AND application_name = 'traild-listen'") == "2"
        cut = time.monotonic()
        during: list[str] = []
        for round_ in range(2):
            psql_db(a, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND application_name = 'traild-listen'")
            during += [deposit(w, f"during cut {round_} write {k}", ns="colony")["id"] for k in range(20)]
        evs = [next_event(watcher, timeout=20) for _ in during]
        reconnected = time.monotonic() - cut
        assert [e["note"]["id"] for e in evs] == during
        seqs = [e["seq"] for e in evs]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        assert event_within(watcher, 0.5) is None, "an event came twice"
        later = [deposit(w, f"later {k}", ns="colony")["id"] for k in range(5)]
        assert [next_event(watcher)["note"]["id"] for _ in later] == later
        assert psql_db(a, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                          "AND application_name = 'traild-listen'") == "2"
        print(f"watch: a had all 40 writes b made across two cuts of its listening connection "
              f"{reconnected:.2f} s after the first cut")


def while_listeners_are_out(d: Daemon, writes: Any) -> Any:
    """Runs `writes()` with the daemons' listening connections cut and kept
    out (no new connections to `d`'s database; those open stay)."""
    psql_db(d, f'ALTER DATABASE "{d.database}" CONNECTION LIMIT 0')
    try:
        psql_db(d, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                   "AND application_name = 'traild-listen'")
        return writes()
    finally:
        psql_db(d, f'ALTER DATABASE "{d.database}" CONNECTION LIMIT -1')


def test_a_watcher_is_told_of_the_writes_it_could_not_be_sent(pg_daemons, tmp_path):
    """More of the other daemon's writes while a's listener was down than a
    replays (`watch_catch_up_rows`): a's watcher gets trail.gap with the
    range, which the Python client raises as EventsMissed; the watch goes on."""
    sys.path.insert(0, str(ROOT / "Clients" / "python"))
    from trail_client import EventsMissed, Trail

    config = tmp_path / "catch-up.json"
    config.write_text(json.dumps({"watch_catch_up_rows": 5}))
    a, b = pg_daemons.pair(extra=[*NO_BACKGROUND, "--config", str(config)])
    with Trail(a.socket_path, default_ns="gap") as watcher, b.connect() as w:
        with watcher.watch() as events:
            first = deposit(w, "before the cut", ns="gap")["id"]
            assert events.get(timeout=10)["note"]["id"] == first
            missed = while_listeners_are_out(a, lambda: [deposit(w, f"while cut {k}", ns="gap")["id"] for k in range(10)])
            with pytest.raises(EventsMissed) as gap:
                events.get(timeout=30)
            assert gap.value.subscription == events.subscription
            assert gap.value.last - gap.value.first + 1 >= len(missed)
            after = deposit(w, "after the gap", ns="gap")["id"]
            ev = events.get(timeout=10)
            assert ev["note"]["id"] == after and ev["seq"] > gap.value.last

    # The same through the asyncio client.
    import asyncio
    from trail_client import AsyncTrail

    async def watch_async() -> None:
        async with AsyncTrail(a.socket_path, default_ns="gap") as watcher:
            async with watcher.watch() as events:
                await events.start()
                with b.connect() as w:
                    while_listeners_are_out(a, lambda: [deposit(w, f"while cut again {k}", ns="gap") for k in range(10)])
                    with pytest.raises(EventsMissed):
                        await events.get(timeout=30)
                    after = deposit(w, "after the second gap", ns="gap")["id"]
                    assert (await events.get(timeout=10))["note"]["id"] == after

    asyncio.run(watch_async())


def test_trailctl_watch_shows_a_gap_and_goes_on(pg_daemons, tmp_path):
    """`trailctl watch` (through the Swift client) prints a gap as a "missed"
    line with its range (its params with --json, no "event"), then the events
    after it."""
    config = tmp_path / "catch-up.json"
    config.write_text(json.dumps({"watch_catch_up_rows": 5}))
    a, b = pg_daemons.pair(extra=[*NO_BACKGROUND, "--config", str(config)])
    for extra in (["--json"], []):
        ns = "gap-json" if extra else "gap-text"
        # --count 2: the event before the cut and the one after the gap.
        argv = [trailctl_bin(), "watch", "--count", "2", "--ns", ns, "--socket", str(a.socket_path), *extra]
        watch = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env())
        try:
            with b.connect() as w:
                wait_until("the watch is subscribed", lambda: a.result("trail.stats")["watchers"] >= 1, timeout=10)
                deposit(w, "before the cut", ns=ns)
                while_listeners_are_out(a, lambda: [deposit(w, f"while cut {k}", ns=ns) for k in range(10)])
                # The gap comes once a's listener is back; then one more event ends the watch.
                time.sleep(0.5)
                deadline = time.monotonic() + 30
                k = 0
                while watch.poll() is None and time.monotonic() < deadline:
                    deposit(w, f"after the gap {k}", ns=ns)
                    k += 1
                    time.sleep(0.3)
            out, err = watch.communicate(timeout=10)
        finally:
            if watch.poll() is None:
                watch.kill()
        assert watch.returncode == 0, err
        lines = out.splitlines()
        assert len(lines) == 3, lines
        if extra:
            before, gap, after = (json.loads(line) for line in lines)
            assert before["note"]["body"] == "before the cut" and after["note"]["body"].startswith("after the gap")
            assert set(gap) == {"subscription", "from", "to"} and gap["to"] - gap["from"] + 1 >= 10
            assert gap["subscription"] == before["subscription"]
        else:
            assert "before the cut" in lines[0] and "after the gap" in lines[2]
            assert "missed" in lines[1] and "sense to catch up" in lines[1]


# ---------------------------------------------------------------------------
# faults: kill -9 of a daemon, the database stopped
# ---------------------------------------------------------------------------

def test_kill9_of_one_daemon_under_load_loses_no_acknowledged_write(pg_daemon_pair):
    a, b = pg_daemon_pair
    with a.connect() as c:
        shared = deposit(c, "reinforced by every writer")["id"]

    def call(k: int, i: int) -> tuple[str, dict[str, Any]]:
        if i % 3 == 2:
            return "trail.reinforce", {"id": shared, "delta": 1.0}
        return "trail.deposit", {"body": f"writer {k} note {i}", "tags": [f"w{k}"]}

    writers = Writers(b, 8, call, "b-writer").start()
    wait_until("b acknowledged 300 writes", lambda: writers.acked_count() >= 300, timeout=60, pause=0.01)
    b.kill9()
    started = time.monotonic()
    writers.join()
    deposits = writers.acked("trail.deposit")
    reinforced = len(writers.acked("trail.reinforce"))
    sent = sum(1 for _, _, m, _, _ in writers.all() if m == "trail.reinforce")
    assert len(deposits) >= 200
    found = readable_through(a, [r["id"] for _, r in deposits])
    for params, result in deposits:
        assert found[result["id"]]["body"] == params["body"] and found[result["id"]]["tags"] == params["tags"]
    # Every acknowledged reinforcement is in; at most the unanswered ones beyond.
    with a.connect() as c:
        weight = get_note(c, shared)["weight"]
        lo, _ = decayed_bounds(1 + reinforced, time.monotonic() - started + 60)
        assert lo <= weight <= 1 + sent + 1e-9, (weight, reinforced, sent)
        # a keeps serving writes.
        assert deposit(c, "after b died")["created"]


def test_database_stopped_under_load(pg_daemon_pair):
    a, b = pg_daemon_pair
    pg = a.pg

    def call(k: int, i: int) -> tuple[str, dict[str, Any]]:
        if i % 4 == 3:
            return "trail.sense", {"limit": 3}
        return "trail.deposit", {"body": f"outage writer {k} note {i}"}

    watcher = a.connect()
    watcher.result("trail.watch", {"ns": "heard"})
    load = [Writers(d, 4, call, f"{name}-writer").start() for name, d in (("a", a), ("b", b))]
    wait_until("some writes before the stop", lambda: all(w.acked_count() >= 40 for w in load), timeout=60, pause=0.01)
    stopped_at = time.monotonic()
    pg.stop_immediate()
    try:
        # While it is down: every call answers storage_unavailable; the daemons stay up.
        time.sleep(4)
        for d in (a, b):
            assert d.alive(), d.stderr()
            with d.connect() as c:
                t0 = time.monotonic()
                assert c.result("trail.hello", {})["server"] == "traild"
                assert time.monotonic() - t0 < 2.0, "hello must not wait for the database"
                for method, params in [("trail.deposit", {"body": "while the database is down"}),
                                       ("trail.get", {"id": "0" * 64}), ("trail.sense", {}), ("trail.stats", {})]:
                    t0 = time.monotonic()
                    err = c.call(method, params).get("error")
                    assert err is not None and err["code"] == STORAGE_UNAVAILABLE, (method, err)
                    assert time.monotonic() - t0 < 15
    finally:
        restarted_at = time.monotonic()
        pg.restart()
        up_at = time.monotonic()
    # Both reconnect by themselves and serve again (the writers' calls succeed again).
    back = {}
    for name, w in zip("ab", load):
        def first_ack() -> float | None:
            return min((t1 for t0, t1, _, _, r in w.all() if r is not None and "error" not in r and t0 > restarted_at),
                       default=None)
        wait_until(f"{name} serving again", lambda: first_ack() is not None, timeout=60)
        back[name] = first_ack() - restarted_at
    time.sleep(1)
    for w in load:
        w.join()
    calls = [c for w in load for c in w.all()]
    broken = [f"{name} {method} began {t0 - stopped_at:+.2f} s from the stop, took {t1 - t0:.2f} s: {exc!r}"
              for w in load for name, method, t0, t1, exc in w.broken]
    assert not broken, ("a writer's connection broke (the restart began "
                        f"{restarted_at - stopped_at:.2f} s after the stop): " + "; ".join(broken)
                        + "\n" + "\n".join(d.stderr()[-2000:] for d in (a, b)))
    codes = {r["error"]["code"] for *_, r in calls if "error" in r}
    assert codes <= {STORAGE_UNAVAILABLE}, codes
    failed = [(t0, t1) for t0, t1, _, _, r in calls if "error" in r]
    assert failed, "no call failed: the stop was not noticed"
    slowest = max(t1 - t0 for t0, t1, *_ in calls)
    assert slowest < 15, f"a call took {slowest:.1f} s"
    # No acknowledged write is lost, through either daemon.
    acked = [r["id"] for w in load for _, r in w.acked("trail.deposit")]
    for d in (a, b):
        readable_through(d, acked)
        assert d.alive()
    with a.connect() as c:
        assert c.result("trail.stats", {})["notes"] >= len(set(acked))
    # a's listener is back too (it retries every 5 s at most): its watcher hears b's writes again.
    heard_at = None
    with b.connect() as c, watcher:
        for i in range(100):
            deposit(c, f"heard after the outage {i}", ns="heard")
            if event_within(watcher, 0.2) is not None:
                heard_at = time.monotonic() - up_at
                break
    assert heard_at is not None, "a's watcher never heard b's writes again after the restart"
    print(f"database stop: {len(failed)} calls answered -32006, slowest call {slowest:.2f} s; "
          f"first write acknowledged {back['a']:.2f} s (a) / {back['b']:.2f} s (b) after the restart began "
          f"(pg_ctl start took {up_at - restarted_at:.2f} s; down {restarted_at - stopped_at:.1f} s); "
          f"a's watcher heard b again {heard_at:.2f} s after")


def test_a_database_that_stops_answering_gets_storage_unavailable_within_the_read_timeout(pg_daemon_pair):
    """Every PostgreSQL process frozen (SIGSTOP), so that a read sent on an
    open connection gets no answer and no error: the call answers -32006
    within the read pool's statement timeout (10 s) instead of waiting, and
    the daemon serves again once the server answers."""
    import os
    import signal
    a, _ = pg_daemon_pair
    pg = a.pg
    with a.connect() as c:
        deposit(c, "before the freeze")
        c.result("trail.sense", {})  # the read pool has an open connection
        postmaster = pg.postmaster_pid()
        assert postmaster is not None
        children = []
        for stat in glob.glob("/proc/[0-9]*/stat"):
            try:
                fields = open(stat).read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == postmaster:
                children.append(int(stat.split("/")[2]))
        frozen = [postmaster, *children]
        for pid in frozen:
            os.kill(pid, signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            resp = c.call("trail.sense", {})
            took = time.monotonic() - t0
        finally:
            for pid in frozen:
                os.kill(pid, signal.SIGCONT)
        err = resp.get("error")
        assert err is not None and err["code"] == STORAGE_UNAVAILABLE, resp
        assert "did not answer a read within" in err["message"], err
        assert 9 < took < 14, f"answered after {took:.1f} s"
        wait_until("serving again", lambda: "error" not in c.call("trail.sense", {}), timeout=30)
    assert a.alive()


# ---------------------------------------------------------------------------
# compaction by several at once
# ---------------------------------------------------------------------------

def test_two_compactions_of_one_namespace_at_once_evaporate_each_note_once(pg_daemons):
    a, b = pg_daemons.pair(extra=NO_BACKGROUND)
    faint_count = 400
    with a.connect() as c, a.connect() as watcher:
        c.result("trail.namespace.configure", {"ns": "fast", "half_life_s": 1})
        strong = deposit(c, "the strong mark", ns="fast", strength=1000)["id"]
        reqs = [("trail.deposit", {"ns": "fast", "body": f"faint {i}", "strength": 0.1, "after": [strong]})
                for i in range(faint_count)]
        faint = [r["result"]["id"] for r in pipeline(c, reqs)]
        watcher.result("trail.watch", {"ns": "fast"})
        time.sleep(1.3)
        assert c.result("trail.stats", {"ns": "fast"})["faded"] == faint_count

        reports: dict[str, Any] = {}
        barrier = threading.Barrier(3)

        def compact_through(name: str, d: Daemon) -> None:
            with d.connect() as cc:
                barrier.wait(timeout=30)
                reports[name] = cc.call("trail.compact", {"ns": "fast"})

        threads = [threading.Thread(target=compact_through, args=(n, d)) for n, d in (("a", a), ("b", b))]
        for t in threads:
            t.start()
        barrier.wait(timeout=30)
        proc = subprocess.run([compactor_bin(), "--store", a.store, "--batch", "50"],
                              capture_output=True, timeout=120)
        for t in threads:
            t.join(120)
        assert proc.returncode == 0, proc.stderr.decode()
        tool = [json.loads(line) for line in proc.stdout.decode().splitlines()]
        assert all("error" not in r for r in reports.values()), reports
        evaporated = {n: r["result"]["evaporated"] for n, r in reports.items()}
        evaporated["trail-compactor"] = sum(r["evaporated"] for r in tool if r["ns"] == "fast")
        assert sum(evaporated.values()) == faint_count, evaporated
        for d in (a, b):
            with d.connect() as cc:
                stats = cc.result("trail.stats", {"ns": "fast"})
                assert (stats["notes"], stats["live"], stats["faded"], stats["archived"]) == \
                    (faint_count + 1, 1, 0, faint_count)
        assert store_rows(a, "SELECT count(*), count(DISTINCT id) FROM note WHERE ns = 'fast' AND state = 2")[0] == \
            (faint_count, faint_count)
        assert store_rows(a, "SELECT sum(notes) FROM archive_block WHERE ns = 'fast'")[0][0] == faint_count
        # The watcher on a hears of each evaporation once, whoever compacted.
        events = [next_event(watcher) for _ in range(faint_count)]
        assert sorted(e["note"]["id"] for e in events) == sorted(faint)
        assert {e["event"] for e in events} == {"evaporated"}
        assert event_within(watcher, 0.5) is None
    print(f"compaction at once: evaporated by {evaporated}")


# ---------------------------------------------------------------------------
# the database's clock
# ---------------------------------------------------------------------------

def libfaketime() -> str:
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketimeMT.so.1") + glob.glob("/usr/lib/faketime/libfaketimeMT.so.1"))
    if not found:
        pytest.fail("libfaketime is not installed (Debian package `faketime`): run `make deps`")
    return found[0]


def test_decay_uses_the_database_clock_not_the_daemons(pg_daemons):
    a = pg_daemons("a", db="clock", extra=NO_BACKGROUND)
    # Through sh, which execs traild: traild preloaded with libfaketime 0.9.10 by a
    # parent that does not have it preloaded starts without its arguments (seen with
    # Swift 6; through a preloaded sh that execs it, it gets them). libfaketime also
    # shifts absolute timers, so b's sleeps never end: b is not stopped gracefully.
    b = pg_daemons("b", db="clock", extra=NO_BACKGROUND, command=["sh", "-c", 'exec "$0" "$@"'], env={
        "LD_PRELOAD": libfaketime(), "FAKETIME": "+1d", "FAKETIME_DONT_FAKE_MONOTONIC": "1"})
    assert f"socket={b.socket_path}" in b.stderr(), b.stderr()
    # b's own clock really is a day ahead: its log lines say so.
    stamp = re.search(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)", b.stderr(), re.M)
    assert stamp, b.stderr()
    ahead = datetime.datetime.strptime(stamp.group(1), "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=datetime.timezone.utc).timestamp() - time.time()
    assert 23 * 3600 < ahead < 25 * 3600, ahead

    with a.connect() as ca, b.connect() as cb:
        # A namespace made through b, with a short half-life: b's clock would halve every weight.
        cb.result("trail.namespace.configure", {"ns": "daily", "half_life_s": 86400})
        before = time.time()
        made = {
            "via a": deposit(ca, "deposited through a", ns="daily", strength=2.0),
            "via b": deposit(cb, "deposited through b", ns="daily", strength=3.0),
            "default via b": deposit(cb, "deposited through b, default namespace"),
        }
        both = deposit(ca, "deposited through both", ns="daily")
        deposit(cb, "deposited through both", ns="daily", strength=0.5)
        cb.result("trail.reinforce", {"ns": "daily", "id": made["via a"]["id"], "delta": 1.0})
        retracted = deposit(ca, "retracted through b", ns="daily")["id"]
        cb.result("trail.retract", {"ns": "daily", "id": retracted, "reason": "checking the clock"})
        after = time.time()
        for key, r in [*made.items(), ("both", both), ("retracted", {"id": retracted})]:
            ns = "default" if key.startswith("default") else "daily"
            na = get_note(ca, r["id"], ns=ns)
            nb = get_note(cb, r["id"], ns=ns)
            assert nb["weight"] == pytest.approx(na["weight"], rel=1e-6), key
            for note in (na, nb):
                for field in ("created_at", "updated_at"):
                    # The database's clock, which this host shares; not b's, a day ahead.
                    assert before - 2 <= seconds_of(note[field]) <= after + 2, (key, field, note[field])
        expected = {"via a": 3.0, "via b": 3.0, "default via b": 1.0, "both": 1.5}
        for key, w in expected.items():
            ns = "default" if key.startswith("default") else "daily"
            id_ = both["id"] if key == "both" else made[key]["id"]
            lo, hi = decayed_bounds(w, time.time() - before + 1, half_life=86400 if ns == "daily" else HALF_LIFE)
            assert lo <= get_note(cb, id_, ns=ns)["weight"] <= hi, key
        retraction = get_note(ca, retracted, ns="daily")["retraction"]
        assert before - 2 <= seconds_of(retraction["at"]) <= after + 2
        # Ranking agrees too.
        sa = [(n["id"], n["weight"]) for n in ca.result("trail.sense", {"ns": "daily"})["notes"]]
        sb = [(n["id"], n["weight"]) for n in cb.result("trail.sense", {"ns": "daily"})["notes"]]
        assert [i for i, _ in sa] == [i for i, _ in sb]
        for (_, wa), (_, wb) in zip(sa, sb):
            assert wb == pytest.approx(wa, rel=1e-6)
    at = store_rows(a, "SELECT min(at), max(at) FROM write_log WHERE op IN ('deposit', 'redeposit', 'reinforce', 'retract')")[0]
    assert before - 2 <= at[0] / 1000 and at[1] / 1000 <= after + 2, at


# ---------------------------------------------------------------------------
# bad starts, and the password kept out of every output
# ---------------------------------------------------------------------------

def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


BAD_START_BOUND = 10.0  # seconds: the connect timeout is 5 s, start-up takes well under 1 s


def test_bad_starts_exit_at_once_with_one_clear_line(pg_cluster, tmp_path):
    pg = pg_cluster
    db = pg.create_database()
    secret = "Wrong-Pw-4711"
    # Two local stand-ins for a network that drops packets, which do not depend on
    # this machine's routes (192.0.2.1, TEST-NET-1, may be refused at once instead):
    # a port whose accept queue is full drops SYNs; a server that accepts and never speaks.
    full = socket.socket()
    full.bind(("127.0.0.1", 0))
    full.listen(0)
    fillers = []
    for _ in range(3):
        f = socket.socket()
        f.setblocking(False)
        try:
            f.connect(full.getsockname())
        except BlockingIOError:
            pass
        fillers.append(f)
    mute = socket.socket()
    mute.bind(("127.0.0.1", 0))
    mute.listen(16)
    cases = [
        ("malformed url", f"postgres://trail:{secret}@127.0.0.1:99999/{db}", r"port .* is not a number"),
        ("malformed url", f"postgres://trail:{secret}@127.0.0.1/{db}?sslmode=allow", r"sslmode=allow"),
        ("wrong password", pg.url(db, password=secret), r"rejected the password"),
        ("closed port", f"postgres://trail:{secret}@127.0.0.1:{closed_port()}/{db}", r"cannot be reached"),
        ("TEST-NET address", f"postgres://trail:{secret}@192.0.2.1:5432/{db}", r"cannot be reached"),
        ("port dropping SYNs", f"postgres://trail:{secret}@127.0.0.1:{full.getsockname()[1]}/{db}",
         r"cannot be reached \(no answer within 5 s\)"),
        ("server never answering", f"postgres://trail:{secret}@127.0.0.1:{mute.getsockname()[1]}/{db}",
         r"cannot be reached \(no answer within 5 s\)"),
        ("missing database", pg.url("no_such_database"), r"does not exist"),
    ]
    passwords = [secret, quote(secret, safe=""), pg.password]
    try:
        for i, (what, url, words) in enumerate(cases):
            # One line says what is wrong (ArgumentParser's usage may follow a malformed URL).
            said = assert_bad_start(tmp_path, i, what, url, words, passwords, BAD_START_BOUND, re.I)
            assert "store" in said.lower(), (what, said)
    finally:
        for s_ in [full, mute, *fillers]:
            s_.close()
        pg.drop_database(db, wait=False)


def test_the_password_appears_in_no_log_hello_or_status(pg_daemons, pg_cluster):
    pg = pg_cluster
    password = "Colony-s3cret:@/%#pw"
    user = "colony_user"
    pg.psql(f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{user}') THEN "
            f"CREATE ROLE {user} LOGIN PASSWORD '{password}'; END IF; END $$")
    db = pg.create_database(owner=user)
    url = pg.url(db, user=user, password=password)
    redacted = f"postgres://{user}@127.0.0.1:{pg.port}/{db}"
    forms = [password, quote(password, safe=""), quote(password, safe="/"), "s3cret"]
    try:
        d = pg_daemons("secret", extra=["--store", url, "--log-level", "trace", *NO_BACKGROUND])
        with d.connect() as c, d.connect() as watcher:
            hello = c.result("trail.hello", {})
            assert hello["database"] == redacted
            watcher.result("trail.watch", {})
            x = deposit(c, "a note")["id"]
            next_event(watcher)
            c.result("trail.compact", {})
            status = subprocess.run([trailctl_bin(), "status", "--socket", str(d.socket_path)],
                                    capture_output=True, env=clean_env(), timeout=60)
            status_json = subprocess.run([trailctl_bin(), "status", "--json", "--socket", str(d.socket_path)],
                                         capture_output=True, env=clean_env(), timeout=60)
            assert status.returncode == 0 and status_json.returncode == 0
            assert redacted in status.stdout.decode()
            assert json.loads(status_json.stdout)["hello"]["database"] == redacted
            # An outage writes the database's name into errors and the log.
            pg.stop_immediate()
            try:
                err = c.call("trail.get", {"id": x})["error"]
                assert err["code"] == STORAGE_UNAVAILABLE
                down = c.call("trail.deposit", {"body": "while down"})["error"]
                time.sleep(1.5)  # the listener's reconnection attempts log too
            finally:
                pg.start()
            wait_until("serving again", lambda: "error" not in c.call("trail.deposit", {"body": "back"}), timeout=60)
        assert d.terminate() == 0
        texts = {"log": d.stderr(), "hello": json.dumps(hello), "status": status.stdout.decode() + status.stderr.decode(),
                 "status --json": status_json.stdout.decode() + status_json.stderr.decode(),
                 "errors": json.dumps([err, down])}
        assert redacted in texts["log"] and len(texts["log"].splitlines()) > 20
        for where, text in texts.items():
            for form in forms:
                assert form not in text, f"the password ({form!r}) appears in {where}"
    finally:
        pg.drop_database(db, wait=False)
