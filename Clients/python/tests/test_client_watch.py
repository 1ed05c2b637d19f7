"""watch(): the sync iterator and the async iterator of events."""
from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from trail_client import AsyncTrail, DaemonUnavailable, Trail


def test_sync_watch_iterates_every_kind_of_event(daemon: Any, ns: str) -> None:
    with Trail(daemon.sock, default_ns=ns) as watcher, Trail(daemon.sock, default_ns=ns, agent="w") as writer:
        with watcher.watch() as w:
            a = writer.deposit("watched a", tags=["t"])["id"]
            b = writer.deposit("watched b")["id"]
            writer.reinforce(a, delta=2)
            writer.link(a, b, delta=1.5)
            writer.retract(b, "wrong")
            writer.revive(b)
            events = [next(w) for _ in range(6)]
        assert [e["event"] for e in events] == ["deposited", "deposited", "reinforced", "linked", "retracted",
                                                "revived"]
        assert all(e["subscription"] == w.subscription for e in events)
        assert events[0]["note"]["id"] == a and events[0]["note"]["tags"] == ["t"]
        assert events[0]["note"]["agent"] == "w"
        assert events[3]["note"]["id"] == b
        assert events[3]["trail"] == {"from": a, "to": b, "weight": pytest.approx(1.5, rel=1e-3)}
        retraction = events[4]["note"]["retraction"]
        assert retraction is not None and retraction["reason"] == "wrong"
        seqs = [e["seq"] for e in events]
        assert seqs == sorted(seqs) and len(set(seqs)) == 6
        # Closed (unwatched) by the with block: iteration ends.
        with pytest.raises(StopIteration):
            next(w)


def test_sync_watch_with_tags_and_own_writes(trail: Trail) -> None:
    """Events for the watcher's own writes arrive between its answers; they
    are kept for the iterator while calls go on."""
    w = trail.watch(tags=["food"])
    trail.deposit("not food", tags=["rock"])
    f1 = trail.deposit("bread", tags=["food"])["id"]
    f2 = trail.deposit("cheese", tags=["food", "dairy"])["id"]
    assert trail.stats()["notes"] == 3
    got = [e["note"]["id"] for e in (w.get(timeout=5), w.get(timeout=5))]
    assert got == [f1, f2]
    with pytest.raises(TimeoutError):
        w.get(timeout=0.2)
    assert trail.unwatch(w.subscription) == {"ok": True}
    assert list(w) == []


def test_sync_watch_for_loop_with_a_writer_thread(daemon: Any, ns: str) -> None:
    def write() -> None:
        with Trail(daemon.sock, default_ns=ns) as t:
            for i in range(5):
                t.deposit(f"from a thread {i}")
                time.sleep(0.01)

    with Trail(daemon.sock, default_ns=ns) as t:
        w = t.watch()
        th = threading.Thread(target=write)
        th.start()
        bodies = []
        for event in w:
            bodies.append(event["note"]["body"])
            if len(bodies) == 5:
                break
        th.join()
        w.close()
    assert bodies == [f"from a thread {i}" for i in range(5)]


def test_sync_watch_raises_when_the_daemon_goes(daemon_factory: Any) -> None:
    d = daemon_factory()
    with Trail(d.sock) as t:
        w = t.watch()
        d.stop()
        with pytest.raises(DaemonUnavailable):
            w.get(timeout=10)


def test_async_watch_iterates(daemon: Any, ns: str) -> None:
    async def main() -> None:
        async with AsyncTrail(daemon.sock, default_ns=ns) as watcher, \
                AsyncTrail(daemon.sock, default_ns=ns) as writer:
            async with watcher.watch(tags=["x"]) as w:
                assert w.subscription
                a = (await writer.deposit("async a", tags=["x"]))["id"]
                await writer.deposit("ignored", tags=["y"])
                await writer.reinforce(a)
                await writer.retract(a, "no longer true")
                kinds = []
                async for event in w:
                    assert event["note"]["id"] == a
                    kinds.append(event["event"])
                    if len(kinds) == 3:
                        break
                assert kinds == ["deposited", "reinforced", "retracted"]
            # Unwatched by the block: iteration ends.
            assert [e async for e in w] == []

    asyncio.run(main())


def test_async_watch_awaited_and_concurrent_calls(daemon: Any, ns: str) -> None:
    """One connection watches and calls at the same time: events and answers
    are told apart by id."""

    async def main() -> None:
        async with AsyncTrail(daemon.sock, default_ns=ns) as t:
            w = await t.watch()
            received: list[str] = []

            async def consume() -> None:
                async for event in w:
                    received.append(event["note"]["body"])
                    if len(received) == 50:
                        return

            task = asyncio.create_task(consume())
            results = await asyncio.gather(*(t.deposit(f"concurrent {i}") for i in range(50)))
            await asyncio.wait_for(task, 10)
            assert sorted(received) == sorted(f"concurrent {i}" for i in range(50))
            assert len(results) == 50
            with pytest.raises(TimeoutError):
                await w.get(timeout=0.2)
            await w.close()
            assert w.subscription is not None

    asyncio.run(main())


def test_async_watch_raises_when_the_daemon_goes(daemon_factory: Any) -> None:
    d = daemon_factory()

    async def main() -> None:
        async with AsyncTrail(d.sock) as t:
            w = await t.watch()
            d.stop()
            with pytest.raises(DaemonUnavailable):
                await w.get(timeout=10)

    asyncio.run(main())


def test_watch_sees_evaporation(trail: Trail, ns: str) -> None:
    from trail_client import MethodNotFound
    trail.configure_namespace(ns, evaporate_below=0.6)
    with trail.watch() as w:
        faint = trail.deposit("about to evaporate", strength=0.5)["id"]
        try:
            trail.compact()
        except MethodNotFound:
            pytest.skip("this traild has no compactor")
        events = [w.get(timeout=5) for _ in range(2)]
    assert [(e["event"], e["note"]["id"]) for e in events] == [("deposited", faint), ("evaporated", faint)]
    assert events[1]["note"]["state"] == "archived"


def test_closing_the_client_ends_its_watches(daemon: Any, ns: str) -> None:
    t = Trail(daemon.sock, default_ns=ns)
    w = t.watch()
    t.deposit("seen before the close")
    t.close()
    assert list(w) == []
    # The client reconnects for calls; the old watch stays ended.
    assert t.stats()["notes"] == 1
    assert list(w) == []
    t.close()

    async def main() -> None:
        a = AsyncTrail(daemon.sock, default_ns=ns)
        aw = await a.watch()
        await a.close()
        assert [e async for e in aw] == []

    asyncio.run(main())
