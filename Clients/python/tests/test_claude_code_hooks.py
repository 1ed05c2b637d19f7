"""Claude Code's hooks (trail_client.claude_code) as Claude Code runs them:
the JSON its documentation gives for SessionStart, Stop and PreCompact piped
into the command, against a real traild."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from trail_client import Trail

CLIENT_DIR = Path(__file__).resolve().parents[1]
SESSION = "abc123de-0000-4000-8000-000000000001"


def hook(event: str, payload: Any, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    data = payload if isinstance(payload, str) else json.dumps(payload)
    full = {k: v for k, v in os.environ.items() if k not in ("TRAIL_SOCKET", "TRAIL_NS")}
    full.update(env, PYTHONPATH=str(CLIENT_DIR))
    return subprocess.run([sys.executable, "-m", "trail_client.claude_code", event], input=data, text=True,
                          capture_output=True, env=full, cwd=cwd, timeout=60)


@pytest.fixture
def env(daemon, ns, tmp_path) -> dict[str, str]:
    runtime = tmp_path / "run"
    runtime.mkdir()
    return {"TRAIL_SOCKET": daemon.sock, "TRAIL_NS": ns, "XDG_RUNTIME_DIR": str(runtime)}


def start_payload(cwd: Path) -> dict[str, Any]:
    return {"session_id": SESSION, "transcript_path": str(cwd / "t.jsonl"), "cwd": str(cwd),
            "hook_event_name": "SessionStart", "source": "startup"}


def test_session_start_gives_the_strongest_notes_within_the_budget(daemon, ns, env, tmp_path):
    out = hook("session-start", start_payload(tmp_path), env, tmp_path)
    assert out.returncode == 0, out.stderr
    context = json.loads(out.stdout)["hookSpecificOutput"]
    assert context["hookEventName"] == "SessionStart"
    assert "empty so far" in context["additionalContext"]
    with Trail(daemon.sock, default_ns=ns) as t:
        strong = t.deposit("The build fails on a fresh machine until libzstd-dev is installed.", tags=["build"],
                           strength=3)["id"]
        weak = t.deposit("PostgreSQL tests need a throwaway cluster started by initdb.")["id"]
        t.deposit("x" * 3000)
    out = hook("session-start", start_payload(tmp_path), {**env, "TRAIL_HOOK_BUDGET": "200"}, tmp_path)
    assert out.returncode == 0, out.stderr
    text = json.loads(out.stdout)["hookSpecificOutput"]["additionalContext"]
    assert f"- {strong[:12]} (weight 3.00) [build]: The build fails" in text
    assert text.index(strong[:12]) < text.index(weak[:12])
    assert "xxxx" not in text  # over the budget


def test_stop_and_pre_compact_deposit_what_was_learned_linked_to_what_the_session_was_given(daemon, ns, env,
                                                                                             tmp_path):
    with Trail(daemon.sock, default_ns=ns) as t:
        given = t.deposit("Run the PostgreSQL tests through tests/pgcluster.py, never against port 5432.")["id"]
    assert hook("session-start", start_payload(tmp_path), env, tmp_path).returncode == 0
    said = ("The flaky test was a race between the indexer and the read; it now waits for the embedding. "
            "Run it five times to be sure.")
    stop = {"session_id": SESSION, "transcript_path": str(tmp_path / "t.jsonl"), "cwd": str(tmp_path),
            "hook_event_name": "Stop", "stop_hook_active": False, "last_assistant_message": said}
    out = hook("stop", stop, env, tmp_path)
    assert out.returncode == 0 and out.stdout == "", out.stderr
    with Trail(daemon.sock, default_ns=ns) as t:
        first = t.sense(tags=["claude-code"])["notes"]
        assert [n["body"] for n in first] == [said]
        assert first[0]["tags"] == ["claude-code", "session"] and first[0]["after"] == [given]
        assert first[0]["agent"] == f"claude-code/{SESSION[:8]}"
    # PreCompact reads the transcript (as Claude Code writes it, one JSON object a line).
    transcript = tmp_path / "t.jsonl"
    lines = [{"type": "user", "message": {"role": "user", "content": "fix the build"}},
             {"type": "assistant", "message": {"role": "assistant", "content": [
                 {"type": "text", "text": "Looking."}, {"type": "tool_use", "name": "Bash", "input": {}}]}},
             {"type": "assistant", "message": {"role": "assistant", "content": [
                 {"type": "text", "text": "The build needed libzstd-dev; the Makefile now installs it first. " * 30}]}},
             "not json"]
    transcript.write_text("\n".join(l if isinstance(l, str) else json.dumps(l) for l in lines) + "\n")
    compact = {"session_id": SESSION, "transcript_path": str(transcript), "cwd": str(tmp_path),
               "hook_event_name": "PreCompact", "trigger": "auto", "custom_instructions": ""}
    assert hook("pre-compact", compact, env, tmp_path).returncode == 0
    with Trail(daemon.sock, default_ns=ns) as t:
        note = t.sense(tags=["pre-compact"])["notes"][0]
    assert note["body"].startswith("The build needed libzstd-dev") and note["body"].endswith("...")
    assert len(note["body"].encode()) <= 1000
    assert note["after"] == [given, first[0]["id"]]
    # Nothing when Claude Code continues because of a Stop hook, or for a trifle.
    with Trail(daemon.sock, default_ns=ns) as t:
        before = t.stats()["notes"]
    assert hook("stop", {**stop, "stop_hook_active": True, "last_assistant_message": said + " Again."}, env,
                tmp_path).returncode == 0
    assert hook("stop", {**stop, "last_assistant_message": "Done."}, env, tmp_path).returncode == 0
    with Trail(daemon.sock, default_ns=ns) as t:
        assert t.stats()["notes"] == before


def test_the_namespace_is_the_project_directory_without_trail_ns(daemon, env, tmp_path):
    project = tmp_path / "My Project!"
    project.mkdir()
    del env["TRAIL_NS"]
    stop = {"session_id": SESSION, "cwd": str(project), "hook_event_name": "Stop",
            "last_assistant_message": "The deploy needs the migrations run before the web servers restart."}
    assert hook("stop", stop, env, project).returncode == 0
    with Trail(daemon.sock, default_ns="my-project") as t:
        assert [n["body"] for n in t.sense()["notes"]] == [stop["last_assistant_message"]]


def test_bad_input_and_no_daemon(env, tmp_path):
    # Exit 1, never 2: Claude Code reads 2 on Stop as "do not stop".
    out = hook("stop", "{not json", env, tmp_path)
    assert out.returncode == 1 and "not the JSON Claude Code sends" in out.stderr
    out = hook("stop", {"hook_event_name": "Stop"}, env, tmp_path)
    assert out.returncode == 1 and "no session_id" in out.stderr
    for name, value in [("TRAIL_HOOK_BUDGET", "2k"), ("TRAIL_HOOK_BUDGET", "0"), ("TRAIL_HOOK_NOTE_BYTES", "-5"),
                        ("TRAIL_HOOK_NOTE_BYTES", "10"), ("TRAIL_HOOK_NOTE_BYTES", "100000")]:
        for event, payload in [("session-start", start_payload(tmp_path)), ("stop", {"session_id": SESSION})]:
            out = hook(event, payload, {**env, name: value}, tmp_path)
            assert out.returncode == 1 and f"{name}={value!r}" in out.stderr and "whole number from" in out.stderr, \
                (name, value, out.stderr)
            assert out.stdout == ""
    with Trail(env["TRAIL_SOCKET"]) as t:  # nothing was written, and the daemon still serves
        assert t.sense(ns=env["TRAIL_NS"], limit=5)["notes"] == []
    out = hook("sideways", start_payload(tmp_path), env, tmp_path)
    assert out.returncode == 2 and "invalid choice" in out.stderr
    out = hook("session-start", start_payload(tmp_path), {**env, "TRAIL_SOCKET": str(tmp_path / "none.sock")},
               tmp_path)
    assert out.returncode == 1 and "Start it with `traild`" in out.stderr and out.stdout == ""
    out = hook("session-start", start_payload(tmp_path), {**env, "TRAIL_NS": "bad ns!"}, tmp_path)
    assert out.returncode == 1 and "traild refused" in out.stderr
