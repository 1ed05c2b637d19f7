"""trail_client.langgraph.TrailStore against a real traild: put, get,
overwrite (the old note retracted with a reason, created_at kept), delete,
search (by meaning with the real model, by words without it, filters,
limit and offset), list_namespaces, sync and async, a differential test
against LangGraph's own InMemoryStore, a compiled graph whose tool reads and
writes the store, two processes sharing one memory, and bad input.
"""
from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import pytest

pytest.importorskip("langgraph", reason="pip install 'trail-client[langgraph]' (make test installs it)")

from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel  # noqa: E402
from langchain_core.messages import AIMessage, HumanMessage  # noqa: E402
from langchain_core.tools import tool  # noqa: E402
from langgraph.graph import END, START, MessagesState, StateGraph  # noqa: E402
from langgraph.prebuilt import InjectedStore, ToolNode  # noqa: E402
from langgraph.store.base import BaseStore, GetOp, InvalidNamespaceError, PutOp  # noqa: E402
from langgraph.store.memory import InMemoryStore  # noqa: E402

from trail_client import Trail  # noqa: E402
from trail_client.errors import DaemonUnavailable  # noqa: E402
from trail_client.langgraph import TrailStore, key_tag  # noqa: E402

CLIENT_DIR = Path(__file__).resolve().parents[1]
MODEL = Path(os.environ.get("TRAIL_MODEL_DIR", CLIENT_DIR.parents[1] / "models" / "all-MiniLM-L6-v2"))


@pytest.fixture
def store(daemon, ns):
    with TrailStore(daemon.sock, ns=ns) as s:
        yield s


def test_put_get_overwrite_keeps_created_at_and_retracts_the_old_note_with_a_reason(store, daemon, ns):
    assert store.get(("users", "alice"), "prefs") is None
    with Trail(daemon.sock) as t:  # the store made its namespace: items never fade out of reach
        settings = {n["ns"]: n for n in t.list_namespaces()["namespaces"]}[ns]
        assert settings["evaporate_below"] == 0
    store.put(("users", "alice"), "prefs", {"theme": "dark", "size": 3})
    first = store.get(("users", "alice"), "prefs")
    assert (first.namespace, first.key, first.value) == (("users", "alice"), "prefs", {"theme": "dark", "size": 3})
    store.put(("users", "alice"), "prefs", {"theme": "light"})
    second = store.get(("users", "alice"), "prefs")
    assert second.value == {"theme": "light"}
    assert second.created_at == first.created_at
    assert second.updated_at >= first.updated_at
    with Trail(daemon.sock, default_ns=ns) as t:
        notes = t.sense(tags=[key_tag(("users", "alice"), "prefs")], include_faded=True)["notes"]
        assert len(notes) == 1
        old = [n for n in t.export()["records"] if n["state"] == "retracted"]
        assert len(old) == 1 and json.loads(old[0]["body"])["value"] == {"theme": "dark", "size": 3}
        assert "replaced by a put of key 'prefs' in users/alice" in old[0]["retraction"]["reason"]
        assert notes[0]["after"] == [old[0]["id"]]
    # The same value as the first comes back with its history.
    store.put(("users", "alice"), "prefs", {"theme": "dark", "size": 3})
    assert store.get(("users", "alice"), "prefs").value == {"theme": "dark", "size": 3}
    with Trail(daemon.sock, default_ns=ns) as t:
        states = sorted(r["state"] for r in t.export()["records"])
        assert states == ["live", "retracted"]


def test_two_keys_with_one_value_are_two_items_and_delete_says_why(store, daemon, ns):
    store.put(("docs",), "a", {"text": "same"})
    store.put(("docs",), "b", {"text": "same"})
    assert {i.key for i in store.search(("docs",))} == {"a", "b"}
    store.delete(("docs",), "a")
    assert store.get(("docs",), "a") is None
    assert store.get(("docs",), "b").value == {"text": "same"}
    store.delete(("docs",), "never-there")
    with Trail(daemon.sock, default_ns=ns) as t:
        gone = [r for r in t.export()["records"] if r["state"] == "retracted"]
        assert [json.loads(r["body"])["key"] for r in gone] == ["a"]
        assert "deleted: key 'a' in docs" in gone[0]["retraction"]["reason"]


