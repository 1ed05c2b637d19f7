"""Recall by meaning (SPEC.md §8) through the doors agents and people use:
trailctl, the Python client and trail-mcp, each against a real traild with
its embedding model (`--model-dir models/all-MiniLM-L6-v2`) and one without
(its data dir holds no model), where `similar` and `merge_similar` are
refused with -32010 and everything else works as before.

The similarities expected below were measured with the model's reference
forward pass (Tests/TrailEmbeddingTests/reference_forward.py); the daemon's
encoder is held to it at cosine >= 0.999, so they are checked to 0.03.

The binaries are $TRAILCTL_BIN and $TRAIL_MCP_BIN, else .build/debug/trailctl
and .build/debug/trail-mcp at the repository root.
"""
from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

import pytest

from mcp import ClientSession, StdioServerParameters  # pip install -r tests/requirements.txt
from mcp.client.stdio import stdio_client

from conftest import sha

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "all-MiniLM-L6-v2"
if str(ROOT / "Clients" / "python") not in sys.path:
    sys.path.insert(0, str(ROOT / "Clients" / "python"))

from trail_client import InvalidParams, SemanticUnavailable, Trail  # noqa: E402

SEMANTIC = {"model": "all-MiniLM-L6-v2", "dims": 384}

# Six findings of a colony, and what was measured between them and the texts below.
WAL = "SQLite in WAL mode needs the data dir on a local disk: NFS gave SQLITE_BUSY"
ZSTD = "the build needs libzstd-dev installed"
BIN = "the e2e tests need TRAILD_BIN set to the daemon binary"
SUGAR = "found sugar near the north wall"
FLAKY = "the flaky watch test was a 0.2 s timeout, not a daemon bug"
CHECKPOINT = "the -wal file grows without bound until PRAGMA wal_checkpoint(TRUNCATE) runs"
NOTES = [WAL, ZSTD, BIN, SUGAR, FLAKY, CHECKPOINT]

# No word in common with WAL, which is closest (0.405); every other note is under 0.15.
BUSY = "the database keeps saying it is busy on a shared network drive"
# ZSTD is closest (0.416); the others are under 0.2.
COMPRESSION = "compiling fails because a compression library is missing"
# A rewording of WAL (0.949) and one of SUGAR (0.970).
WAL_REWORDED = "SQLite WAL mode on NFS fails with SQLITE_BUSY; use a local disk"
SUGAR_REWORDED = "found some sugar close to the north wall"
# A wrong note and its correction: 0.991 apart, as close as any rewording.
WRONG = "SQLite in WAL mode works fine with the data dir on NFS"
CORRECTION = "SQLite in WAL mode does not work with the data dir on NFS"

SIMILAR = 0.03  # how far the daemon's similarities may be from the reference ones


# ---------------------------------------------------------------------------
# Daemons and helpers
# ---------------------------------------------------------------------------

@pytest.fixture
def meaning(daemon_factory: Any) -> Any:
    """A traild with its embedding model."""
    assert (MODEL / "model.safetensors").exists(), f"the model is not at {MODEL}: run `make model`"
    return daemon_factory("m", extra=["--model-dir", str(MODEL)])


@pytest.fixture
def plain(daemon_factory: Any) -> Any:
    """A traild without the model: none in its data dir, no --model-dir."""
    return daemon_factory("p")


def wait_embedded(daemon: Any, ns: str, count: int, timeout: float = 60.0) -> dict[str, Any]:
    """Waits until `count` notes of `ns` are embedded and none is pending; returns stats' `embedding`."""
    deadline = time.monotonic() + timeout
    while True:
        embedding = daemon.result("trail.stats", {"ns": ns})["embedding"]
        if embedding["embedded"] >= count and embedding["pending"] == 0:
            return embedding
        assert time.monotonic() < deadline, f"only {embedding} after {timeout} s"
        time.sleep(0.1)


def seed(daemon: Any, ns: str, bodies: list[str] = NOTES) -> None:
    with daemon.connect() as c:
        for body in bodies:
            c.result("trail.deposit", {"body": body, "ns": ns})
    wait_embedded(daemon, ns, len(bodies))


def trailctl_bin() -> str:
    path = os.environ.get("TRAILCTL_BIN") or str(ROOT / ".build" / "debug" / "trailctl")
    if not os.path.exists(path):
        pytest.fail(f"trailctl binary not found at {path}: run `swift build` or set TRAILCTL_BIN")
    return path


