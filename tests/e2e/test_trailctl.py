"""trailctl against a real traild: every subcommand in human and --json
output, exit codes, socket discovery, stdin deposits, colour rules, export and
import between two daemons, refusal of damaged files, and the graph.

The binary is $TRAILCTL_BIN, else .build/debug/trailctl at the repository root.
"""
from __future__ import annotations

import json
import os
import pty
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import sha, store_name

ROOT = Path(__file__).resolve().parents[2]
ANSI = re.compile(r"\x1b\[[0-9;]*m")
WEIGHT3 = re.compile(r"\b\d+\.\d{3}\b")


def trailctl_bin() -> str:
    path = os.environ.get("TRAILCTL_BIN") or str(ROOT / ".build" / "debug" / "trailctl")
    if not os.path.exists(path):
        pytest.fail(f"trailctl binary not found at {path}: run `swift build` or set TRAILCTL_BIN")
    return path


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without anything that would choose a socket or an agent."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("TRAIL_SOCKET", "XDG_RUNTIME_DIR", "TRAIL_AGENT", "NO_COLOR")}
    env.update(extra)
    return env


def run(*args: str, daemon: Any = None, input: bytes | str | None = None, env: dict[str, str] | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Runs trailctl with `--socket` of `daemon` (when given) after the arguments."""
    argv = [trailctl_bin(), *args]
    if daemon is not None:
        argv += ["--socket", str(daemon.socket_path)]
    data = input.encode() if isinstance(input, str) else input
    p = subprocess.run(argv, input=data, capture_output=True, env=env or clean_env(), timeout=timeout)
    return subprocess.CompletedProcess(p.args, p.returncode, p.stdout.decode("utf-8", "replace"),
                                       p.stderr.decode("utf-8", "replace"))


def ok(*args: str, daemon: Any = None, **kw: Any) -> str:
    p = run(*args, daemon=daemon, **kw)
    assert p.returncode == 0, f"{args}: exit {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}"
    return p.stdout


def js(*args: str, daemon: Any = None, **kw: Any) -> Any:
    """Runs with --json and parses the one line it prints."""
    out = ok(*args, "--json", daemon=daemon, **kw)
    lines = out.splitlines()
    assert len(lines) == 1, out
    return json.loads(lines[0])


def fails(code: int, *args: str, daemon: Any = None, **kw: Any) -> subprocess.CompletedProcess[str]:
    p = run(*args, daemon=daemon, **kw)
    assert p.returncode == code, f"{args}: expected exit {code}, got {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}"
    assert p.stderr.strip(), "a failure says why on stderr"
    return p


def run_tty(*args: str, env: dict[str, str] | None = None, stdout_tty: bool = True, stderr_tty: bool = False,
            timeout: float = 30) -> tuple[int, str, str]:
    """Runs trailctl with stdout and/or stderr on a pseudo-terminal; returns (code, stdout, stderr)."""
    master, slave = pty.openpty()
    out_target = slave if stdout_tty else subprocess.PIPE
    err_target = slave if stderr_tty else subprocess.PIPE
    p = subprocess.Popen([trailctl_bin(), *args], stdout=out_target, stderr=err_target, stdin=subprocess.DEVNULL,
                         env=env or clean_env())
    os.close(slave)
    tty_bytes = b""
    deadline = time.monotonic() + timeout
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        tty_bytes += chunk
        assert time.monotonic() < deadline, "timed out"
    piped_out = p.stdout.read() if p.stdout else b""
    piped_err = p.stderr.read() if p.stderr else b""
    code = p.wait(timeout=timeout)
    os.close(master)
    tty = tty_bytes.decode("utf-8", "replace")
    out = tty if stdout_tty else piped_out.decode("utf-8", "replace")
    err = tty if stderr_tty and not stdout_tty else piped_err.decode("utf-8", "replace")
    return code, out, err


def deposit(daemon: Any, body: str, *args: str) -> str:
    return js("deposit", body, *args, daemon=daemon)["id"]


# ---------------------------------------------------------------------------
# notes: deposit, get, reinforce, repel, retract, revive
# ---------------------------------------------------------------------------


def test_deposit_both_modes(daemon):
    body = "found sugar near the north wall"
    out = ok("deposit", body, "--tag", "food", "--tag", "north", "--agent", "scout-1", daemon=daemon)
    assert "created" in out and sha(body)[:12] in out and "weight 1.000" in out and "deposits 1" in out
    assert sha(body) not in out, "ids are shortened to 12 digits on a terminal view"
    again = js("deposit", body, "--strength", "2.5", daemon=daemon)
    assert again["id"] == sha(body) and again["created"] is False and again["deposits"] == 2
    assert again["weight"] == pytest.approx(3.5, rel=1e-3)
    assert list(again) == ["id", "ns", "created", "weight", "deposits"], "the daemon's result, members in its order"
    out = ok("deposit", body, daemon=daemon)
    assert "reinforced" in out and "deposits 3" in out

    nxt = js("deposit", "the pile is behind the brick", "--after", sha(body)[:10], "--tag", "food", daemon=daemon)
    note = js("get", nxt["id"], daemon=daemon)["note"]
    assert note["after"] == [sha(body)] and note["tags"] == ["food"] and note["agent"] is None
    assert js("get", sha(body), daemon=daemon)["note"]["agent"] == "scout-1"

    with daemon.connect() as c:
        assert c.result("trail.get", {"id": sha(body)})["note"]["tags"] == ["food", "north"]


def test_deposit_into_a_namespace_and_agent_from_env(daemon):
    out = js("deposit", "colony note", "--ns", "colony-7", daemon=daemon,
             env=clean_env(TRAIL_AGENT="env-agent"))
    assert out["ns"] == "colony-7"
    note = js("--ns", "colony-7", "get", out["id"], daemon=daemon)["note"]
    assert note["agent"] == "env-agent" and note["ns"] == "colony-7"
    fails(1, "get", out["id"], daemon=daemon)  # not in default


def test_short_options_and_trail_ns(daemon):
    """-t for a tag, -N for the namespace (-n stays the count, as for head),
    TRAIL_NS as the default namespace; --ns and -N win over TRAIL_NS."""
    out = js("deposit", "-t", "build", "-t", "ci", "short options note", daemon=daemon,
             env=clean_env(TRAIL_NS="colony-short"))
    assert out["ns"] == "colony-short"
    got = js("-N", "colony-short", "sense", "-t", "ci", "-n", "5", daemon=daemon)["notes"]
    assert [(n["body"], n["tags"]) for n in got] == [("short options note", ["build", "ci"])]
    assert js("sense", "-t", "build", daemon=daemon, env=clean_env(TRAIL_NS="colony-short"))["notes"][0]["id"] == out["id"]
    # An empty TRAIL_NS counts as unset: the daemon's default namespace, where the note is not.
    assert out["id"] not in {n["id"] for n in js("sense", daemon=daemon, env=clean_env(TRAIL_NS=""))["notes"]}
    other = js("deposit", "-N", "colony-other", "elsewhere", daemon=daemon, env=clean_env(TRAIL_NS="colony-short"))
    assert other["ns"] == "colony-other"
    assert js("stats", "--ns", "colony-other", daemon=daemon, env=clean_env(TRAIL_NS="colony-short"))["ns"] == "colony-other"
    status = ok("status", daemon=daemon, env=clean_env(TRAIL_NS="colony-short"))
    assert "colony-short" in status
    fails(2, "sense", "-N", daemon=daemon)  # -N needs a value
    fails(1, "sense", daemon=daemon, env=clean_env(TRAIL_NS="Bad Name!"))


def test_deposit_from_stdin(daemon):
    out = js("deposit", "-", daemon=daemon, input="read from stdin\n")
    assert out["id"] == sha("read from stdin"), "one trailing newline is dropped"
    multi = "line one\nline two\n\n"
    assert js("deposit", "-", daemon=daemon, input=multi)["id"] == sha("line one\nline two\n")
    assert js("deposit", "-", "--raw", daemon=daemon, input="exact\n")["id"] == sha("exact\n")
    unicode = "caf\u00e9 \u2603 \U0001f41c"
    assert js("deposit", "-", daemon=daemon, input=unicode)["id"] == sha(unicode)
    assert js("get", sha(unicode), daemon=daemon)["note"]["body"] == unicode
    fails(2, "deposit", "-", daemon=daemon, input="")
    fails(2, "deposit", "-", daemon=daemon, input=b"\xff\xfe not utf-8")


def test_get_both_modes_and_several_ids(daemon):
    a = deposit(daemon, "alpha", "--tag", "x")
    b = deposit(daemon, "beta\nsecond line", "--after", a)
    ok("reinforce", a, "--delta", "0.5", daemon=daemon)
    out = ok("get", a[:8], daemon=daemon)
    assert a in out and "alpha" in out and "state" in out and "live" in out and "1.500" in out
    assert "trails" in out and b[:12] in out and "history" in out and "reinforce" in out
    with daemon.connect() as c:
        direct = c.result("trail.get", {"id": a})
    got = js("get", a, daemon=daemon)
    assert list(got) == list(direct) and list(got["note"]) == list(direct["note"])
    assert got["note"]["id"] == a and got["note"]["deposits"] == 1
    lines = ok("get", a, b, "--json", daemon=daemon).splitlines()
    assert [json.loads(l)["note"]["id"] for l in lines] == [a, b]
    human = ok("get", a, b, daemon=daemon)
    assert "alpha" in human and "second line" in human
    p = fails(1, "get", a, "00000000", daemon=daemon)
    assert "alpha" in p.stdout, "the known note is still shown"
    assert "unknown_note" in p.stderr and "00000000" in p.stderr


def test_reinforce_and_repel(daemon):
    a = deposit(daemon, "to be weighed")
    out = ok("reinforce", a, "--delta", "2", daemon=daemon)
    assert "weight 3.000" in out and a[:12] in out
    r = js("reinforce", a, daemon=daemon)
    assert r["id"] == a and r["weight"] == pytest.approx(4.0, rel=1e-3)
    r = js("reinforce", a, "--delta", "-0.5", daemon=daemon)
    assert r["weight"] == pytest.approx(3.5, rel=1e-3)
    out = ok("repel", a, "--by", "1.5", daemon=daemon)
    assert "repelled" in out and "weight 2.000" in out
    r = js("repel", a, daemon=daemon)
    assert r["weight"] == pytest.approx(1.0, rel=1e-3)
    assert js("repel", a, "--by", "10", daemon=daemon)["weight"] == 0, "the floor is 0"
    fails(2, "repel", a, "--by", "-1", daemon=daemon)
    fails(1, "reinforce", "abcdef0123", daemon=daemon)


def test_retract_and_revive(daemon):
    a = deposit(daemon, "bad advice: delete the cache")
    p = fails(2, "retract", a, daemon=daemon)
    assert "--reason" in p.stderr
    out = ok("retract", a, "--reason", "it wiped a colleague's work", "--agent", "ant-2", daemon=daemon)
    assert "retracted" in out and a[:12] in out
    note = js("get", a, daemon=daemon)["note"]
    assert note["state"] == "retracted" and note["retraction"]["reason"] == "it wiped a colleague's work"
    assert note["retraction"]["agent"] == "ant-2"
    shown = ok("get", a, daemon=daemon)
    assert "it wiped a colleague's work" in shown
    p = fails(1, "deposit", "bad advice: delete the cache", daemon=daemon)
    assert "retracted" in p.stderr
    fails(1, "reinforce", a, daemon=daemon)
    assert js("revive", a, daemon=daemon)["note"]["state"] == "live"
    assert js("retract", a, "--reason", "again", daemon=daemon) == {"id": a, "state": "retracted"}
    out = ok("revive", a, daemon=daemon)
    assert "revived" in out and "delete the cache" in out
    ok("retract", a, "--reason", "third time", daemon=daemon)
    forced = js("deposit", "bad advice: delete the cache", "--force", daemon=daemon)
    assert forced["id"] == a
    assert js("get", a, daemon=daemon)["note"]["state"] == "live"
    fails(1, "retract", a, "--reason", "   ", daemon=daemon)


# ---------------------------------------------------------------------------
# ranking and trails: sense, link, follow
# ---------------------------------------------------------------------------


def test_sense_both_modes_and_every_filter(daemon):
    heavy = deposit(daemon, "sugar by the north wall", "--tag", "food", "--tag", "north", "--strength", "5")
    mid = deposit(daemon, "sugar under the east stone", "--tag", "food", "--tag", "east", "--strength", "2")
    light = deposit(daemon, "water in the south pond", "--tag", "water", "--strength", "0.5")
    out = ok("sense", daemon=daemon)
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "SCORE", "WEIGHT", "STATE", "TAGS", "BODY"]
    assert [l.split()[0] for l in lines[1:]] == [heavy[:12], mid[:12], light[:12]]
    assert "5.000" in lines[1] and "food,north" in lines[1] and "sugar by the north wall" in lines[1]
    assert all(WEIGHT3.search(l) for l in lines[1:])
    # Columns are aligned: each row's SCORE column ends where the header's does.
    end = lines[0].index("SCORE") + len("SCORE")
    assert all(l[:end].endswith(("5.000", "2.000", "0.500")) for l in lines[1:])

    res = js("sense", daemon=daemon)
    assert [n["id"] for n in res["notes"]] == [heavy, mid, light]
    assert res["notes"][0]["score"] == pytest.approx(5, rel=1e-3)
    with daemon.connect() as c:
        assert list(c.result("trail.sense", {})["notes"][0]) == list(res["notes"][0])

    ids = lambda *a: [n["id"] for n in js("sense", *a, daemon=daemon)["notes"]]
    assert ids("--query", "sugar") == [heavy, mid]
    assert ids("-q", "pond") == [light]
    assert ids("--tag", "food", "--tag", "east") == [mid]
    assert ids("--any-tag", "east", "--any-tag", "water") == [mid, light]
    assert ids("--limit", "1") == [heavy]
    assert ids("--min-weight", "1") == [heavy, mid]
    assert ids("--budget", "47") == [heavy, light], "23 + 23 bytes fit; the 26-byte body is skipped"
    ok("ns", "configure", "thin", "--evaporate-below", "1", daemon=daemon)
    faint = deposit(daemon, "faint mark", "--ns", "thin", "--strength", "0.5")
    assert [n["id"] for n in js("--ns", "thin", "sense", daemon=daemon)["notes"]] == []
    faded = js("--ns", "thin", "sense", "--include-faded", daemon=daemon)["notes"]
    assert [n["id"] for n in faded] == [faint] and faded[0]["state"] == "faded"
    assert "no notes" in ok("--ns", "thin", "sense", daemon=daemon)
    fails(1, "sense", "--query", "!!!", daemon=daemon)
    fails(2, "sense", "--limit", "many", daemon=daemon)


def test_link_and_follow_both_modes(daemon):
    a = deposit(daemon, "start here")
    b = deposit(daemon, "then here", "--after", a)
    c = deposit(daemon, "or there")
    out = ok("link", a, c, "--delta", "3", daemon=daemon)
    assert "linked" in out and f"{a[:12]} -> {c[:12]}" in out and "weight 3.000" in out
    link = js("link", a[:8], b[:8], "--delta", "0.5", daemon=daemon)
    assert link["from"] == a and link["to"] == b and link["weight"] == pytest.approx(1.5, rel=1e-3)
    assert js("link", a, b, "--delta", "-0.25", daemon=daemon)["weight"] == pytest.approx(1.25, rel=1e-3)
    fails(1, "link", a, a, daemon=daemon)

    out = ok("follow", a, daemon=daemon)
    lines = out.splitlines()
    assert lines[0].startswith(f"from {a[:12]}") and "seed" in lines[0]
    assert lines[1].split()[:3] == ["DIR", "TO", "WEIGHT"]
    assert lines[2].split()[:3] == ["->", c[:12], "3.000"] and "or there" in lines[2]
    assert lines[3].split()[:3] == ["->", b[:12], "1.250"]
    f = js("follow", a, daemon=daemon)
    assert f["from"] == a and [t["to"] for t in f["trails"]] == [c, b]
    assert f["trails"][0]["note"]["body"] == "or there"
    back = js("follow", b, "--direction", "backward", daemon=daemon)
    assert [(t["to"], t["direction"]) for t in back["trails"]] == [(a, "backward")]
    both = js("follow", b, "--direction", "both", "--limit", "1", daemon=daemon)
    assert len(both["trails"]) == 1
    one = js("follow", a, "--explore", "1", "--seed", "42", daemon=daemon)
    two = js("follow", a, "--explore", "1", "--seed", "42", daemon=daemon)
    assert one["seed"] == 42 and [t["to"] for t in one["trails"]] == [t["to"] for t in two["trails"]]
    assert "seed 42" in ok("follow", a, "--explore", "0.5", "--seed", "42", daemon=daemon)
    assert "no trails" in ok("follow", c, daemon=daemon)
    fails(2, "follow", a, "--direction", "sideways", daemon=daemon)
    fails(1, "follow", a, "--explore", "2", daemon=daemon)


# ---------------------------------------------------------------------------
# namespaces, stats, compaction, status
# ---------------------------------------------------------------------------


def test_ns_list_and_configure(daemon):
    out = ok("ns", "configure", "colony-7", "--half-life", "1h", "--max-note-bytes", "8192", daemon=daemon)
    assert "colony-7" in out and "1h" in out and "8192" in out
    conf = js("ns", "configure", "colony-7", "--evaporate-below", "0.1", daemon=daemon)
    assert conf == {"ns": "colony-7", "half_life_s": 3600, "evaporate_below": 0.1, "max_note_bytes": 8192,
                    "contest_similarity": 0.9}
    assert js("--ns", "colony-8", "ns", "configure", "--half-life", "2d", daemon=daemon)["half_life_s"] == 172800
    assert js("ns", "configure", "colony-9", "--half-life", "90", daemon=daemon)["half_life_s"] == 90
    deposit(daemon, "in colony 7", "--ns", "colony-7")
    listed = js("ns", "list", daemon=daemon)["namespaces"]
    by = {n["ns"]: n for n in listed}
    assert {"default", "colony-7", "colony-8", "colony-9"} <= set(by)
    assert by["colony-7"]["notes"] == 1 and by["colony-7"]["half_life_s"] == 3600
    out = ok("ns", daemon=daemon)  # list is the default
    header = out.splitlines()[0].split()
    assert header[:2] == ["NS", "HALF-LIFE"] and "NOTES" in header
    row = next(l for l in out.splitlines() if l.startswith("colony-7 "))
    assert "1h" in row and "0.100" in row and "8192" in row
    fails(1, "ns", "configure", "Bad Name!", daemon=daemon)
    fails(2, "ns", "configure", "x", "--half-life", "soon", daemon=daemon)


def test_stats_both_modes(daemon):
    a = deposit(daemon, "counted")
    deposit(daemon, "counted too", "--after", a)
    s = js("stats", daemon=daemon)
    assert s["ns"] == "default" and s["notes"] == 2 and s["edges"] == 1 and s["live"] == 2
    assert s["total_weight"] == pytest.approx(2.0, rel=1e-3)
    out = ok("stats", daemon=daemon)
    assert re.search(r"notes\s+2 \(live 2, faded 0, archived 0, retracted 0\)", out)
    assert re.search(r"trails\s+1", out) and "total weight" in out and "2.000" in out and "uptime" in out
    assert js("--ns", "empty", "stats", daemon=daemon)["notes"] == 0


def test_compact_both_modes(daemon):
    ok("ns", "configure", "fast", "--evaporate-below", "0.5", daemon=daemon)
    deposit(daemon, "strong", "--ns", "fast", "--strength", "5")
    faint = deposit(daemon, "faint", "--ns", "fast", "--strength", "0.1")
    report = js("--ns", "fast", "compact", daemon=daemon)
    assert report["ns"] == "fast" and report["evaporated"] == 1 and report["ranked"] >= 1
    assert js("--ns", "fast", "get", faint, daemon=daemon)["note"]["state"] == "archived"
    out = ok("--ns", "fast", "compact", daemon=daemon)
    assert re.search(r"evaporated\s+0", out) and "ranked" in out
    everything = js("compact", daemon=daemon)
    assert everything["ns"] is None, "without --ns every namespace is compacted"
    assert "compaction" in ok("--ns", "fast", "stats", daemon=daemon)


def test_status_both_modes(daemon):
    deposit(daemon, "one")
    out = ok("status", daemon=daemon)
    assert "traild" in out and "is up" in out and str(daemon.socket_path) in out
    # The engine and the store it names (a PostgreSQL URL without its password).
    assert re.search(rf"store\s+{daemon.engine} at {re.escape(store_name(daemon))},", out), out
    assert re.search(r"notes\s+1 ", out) and "uptime" in out
    s = js("status", daemon=daemon)
    assert s["socket"] == str(daemon.socket_path) and s["socket_origin"] == "from --socket"
    assert s["hello"]["server"] == "traild" and s["hello"]["protocol"] == 1
    assert (s["hello"]["store"], s["hello"]["database"]) == (daemon.engine, store_name(daemon))
    assert s["stats"]["notes"] == 1 and any(n["ns"] == "default" for n in s["namespaces"])


# ---------------------------------------------------------------------------
# watch
# ---------------------------------------------------------------------------


def watch_until(daemon: Any, args: list[str], count: int, tag: str | None = None) -> tuple[list[str], list[str]]:
    """Starts `watch`, deposits notes until it has printed `count` lines and
    stopped, returns (its stdout lines, the bodies deposited)."""
    argv = [trailctl_bin(), "watch", "--count", str(count), "--socket", str(daemon.socket_path), *args]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_env())
    bodies = []
    deadline = time.monotonic() + 30
    i = 0
    while p.poll() is None:
        assert time.monotonic() < deadline, "watch did not stop after --count events"
        body = f"watched {i}"
        extra = ["--tag", tag] if tag else []
        ok("deposit", body, *extra, daemon=daemon)
        bodies.append(body)
        i += 1
        time.sleep(0.15)
    out, err = p.communicate(timeout=10)
    assert p.returncode == 0, err
    return out.decode().splitlines(), bodies


def test_watch_json_streams_events(daemon):
    lines, bodies = watch_until(daemon, ["--json", "--tag", "seen"], 2, tag="seen")
    assert len(lines) == 2
    events = [json.loads(l) for l in lines]
    assert all(e["event"] == "deposited" and isinstance(e["subscription"], str) for e in events)
    got = [e["note"]["body"] for e in events]
    assert got == bodies[len(bodies) - 2:] or all(b in bodies for b in got)
    assert list(events[0]) == ["subscription", "event", "note", "seq"]


def test_watch_human_and_link_events(daemon):
    a = deposit(daemon, "from here")
    b = deposit(daemon, "to there")
    argv = [trailctl_bin(), "watch", "--count", "1", "--socket", str(daemon.socket_path)]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_env())
    deadline = time.monotonic() + 30
    while p.poll() is None:
        assert time.monotonic() < deadline
        ok("link", a, b, "--delta", "0.5", daemon=daemon)
        time.sleep(0.15)
    out = p.communicate(timeout=10)[0].decode()
    assert "linked" in out and f"trail {a[:12]} -> {b[:12]}" in out and "to there" in out
    assert not ANSI.search(out)


def wait_connected(d: Any, watchers: int) -> None:
    """Waits until exactly `watchers` connections besides the one asking are open."""
    deadline = time.monotonic() + 20
    while d.result("trail.stats")["connections"] != watchers + 1:
        assert time.monotonic() < deadline, f"never {watchers} watchers"
        time.sleep(0.05)


def test_watch_stops_cleanly_on_interrupt_and_when_the_daemon_goes(daemon_factory):
    d = daemon_factory("w")
    argv = [trailctl_bin(), "watch", "--socket", str(d.socket_path)]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_env())
    wait_connected(d, 1)
    p.send_signal(2)
    assert p.wait(timeout=10) == 0
    wait_connected(d, 0)
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_env())
    wait_connected(d, 1)
    d.terminate()
    assert p.wait(timeout=20) == 3
    assert "closed" in p.stderr.read().decode()


# ---------------------------------------------------------------------------
# exit codes, socket discovery, colour, help
# ---------------------------------------------------------------------------


def test_exit_codes(daemon, tmp_path):
    assert run("stats", daemon=daemon).returncode == 0
    p = fails(1, "get", "0123456789ab", daemon=daemon)
    assert "unknown_note" in p.stderr and p.stdout == ""
    p = fails(1, "deposit", "x" * 5000, daemon=daemon)
    assert "note_too_large" in p.stderr
    fails(1, "get", "abc", daemon=daemon)  # the daemon refuses a short prefix: invalid_params
    fails(2, "nonsense", daemon=daemon)
    fails(2, "deposit", daemon=daemon)
    fails(2, "sense", "--limit", daemon=daemon)
    fails(2, "reinforce", "abcdef12", "--delta", "lots", daemon=daemon)
    missing = tmp_path / "no" / "traild.sock"
    p = fails(3, "stats", "--socket", str(missing))
    assert str(missing) in p.stderr and "traild" in p.stderr and "--socket" in p.stderr
    stale = Path(f"/tmp/trail-ctl-stale-{os.getpid()}.sock")
    import socket as s
    sock = s.socket(s.AF_UNIX)
    sock.bind(str(stale))
    sock.close()
    try:
        p = fails(3, "status", "--socket", str(stale))
        assert "nothing is listening" in p.stderr and str(stale) in p.stderr
    finally:
        stale.unlink()


def test_socket_discovery(daemon_factory):
    short = Path(f"/tmp/trail-xdg-{os.getpid()}")
    (short / "trail").mkdir(parents=True, exist_ok=True)
    try:
        d = daemon_factory("x", socket_path=short / "trail" / "traild.sock")
        # $XDG_RUNTIME_DIR/trail/traild.sock
        out = js("status", env=clean_env(XDG_RUNTIME_DIR=str(short)))
        assert out["socket"] == str(d.socket_path) and "XDG_RUNTIME_DIR" in out["socket_origin"]
        # TRAIL_SOCKET wins over XDG_RUNTIME_DIR, --socket over both.
        p = fails(3, "stats", env=clean_env(XDG_RUNTIME_DIR=str(short), TRAIL_SOCKET="/tmp/nowhere/t.sock"))
        assert "/tmp/nowhere/t.sock" in p.stderr and "TRAIL_SOCKET" in p.stderr
        ok("stats", "--socket", str(d.socket_path), env=clean_env(TRAIL_SOCKET="/tmp/nowhere/t.sock"))
        assert js("stats", env=clean_env(TRAIL_SOCKET=str(d.socket_path)))["ns"] == "default"
        # Global options may come before the subcommand.
        ok("--socket", str(d.socket_path), "--ns", "pre", "deposit", "before the subcommand")
        assert js("--socket", str(d.socket_path), "--json", "stats", "--ns", "pre")["notes"] == 1
    finally:
        shutil.rmtree(short, ignore_errors=True)
    fallback = f"/tmp/trail-{os.getuid()}/traild.sock"
    if not os.path.exists(fallback):
        p = fails(3, "stats", env=clean_env())
        assert fallback in p.stderr


def test_colour_only_on_a_terminal_and_never_with_no_color(daemon):
    deposit(daemon, "colourful", "--tag", "x")
    piped = ok("sense", daemon=daemon)
    assert not ANSI.search(piped)
    code, out, _ = run_tty("sense", "--socket", str(daemon.socket_path))
    assert code == 0 and ANSI.search(out) and "colourful" in out
    code, out, _ = run_tty("sense", "--socket", str(daemon.socket_path), env=clean_env(NO_COLOR="1"))
    assert code == 0 and not ANSI.search(out) and "colourful" in out
    code, out, _ = run_tty("sense", "--json", "--socket", str(daemon.socket_path))
    assert code == 0 and not ANSI.search(out) and json.loads(out.strip())["notes"][0]["body"] == "colourful"


def test_help_documents_every_command():
    out = ok("--help")
    for cmd in ["deposit", "get", "sense", "reinforce", "repel", "link", "follow", "retract", "revive", "stats",
                "ns", "compact", "watch", "status", "export", "import", "graph"]:
        assert re.search(rf"^\s+{cmd}\s+\S", out, re.M), f"{cmd} missing from --help"
        sub = ok(cmd, "--help")
        assert "OVERVIEW:" in sub, cmd
        if cmd != "ns":
            assert "--socket" in sub and "--json" in sub, cmd
    assert "--socket" in ok("ns", "list", "--help")
    assert "Exit codes" in out
    assert "--half-life" in ok("ns", "configure", "--help")


# ---------------------------------------------------------------------------
# export, import
# ---------------------------------------------------------------------------


def seed_colony(d: Any, ns: str = "colony") -> dict[str, str]:
    ok("ns", "configure", ns, "--half-life", "1d", "--evaporate-below", "0.2", "--max-note-bytes", "8192", daemon=d)
    ids = {}
    ids["root"] = deposit(d, "root: read the build log first", "--ns", ns, "--tag", "build", "--agent", "ant-1")
    ids["next"] = deposit(d, "then check libzstd-dev", "--ns", ns, "--after", ids["root"], "--strength", "2.5")
    ids["uni"] = js("deposit", "-", "--ns", ns, "--after", ids["root"], "--after", ids["next"], daemon=d,
                    input="caf\u00e9 \u2603 \U0001f41c survives\u0000")["id"]
    deposit(d, "then check libzstd-dev", "--ns", ns, "--tag", "deps")
    ids["bad"] = deposit(d, "bad advice: delete the cache", "--ns", ns)
    ok("retract", ids["bad"], "--ns", ns, "--reason", "it wiped a colleague's work", "--agent", "ant-2", daemon=d)
    ok("link", ids["uni"], ids["next"], "--ns", ns, "--delta", "0.5", daemon=d)
    ids["big"] = deposit(d, "b" * 6000, "--ns", ns)
    ids["gone"] = deposit(d, "a faint mark that evaporates", "--ns", ns, "--strength", "0.1", "--after", ids["root"])
    for i in range(12):
        deposit(d, f"filler {i}", "--ns", ns, "--after", ids["root"])
    assert js("--ns", ns, "compact", daemon=d)["evaporated"] == 1
    return ids


def all_records(d: Any, ns: str) -> dict[str, Any]:
    out, cursor = [], None
    with d.connect() as c:
        while True:
            params = {"ns": ns, "limit": 7}
            if cursor:
                params["cursor"] = cursor
            page = c.result("trail.export", params)
            out += page["records"]
            cursor = page["cursor"]
            if cursor is None:
                return {"settings": page["settings"], "records": {r["id"]: r for r in out}}


def assert_same_notes(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a["settings"] == b["settings"]
    assert set(a["records"]) == set(b["records"])
    for id_, ra in a["records"].items():
        rb = b["records"][id_]
        for k in ("body", "tags", "after", "deposits", "agent", "state", "created_at", "retraction"):
            assert ra[k] == rb[k], (k, ra, rb)
        assert rb["weight"] == pytest.approx(ra["weight"], rel=0.01)
        ta = {t["to"]: t["weight"] for t in ra["trails"]}
        tb = {t["to"]: t["weight"] for t in rb["trails"]}
        assert set(ta) == set(tb)
        for to, w in ta.items():
            assert tb[to] == pytest.approx(w, rel=0.01)


def test_export_import_round_trip_between_two_daemons(daemon_factory, tmp_path):
    src = daemon_factory("src")
    dst = daemon_factory("dst")
    ids = seed_colony(src)
    ok("ns", "configure", "colony", "--contest-similarity", "0.95", daemon=src)
    path = tmp_path / "colony.ndjson.zst"
    out = ok("--ns", "colony", "export", "-o", str(path), "--page-size", "4", daemon=src)
    assert "exported 18 notes of colony" in out and path.exists()
    assert not list(tmp_path.glob("*.partial-*")), "no temporary file is left behind"
    text = subprocess.run(["zstd", "-dc", str(path)], capture_output=True, check=True).stdout.decode()
    lines = [json.loads(l) for l in text.splitlines()]
    assert lines[0]["trail_export"] == 1 and lines[0]["ns"] == "colony"
    assert lines[0]["settings"] == {"half_life_s": 86400, "evaporate_below": 0.2, "max_note_bytes": 8192, "contest_similarity": 0.95}
    assert lines[-1]["end"] is True and lines[-1]["records"] == 18 and len(lines) == 20
    states = {l["id"]: l["state"] for l in lines[1:-1]}
    assert states[ids["bad"]] == "retracted" and states[ids["gone"]] == "archived"

    out = ok("import", str(path), daemon=dst)
    assert "imported 18 notes into colony: 18 new" in out and "namespace created" in out
    assert js("ns", "configure", "colony", daemon=dst)["contest_similarity"] == 0.95, "the settings come along"
    before = all_records(src, "colony")
    after = all_records(dst, "colony")
    assert_same_notes(before, after)
    assert js("--ns", "colony", "get", ids["gone"], daemon=dst)["note"]["state"] == "archived"
    assert js("--ns", "colony", "get", ids["bad"], daemon=dst)["note"]["retraction"]["agent"] == "ant-2"
    sense = lambda d: [n["id"] for n in js("--ns", "colony", "sense", "--limit", "50", daemon=d)["notes"]]
    assert sense(src) == sense(dst)

    again = js("import", str(path), daemon=dst)
    assert again == {"ns": "colony", "notes": 18, "created": 0, "trails": again["trails"]}, "idempotent"
    assert_same_notes(after, all_records(dst, "colony"))
    stats = js("--ns", "colony", "stats", daemon=dst)
    assert stats["notes"] == 18 and stats["retracted"] == 1 and stats["archived"] == 1


def test_export_to_stdout_import_from_stdin_into_another_namespace(daemon_factory):
    src = daemon_factory("a")
    dst = daemon_factory("b")
    seed_colony(src, "colony")
    data = subprocess.run([trailctl_bin(), "export", "--ns", "colony", "--socket", str(src.socket_path)],
                          capture_output=True, env=clean_env(), check=True).stdout
    assert data[:4] == b"\x28\xb5\x2f\xfd", "a zstd frame"
    ok("ns", "configure", "copy", "--half-life", "2d", "--max-note-bytes", "8192", daemon=dst)
    report = js("import", "-", "--into", "copy", daemon=dst, input=data)
    assert report["ns"] == "copy" and report["notes"] == 18 and report["created"] == 18
    assert js("ns", "configure", "copy", daemon=dst)["half_life_s"] == 172800, "an existing namespace keeps its settings"
    got = all_records(dst, "copy")["records"]
    want = all_records(src, "colony")["records"]
    assert set(got) == set(want)
    # --ns also picks the target; stdin is the default source.
    third = js("import", "--ns", "third", daemon=dst, input=data)
    assert third["ns"] == "third" and third["created"] == 18
    code, _, err = run_tty("export", "--socket", str(src.socket_path))
    assert code == 2 and "terminal" in err


def test_export_progress_on_a_terminal(daemon, tmp_path):
    for i in range(30):
        deposit(daemon, f"note {i}")
    path = tmp_path / "out.zst"
    code, _, err = run_tty("export", "-o", str(path), "--page-size", "5", "--socket", str(daemon.socket_path),
                           stdout_tty=False, stderr_tty=True)
    assert code == 0 and "exporting default" in err
    piped = run("export", "-o", str(path), "--page-size", "5", daemon=daemon)
    assert "exporting" not in piped.stderr


def test_empty_namespace_round_trip(daemon_factory, tmp_path):
    src = daemon_factory("e1")
    dst = daemon_factory("e2")
    ok("ns", "configure", "quiet", "--half-life", "3h", daemon=src)
    path = tmp_path / "quiet.zst"
    summary = js("--ns", "quiet", "export", "-o", str(path), daemon=src)
    assert summary["records"] == 0 and summary["file"] == str(path)
    assert js("import", str(path), daemon=dst) == {"ns": "quiet", "notes": 0, "created": 0, "trails": 0}
    assert js("ns", "configure", "quiet", daemon=dst)["half_life_s"] == 10800


def damaged_files(good: Path, tmp: Path) -> dict[str, Path]:
    raw = subprocess.run(["zstd", "-dc", str(good)], capture_output=True, check=True).stdout
    lines = raw.split(b"\n")

    def packed(name: str, text: bytes) -> Path:
        p = tmp / f"{name}.zst"
        p.write_bytes(subprocess.run(["zstd", "-q", "-c"], input=text, capture_output=True, check=True).stdout)
        return p

    files = {}
    data = good.read_bytes()
    files["truncated-frame"] = tmp / "truncated.zst"
    files["truncated-frame"].write_bytes(data[: len(data) // 2])
    files["not-zstd"] = tmp / "garbage.zst"
    files["not-zstd"].write_bytes(b"this is not an export at all\n")
    files["empty"] = tmp / "empty.zst"
    files["empty"].write_bytes(b"")
    files["no-end-line"] = packed("noend", b"\n".join(lines[:-2]) + b"\n")
    files["cut-mid-line"] = packed("cut", raw[: len(raw) - 40])
    files["forged-body"] = packed("forged", raw.replace(b"then check libzstd-dev", b"then check libzstd-dew"))
    files["changed-weight"] = packed("weight", re.sub(rb'"weight":(\d)', rb'"weight":9\1', raw, count=1))
    files["bad-record"] = packed("badrec", b"\n".join([lines[0], b'{"id": 5}', *lines[2:]]))
    # A count beyond an Int crashed trailctl import (found by fuzz-export, issue 14).
    files["huge-count"] = packed("hugecount", re.sub(rb'"records":\d+', rb'"records":1e300', raw))
    return files


def test_a_damaged_file_is_refused_and_nothing_changes(daemon_factory, tmp_path):
    src = daemon_factory("s")
    dst = daemon_factory("t")
    seed_colony(src)
    good = tmp_path / "good.zst"
    ok("--ns", "colony", "export", "-o", str(good), daemon=src)
    deposit(dst, "already here", "--ns", "colony")
    ok("ns", "configure", "colony", "--max-note-bytes", "8192", daemon=dst)
    before = js("ns", "list", daemon=dst)
    for name, path in damaged_files(good, tmp_path).items():
        for target in (["--into", "colony"], ["--into", f"fresh-{name}"]):
            p = fails(1, "import", str(path), *target, daemon=dst)
            assert "nothing was imported" in p.stderr.lower(), (name, p.stderr)
        assert js("ns", "list", daemon=dst) == before, f"{name} changed the store"
    p = fails(1, "import", str(damaged_files(good, tmp_path)["changed-weight"]), daemon=dst)
    assert "checksum" in p.stderr
    p = fails(1, "import", str(tmp_path / "missing.zst"), daemon=dst)
    assert "no such file" in p.stderr
    # The daemon's own refusal (a body over an existing namespace's limit) names the line, and changes nothing.
    ok("ns", "configure", "tiny", "--max-note-bytes", "16", daemon=dst)
    before = js("ns", "list", daemon=dst)
    p = fails(1, "import", str(good), "--into", "tiny", "--chunk-records", "3", daemon=dst)
    assert re.search(r"line \d+ of the file was refused", p.stderr) and "Nothing was imported" in p.stderr
    assert js("ns", "list", daemon=dst) == before
    ok("import", str(good), "--into", "colony", daemon=dst)


# ---------------------------------------------------------------------------
# graph
# ---------------------------------------------------------------------------


def seed_graph(d: Any) -> list[str]:
    a = deposit(d, "hub of the colony", "--strength", "4")
    b = deposit(d, "first branch", "--after", a, "--strength", "2")
    c = deposit(d, "say \"hi\" \\ now", "--after", a, "--strength", "0.5")
    e = deposit(d, "leaf", "--after", b)
    r = deposit(d, "retracted branch", "--after", a)
    ok("retract", r, "--reason", "wrong", daemon=d)
    return [a, b, c, e, r]


def test_graph_dot(daemon):
    a, b, c, e, r = seed_graph(daemon)
    dot = ok("graph", daemon=daemon)
    assert dot.startswith("digraph trail {") and dot.rstrip().endswith("}")
    for n in (a, b, c, e):
        assert f'"{n}" [label="{n[:12]}' in dot
    assert r not in dot, "retracted notes are left out by default"
    assert f'"{a}" -> "{b}"' in dot and f'"{b}" -> "{e}"' in dot
    assert re.search(r'penwidth=5\.00, fontsize=16\.00', dot), "the heaviest node is drawn thickest"
    assert 'say \\"hi\\" \\\\ now' in dot
    assert r in ok("graph", "--all-states", daemon=daemon)
    limited = ok("graph", "--limit", "2", daemon=daemon)
    assert a in limited and b in limited and c not in limited and e not in limited
    light = ok("graph", "--min-weight", "0.9", daemon=daemon)
    assert c not in light and f'"{a}" -> "{b}"' in light
    if shutil.which("dot"):
        subprocess.run(["dot", "-Tsvg"], input=dot.encode(), capture_output=True, check=True)


def test_graph_json(daemon, tmp_path):
    a, b, c, e, r = seed_graph(daemon)
    g = js("graph", daemon=daemon)
    same = json.loads(ok("graph", "--format", "json", daemon=daemon))
    assert same["nodes"] == g["nodes"] or [n["id"] for n in same["nodes"]] == [n["id"] for n in g["nodes"]]
    assert [n["id"] for n in g["nodes"]][:2] == [a, b]
    assert {(x["from"], x["to"]) for x in g["edges"]} == {(a, b), (a, c), (b, e)}
    w = {(x["from"], x["to"]): x["weight"] for x in g["edges"]}
    assert w[(a, b)] == pytest.approx(2, rel=1e-3) and w[(a, c)] == pytest.approx(0.5, rel=1e-3)
    assert g["notes_total"] == 5
    out = tmp_path / "g.json"
    ok("graph", "--format", "json", "-o", str(out), daemon=daemon)
    assert json.loads(out.read_text())["edges"]
    few = js("graph", "--min-weight", "0.9", daemon=daemon)
    assert {(x["from"], x["to"]) for x in few["edges"]} == {(a, b), (b, e)}


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed (make deps installs it)")
def test_graph_svg(daemon, tmp_path):
    a, *_ = seed_graph(daemon)
    svg = ok("graph", "--format", "svg", daemon=daemon)
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and a[:12] in svg
    out = tmp_path / "g.svg"
    ok("graph", "--format", "svg", "-o", str(out), daemon=daemon)
    assert "<svg" in out.read_text()


def test_graph_svg_without_graphviz_says_so(daemon):
    seed_graph(daemon)
    p = fails(1, "graph", "--format", "svg", daemon=daemon, env=clean_env(PATH="/nonexistent"))
    assert "Graphviz" in p.stderr and "--format dot" in p.stderr and p.stdout == ""