def test_search_filters_limit_offset_and_prefix(store):
    for i in range(12):
        store.put(("shop", "fruit" if i % 2 else "veg"), f"k{i}", {"n": i, "kind": "odd" if i % 2 else "even",
                                                                   "tags": ["x", str(i)], "meta": {"k": i % 3}})
    store.put(("shopping",), "other", {"n": 100})
    every = store.search(("shop",), limit=100)
    assert len(every) == 12 and all(i.namespace[0] == "shop" for i in every)
    assert {i.key for i in store.search(("shop", "fruit"), limit=100)} == {f"k{i}" for i in range(1, 12, 2)}
    assert {i.value["n"] for i in store.search(("shop",), filter={"n": {"$gte": 4, "$lt": 7}}, limit=100)} == {4, 5, 6}
    assert {i.value["n"] for i in store.search(("shop",), filter={"n": {"$gt": 9}}, limit=100)} == {10, 11}
    assert {i.value["n"] for i in store.search(("shop",), filter={"n": {"$lte": 1}}, limit=100)} == {0, 1}
    assert {i.value["n"] for i in store.search(("shop",), filter={"kind": {"$ne": "odd"}}, limit=100)} == set(range(0, 12, 2))
    assert {i.value["n"] for i in store.search(("shop",), filter={"kind": {"$eq": "odd"}, "meta": {"k": 0}},
                                               limit=100)} == {3, 9}
    assert [i.value["n"] for i in store.search(("shop",), filter={"tags": ["x", "7"]})] == [7]
    pages = [store.search(("shop",), limit=5, offset=o) for o in (0, 5, 10)]
    assert [len(p) for p in pages] == [5, 5, 2]
    assert [i.key for p in pages for i in p] == [i.key for i in every]
    assert store.search(("nowhere",)) == []
    with pytest.raises(ValueError, match=r"\$regex"):
        store.search(("shop",), filter={"n": {"$regex": "1"}})


def test_search_by_words_without_the_model(store):
    store.put(("kb",), "zstd", {"text": "the build needs libzstd-dev installed"})
    store.put(("kb",), "yen", {"text": "invoices in yen are rounded"})
    found = store.search(("kb",), query="libzstd")
    assert [i.key for i in found] == ["zstd"]
    assert found[0].score is not None


def test_search_by_meaning_with_the_model(daemon_factory, ns):
    assert (MODEL / "model.safetensors").is_file(), f"the model is missing in {MODEL}: run make model"
    d = daemon_factory(args=["--model-dir", str(MODEL)])
    with TrailStore(d.sock, ns=ns) as store:
        store.put(("kb",), "zstd", {"text": "The build fails on a fresh machine until libzstd-dev is installed."})
        store.put(("kb",), "ants", {"text": "Ants follow the strongest pheromone trail to food."})
        store.put(("kb",), "yen", {"text": "Invoices in yen are rounded to whole units."})
        with Trail(d.sock, default_ns=ns) as t:  # wait for the indexer, as a reader seconds later would
            for _ in range(600):
                if (t.stats(ns=ns).get("embedding") or {}).get("pending", 1) == 0:
                    break
                import time
                time.sleep(0.05)
        found = store.search(("kb",), query="insects marking routes with chemical signals", limit=3)
        assert [i.key for i in found][0] == "ants"
        assert all(-1 <= i.score <= 1 for i in found)
        assert found[0].score > found[1].score


