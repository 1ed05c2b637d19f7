"""Acknowledged writes survive kill -9."""
from __future__ import annotations

import json
import signal
import socket
import threading
import time

import pytest

from conftest import configure, deposit, get_note, pipeline, sha


def test_concurrent_writers_survive_kill9(daemon_factory):
    d = daemon_factory("dur")
    n_threads = 16
    acked: list[list[str]] = [[] for _ in range(n_threads)]
    stop = threading.Event()
    started = threading.Barrier(n_threads + 1)
    unexpected: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            c = d.connect()
        except BaseException as e:
            unexpected.append(e)
            started.wait()
            return
        started.wait()
        i = 0
        try:
            while not stop.is_set() and i < 100_000:
                body = f"writer {k} note {i}"
                resp = c.call("trail.deposit", {"body": body, "tags": [f"w{k}"]})
                if "error" in resp:
                    unexpected.append(AssertionError(resp))
                    return
                assert resp["result"]["id"] == sha(body)
                acked[k].append(resp["result"]["id"])
                i += 1
        except (ConnectionError, OSError, ValueError):
            pass  # the daemon was killed under us
        finally:
            c.close()

    threads = [threading.Thread(target=writer, args=(k,), daemon=True) for k in range(n_threads)]
    for t in threads:
        t.start()
    started.wait()
    time.sleep(1.5)
    d.kill9()
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert not unexpected, unexpected[:3]
    total = sum(len(a) for a in acked)
    assert total >= n_threads, f"too few writes acknowledged before the kill: {total}"
    assert all(acked), "every writer should have had at least one deposit acknowledged"

    d.start()
    all_ids = [i for a in acked for i in a]
    with d.connect() as c:
        responses = pipeline(c, [("trail.get", {"id": i}) for i in all_ids])
        lost = [i for i, r in zip(all_ids, responses) if "error" in r]
        assert not lost, f"{len(lost)} of {total} acknowledged deposits lost after kill -9, e.g. {lost[:3]}"
        for i, r in zip(all_ids, responses):
            assert r["result"]["note"]["id"] == i
        stats = c.result("trail.stats")
        assert stats["notes"] >= total
        # The daemon still takes writes after the restart.
        assert deposit(c, "after restart")["created"] is True


def test_every_kind_of_write_survives_kill9(daemon_factory):
    d = daemon_factory("kinds")
    with d.connect() as c:
        configure(c, "tuned", half_life_s=86400, evaporate_below=0.25, max_note_bytes=2000)
        a = deposit(c, "durable a", tags=["x"], agent="first")["id"]
        b = deposit(c, "durable b", after=[a], strength=2)["id"]
        deposit(c, "durable b", after=[a], tags=["y"], agent="second")
        c.result("trail.reinforce", {"id": a, "delta": 3})
        c.result("trail.link", {"from": b, "to": a, "delta": 5})
        r = deposit(c, "durable retracted")["id"]
        c.result("trail.retract", {"id": r, "reason": "kept across restarts", "agent": "judge"})
        v = deposit(c, "durable revived")["id"]
        c.result("trail.retract", {"id": v, "reason": "briefly"})
        c.result("trail.revive", {"id": v})
        z = deposit(c, "durable zero")["id"]
        c.result("trail.reinforce", {"id": z, "delta": -10})
        t = deposit(c, "in tuned ns", ns="tuned")["id"]
    d.kill9()
    d.start()
    with d.connect() as c:
        na = get_note(c, a)
        assert na["weight"] == pytest.approx(4.0, rel=1e-3)
        assert na["agent"] == "first" and na["tags"] == ["x"]
        nb = get_note(c, b)
        assert nb["deposits"] == 2 and nb["weight"] == pytest.approx(3.0, rel=1e-3)
        assert nb["tags"] == ["y"] and nb["after"] == [a] and nb["agent"] is None
        fwd = c.result("trail.follow", {"from": a})["trails"]
        assert [(x["to"], round(x["weight"], 3)) for x in fwd] == [(b, 3.0)]
        fwd = c.result("trail.follow", {"from": b})["trails"]
        assert [(x["to"], round(x["weight"], 3)) for x in fwd] == [(a, 5.0)]
        nr = get_note(c, r)
        assert nr["state"] == "retracted"
        assert nr["retraction"]["reason"] == "kept across restarts"
        assert nr["retraction"]["agent"] == "judge"
        assert get_note(c, v)["state"] == "live"
        nz = get_note(c, z)
        assert nz["weight"] == 0 and nz["state"] == "faded"
        assert get_note(c, t, ns="tuned")["body"] == "in tuned ns"
        tuned = [n for n in c.result("trail.namespace.list")["namespaces"] if isinstance(n, dict) and n["ns"] == "tuned"]
        assert tuned and tuned[0]["half_life_s"] == pytest.approx(86400)
        assert tuned[0]["evaporate_below"] == pytest.approx(0.25)
        assert tuned[0]["max_note_bytes"] == 2000
        s = c.result("trail.stats")
        assert s["notes"] == 5 and s["edges"] == 2 and s["retracted"] == 1