def trailctl(daemon: Any, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TRAIL_SOCKET", "XDG_RUNTIME_DIR", "TRAIL_AGENT", "NO_COLOR")}
    return subprocess.run([trailctl_bin(), *args, "--socket", str(daemon.socket_path)], capture_output=True,
                          text=True, env=env, timeout=60)


def ok(daemon: Any, *args: str) -> str:
    p = trailctl(daemon, *args)
    assert p.returncode == 0, f"{args}: exit {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}"
    return p.stdout


def js(daemon: Any, *args: str) -> Any:
    lines = ok(daemon, *args, "--json").splitlines()
    assert len(lines) == 1, lines
    return json.loads(lines[0])


def refused(daemon: Any, reason: str, *args: str) -> str:
    """Runs a trailctl command the daemon must refuse: exit 1, one line on stderr naming `reason`."""
    p = trailctl(daemon, *args)
    assert p.returncode == 1, f"{args}: exit {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}"
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("trailctl: ") and lines[0].endswith(f"[{reason}]"), p.stderr
    assert p.stdout == ""
    return lines[0]


def table(out: str) -> list[list[str]]:
    """The rows of a trailctl table (header first), split on runs of 2+ spaces."""
    return [re.split(r"\s{2,}", line.strip()) for line in out.splitlines() if line.strip()]


def mcp_bin() -> str:
    path = os.environ.get("TRAIL_MCP_BIN") or str(ROOT / ".build" / "debug" / "trail-mcp")
    if not os.path.exists(path):
        pytest.fail(f"trail-mcp binary not found at {path}: run `swift build` or set TRAIL_MCP_BIN")
    return path


@asynccontextmanager
async def session(daemon: Any, *args: str) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(command=mcp_bin(), args=["--socket", str(daemon.socket_path), *args])
    with open(os.devnull, "w") as log:
        async with stdio_client(params, errlog=log) as (read, write):
            async with ClientSession(read, write) as s:
                await s.initialize()
                yield s


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), timeout=120))


def field(obj: Any, snake: str, camel: str) -> Any:
    return getattr(obj, snake) if hasattr(obj, snake) else getattr(obj, camel)


async def tool(s: ClientSession, name: str, args: dict[str, Any], error: bool = False) -> tuple[str, Any]:
    res = await s.call_tool(name, args)
    text = res.content[0].text
    assert bool(field(res, "is_error", "isError")) == error, f"{name} {args}: {text}"
    return text, field(res, "structured_content", "structuredContent")


# ---------------------------------------------------------------------------
# With the model
# ---------------------------------------------------------------------------

def test_hello_status_and_stats_name_the_model(meaning):
    assert meaning.result("trail.hello", {})["semantic"] == SEMANTIC
    seed(meaning, "default", [WAL, ZSTD])
    status = ok(meaning, "status")
    assert re.search(r"^semantic\s+all-MiniLM-L6-v2, 384 dims; 2 embedded, 0 pending in default$", status, re.M), status
    assert js(meaning, "status")["hello"]["semantic"] == SEMANTIC
    stats = ok(meaning, "stats")
    assert re.search(r"^embedding\s+2 embedded, 0 pending \(all-MiniLM-L6-v2\)$", stats, re.M), stats
    assert js(meaning, "stats")["embedding"] == {"model": "all-MiniLM-L6-v2", "embedded": 2, "pending": 0}


def test_trailctl_sense_by_meaning(meaning):
    seed(meaning, "default")
    rows = table(ok(meaning, "sense", "--similar", BUSY))
    assert rows[0] == ["ID", "SCORE", "SIMILARITY", "WEIGHT", "STATE", "TAGS", "BODY"]
    assert rows[1][0] == sha(WAL)[:12] and rows[1][-1] == WAL
    assert abs(float(rows[1][2]) - 0.405) < SIMILAR and re.fullmatch(r"-?\d\.\d{3}", rows[1][2])
    assert len(rows) == 1 + len(NOTES)

    # --json carries the daemon's answer unchanged, every note with its similarity.
    notes = js(meaning, "sense", "--similar", COMPRESSION)["notes"]
    assert notes[0]["body"] == ZSTD and abs(notes[0]["similarity"] - 0.416) < SIMILAR
    assert all(isinstance(n["similarity"], float) for n in notes)
    assert [n["similarity"] for n in notes] == sorted((n["similarity"] for n in notes), reverse=True)

    # --min-similarity keeps the one note that is close; --query finds none of it by words.
    close = js(meaning, "sense", "--similar", BUSY, "--min-similarity", "0.3")["notes"]
    assert [n["body"] for n in close] == [WAL]
    assert js(meaning, "sense", "--query", "database shared network drive")["notes"] == []
    # Words and meaning together: the note with the exact term comes first (first by words, fourth by
    # meaning), though WAL is first by meaning.
    both = js(meaning, "sense", "--query", "checkpoint", "--similar", BUSY)["notes"]
    assert both[0]["body"] == CHECKPOINT and abs(both[0]["similarity"] - 0.107) < SIMILAR

    # Every other param keeps its meaning.
    assert js(meaning, "sense", "--similar", BUSY, "--limit", "1")["notes"][0]["body"] == WAL