def test_list_namespaces_prefix_suffix_wildcards_depth_and_pages(store):
    for n in [("a", "b", "c"), ("a", "b", "d", "e"), ("a", "b", "d", "i"), ("a", "b", "f"), ("a", "c", "f"), ("x",)]:
        store.put(n, "k", {"v": 1})
    assert store.list_namespaces() == sorted([("a", "b", "c"), ("a", "b", "d", "e"), ("a", "b", "d", "i"),
                                              ("a", "b", "f"), ("a", "c", "f"), ("x",)])
    assert store.list_namespaces(prefix=("a", "b"), max_depth=3) == [("a", "b", "c"), ("a", "b", "d"), ("a", "b", "f")]
    assert store.list_namespaces(suffix=("f",)) == [("a", "b", "f"), ("a", "c", "f")]
    assert store.list_namespaces(prefix=("a", "*", "f")) == [("a", "b", "f"), ("a", "c", "f")]
    assert store.list_namespaces(max_depth=1) == [("a",), ("x",)]
    assert store.list_namespaces(limit=2, offset=1) == [("a", "b", "d", "e"), ("a", "b", "d", "i")]
    store.delete(("x",), "k")
    assert ("x",) not in store.list_namespaces()


def test_async_flavour(store):
    async def go() -> None:
        await store.aput(("async",), "k", {"v": 1})
        await asyncio.gather(*(store.aput(("async",), f"k{i}", {"v": i}) for i in range(5)))
        assert (await store.aget(("async",), "k")).value == {"v": 1}
        assert len(await store.asearch(("async",), limit=10)) == 6
        await store.adelete(("async",), "k")
        assert await store.aget(("async",), "k") is None
        assert await store.alist_namespaces() == [("async",)]
    asyncio.run(go())


def test_bad_input(store, tmp_path):
    with pytest.raises(InvalidNamespaceError):
        store.put(("langgraph", "x"), "k", {"v": 1})
    with pytest.raises(InvalidNamespaceError):
        store.put(("a.b",), "k", {"v": 1})
    with pytest.raises(InvalidNamespaceError, match="at most 14"):
        store.put(tuple(f"l{i}" for i in range(15)), "k", {"v": 1})
    with pytest.raises(ValueError, match="is not JSON"):
        store.put(("a",), "k", {"v": {1, 2}})
    with pytest.raises(ValueError, match="is not JSON"):
        store.put(("a",), "k", {"v": float("nan")})
    with pytest.raises(ValueError, match="trail refused the value"):
        store.put(("a",), "big", {"v": "x" * 5000})
    with pytest.raises(NotImplementedError, match="TTL"):
        store.put(("a",), "k", {"v": 1}, ttl=5)
    assert store.search(("a",)) == []  # nothing was written by the refused puts
    store.put(("a",), "k", {"v": 1})   # and the store still serves
    assert store.get(("a",), "k").value == {"v": 1}
    with pytest.raises(DaemonUnavailable, match="traild"):
        TrailStore(str(tmp_path / "none.sock"))


def test_a_batch_of_many_keys_costs_three_round_trips_and_keeps_its_order(store, monkeypatch):
    trips: list[int] = []
    sent_alone = store.trail._execute
    sent_together = store.trail._run_batch
    monkeypatch.setattr(store.trail, "_execute", lambda r: (trips.append(1), sent_alone(r))[1])
    monkeypatch.setattr(store.trail, "_run_batch", lambda rs: (trips.append(len(rs)), sent_together(rs))[1])
    store.put(("warm",), "up", {"v": 0})  # the store's first call looks at the namespace once
    trips.clear()
    store.batch([PutOp(("many",), f"k{i}", {"v": i}) for i in range(40)])
    assert trips == [40, 40]  # the reads, the deposits (nothing to retract)
    trips.clear()
    store.batch([PutOp(("many",), f"k{i}", {"v": i + 100}) for i in range(40)])
    assert trips == [40, 40, 40]  # the reads, the deposits, the retractions of the old values
    trips.clear()
    got = store.batch([GetOp(("many",), f"k{i}") for i in range(40)] + [GetOp(("many",), "none")])
    assert trips == [41]
    assert [g.value for g in got[:40]] == [{"v": i + 100} for i in range(40)] and got[40] is None
    # The same key twice in a batch: the second op sees the first.
    got = store.batch([PutOp(("many",), "k0", {"v": "a"}), GetOp(("many",), "k0"),
                       PutOp(("many",), "k0", None), GetOp(("many",), "k0")])
    assert got[1].value == {"v": "a"} and got[3] is None
    # One value refused: the others of the batch are kept, and the error is raised.
    with pytest.raises(ValueError, match="'bad'.*is not JSON"):
        store.batch([PutOp(("many",), "good1", {"v": 1}), PutOp(("many",), "bad", {"v": {1, 2}}),
                     PutOp(("many",), "good2", {"v": 2})])
    assert store.get(("many",), "good1").value == {"v": 1} and store.get(("many",), "good2").value == {"v": 2}
    assert store.get(("many",), "bad") is None


