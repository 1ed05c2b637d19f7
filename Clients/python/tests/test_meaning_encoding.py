"""Recall by meaning in the Python client, without a real daemon: the params
``sense`` and ``deposit`` send, the new members of their answers passed
through, ``SemanticUnavailable`` for -32010 (sync and asyncio, against a
scripted socket), and the command line's flags.

The real thing (a traild with its embedding model) is exercised in
tests/e2e/test_meaning_doors.py."""
from __future__ import annotations

import asyncio
import inspect
import json
import math
import os
import socket
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import pytest

import trail_client
from trail_client import AsyncTrail, SemanticUnavailable, Trail, _api
from trail_client.__main__ import _parser, render_markdown
from trail_client._api import Base
from trail_client.errors import error_from_wire

A = "a1" * 32
B = "b2" * 32


def note(id_: str, body: str, **extra: Any) -> dict[str, Any]:
    n = {"id": id_, "ns": "c", "body": body, "tags": [], "after": [], "weight": 1.0, "rank": None, "deposits": 1,
         "agent": None, "state": "live", "created_at": "2026-11-25T21:00:00.000Z",
         "updated_at": "2026-11-25T21:00:00.000Z", "retraction": None}
    n.update(extra)
    return n


def params(request: _api.Request[Any]) -> dict[str, Any]:
    msg = json.loads(request.encode(1))
    return msg.get("params", {})


def test_sense_sends_similar_and_min_similarity_only_when_given() -> None:
    c = Base()
    assert params(_api.sense(c, "wal", similar="the database says busy", min_similarity=-0.25)) == {
        "query": "wal", "similar": "the database says busy", "min_similarity": -0.25}
    assert params(_api.sense(c, similar="food")) == {"similar": "food"}
    assert "similar" not in params(_api.sense(c, "wal")) and "min_similarity" not in params(_api.sense(c))


def test_deposit_sends_merge_similar_only_when_given() -> None:
    c = Base()
    assert params(_api.deposit(c, "x", merge_similar=0.9)) == {"body": "x", "merge_similar": 0.9}
    assert params(_api.deposit(c, "x")) == {"body": "x"}


def test_a_nan_threshold_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(ValueError):
        _api.sense(Base(), similar="x", min_similarity=math.nan).encode(1)
    with pytest.raises(ValueError):
        _api.deposit(Base(), "x", merge_similar=math.inf).encode(1)


@pytest.mark.parametrize("flavour", [Trail, AsyncTrail, trail_client.Pipeline])
def test_every_flavour_takes_the_new_arguments_keyword_only(flavour: Any) -> None:
    sense = inspect.signature(flavour.sense).parameters
    deposit = inspect.signature(flavour.deposit).parameters
    for name, sig in (("similar", sense), ("min_similarity", sense), ("merge_similar", deposit)):
        assert sig[name].kind is inspect.Parameter.KEYWORD_ONLY and sig[name].default is None, (flavour, name)


def test_minus_32010_is_semantic_unavailable() -> None:
    err = error_from_wire({"code": -32010, "message": "Search by meaning is not available here.",
                           "data": {"reason": "semantic_unavailable"}})
    assert type(err) is SemanticUnavailable and err.reason == "semantic_unavailable" and err.code == -32010
    assert trail_client.errors.ERRORS_BY_CODE[-32010] is SemanticUnavailable


# --- against a scripted socket ------------------------------------------------

Script = Callable[[str, dict[str, Any]], Any]

UNAVAILABLE = {"code": -32010, "message": "Search by meaning is not available here (no model); install the model "
                                          "with `make model` and restart traild, or search by words with query.",
               "data": {"reason": "semantic_unavailable"}}


class ScriptedDaemon:
    """Answers each request line with `script(method, params)`: a result, or
    `{"error": {...}}` for an error. Records every request."""

    def __init__(self, script: Script) -> None:
        self.dir = tempfile.mkdtemp(prefix="trail-py-meaning-", dir="/tmp")
        self.path = os.path.join(self.dir, "s.sock")
        self.script = script
        self.requests: list[dict[str, Any]] = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rwb") as f:
            for line in f:
                req = json.loads(line)
                self.requests.append(req)
                answer = self.script(req["method"], req.get("params") or {})
                msg: dict[str, Any] = {"jsonrpc": "2.0", "id": req["id"]}
                if isinstance(answer, dict) and "error" in answer:
                    msg["error"] = answer["error"]
                else:
                    msg["result"] = answer
                f.write(json.dumps(msg).encode() + b"\n")
                f.flush()

    def close(self) -> None:
        self.sock.close()
        Path(self.path).unlink(missing_ok=True)
        os.rmdir(self.dir)

    def sent(self, method: str) -> list[dict[str, Any]]:
        return [r.get("params") or {} for r in self.requests if r["method"] == method]


def with_model(method: str, p: dict[str, Any]) -> Any:
    if method == "trail.hello":
        return {"server": "traild", "version": "0.1.0", "protocol": 1, "limits": {},
                "semantic": {"model": "all-MiniLM-L6-v2", "dims": 384}}
    if method == "trail.sense":
        return {"notes": [note(A, "SQLite WAL needs a local disk", score=0.47, similarity=0.405),
                          note(B, "busy: see the WAL note", score=0.03, similarity=None)]}
    if method == "trail.deposit":
        if "merge_similar" not in p:
            return {"id": B, "ns": "c", "created": True, "weight": 1.0, "deposits": 1}
        return {"id": A, "ns": "c", "created": False, "weight": 2.0, "deposits": 2, "merged": True, "similarity": 0.949}
    if method == "trail.stats":
        return {"ns": "c", "notes": 2, "embedding": {"model": "all-MiniLM-L6-v2", "embedded": 1, "pending": 1}}
    return {"error": {"code": -32601, "message": "no", "data": {"reason": "method_not_found"}}}


