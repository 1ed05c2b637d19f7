"""trail-mcp against a real traild, driven by the real MCP client from PyPI
(the `mcp` package) over stdio: the tools and their input schemas, the
practice prompt, every tool checked against the daemon's own state, bad calls
answered with tool errors while the server stays up, and a daemon that is
down (every tool says which socket it tried and how to start traild) and then
back (the tools work again without restarting trail-mcp).

The binary is $TRAIL_MCP_BIN, else .build/debug/trail-mcp at the repository root.
"""
from __future__ import annotations

import asyncio
import os
import re
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

import pytest

from mcp import ClientSession, StdioServerParameters  # pip install -r tests/requirements.txt
from mcp.client.stdio import stdio_client

from conftest import sha

ROOT = Path(__file__).resolve().parents[2]
TOOLS = {
    "trail_deposit": ["body"],
    "trail_sense": [],
    "trail_get": ["id"],
    "trail_follow": ["from"],
    "trail_reinforce": ["id"],
    "trail_repel": ["id"],
    "trail_link": ["from", "to"],
    "trail_retract": ["id", "reason"],
    "trail_revive": ["id"],
    "trail_stats": [],
}
WEIGHT3 = re.compile(r"\b\d+\.\d{3}\b")


def mcp_bin() -> str:
    path = os.environ.get("TRAIL_MCP_BIN") or str(ROOT / ".build" / "debug" / "trail-mcp")
    if not os.path.exists(path):
        pytest.fail(f"trail-mcp binary not found at {path}: run `swift build` or set TRAIL_MCP_BIN")
    return path


# The client's models are camelCase in mcp 1.x and snake_case in 2.x.
def field(obj: Any, snake: str, camel: str) -> Any:
    return getattr(obj, snake) if hasattr(obj, snake) else getattr(obj, camel)


def is_error(res: Any) -> bool:
    return bool(field(res, "is_error", "isError"))


def structured(res: Any) -> Any:
    return field(res, "structured_content", "structuredContent")


def text(res: Any) -> str:
    assert res.content and res.content[0].type == "text", res
    return res.content[0].text


@asynccontextmanager
async def session(socket_path: Path, *args: str, errlog: Path | None = None,
                  env: dict[str, str] | None = None) -> AsyncIterator[ClientSession]:
    """An initialised MCP session with a fresh trail-mcp on `socket_path`."""
    params = StdioServerParameters(command=mcp_bin(), args=["--socket", str(socket_path), *args], env=env)
    with open(errlog or os.devnull, "w") as log:
        async with stdio_client(params, errlog=log) as (read, write):
            async with ClientSession(read, write) as s:
                await s.initialize()
                yield s


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), timeout=120))


async def ok(s: ClientSession, tool: str, args: dict[str, Any] | None = None) -> tuple[str, Any]:
    """Calls a tool that must succeed; returns its text and structured content."""
    res = await s.call_tool(tool, args or {})
    assert not is_error(res), f"{tool} {args}: {text(res)}"
    return text(res), structured(res)