def test_a_comparison_on_a_missing_or_non_numeric_field_excludes_the_item(store):
    """Where TrailStore's filters part from InMemoryStore's on purpose: `$gt`
    and friends on a missing or non-numeric field leave the item out (as
    LangGraph's PostgreSQL store does), where InMemoryStore raises."""
    for key, value in [("num", {"n": 5}), ("missing", {"m": 1}), ("text", {"n": "five"}), ("null", {"n": None})]:
        store.put(("f",), key, value)
    assert [i.key for i in store.search(("f",), filter={"n": {"$gt": 1}})] == ["num"]
    assert sorted(i.key for i in store.search(("f",), filter={"n": {"$ne": 5}})) == ["missing", "null", "text"]
    memory = InMemoryStore()
    memory.put(("f",), "missing", {"m": 1})
    with pytest.raises(TypeError):
        memory.search(("f",), filter={"n": {"$gt": 1}})
    with pytest.raises(ValueError, match="unsupported filter operator '\\$in'"):
        store.search(("f",), filter={"n": {"$in": [5]}})


def _differential_ops(seed: int, count: int) -> list[tuple[str, Any]]:
    rng = random.Random(seed)
    spaces = [("a",), ("a", "b"), ("a", "b", "c"), ("z", "b"), ("q",)]
    ops: list[tuple[str, Any]] = []
    for _ in range(count):
        kind = rng.choice(["put", "put", "put", "delete", "get", "search", "list"])
        ns = rng.choice(spaces)
        key = f"k{rng.randrange(6)}"
        if kind == "put":
            ops.append(("put", (ns, key, {"n": rng.randrange(10), "c": rng.choice(["red", "blue"])})))
        elif kind == "delete":
            ops.append(("delete", (ns, key)))
        elif kind == "get":
            ops.append(("get", (ns, key)))
        elif kind == "search":
            prefix = ns[:rng.randrange(len(ns) + 1)]
            f = rng.choice([None, {"c": "red"}, {"n": {"$gt": 4}}, {"n": {"$ne": 3}, "c": {"$eq": "blue"}}])
            ops.append(("search", (prefix, f)))
        else:
            ops.append(("list", (rng.choice([None, ("a",), ("a", "*")]), rng.choice([None, ("b",)]),
                                 rng.choice([None, 1, 2]))))
    return ops


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_differential_against_langgraphs_in_memory_store(daemon, ns, seed):
    """Generated sequences against TrailStore and InMemoryStore: every get,
    search (as sets: the orders differ by design, docs/frameworks.md) and
    list_namespaces agree. InMemoryStore lists a namespace once used even
    after its last item went; trail lists namespaces that hold items (as
    LangGraph's PostgresStore does), so the reference drops empty ones."""
    ref = InMemoryStore()
    with TrailStore(daemon.sock, ns=f"{ns}-{seed}") as store:
        for i, (kind, args) in enumerate(_differential_ops(seed, 120)):
            where = f"op {i}: {kind}{args}"
            if kind == "put":
                store.put(*args)
                ref.put(*args)
            elif kind == "delete":
                store.delete(*args)
                ref.delete(*args)
            elif kind == "get":
                got, want = store.get(*args), ref.get(*args)
                assert (got and (got.namespace, got.key, got.value)) == (want and (want.namespace, want.key, want.value)), where
            elif kind == "search":
                prefix, f = args
                got = store.search(prefix, filter=f, limit=1000)
                want = ref.search(prefix, filter=f, limit=1000)
                assert sorted((i.namespace, i.key, json.dumps(i.value, sort_keys=True)) for i in got) == \
                    sorted((i.namespace, i.key, json.dumps(i.value, sort_keys=True)) for i in want), where
            else:
                prefix, suffix, depth = args
                ref._data = type(ref._data)(dict, {k: v for k, v in ref._data.items() if v})
                assert store.list_namespaces(prefix=prefix, suffix=suffix, max_depth=depth) == \
                    ref.list_namespaces(prefix=prefix, suffix=suffix, max_depth=depth), where


