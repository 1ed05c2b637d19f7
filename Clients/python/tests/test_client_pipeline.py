"""Pipelining: the sync pipeline and asyncio.gather on one connection, 1,000
requests each."""
from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import pytest

from trail_client import AsyncTrail, InvalidParams, Pending, Trail, UnknownNote

N = 1000


def sha(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def test_sync_pipeline_of_1000(trail: Trail, ns: str) -> None:
    bodies = [f"pipelined note {i}" for i in range(N)]
    with trail.pipeline() as p:
        pending = [p.deposit(b, tags=["bulk"]) for b in bodies]
        assert len(p) == N and not pending[0].done()
    assert p.results is not None and len(p.results) == N
    assert [r["id"] for r in p.results] == [sha(b) for b in bodies]
    assert all(r["created"] for r in p.results)
    assert pending[123].result()["id"] == sha(bodies[123])
    # A second pipeline reads them all back, mixing methods.
    with trail.pipeline() as p2:
        gets = [p2.get(sha(b)[:16]) for b in bodies]
        st = p2.stats()
    assert [g.result()["note"]["body"] for g in gets] == bodies
    assert st.result()["notes"] == N and st.result()["ns"] == ns


def test_pipeline_errors_in_order(trail: Trail) -> None:
    p = trail.pipeline()
    ok = p.deposit("fine")
    bad = p.get("0000000000000000")
    worse = p.deposit("x", strength=-1)
    also_ok = p.call("trail.namespace.list")
    results = p.execute(return_exceptions=True)
    assert results[0]["created"] is True
    assert isinstance(results[1], UnknownNote) and isinstance(results[2], InvalidParams)
    assert "namespaces" in results[3]
    assert ok.exception() is None and isinstance(bad.exception(), UnknownNote)
    with pytest.raises(InvalidParams):
        worse.result()
    assert also_ok.result() is results[3]
    assert p.execute() is results  # runs once
    with pytest.raises(RuntimeError):
        p.stats()


def test_pipeline_raises_first_error_after_all_answers(trail: Trail) -> None:
    with pytest.raises(UnknownNote):
        with trail.pipeline() as p:
            first = p.deposit("kept although a later call fails")
            p.get("1111111111111111")
            last = p.deposit("also kept")
    assert first.result()["created"] and last.result()["created"]
    assert trail.get(last.result()["id"])["note"]["body"] == "also kept"


def test_pending_before_execute(trail: Trail) -> None:
    p = trail.pipeline()
    pending: Pending[Any] = p.stats()
    with pytest.raises(RuntimeError):
        pending.result()
    p.execute()
    assert pending.result()["ns"]


def test_empty_pipeline(trail: Trail) -> None:
    with trail.pipeline() as p:
        pass
    assert p.results == []


def test_async_gather_of_1000_on_one_connection(daemon: Any, ns: str) -> None:
    async def main() -> None:
        async with AsyncTrail(daemon.sock, default_ns=ns) as t:
            bodies = [f"gathered note {i}" for i in range(N)]
            results = await asyncio.gather(*(t.deposit(b) for b in bodies))
            assert [r["id"] for r in results] == [sha(b) for b in bodies]
            notes = await asyncio.gather(*(t.get(sha(b)[:12]) for b in bodies))
            assert [n["note"]["body"] for n in notes] == bodies
            st = await t.stats()
            assert st["notes"] == N
            assert st["connections"] >= 1
            # Errors stay with their own call.
            mixed = await asyncio.gather(t.get("2222222222222222"), t.stats(), return_exceptions=True)
            assert isinstance(mixed[0], UnknownNote) and mixed[1]["notes"] == N

    asyncio.run(main())


def test_async_calls_from_many_tasks(daemon: Any, ns: str) -> None:
    async def worker(t: AsyncTrail, k: int) -> list[str]:
        out = []
        for i in range(20):
            out.append((await t.deposit(f"task {k} note {i}", tags=[f"task-{k}"]))["id"])
        return out

    async def main() -> None:
        async with AsyncTrail(daemon.sock, default_ns=ns) as t:
            ids = await asyncio.gather(*(worker(t, k) for k in range(10)))
            assert sum(len(x) for x in ids) == 200
            for k in range(10):
                sensed = await t.sense(tags=[f"task-{k}"], limit=100)
                assert {n["id"] for n in sensed["notes"]} == set(ids[k])

    asyncio.run(main())