def test_decay_continues_across_restart(daemon_factory):
    d = daemon_factory("clock")
    with d.connect() as c:
        configure(c, "fast", half_life_s=1)
        t0 = time.monotonic()
        i = deposit(c, "decays while down", ns="fast", strength=8)["id"]
        t1 = time.monotonic()
    d.terminate()
    time.sleep(1.0)
    d.start()
    with d.connect() as c:
        g0 = time.monotonic()
        w = get_note(c, i, ns="fast")["weight"]
        g1 = time.monotonic()
    lo = 8 * 2 ** -(g1 - t0)
    hi = 8 * 2 ** -(g0 - t1)
    assert lo * 0.97 <= w <= hi * 1.03, (w, lo, hi)


def test_pipelined_writes_acked_then_kill9(daemon_factory):
    d = daemon_factory("pipe")
    with d.connect() as c:
        responses = pipeline(c, [("trail.deposit", {"body": f"burst {i}"}) for i in range(500)])
        assert all("result" in r for r in responses)
    d.kill9()
    d.start()
    with d.connect() as c:
        responses = pipeline(c, [("trail.get", {"id": sha(f"burst {i}")}) for i in range(500)])
        missing = [i for i, r in enumerate(responses) if "error" in r]
        assert not missing, f"lost {len(missing)} acknowledged deposits"


def test_sigterm_answers_every_stored_write_to_a_client_that_reads_late(daemon_factory):
    """A client pipelines 4,000 writes and reads nothing until after SIGTERM:
    more answers than the socket holds, the rest queued in the daemon. They
    are still written once the client reads, before the connection closes,
    so every write that was stored was answered, and whole (a stop used to
    close after a fixed 0.1 s: the client got half an answer, then nothing)."""
    d = daemon_factory("late")
    c = d.connect()
    n = 4000
    payload = _deposits([f"read late {i}" for i in range(n)])
    t = _send_in_background(c, payload)
    # Until the daemon has stored what it will take from us.
    with d.connect() as probe:
        stored, steady = -1, 0
        while steady < 5:
            time.sleep(0.1)
            now = probe.result("trail.stats", {"ns": "default"})["notes"]
            steady = steady + 1 if now == stored else 0
            stored = now
    assert stored > 1000, f"only {stored} of {n} writes were stored"
    d.proc.send_signal(signal.SIGTERM)
    time.sleep(1)  # the daemon is stopping while the answers wait for the client
    answers = _answers_until_closed(c)
    assert all("result" in a for a in answers), [a for a in answers if "result" not in a][0]
    answered = {a["id"] for a in answers}
    c.close()
    assert d.proc.wait(timeout=30) == 0, d.stderr()
    d._stderr.close()
    t.join(timeout=10)
    d.start()
    with d.connect() as c2:
        kept = _stored(c2, [f"read late {i}" for i in range(n)])
    assert kept == answered, (f"{len(kept - answered)} writes stored but never answered, "
                              f"{len(answered - kept)} answered but not stored, of {len(kept)} stored")