def test_a_compiled_graph_whose_tool_uses_the_store(store):
    """A real graph: a fake chat model (LangChain's testing model) asks for
    a tool twice; the tool writes and reads memory through InjectedStore."""
    @tool
    def remember(fact: str, store: Annotated[BaseStore, InjectedStore()]) -> str:
        """Keeps a fact in the shared memory and says how many are kept."""
        store.put(("facts",), f"f{len(store.search(('facts',), limit=100))}", {"text": fact})
        return f"{len(store.search(('facts',), limit=100))} facts kept"

    model = FakeMessagesListChatModel(responses=[
        AIMessage(content="", tool_calls=[{"name": "remember", "args": {"fact": "the build needs libzstd-dev"},
                                           "id": "c1"}]),
        AIMessage(content="", tool_calls=[{"name": "remember", "args": {"fact": "tests need initdb"}, "id": "c2"}]),
        AIMessage(content="done"),
    ])

    def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    def route(state: MessagesState) -> str:
        return "tools" if state["messages"][-1].tool_calls else END

    g = StateGraph(MessagesState)
    g.add_node("agent", agent)
    g.add_node("tools", ToolNode([remember]))
    g.add_edge(START, "agent")
    g.add_conditional_edges("agent", route, ["tools", END])
    g.add_edge("tools", "agent")
    out = g.compile(store=store).invoke({"messages": [HumanMessage(content="remember what you learn")]})
    assert out["messages"][-1].content == "done"
    assert [m.content for m in out["messages"] if m.type == "tool"] == ["1 facts kept", "2 facts kept"]
    assert sorted(i.value["text"] for i in store.search(("facts",))) == ["tests need initdb",
                                                                          "the build needs libzstd-dev"]


def test_two_processes_share_one_memory(store, daemon, ns):
    """Another process puts through its own TrailStore; this one reads it,
    overwrites it, and the other reads the overwrite."""
    script = (
        "import sys, json\n"
        f"sys.path.insert(0, {str(CLIENT_DIR)!r})\n"
        "from trail_client.langgraph import TrailStore\n"
        "with TrailStore(sys.argv[1], ns=sys.argv[2]) as s:\n"
        "    if sys.argv[3] == 'put':\n"
        "        s.put(('shared',), 'plan', {'step': 1})\n"
        "    else:\n"
        "        print(json.dumps(s.get(('shared',), 'plan').value))\n")
    subprocess.run([sys.executable, "-c", script, daemon.sock, ns, "put"], check=True, timeout=60)
    assert store.get(("shared",), "plan").value == {"step": 1}
    store.put(("shared",), "plan", {"step": 2})
    out = subprocess.run([sys.executable, "-c", script, daemon.sock, ns, "get"], check=True, timeout=60,
                         capture_output=True, text=True).stdout
    assert json.loads(out) == {"step": 2}


def test_an_existing_namespace_keeps_its_settings(daemon, ns):
    with Trail(daemon.sock) as t:
        t.configure_namespace(ns, evaporate_below=0.2, half_life_s=3600)
    with TrailStore(daemon.sock, ns=ns) as store:
        store.put(("a",), "k", {"v": 1})
    with Trail(daemon.sock) as t:
        settings = {n["ns"]: n for n in t.list_namespaces()["namespaces"]}[ns]
    assert (settings["evaporate_below"], settings["half_life_s"]) == (0.2, 3600)
