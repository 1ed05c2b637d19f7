"""Clients/shell/session-start.sh and session-end.sh against a real daemon,
and the `python3 -m trail_client` command line they use."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from trail_client import Trail

CLIENT_DIR = Path(__file__).resolve().parents[1]
SHELL_DIR = CLIENT_DIR.parent / "shell"


def env_for(daemon: Any, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAIL_")}
    env["TRAIL_SOCKET"] = daemon.sock
    env.update(extra)
    return env


def sh(script: str, *args: str, cwd: Path, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", str(SHELL_DIR / script), *args], cwd=cwd, env=env, input=stdin,
                          capture_output=True, text=True, timeout=60)


def cli(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = dict(env)
    env["PYTHONPATH"] = str(CLIENT_DIR) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return subprocess.run([sys.executable, "-m", "trail_client", *args], env=env, input=stdin,
                          capture_output=True, text=True, timeout=60)


def test_session_start_then_end(daemon: Any, ns: str, tmp_path: Path) -> None:
    with Trail(daemon.sock, default_ns=ns) as t:
        heavy_long = t.deposit("L" * 300, strength=9)["id"]          # heaviest, but over the budget
        a = t.deposit("the build needs swift 5.9", tags=["build"], strength=5)["id"]
        b = t.deposit("tests live in tests/e2e\nrun them with make test", strength=3)["id"]
        c = t.deposit("light note", strength=1)["id"]
        retracted = t.deposit("a wrong turn", strength=8)["id"]
        t.retract(retracted, "misled two agents")

    env = env_for(daemon)
    r = sh("session-start.sh", "-n", ns, "-b", "200", "-a", "claude-1", cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    md = (tmp_path / ".trail" / "session.md").read_text()
    state = (tmp_path / ".trail" / "session.ids").read_text().split("\n")
    ids = [line for line in state if re.fullmatch(r"[0-9a-f]{64}", line)]
    assert ids == [a, b, c], md
    shown = re.findall(r"`([0-9a-f]+)`", md)
    assert shown == [a[:12], b[:12], c[:12]]
    assert "the build needs swift 5.9" in md and "  run them with make test" in md
    assert "L" * 300 not in md and "wrong turn" not in md
    assert heavy_long[:12] not in md
    assert "3 notes" in r.stderr

    # One note per argument, linked after what was read.
    r = sh("session-end.sh", "-n", ns, "-a", "claude-1", "-t", "lesson", "learned one", "learned two",
           cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    new = r.stdout.split()
    assert len(new) == 2 and all(re.fullmatch(r"[0-9a-f]{64}", i) for i in new)
    with Trail(daemon.sock, default_ns=ns) as t:
        for i, body in zip(new, ["learned one", "learned two"]):
            note = t.get(i)["note"]
            assert note["body"] == body and note["tags"] == ["lesson"] and note["agent"] == "claude-1"
            assert note["after"] == [a, b, c]
            back = t.follow(i, direction="backward")["trails"]
            assert {tr["to"] for tr in back} == {a, b, c}

    # One note per line of stdin; blank lines skipped.
    r = sh("session-end.sh", "-n", ns, cwd=tmp_path, env=env, stdin="from stdin 1\n\n  \nfrom stdin 2\n")
    assert r.returncode == 0, r.stderr
    new = r.stdout.split()
    with Trail(daemon.sock, default_ns=ns) as t:
        assert [t.get(i)["note"]["body"] for i in new] == ["from stdin 1", "from stdin 2"]
        assert t.get(new[0])["note"]["after"] == [a, b, c]


def test_session_defaults_and_env(daemon: Any, ns: str, tmp_path: Path) -> None:
    with Trail(daemon.sock, default_ns=ns) as t:
        ids = [t.deposit(f"small note {i}", strength=10 - i)["id"] for i in range(5)]
    env = env_for(daemon, TRAIL_NS=ns, TRAIL_AGENT="env-agent", TRAIL_STATE=str(tmp_path / "st.ids"),
                  TRAIL_SESSION_MD=str(tmp_path / "ctx.md"))
    r = sh("session-start.sh", cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    md = (tmp_path / "ctx.md").read_text()
    assert "of 4000 bytes" in md  # the default budget
    assert re.findall(r"`([0-9a-f]{12})`", md) == [i[:12] for i in ids]
    # A read note that has since gone unknown (another namespace's id here)
    # is dropped with a warning; the rest still link.
    with open(tmp_path / "st.ids", "a") as f:
        f.write("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\n")
    r = sh("session-end.sh", "learned with env", cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    assert "dropping after id ffff" in r.stderr
    with Trail(daemon.sock, default_ns=ns) as t:
        note = t.get(r.stdout.strip())["note"]
        assert note["after"] == ids and note["agent"] == "env-agent"


def test_session_scripts_on_an_empty_namespace(daemon: Any, ns: str, tmp_path: Path) -> None:
    env = env_for(daemon)
    r = sh("session-start.sh", "-n", ns, cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    assert "No notes here yet" in (tmp_path / ".trail" / "session.md").read_text()
    r = sh("session-end.sh", "-n", ns, "first note of the colony", cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    with Trail(daemon.sock, default_ns=ns) as t:
        assert t.get(r.stdout.strip())["note"]["after"] == []


def test_session_scripts_exit_codes(daemon: Any, tmp_path: Path) -> None:
    env = env_for(daemon)
    r = sh("session-start.sh", "-S", str(tmp_path / "none.sock"), cwd=tmp_path, env=env)
    assert r.returncode == 3 and "traild" in r.stderr and "none.sock" in r.stderr
    assert not (tmp_path / ".trail" / "session.md").exists()
    r = sh("session-start.sh", "-n", "Bad Namespace", cwd=tmp_path, env=env)
    assert r.returncode == 1 and "Namespace" in r.stderr
    r = sh("session-start.sh", "-b", "lots", cwd=tmp_path, env=env)
    assert r.returncode == 2
    r = sh("session-end.sh", "-x", cwd=tmp_path, env=env)
    assert r.returncode == 2


def test_cli_commands(daemon: Any, ns: str) -> None:
    env = env_for(daemon, TRAIL_NS=ns)
    r = cli("deposit", "cli one", "cli two", "-t", "cli", "--id-only", env=env)
    assert r.returncode == 0, r.stderr
    one, two = r.stdout.split()
    r = cli("deposit", "-", "--after", one[:8], env=env, stdin="from stdin\n")
    three = json.loads(r.stdout)["id"]
    assert json.loads(cli("get", three, env=env).stdout)["note"]["after"] == [one]
    assert json.loads(cli("link", one, two, "--delta", "2", env=env).stdout)["weight"] == pytest.approx(2)
    follow = json.loads(cli("follow", one, env=env).stdout)
    assert [t["to"] for t in follow["trails"]] == [two, three]
    assert json.loads(cli("reinforce", one, env=env).stdout)["weight"] == pytest.approx(2, rel=1e-3)
    assert json.loads(cli("repel", one, "--amount", "0.5", env=env).stdout)["weight"] == pytest.approx(1.5, rel=1e-3)
    assert cli("sense", "--format", "ids", "-t", "cli", env=env).stdout.split() == [one, two]
    assert json.loads(cli("retract", two, "wrong", env=env).stdout)["state"] == "retracted"
    assert json.loads(cli("revive", two, env=env).stdout)["note"]["state"] == "live"
    assert json.loads(cli("stats", env=env).stdout)["notes"] == 3
    assert json.loads(cli("ns", "configure", ns, "--half-life", "60", env=env).stdout)["half_life_s"] == 60
    assert ns in {n["ns"] for n in json.loads(cli("ns", "list", env=env).stdout)["namespaces"]}
    assert json.loads(cli("call", "trail.stats", json.dumps({"ns": ns}), env=env).stdout)["ns"] == ns
    assert json.loads(cli("hello", env=env).stdout)["server"] == "traild"
    assert cli("compact", env=env).returncode in (0, 1)
    r = cli("get", "0123456789abcdef", env=env)
    assert r.returncode == 1 and "unknown_note" in r.stderr
    r = cli("--socket", "/nonexistent/trail.sock", "stats", env=env)
    assert r.returncode == 3 and "/nonexistent/trail.sock" in r.stderr and "start" in r.stderr
    assert cli("frobnicate", env=env).returncode == 2


def test_cli_watch(daemon: Any, ns: str) -> None:
    env = env_for(daemon, TRAIL_NS=ns)
    env["PYTHONPATH"] = str(CLIENT_DIR)
    proc = subprocess.Popen([sys.executable, "-m", "trail_client", "watch", "--count", "2"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        with Trail(daemon.sock, default_ns=ns) as t:
            # Wait until the watcher's subscription exists: deposit until an event shows up.
            import time
            deadline = time.monotonic() + 20
            i = 0
            while proc.poll() is None and time.monotonic() < deadline:
                t.deposit(f"watched by the cli {i}")
                i += 1
                time.sleep(0.05)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    assert len(events) == 2 and all(e["event"] == "deposited" for e in events)