def test_sigterm_cuts_off_a_client_that_never_reads_its_answers(daemon_factory):
    """A stop waits for a connection to take its last answers, but not for
    ever: a client that pipelines reads with large answers and never reads
    them is cut off after 5 s, and the daemon stops cleanly."""
    d = daemon_factory("never-reads")
    with d.connect() as setup:
        for r in pipeline(setup, [("trail.deposit", {"body": f"{i} " + "z" * 1000}) for i in range(10)]):
            assert "result" in r
    c = d.connect()
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    # Each answer is ten notes, ~11 KB: far more than the socket holds.
    line = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "trail.sense", "params": {"limit": 10}}).encode() + b"\n"
    t = _send_in_background(c, line * 2000)
    time.sleep(1)  # the daemon has answers it cannot write, and stops reading us
    started = time.monotonic()
    d.proc.send_signal(signal.SIGTERM)
    assert d.proc.wait(timeout=60) == 0, d.stderr()
    took = time.monotonic() - started
    d._stderr.close()
    c.close()
    t.join(timeout=10)
    assert 4.5 <= took < 30, f"the daemon stopped {took:.1f} s after SIGTERM, not after waiting 5 s for the client"
    # What it stored is intact.
    d.start()
    assert d.result("trail.stats", {"ns": "default"})["notes"] == 10


def _deposits(bodies: list[str]) -> bytes:
    """One pipelined deposit request per body, its index as its id."""
    return b"".join(json.dumps({"jsonrpc": "2.0", "id": i, "method": "trail.deposit", "params": {"body": body}}).encode()
                    + b"\n" for i, body in enumerate(bodies))


def _send_in_background(c, payload: bytes) -> threading.Thread:
    """Sends `payload` on `c` from a thread of its own, which ends quietly when the daemon closes."""
    def send() -> None:
        try:
            c.send_raw(payload)
        except OSError:
            pass

    t = threading.Thread(target=send, daemon=True)
    t.start()
    return t


def _answers_until_closed(c) -> list[dict]:
    """Every answer on `c` until the daemon closes it; a line cut short fails the test."""
    answers = []
    while True:
        try:
            ln = c.read_line()
        except OSError:
            return answers
        if not ln:
            return answers
        try:
            answers.append(json.loads(ln))
        except json.JSONDecodeError:
            raise AssertionError(f"the connection closed inside an answer: {ln[:80]!r}") from None


def _stored(c, bodies: list[str]) -> set[int]:
    """The indexes of the `bodies` the store holds as notes, asked 200 at a time."""
    answers = []
    for at in range(0, len(bodies), 200):
        answers += pipeline(c, [("trail.get", {"id": sha(body)}) for body in bodies[at:at + 200]])
    return {i for i, r in enumerate(answers) if "result" in r}


def test_sigterm_with_writes_in_flight(daemon_factory):
    d = daemon_factory("term")
    c = d.connect()
    n = 3000
    payload = _deposits([f"in flight {i}" for i in range(n)])

    t = _send_in_background(c, payload)
    first = c.recv()  # the daemon is busy with our writes
    assert "result" in first, first
    acked = {first["id"]}
    d.proc.send_signal(signal.SIGTERM)
    for msg in _answers_until_closed(c):
        if "result" in msg:
            assert msg["result"]["id"] == sha(f"in flight {msg['id']}")
            acked.add(msg["id"])
    c.close()
    code = d.proc.wait(timeout=30)
    d._stderr.close()
    t.join(timeout=10)
    assert code == 0, d.stderr()
    d.start()
    with d.connect() as c2:
        ids = sorted(acked)
        # Read back 200 at a time: 3,000 pipelined reads at once can wait longer for one of
        # the PostgreSQL engine's 4 read connections than its 5 s pool timeout on a busy machine.
        responses = []
        for at in range(0, len(ids), 200):
            responses += pipeline(c2, [("trail.get", {"id": sha(f"in flight {i}")}) for i in ids[at:at + 200]])
        lost = [i for i, r in zip(ids, responses) if "error" in r]
        assert not lost, f"{len(lost)} of {len(ids)} writes acknowledged before SIGTERM were lost: {responses[ids.index(lost[0])]}"
        # And the other way: every write that was stored was answered before the
        # connection closed (the daemon drains each connection's answers at a stop).
        unanswered = sorted(_stored(c2, [f"in flight {i}" for i in range(n)]) - acked)
        assert not unanswered, f"{len(unanswered)} writes were stored but never answered, the first {unanswered[0]}"
