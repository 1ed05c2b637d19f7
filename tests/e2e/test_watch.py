"""trail.watch: notifications of writes, filters, unwatch."""
from __future__ import annotations

import time

import pytest

from conftest import assert_error, deposit, no_pending_message, pipeline


def next_event(watcher):
    """The next message on a watching connection, which must be a trail.event notification."""
    msg = watcher.recv()
    assert isinstance(msg, dict), msg
    assert msg.get("jsonrpc") == "2.0", msg
    assert msg.get("method") == "trail.event", msg
    assert "id" not in msg, f"notifications carry no id: {msg}"
    return msg["params"]


next_notification = next_event


def test_events_for_every_write(daemon):
    seqs = []

    def next_event(watcher):  # noqa: F811 (the module's, keeping each event's seq)
        ev = next_notification(watcher)
        seqs.append(ev.get("seq"))
        return ev

    with daemon.connect() as watcher, daemon.connect() as writer:
        sub = watcher.result("trail.watch", {})["subscription"]
        assert isinstance(sub, str) and sub

        a = deposit(writer, "watched a", tags=["t"])["id"]
        ev = next_event(watcher)
        assert ev["subscription"] == sub
        assert ev["event"] == "deposited"
        assert ev["note"]["id"] == a
        assert ev["note"]["body"] == "watched a"
        assert ev["note"]["tags"] == ["t"]

        deposit(writer, "watched a")
        ev = next_event(watcher)
        assert ev["event"] in ("deposited", "reinforced")
        assert ev["note"]["id"] == a and ev["note"]["deposits"] == 2

        writer.result("trail.reinforce", {"id": a, "delta": 2})
        ev = next_event(watcher)
        assert ev["event"] == "reinforced"
        assert ev["note"]["id"] == a
        assert ev["note"]["weight"] == pytest.approx(4.0, rel=1e-3)

        b = deposit(writer, "watched b")["id"]
        assert next_event(watcher)["note"]["id"] == b

        writer.result("trail.link", {"from": a, "to": b, "delta": 1.5})
        ev = next_event(watcher)
        assert ev["event"] == "linked"
        assert ev["note"]["id"] == b, "a linked event's note is the `to` end"
        assert ev["trail"]["from"] == a and ev["trail"]["to"] == b
        assert ev["trail"]["weight"] == pytest.approx(1.5, rel=1e-3)

        writer.result("trail.retract", {"id": b, "reason": "wrong"})
        ev = next_event(watcher)
        assert ev["event"] == "retracted"
        assert ev["note"]["id"] == b
        assert ev["note"]["state"] == "retracted"
        assert ev["note"]["retraction"]["reason"] == "wrong"

        writer.result("trail.revive", {"id": b})
        ev = next_event(watcher)
        assert ev["event"] == "revived"
        assert ev["note"]["id"] == b and ev["note"]["state"] == "live"

        # The watching connection still answers requests.
        assert watcher.result("trail.hello", {})["protocol"] == 1
    # Each event carries its write's row in the write log, in order.
    assert all(isinstance(q, int) and q > 0 for q in seqs), seqs
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), seqs


def test_failed_writes_send_no_event(daemon):
    with daemon.connect() as watcher, daemon.connect() as writer:
        watcher.result("trail.watch", {})
        assert_error(writer.call("trail.deposit", {"body": ""}), -32602)
        assert_error(writer.call("trail.reinforce", {"id": "0" * 64}), -32001)
        deposit(writer, "after the failures")
        ev = next_event(watcher)
        assert ev["note"]["body"] == "after the failures"


def test_deposit_with_after_sends_deposited(daemon):
    with daemon.connect() as watcher, daemon.connect() as writer:
        a = deposit(writer, "trail head")["id"]
        watcher.result("trail.watch", {})
        b = deposit(writer, "trail step", after=[a])["id"]
        ev = next_event(watcher)
        assert ev["event"] == "deposited" and ev["note"]["id"] == b
        assert ev["note"]["after"] == [a]


def test_namespace_filter(daemon):
    with daemon.connect() as watcher, daemon.connect() as writer:
        sub = watcher.result("trail.watch", {"ns": "wanted"})["subscription"]
        deposit(writer, "elsewhere", ns="other")
        deposit(writer, "in default")
        deposit(writer, "here", ns="wanted")
        ev = next_event(watcher)
        assert ev["subscription"] == sub
        assert ev["note"]["body"] == "here", "events of other namespaces must not be sent"
        assert ev["note"]["ns"] == "wanted"


def test_default_namespace_watch_ignores_others(daemon):
    with daemon.connect() as watcher, daemon.connect() as writer:
        watcher.result("trail.watch", {})
        deposit(writer, "other ns", ns="other")
        deposit(writer, "default ns")
        assert next_event(watcher)["note"]["body"] == "default ns"


def test_tags_filter_all_of(daemon):
    with daemon.connect() as watcher, daemon.connect() as writer:
        watcher.result("trail.watch", {"tags": ["food", "left"]})
        deposit(writer, "only food", tags=["food"])
        deposit(writer, "untagged")
        deposit(writer, "food left and more", tags=["food", "left", "warm"])
        ev = next_event(watcher)
        assert ev["note"]["body"] == "food left and more"