def without_model(method: str, p: dict[str, Any]) -> Any:
    if method == "trail.hello":
        return {"server": "traild", "version": "0.1.0", "protocol": 1, "limits": {}, "semantic": None}
    if "similar" in p or "merge_similar" in p:
        return {"error": UNAVAILABLE}
    return with_model(method, p)


@pytest.fixture
def scripted() -> Iterator[Callable[[Script], ScriptedDaemon]]:
    made: list[ScriptedDaemon] = []

    def make(script: Script) -> ScriptedDaemon:
        made.append(ScriptedDaemon(script))
        return made[-1]

    yield make
    for d in made:
        d.close()


def test_sync_client_sends_the_params_and_passes_the_new_members_through(scripted: Any) -> None:
    d = scripted(with_model)
    with Trail(d.path, default_ns="c") as t:
        assert t.server is not None and t.server.get("semantic") == {"model": "all-MiniLM-L6-v2", "dims": 384}
        notes = t.sense("busy", similar="the database says it is busy", min_similarity=0.25)["notes"]
        assert [n.get("similarity") for n in notes] == [0.405, None]
        merged = t.deposit("SQLite WAL on NFS fails with SQLITE_BUSY", merge_similar=0.9)
        assert merged["merged"] is True and merged["similarity"] == 0.949 and merged["id"] == A
        plain = t.deposit("x")
        assert "merged" not in plain
        stats = t.stats()
        assert stats.get("embedding") == {"model": "all-MiniLM-L6-v2", "embedded": 1, "pending": 1}
    assert d.sent("trail.sense") == [{"ns": "c", "query": "busy", "similar": "the database says it is busy",
                                      "min_similarity": 0.25}]
    assert [p.get("merge_similar") for p in d.sent("trail.deposit")] == [0.9, None]


def test_semantic_unavailable_is_raised_and_other_calls_still_work(scripted: Any) -> None:
    d = scripted(without_model)
    with Trail(d.path) as t:
        assert t.server is not None and t.server.get("semantic") is None
        with pytest.raises(SemanticUnavailable) as info:
            t.sense(similar="food")
        assert "make model" in info.value.message and info.value.reason == "semantic_unavailable"
        with pytest.raises(SemanticUnavailable):
            t.deposit("x", merge_similar=0.9)
        assert t.deposit("x")["created"] is True
        assert t.sense("wal")["notes"]


def test_asyncio_client_and_pipeline_too(scripted: Any) -> None:
    d = scripted(without_model)

    async def scenario() -> None:
        async with AsyncTrail(d.path) as t:
            with pytest.raises(SemanticUnavailable):
                await t.sense(similar="food", min_similarity=0.3)
            assert (await t.deposit("x"))["created"] is True

    asyncio.run(scenario())
    assert d.sent("trail.sense")[0] == {"similar": "food", "min_similarity": 0.3}
    with Trail(d.path) as t:
        p = t.pipeline()
        refused = p.deposit("y", merge_similar=0.9)
        fine = p.sense("wal")
        p.execute(return_exceptions=True)
        assert isinstance(refused.exception(), SemanticUnavailable) and fine.result()["notes"]


# --- the command line ------------------------------------------------------------

def test_command_line_flags() -> None:
    args = _parser().parse_args(["sense", "--similar", "where is the food", "--min-similarity", "0.3"])
    assert (args.similar, args.min_similarity, args.query) == ("where is the food", 0.3, None)
    args = _parser().parse_args(["deposit", "a finding", "--merge-similar", "0.9"])
    assert args.merge_similar == 0.9 and args.bodies == ["a finding"]


def test_command_line_against_a_scripted_daemon(scripted: Any) -> None:
    import io
    from trail_client.__main__ import run
    d = scripted(without_model)
    out, err = io.StringIO(), io.StringIO()
    assert run(["--socket", d.path, "sense", "--similar", "food"], out=out, err=err) == 1
    assert "make model" in err.getvalue() and "semantic_unavailable" in err.getvalue()
    d2 = scripted(with_model)
    out = io.StringIO()
    assert run(["--socket", d2.path, "deposit", "a finding", "--merge-similar", "0.9"], out=out, err=err) == 0
    assert json.loads(out.getvalue())["merged"] is True
    assert d2.sent("trail.deposit")[0]["merge_similar"] == 0.9


def test_markdown_shows_similarity_for_a_search_by_meaning() -> None:
    notes: Any = [note(A, "SQLite WAL needs a local disk", score=0.47, similarity=0.405),
                  note(B, "busy: see the WAL note", score=0.03, similarity=None)]
    text = render_markdown(notes, ns="c", similar="database busy", now=0)
    assert "close in meaning to `database busy`, best first" in text
    assert f"`{A[:12]}` (w 1.00, similarity 0.41): SQLite WAL needs a local disk" in text
    assert f"`{B[:12]}` (w 1.00): busy: see the WAL note" in text
    assert "similarity" not in render_markdown(notes, ns="c", query="wal", now=0).split("\n", 3)[3]