def test_trailctl_sense_refuses_bad_values(meaning):
    refused(meaning, "invalid_params", "sense", "--similar", "")
    refused(meaning, "invalid_params", "sense", "--similar", "x", "--min-similarity", "1.5")
    refused(meaning, "invalid_params", "sense", "--similar", "x", "--min-similarity", "-2")
    p = trailctl(meaning, "sense", "--min-similarity", "0.3")
    assert p.returncode == 2 and "--similar" in p.stderr


def test_trailctl_deposit_shows_a_correction_kept_from_a_merge_and_the_note_it_contests(meaning):
    stale = "the flaky NFS build: fix-3 resolved it"
    seed(meaning, "default", [stale])
    fix = "the flaky NFS build: fix-5 resolved it"
    out = ok(meaning, "deposit", fix, "--merge-similar", "0.9")
    first, second = out.splitlines()
    assert first.startswith(f"created  {sha(fix)[:12]}  ") and "(not merged: it disagrees with a near note" in first, out
    assert second == f"  contests  {sha(stale)[:12]}  {stale}", out
    d = js(meaning, "deposit", "the flaky NFS build: fix-7 resolved it", "--merge-similar", "0.9")
    assert d["merged"] is False and sorted(d["contests"]) == sorted([sha(stale), sha(fix)]), d


def test_trailctl_shows_contested_notes_and_the_other_side(meaning):
    """Two plain deposits that disagree on a decisive token: sense marks both
    `contested` and says who contests whom; get lists the other side with its
    body; --json carries `contested_by`; ns configure takes
    --contest-similarity."""
    one, two = "the flaky NFS build: fix-3 resolved it", "the flaky NFS build: fix-5 resolved it"
    seed(meaning, "default", [one, two])
    out = ok(meaning, "sense")
    assert out.count("live contested") == 2, out
    assert f"{sha(one)[:12]} is contested by {sha(two)[:12]}" in out and f"{sha(two)[:12]} is contested by {sha(one)[:12]}" in out
    got = ok(meaning, "get", sha(one)[:12])
    assert re.search(r"contested by\s+" + sha(two)[:12], got), got
    assert f"  {sha(two)[:12]}  weight 1.000  {two}" in got, got
    assert js(meaning, "get", sha(one)[:12])["note"]["contested_by"] == [sha(two)]
    conf = js(meaning, "ns", "configure", "strict", "--contest-similarity", "0.95")
    assert conf["contest_similarity"] == 0.95
    assert re.search(r"contest similarity\s+0\.950", ok(meaning, "ns", "configure", "strict"))