def test_unwatch_stops_events(daemon):
    with daemon.connect() as watcher, daemon.connect() as writer:
        sub1 = watcher.result("trail.watch", {})["subscription"]
        sub2 = watcher.result("trail.watch", {"ns": "marker"})["subscription"]
        assert sub1 != sub2
        assert watcher.result("trail.unwatch", {"subscription": sub1}) == {"ok": True}
        deposit(writer, "nobody listens")
        deposit(writer, "marker note", ns="marker")
        ev = next_event(watcher)
        assert ev["subscription"] == sub2, f"an unwatched subscription still got {ev}"
        assert ev["note"]["body"] == "marker note"
        assert watcher.result("trail.unwatch", {"subscription": sub2}) == {"ok": True}
        deposit(writer, "still nobody")
        deposit(writer, "nor here", ns="marker")
        assert no_pending_message(watcher, 0.5)


def test_unwatch_twice_and_unknown(daemon):
    with daemon.connect() as watcher:
        sub = watcher.result("trail.watch", {})["subscription"]
        watcher.result("trail.unwatch", {"subscription": sub})
        assert_error(watcher.call("trail.unwatch", {"subscription": sub}), -32008, "unknown_subscription")
        assert_error(watcher.call("trail.unwatch", {"subscription": "no-such-sub"}), -32008,
                     "unknown_subscription")
        assert_error(watcher.call("trail.unwatch", {}), -32602, "invalid_params", "subscription")


def test_unwatch_of_another_connections_subscription(daemon):
    with daemon.connect() as a, daemon.connect() as b, daemon.connect() as writer:
        sub = a.result("trail.watch", {})["subscription"]
        assert_error(b.call("trail.unwatch", {"subscription": sub}), -32008, "unknown_subscription")
        deposit(writer, "a still watches")
        assert next_event(a)["subscription"] == sub


def test_two_watchers_both_notified(daemon):
    with daemon.connect() as w1, daemon.connect() as w2, daemon.connect() as writer:
        s1 = w1.result("trail.watch", {})["subscription"]
        s2 = w2.result("trail.watch", {})["subscription"]
        deposit(writer, "broadcast")
        assert next_event(w1)["subscription"] == s1
        assert next_event(w2)["subscription"] == s2


def test_no_events_without_watch(daemon):
    with daemon.connect() as idle, daemon.connect() as writer:
        idle.result("trail.hello", {})
        deposit(writer, "quiet")
        assert no_pending_message(idle, 0.5)


def test_watch_bad_params(daemon):
    with daemon.connect() as c:
        assert_error(c.call("trail.watch", {"ns": "Not Valid"}), -32004, "invalid_namespace")
        assert_error(c.call("trail.watch", {"tags": ["BAD TAG"]}), -32602, "invalid_params", "tags")
        assert_error(c.call("trail.watch", {"bogus": 1}), -32602, "invalid_params", "bogus")


def test_closed_watcher_does_not_break_writes(daemon):
    for _ in range(5):
        w = daemon.connect()
        w.result("trail.watch", {})
        w.close()
    with daemon.connect() as writer:
        for i in range(20):
            deposit(writer, f"after closed watchers {i}")
        assert writer.result("trail.stats", {})["notes"] == 20


def test_watch_on_the_writing_connection(daemon):
    with daemon.connect() as c:
        sub = c.result("trail.watch", {})["subscription"]
        rid = c.request("trail.deposit", {"body": "self watched"})
        seen_event = seen_response = False
        for _ in range(2):
            msg = c.recv()
            if msg.get("method") == "trail.event":
                assert msg["params"]["subscription"] == sub
                assert msg["params"]["note"]["body"] == "self watched"
                seen_event = True
            else:
                assert msg["id"] == rid and "result" in msg
                seen_response = True
        assert seen_event and seen_response


def test_slow_watcher_does_not_block_writers(daemon):
    n = 1000
    with daemon.connect() as watcher, daemon.connect() as writer:
        watcher.result("trail.watch", {"ns": "flood"})
        # The watcher reads nothing while ~2 MB of events pile up.
        t0 = time.monotonic()
        responses = pipeline(writer, [("trail.deposit", {"body": f"flood {i} " + "x" * 2000, "ns": "flood"})
                                      for i in range(n)], timeout=30)
        assert all("result" in r for r in responses)
        assert time.monotonic() - t0 < 30
        assert writer.result("trail.hello")["protocol"] == 1
        # Whatever the watcher gets is in commit order, without duplicates:
        # every event, or a prefix of them and then the connection closed.
        watcher.sock.settimeout(5)
        seen = 0
        while seen < n:
            try:
                msg = watcher.recv()
            except ConnectionError:
                break
            assert msg["method"] == "trail.event"
            assert msg["params"]["note"]["body"].startswith(f"flood {seen} ")
            seen += 1
        assert seen > 0