async def fails(s: ClientSession, tool: str, args: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """Calls a tool that must answer with a tool error; returns its text and `error` object."""
    res = await s.call_tool(tool, args or {})
    assert is_error(res), f"{tool} {args} should have failed: {text(res)}"
    err = structured(res)["error"]
    assert isinstance(err.get("reason"), str) and err.get("message"), err
    return text(res), err


# ---------------------------------------------------------------------------
# Listing
# ---------------------------------------------------------------------------

def test_lists_ten_tools_with_schemas_and_the_prompt(daemon, tmp_path):
    from jsonschema import Draft202012Validator

    async def scenario() -> None:
        async with session(daemon.socket_path, "--ns", "colony", "--agent", "ant-1", errlog=tmp_path / "err") as s:
            tools = {t.name: t for t in (await s.list_tools()).tools}
            assert set(tools) == set(TOOLS)
            for name, required in TOOLS.items():
                t = tools[name]
                schema = field(t, "input_schema", "inputSchema")
                Draft202012Validator.check_schema(schema)
                assert schema["type"] == "object" and schema["additionalProperties"] is False, name
                assert sorted(schema["required"]) == sorted(required), name
                assert set(required) <= set(schema["properties"]), name
                assert "ns" in schema["properties"], name
                assert '"colony"' in schema["properties"]["ns"]["description"], name
                assert len(t.description) > 80, name
            assert tools["trail_sense"].description.count("4000") >= 1
            assert field(tools["trail_sense"], "input_schema", "inputSchema")["properties"]["budget_bytes"]["default"] == 4000
            assert "agent" not in field(tools["trail_deposit"], "input_schema", "inputSchema")["properties"]

            prompts = (await s.list_prompts()).prompts
            assert [p.name for p in prompts] == ["trail_practice"]
            assert [a.name for a in prompts[0].arguments] == ["task"]
            p = await s.get_prompt("trail_practice", {"task": "fix the flaky watch test"})
            body = p.messages[0].content.text
            assert p.messages[0].role == "user"
            for needle in ("trail_sense", "trail_follow", "trail_deposit", "trail_reinforce", "trail_repel",
                           "trail_retract", "`after`", "one finding per note", '"colony"', '"ant-1"',
                           "fix the flaky watch test", "secrets"):
                assert needle in body, needle
            plain = await s.get_prompt("trail_practice")
            assert "Your task" not in plain.messages[0].content.text
        assert "serving MCP" in (tmp_path / "err").read_text()

    run(scenario)


def test_server_instructions_carry_the_practice(daemon):
    async def scenario() -> None:
        params = StdioServerParameters(command=mcp_bin(), args=["--socket", str(daemon.socket_path), "--ns", "colony"])
        with open(os.devnull, "w") as log:
            async with stdio_client(params, errlog=log) as (read, write):
                async with ClientSession(read, write) as s:
                    init = await s.initialize()
                    assert field(init, "server_info", "serverInfo").name == "trail-mcp"
                    assert "trail_sense" in init.instructions and '"colony"' in init.instructions

    run(scenario)


# ---------------------------------------------------------------------------
# Each tool against the daemon's state
# ---------------------------------------------------------------------------

def test_deposit_lands_in_the_daemon_with_ns_agent_tags_and_after(daemon):
    async def scenario() -> None:
        async with session(daemon.socket_path, "--ns", "colony", "--agent", "ant-1") as s:
            first = "the build needs libzstd-dev"
            t, d = await ok(s, "trail_deposit", {"body": first, "tags": ["build"]})
            assert d == {"id": sha(first), "ns": "colony", "created": True, "weight": pytest.approx(1.0, rel=1e-3),
                         "deposits": 1}
            assert sha(first) in t and "new note" in t

            second = "apt-get install libzstd-dev fixes the missing zstd.h"
            _, d2 = await ok(s, "trail_deposit", {"body": second, "tags": ["build", "howto"],
                                                  "after": [sha(first)[:12]], "strength": 2})
            note = daemon.result("trail.get", {"id": d2["id"], "ns": "colony"})["note"]
            assert note["body"] == second and note["agent"] == "ant-1" and note["ns"] == "colony"
            assert note["tags"] == ["build", "howto"] and note["after"] == [sha(first)]
            assert note["weight"] == pytest.approx(2.0, rel=1e-3)
            # Nothing landed in the default namespace.
            assert daemon.result("trail.stats", {})["notes"] == 0

            # The same body again reinforces the same note.
            t, again = await ok(s, "trail_deposit", {"body": first})
            assert again["id"] == sha(first) and again["created"] is False and again["deposits"] == 2
            assert "reinforced" in t
            # A call's own ns wins over --ns.
            _, other = await ok(s, "trail_deposit", {"body": first, "ns": "elsewhere"})
            assert other["ns"] == "elsewhere" and other["created"] is True
            assert daemon.result("trail.get", {"id": sha(first), "ns": "elsewhere"})["note"]["agent"] == "ant-1"

    run(scenario)


def test_sense_defaults_to_a_light_budget_and_matches_the_daemon(daemon):
    big, mid, small = "B" * 3500, "the sqlite store runs in WAL mode " + "m" * 966, "tests read TRAILD_BIN"
    with daemon.connect() as c:
        for body, strength, tags in ((big, 5.0, ["big"]), (mid, 3.0, ["db"]), (small, 1.0, ["tests"])):
            c.result("trail.deposit", {"body": body, "strength": strength, "tags": tags, "ns": "colony"})
        light = [n["id"] for n in c.result("trail.sense", {"ns": "colony", "budget_bytes": 4000})["notes"]]
    assert light == [sha(big), sha(small)]  # mid (1000 bytes) does not fit behind big

    async def scenario() -> None:
        async with session(daemon.socket_path, "--ns", "colony") as s:
            t, r = await ok(s, "trail_sense")
            assert [n["id"] for n in r["notes"]] == light
            assert sha(big)[:12] in t and sha(small)[:12] in t and sha(mid)[:12] not in t
            assert sha(big) not in t  # lists show 12 digits; structuredContent has the full ids
            assert "5.000" in t and "3521 of 4000 budget bytes" in t
            assert small in t

            _, r = await ok(s, "trail_sense", {"budget_bytes": 10000})
            assert [n["id"] for n in r["notes"]] == [sha(big), sha(mid), sha(small)]
            t, r = await ok(s, "trail_sense", {"query": "sqlite wal"})
            assert [n["id"] for n in r["notes"]] == [sha(mid)] and "score=" in t
            _, r = await ok(s, "trail_sense", {"tags": ["tests"], "budget_bytes": 10000})
            assert [n["id"] for n in r["notes"]] == [sha(small)]
            _, r = await ok(s, "trail_sense", {"limit": 1, "budget_bytes": 10000})
            assert len(r["notes"]) == 1
            t, r = await ok(s, "trail_sense", {"ns": "empty-colony"})
            assert r["notes"] == [] and "trail_deposit" in t

    run(scenario)


def test_get_follow_link_reinforce_repel(daemon):
    a, b, c = "found sugar near the north wall", "the sugar pile is behind the loose brick", "the brick is loose since the rain"
    with daemon.connect() as conn:
        conn.result("trail.deposit", {"body": a, "tags": ["food"]})
        conn.result("trail.deposit", {"body": b, "after": [sha(a)], "strength": 2})
        conn.result("trail.deposit", {"body": c})

    async def scenario() -> None:
        async with session(daemon.socket_path, "--agent", "scout-2") as s:
            t, g = await ok(s, "trail_get", {"id": sha(a)[:12]})
            assert g["note"]["id"] == sha(a) and g["note"]["body"] == a
            assert sha(a) in t and a in t and "history" in t and sha(b)[:12] in t
            assert WEIGHT3.search(t)

            t, f = await ok(s, "trail_follow", {"from": sha(a)[:8]})
            assert [x["to"] for x in f["trails"]] == [sha(b)] and b in t and "strongest first" in t
            _, f = await ok(s, "trail_follow", {"from": sha(b), "direction": "backward"})
            assert [x["to"] for x in f["trails"]] == [sha(a)]
            t, f = await ok(s, "trail_follow", {"from": sha(a), "explore": 0.5, "seed": 42})
            assert f["seed"] == 42 and "seed=42" in t

            t, l = await ok(s, "trail_link", {"from": sha(a), "to": sha(c)[:10], "delta": 0.5})
            assert l["from"] == sha(a) and l["to"] == sha(c) and l["weight"] == pytest.approx(0.5, rel=1e-3)
            assert "0.500" in t
            trails = daemon.result("trail.follow", {"from": sha(a)})["trails"]
            assert {x["to"]: round(x["weight"], 2) for x in trails} == {sha(b): 2.0, sha(c): 0.5}

            t, r = await ok(s, "trail_reinforce", {"id": sha(c), "delta": 2})
            assert r["weight"] == pytest.approx(3.0, rel=1e-3) and "3.000" in t
            t, r = await ok(s, "trail_repel", {"id": sha(c), "amount": 0.5})
            assert r["weight"] == pytest.approx(2.5, rel=1e-3) and "Repelled" in t
            _, r = await ok(s, "trail_repel", {"id": sha(c)})
            assert r["weight"] == pytest.approx(1.5, rel=1e-3)
            assert daemon.result("trail.get", {"id": sha(c)})["note"]["weight"] == pytest.approx(1.5, rel=1e-3)

            # Every write was stamped with --agent.
            history = daemon.result("trail.get", {"id": sha(c)})["history"]
            assert [h["op"] for h in history] == ["deposit", "link", "reinforce", "reinforce", "reinforce"]
            assert [h["delta"] for h in history[2:]] == [pytest.approx(2), pytest.approx(-0.5), pytest.approx(-1)]
            assert {h["agent"] for h in history[1:]} == {"scout-2"}

    run(scenario)


def test_retract_revive_and_the_refused_redeposit(daemon):
    body = "deleting the data dir fixes SQLITE_BUSY"
    with daemon.connect() as conn:
        conn.result("trail.deposit", {"body": body})

    async def scenario() -> None:
        async with session(daemon.socket_path, "--agent", "judge") as s:
            reason = "it also deletes every note; move the data dir to a local disk instead"
            t, r = await ok(s, "trail_retract", {"id": sha(body)[:12], "reason": reason})
            assert r == {"id": sha(body), "state": "retracted"} and reason in t
            note = daemon.result("trail.get", {"id": sha(body)})["note"]
            assert note["state"] == "retracted"
            assert note["retraction"]["reason"] == reason and note["retraction"]["agent"] == "judge"

            t, err = await fails(s, "trail_deposit", {"body": body})
            assert err["reason"] == "retracted" and err["code"] == -32009 and reason in t and "force" in t
            _, sensed = await ok(s, "trail_sense")
            assert sensed["notes"] == []

            t, r = await ok(s, "trail_revive", {"id": sha(body)})
            assert r["note"]["state"] == "live" and "Revived" in t and body in t
            assert daemon.result("trail.get", {"id": sha(body)})["note"]["state"] == "live"
            _, d = await ok(s, "trail_deposit", {"body": body})
            assert d["created"] is False

    run(scenario)


def test_stats_match_the_daemon(daemon):
    with daemon.connect() as conn:
        conn.result("trail.deposit", {"body": "one", "ns": "colony"})
        conn.result("trail.deposit", {"body": "two", "ns": "colony", "after": [sha("one")]})
        conn.result("trail.retract", {"id": sha("two"), "reason": "wrong", "ns": "colony"})
        expected = conn.result("trail.stats", {"ns": "colony"})

    async def scenario() -> None:
        async with session(daemon.socket_path, "--ns", "colony") as s:
            t, r = await ok(s, "trail_stats")
            for key in ("ns", "notes", "live", "faded", "archived", "retracted", "edges"):
                assert r[key] == expected[key], key
            assert r["total_weight"] == pytest.approx(expected["total_weight"], rel=1e-3)
            assert '"colony": 2 notes (1 live, 0 faded, 0 archived, 1 retracted), 1 trail,' in t
            assert "not compacted yet" in t
            _, other = await ok(s, "trail_stats", {"ns": "default"})
            assert other["ns"] == "default" and other["notes"] == 0

    run(scenario)


# ---------------------------------------------------------------------------
# Bad calls
# ---------------------------------------------------------------------------

def test_bad_calls_are_tool_errors_and_the_server_stays_up(daemon):
    with daemon.connect() as conn:
        conn.result("trail.deposit", {"body": "a note to aim at"})

    async def scenario() -> None:
        async with session(daemon.socket_path) as s:
            target = sha("a note to aim at")
            t, err = await fails(s, "trail_retract", {"id": target})
            assert err == {"reason": "invalid_arguments", "argument": "reason", "message": err["message"]}
            assert "`reason`" in t and "what to do instead" in t
            _, err = await fails(s, "trail_retract", {"id": target, "reason": "   "})
            assert err["argument"] == "reason"
            assert daemon.result("trail.get", {"id": target})["note"]["state"] == "live"

            t, err = await fails(s, "trail_get", {"id": "0123456789abcdef"})
            assert err["reason"] == "unknown_note" and err["code"] == -32001 and "0123456789abcdef" in t
            _, err = await fails(s, "trail_reinforce", {"id": "0123456789abcdef"})
            assert err["reason"] == "unknown_note"
            _, err = await fails(s, "trail_get", {"id": "not hex"})
            assert err["reason"] == "invalid_params"

            cases: list[tuple[str, dict[str, Any], str]] = [
                ("trail_deposit", {}, "body"),
                ("trail_deposit", {"body": 42}, "body"),
                ("trail_deposit", {"body": "x", "tags": "build"}, ""),  # a lone string is one tag: fine
                ("trail_deposit", {"body": "x", "tags": [1]}, "tags"),
                ("trail_deposit", {"body": "x", "strength": "strong"}, "strength"),
                ("trail_deposit", {"body": "x", "agent": "someone"}, "agent"),
                ("trail_sense", {"limit": "ten"}, "limit"),
                ("trail_sense", {"limit": 2.5}, "limit"),
                ("trail_sense", {"budget_bytes": -1}, "budget_bytes"),
                ("trail_sense", {"include_faded": "yes"}, "include_faded"),
                ("trail_sense", {"bogus": 1}, "bogus"),
                ("trail_follow", {"from": target, "direction": "sideways"}, "direction"),
                ("trail_follow", {}, "from"),
                ("trail_repel", {"id": target, "amount": -1}, "amount"),
                ("trail_link", {"from": target}, "to"),
                ("trail_stats", {"ns": 7}, "ns"),
            ]
            for tool, args, argument in cases:
                res = await s.call_tool(tool, args)
                if not argument:
                    assert not is_error(res), (tool, args, text(res))
                    continue
                assert is_error(res), (tool, args, text(res))
                err = structured(res)["error"]
                assert err["reason"] == "invalid_arguments" and err["argument"] == argument, (tool, args, err)
                assert f"`{argument}" in text(res) and text(res).startswith(f"{tool} was not called"), text(res)

            # What only the daemon checks comes back as its error, with its sentence.
            t, err = await fails(s, "trail_deposit", {"body": "x", "tags": ["Not A Tag"]})
            assert err["reason"] == "invalid_params" and err["data"]["field"] == "tags" and "Not A Tag" in t
            _, err = await fails(s, "trail_sense", {"ns": "Bad NS"})
            assert err["reason"] == "invalid_namespace"
            _, err = await fails(s, "trail_deposit", {"body": "y" * 5000})
            assert err["reason"] == "note_too_large"
            _, err = await fails(s, "trail_link", {"from": target, "to": target})
            assert err["reason"] == "invalid_params"

            # A tool that does not exist is a protocol error, not a crash.
            with pytest.raises(Exception) as info:
                await s.call_tool("trail_teleport", {})
            assert "trail_teleport" in str(info.value)

            # Still up and answering.
            assert len((await s.list_tools()).tools) == 10
            _, r = await ok(s, "trail_get", {"id": target})
            assert r["note"]["body"] == "a note to aim at"

    run(scenario)


def test_a_body_shaped_like_a_data_url_is_kept(daemon):
    # The SDK decodes strings of the form data:<type>,<text> into binary data;
    # trail-mcp puts them back together.
    body = "data: the volume, not the image, holds the store"

    async def scenario() -> None:
        async with session(daemon.socket_path) as s:
            _, d = await ok(s, "trail_deposit", {"body": body})
            assert d["id"] == sha(body)
            assert daemon.result("trail.get", {"id": sha(body)})["note"]["body"] == body

    run(scenario)


def test_bad_flags_are_refused_before_serving(tmp_path):
    import subprocess
    for args in (["--ns", "Bad NS"], ["--agent", "a\tb"], ["--log-level", "loud"]):
        p = subprocess.run([mcp_bin(), *args], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        assert p.returncode != 0 and p.stdout == "", (args, p)
        assert args[0] in p.stderr, (args, p.stderr)
    p = subprocess.run([mcp_bin(), "--help"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and "--socket" in p.stdout and "--agent" in p.stdout and "--ns" in p.stdout


# ---------------------------------------------------------------------------
# The daemon down, and back
# ---------------------------------------------------------------------------

def every_tool_call(target: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("trail_deposit", {"body": "written while the daemon was down"}),
        ("trail_sense", {}),
        ("trail_get", {"id": target}),
        ("trail_follow", {"from": target}),
        ("trail_reinforce", {"id": target}),
        ("trail_repel", {"id": target}),
        ("trail_link", {"from": target, "to": target[::-1]}),
        ("trail_retract", {"id": target, "reason": "testing an outage"}),
        ("trail_revive", {"id": target}),
        ("trail_stats", {}),
    ]


def test_daemon_down_every_tool_says_how_to_start_it_then_works_again(daemon, tmp_path):
    body = "kept across the outage"
    target = sha(body)

    async def scenario() -> None:
        async with session(daemon.socket_path, "--agent", "ant-1", errlog=tmp_path / "err") as s:
            await ok(s, "trail_deposit", {"body": body})
            daemon.terminate()

            calls = every_tool_call(target)
            assert {name for name, _ in calls} == set(TOOLS)
            for tool, args in calls:
                t, err = await fails(s, tool, args)
                assert err["reason"] == "daemon_unavailable", (tool, err)
                assert err["socket"] == str(daemon.socket_path)
                assert str(daemon.socket_path) in t, t
                assert f"traild --socket {daemon.socket_path}" in t, t
                assert "make run" in t

            daemon.start()
            _, g = await ok(s, "trail_get", {"id": target})
            assert g["note"]["body"] == body
            _, d = await ok(s, "trail_deposit", {"body": "written after the daemon came back"})
            assert d["created"] is True
            _, r = await ok(s, "trail_reinforce", {"id": target})
            assert r["weight"] == pytest.approx(2.0, rel=1e-3)

            # And once more: a kill -9 and a restart on the same socket.
            daemon.kill9()
            _, err = await fails(s, "trail_stats")
            assert err["reason"] in ("daemon_unavailable", "connection_closed")
            daemon.start()
            _, st = await ok(s, "trail_stats")
            assert st["notes"] == 2
        log = (tmp_path / "err").read_text()
        assert "connected to traild" in log and f"cannot reach traild at {daemon.socket_path}" in log

    run(scenario)


def test_starts_and_lists_without_a_daemon(daemon_factory):
    d = daemon_factory(start=False)

    async def scenario() -> None:
        async with session(d.socket_path, "--ns", "colony") as s:
            assert len((await s.list_tools()).tools) == 10
            t, err = await fails(s, "trail_sense")
            assert err["reason"] == "daemon_unavailable" and "there is no socket file there" in t
            d.start()
            _, r = await ok(s, "trail_sense")
            assert r["notes"] == []

    run(scenario)


def test_socket_from_the_environment_is_named_in_the_hint(daemon_factory):
    d = daemon_factory(start=False)

    async def scenario() -> None:
        params = StdioServerParameters(command=mcp_bin(), args=[], env={"TRAIL_SOCKET": str(d.socket_path)})
        with open(os.devnull, "w") as log:
            async with stdio_client(params, errlog=log) as (read, write):
                async with ClientSession(read, write) as s:
                    await s.initialize()
                    t, err = await fails(s, "trail_stats")
                    assert err["socket"] == str(d.socket_path)
                    assert f"TRAIL_SOCKET={d.socket_path} traild" in t and "from TRAIL_SOCKET" in t
                    d.start()
                    await ok(s, "trail_stats")

    run(scenario)