def test_trailctl_deposit_merges_rewordings_and_get_shows_them(meaning):
    seed(meaning, "default", [WAL, SUGAR])
    out = ok(meaning, "deposit", WAL_REWORDED, "--merge-similar", "0.9", "--agent", "scout-2")
    first, second = out.splitlines()
    m = re.fullmatch(r"merged  (\w{12})  similarity (\d\.\d{3})  weight (\d+\.\d{3})  deposits 2  ns default", first)
    assert m and m.group(1) == sha(WAL)[:12] and abs(float(m.group(2)) - 0.949) < SIMILAR, out
    assert second == f"  into  {WAL}"

    d = js(meaning, "deposit", SUGAR_REWORDED, "--merge-similar", "0.9")
    assert d["id"] == sha(SUGAR) and d["created"] is False and d["merged"] is True
    assert abs(d["similarity"] - 0.970) < SIMILAR and d["deposits"] == 2

    # A different finding is an ordinary deposit, and the answer says nothing was close enough.
    out = ok(meaning, "deposit", CHECKPOINT, "--merge-similar", "0.9")
    assert out.startswith(f"created  {sha(CHECKPOINT)[:12]}  ") and "(no note as similar as 0.900 to merge into)" in out
    assert js(meaning, "deposit", ZSTD, "--merge-similar", "0.9")["merged"] is False
    # Without the flag the answer is as before: no `merged`.
    assert "merged" not in js(meaning, "deposit", BIN)

    # get: the merge in the history, its body in full below it.
    detail = js(meaning, "get", sha(WAL)[:12])
    merges = [h for h in detail["history"] if h["op"] == "merge"]
    assert len(merges) == 1 and merges[0]["detail"] == WAL_REWORDED and merges[0]["agent"] == "scout-2"
    assert detail["note"]["body"] == WAL
    human = ok(meaning, "get", sha(WAL)[:12])
    assert re.search(r"merge\s+scout-2\s+\+1\.000\s+“" + re.escape(WAL_REWORDED) + "”", human), human
    assert "merged bodies" in human and f"\n  {WAL_REWORDED}\n" in human + "\n"


def test_trailctl_deposit_refuses_bad_thresholds(meaning):
    for bad in ("0", "1.5", "-0.5"):
        refused(meaning, "invalid_params", "deposit", "x", "--merge-similar", bad)
    # JSON has no NaN: trailctl refuses it itself rather than send null (no merge).
    for args in (("deposit", "x", "--merge-similar", "nan"), ("sense", "--similar", "x", "--min-similarity", "nan")):
        p = trailctl(meaning, *args)
        assert p.returncode == 2 and p.stderr.strip(), p
    assert meaning.result("trail.stats", {})["notes"] == 0


def test_python_client_by_meaning(meaning):
    seed(meaning, "colony")
    with Trail(str(meaning.socket_path), default_ns="colony", agent="py") as t:
        assert t.server is not None and t.server["semantic"] == SEMANTIC
        notes = t.sense(similar=BUSY, budget_bytes=2000)["notes"]
        assert notes[0]["body"] == WAL and abs(notes[0]["similarity"] - 0.405) < SIMILAR
        assert [n["body"] for n in t.sense(similar=BUSY, min_similarity=0.3)["notes"]] == [WAL]
        merged = t.deposit(WAL_REWORDED, merge_similar=0.9)
        assert merged["merged"] is True and merged["id"] == sha(WAL) and merged["created"] is False
        assert abs(merged["similarity"] - 0.949) < SIMILAR
        fresh = t.deposit(CORRECTION, merge_similar=0.999)
        assert fresh["merged"] is False and fresh["created"] is True
        assert t.stats()["embedding"]["model"] == "all-MiniLM-L6-v2"
        for kw, field_name in ((dict(similar=""), "similar"), (dict(similar="x", min_similarity=3), "min_similarity")):
            with pytest.raises(InvalidParams) as info:
                t.sense(**kw)
            assert info.value.data.get("field") == field_name
        for bad in (0, 1.5, -1):
            with pytest.raises(InvalidParams) as info:
                t.deposit("x", merge_similar=bad)
            assert info.value.data.get("field") == "merge_similar"


def test_mcp_sense_by_meaning_and_merge_by_default(meaning):
    seed(meaning, "colony")

    async def scenario() -> None:
        async with session(meaning, "--ns", "colony", "--agent", "ant-1") as s:
            tools = {t.name: t for t in (await s.list_tools()).tools}
            schema = field(tools["trail_deposit"], "input_schema", "inputSchema")
            assert schema["properties"]["merge_similar"]["default"] == 0.9
            assert {"similar", "min_similarity"} <= set(field(tools["trail_sense"], "input_schema", "inputSchema")["properties"])

            text, r = await tool(s, "trail_sense", {"similar": BUSY})
            assert r["notes"][0]["body"] == WAL and "nearest in meaning and strongest first" in text
            assert re.search(r"^" + sha(WAL)[:12] + r"  score=\d\.\d{3}  similarity=0\.\d{3}", text, re.M), text

            # A rewording merges by default, and the answer shows the note it joined.
            text, r = await tool(s, "trail_deposit", {"body": WAL_REWORDED})
            assert r["merged"] is True and r["id"] == sha(WAL)
            assert text.startswith("Merged into an existing note") and f"  {WAL}" in text
            # merge_similar: 0 deposits as written.
            _, r = await tool(s, "trail_deposit", {"body": SUGAR_REWORDED, "merge_similar": 0})
            assert r["created"] is True and "merged" not in r
            # A correction deposited `after` the note it corrects stays its own note (0.991 apart; WAL is
            # 0.915 from it, so WRONG is the one a merge would go to).
            _, wrong = await tool(s, "trail_deposit", {"body": WRONG, "merge_similar": 0})
            wait_embedded(meaning, "colony", len(NOTES) + 2)  # SUGAR_REWORDED and WRONG
            text, r = await tool(s, "trail_deposit", {"body": CORRECTION, "after": [wrong["id"][:12]]})
            assert r["created"] is True and r["id"] == sha(CORRECTION) and "Not merged into " + sha(WRONG)[:12] in text
            # A distinct finding is new.
            text, r = await tool(s, "trail_deposit", {"body": "the queen moved to the lower chamber"})
            assert r["created"] is True and r["merged"] is False and "No note was as similar" in text

            text, _ = await tool(s, "trail_stats", {})
            assert "search by meaning (`similar`): all-MiniLM-L6-v2" in text
            _, err = await tool(s, "trail_deposit", {"body": "x", "merge_similar": 1.5}, error=True)
            assert err["error"]["reason"] == "invalid_params"

    run(scenario)
    history = meaning.result("trail.get", {"id": sha(WAL), "ns": "colony"})["history"]
    assert [h["detail"] for h in history if h["op"] == "merge"] == [WAL_REWORDED]
    assert [h["agent"] for h in history if h["op"] == "merge"] == ["ant-1"]


# ---------------------------------------------------------------------------
# Without the model
# ---------------------------------------------------------------------------

def test_without_the_model_trailctl_says_so_and_the_rest_works(plain):
    assert plain.result("trail.hello", {})["semantic"] is None
    line = refused(plain, "semantic_unavailable", "sense", "--similar", BUSY)
    assert "make model" in line
    refused(plain, "semantic_unavailable", "deposit", WAL, "--merge-similar", "0.9")
    assert plain.result("trail.stats", {})["notes"] == 0
    assert ok(plain, "deposit", WAL).startswith("created")
    assert js(plain, "sense", "--query", "sqlite")["notes"][0]["body"] == WAL
    assert re.search(r"^semantic\s+off\b", ok(plain, "status"), re.M)
    assert re.search(r"^embedding\s+off\b", ok(plain, "stats"), re.M)
    assert js(plain, "stats")["embedding"] is None


def test_without_the_model_the_python_client_raises_semantic_unavailable(plain):
    with Trail(str(plain.socket_path)) as t:
        assert t.server is not None and t.server["semantic"] is None
        with pytest.raises(SemanticUnavailable) as info:
            t.sense(similar=BUSY)
        assert info.value.code == -32010 and "make model" in info.value.message
        with pytest.raises(SemanticUnavailable):
            t.deposit(WAL, merge_similar=0.9)
        assert t.deposit(WAL)["created"] is True and "merged" not in t.deposit(ZSTD)


def test_without_the_model_mcp_deposits_plainly_and_refuses_similar(plain):
    async def scenario() -> None:
        async with session(plain, "--ns", "colony", "--agent", "ant-1") as s:
            text, r = await tool(s, "trail_deposit", {"body": WAL})
            assert r["created"] is True and "merged" not in r and "merge" not in text
            _, r = await tool(s, "trail_deposit", {"body": WAL_REWORDED})
            assert r["created"] is True and "merged" not in r
            text, err = await tool(s, "trail_sense", {"similar": BUSY}, error=True)
            assert err["error"]["reason"] == "semantic_unavailable" and err["error"]["code"] == -32010
            assert "make model" in text
            _, err = await tool(s, "trail_deposit", {"body": "x", "merge_similar": 0.8}, error=True)
            assert err["error"]["reason"] == "semantic_unavailable"
            # Words still work, and the rewording is a note of its own: nothing was merged.
            text, r = await tool(s, "trail_sense", {"query": "sqlite"})
            assert sorted(n["body"] for n in r["notes"]) == sorted([WAL, WAL_REWORDED])
            text, _ = await tool(s, "trail_stats", {})
            assert "search by meaning: off" in text

    run(scenario)
