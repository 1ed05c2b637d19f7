"""The colony benchmark's quick profile (Benchmarks/colony), against a real
traild with the real model: it checks the harness, not who wins.

`python3 -m colony --profile quick` runs every world (in its breaking
scenario, at a small size) with every memory on two seeds, then writes the
raw records and the report. Held here:
- every memory saw the same world on a seed (the world's fingerprint);
- every started instance returned its record, and every deposit a daemon
  memory acknowledged is there afterwards (`trail.get`);
- the oracle is at least as good as every memory, per world, over the seeds;
- the report and its plots are written from the records.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

import pytest

from conftest import traild_bin

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "all-MiniLM-L6-v2"
MEMORIES = {"none", "handoff", "log-newest", "log-frequency", "vector", "trail-nodecay", "trail", "oracle"}
WORLDS = {"flaky", "routes", "claims"}


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict], subprocess.CompletedProcess[str]]:
    if not (MODEL / "model.safetensors").exists():
        pytest.fail(f"the embedding model is not in {MODEL}: `make model` fetches it")
    out = tmp_path_factory.mktemp("colony")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "Benchmarks" / "colony"))
    proc = subprocess.run([sys.executable, "-m", "colony", "--profile", "quick", "--traild", traild_bin(),
                           "--model-dir", str(MODEL), "--out", str(out)],
                          capture_output=True, text=True, timeout=240, env=env, cwd=ROOT)
    assert proc.returncode == 0, f"the quick colony run failed ({proc.returncode}):\n{proc.stderr[-4000:]}"
    lines = [json.loads(l) for l in (out / "colony.jsonl").read_text().splitlines()]
    return out, lines, proc


def runs(lines: list[dict]) -> list[dict]:
    return [l for l in lines if l["kind"] == "run"]


def test_every_world_ran_with_every_memory_on_every_seed(quick) -> None:
    _, lines, _ = quick
    meta = [l for l in lines if l["kind"] == "meta"]
    assert len(meta) == 1 and meta[0]["profile"] == "quick" and "faketime x" in meta[0]["clock"]
    seeds = set(meta[0]["seeds"]["eval"])
    assert len(seeds) == 2
    seen = {(r["world"], r["memory"], r["seed"]) for r in runs(lines)}
    assert seen == {(w, m, s) for w in WORLDS for m in MEMORIES for s in seeds}
    # trail is also run with the careless habit (a bare deposit with merge_similar 0.9)
    assert {(r["world"], r["memory"]) for r in runs(lines) if r["habit"] == "careless"} == \
        {(w, m) for w in WORLDS for m in ("trail", "trail-nodecay")}


def test_every_memory_saw_the_same_world_on_a_seed(quick) -> None:
    _, lines, _ = quick
    prints: dict[tuple[str, str, int], set[str]] = defaultdict(set)
    for r in runs(lines):
        prints[(r["world"], r["scenario"], r["seed"])].add(r["world_fingerprint"])
    assert prints and all(len(p) == 1 for p in prints.values()), prints
    # and different seeds are different worlds
    for w in WORLDS:
        assert len({next(iter(p)) for k, p in prints.items() if k[0] == w}) == 2, w


def test_every_instance_returned_and_every_acknowledged_deposit_is_there(quick) -> None:
    _, lines, _ = quick
    instances: dict[tuple, int] = defaultdict(int)
    for l in lines:
        if l["kind"] == "instance":
            instances[(l["world"], l["memory"], l["habit"], l["seed"])] += 1
    for r in runs(lines):
        assert all(r["invariants"].values()), (r["world"], r["memory"], r["invariants"], r["errors"])
        assert r["instances"] == instances[(r["world"], r["memory"], r["habit"], r["seed"])] > 0
        if r["memory"] in ("trail", "trail-nodecay", "vector"):
            assert r["acknowledged"] > 0 and r["ns"].startswith("colony-"), r
            # Reads waited for the daemon's embedding; the record says how long and how far behind it was.
            assert r["embedding_wait_s"] >= 0 and r["embedding_backlog"]["samples"] > 0, r


def test_what_a_daemon_memory_was_given_is_read_back_by_later_instances(quick) -> None:
    """The first whole eval seed found every practiced trail and vector run
    scoring exactly as no memory: the indexer was behind and reads by
    meaning found nothing. Reads now wait for the notes there when they
    begin (the exact check: `test_a_read_waits_for_the_notes_written_before_it`).
    Here, past the first wave of each run, most readers of a memory whose
    notes never fade read something. Not every one: the quick profile's knob
    is `min_similarity` 0.2, and a question whose subject no note is about
    may have nothing that near (flaky, seed 101, instance 21: one note at
    0.243, the next at 0.199, so whether it reads one note or none depends
    on which of 8 concurrent instances wrote and retracted first)."""
    late: dict[tuple, list[int]] = defaultdict(list)
    for l in lines_of(quick, "instance"):
        if l["memory"] in ("trail-nodecay", "vector") and l["instance"] >= 16:
            late[(l["world"], l["scenario"], l["memory"], l["habit"], l["seed"])].append(l["bytes_read"])
    assert late
    for cell, read in late.items():
        assert sum(b == 0 for b in read) * 4 <= len(read), (cell, read)


def test_a_read_waits_for_the_notes_written_before_it(daemon_factory) -> None:
    """Every note a memory acknowledged before a read begins is embedded and
    found by it, with the quick profile's `min_similarity` too, though
    traild embeds after it answers (`trail_memory.until_embedded`)."""
    if not (MODEL / "model.safetensors").exists():
        pytest.fail(f"the embedding model is not in {MODEL}: `make model` fetches it")
    for path in (ROOT / "Benchmarks" / "colony", ROOT / "Clients" / "python"):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    from colony.trail_memory import NO_DECAY_HALF_LIFE_S, TrailMemory, VectorMemory, configure

    d = daemon_factory("wait", extra=["--model-dir", str(MODEL)])
    sock = str(d.socket_path)
    question = "the integration tests time out while the database container starts"
    bodies = [f"the database container starts slowly and the tests time out, fix {w}"
              for w in ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
                        "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo",
                        "sierra", "tango")]
    for ns in ("vector", "trail"):
        configure(sock, ns, NO_DECAY_HALF_LIFE_S)
    for knob in (None, 0.2):
        for make in (lambda a: VectorMemory(sock, "vector", agent=a, min_similarity=knob),
                     lambda a: TrailMemory(sock, "trail", careless=False, agent=a, min_similarity=knob)):
            writer, reader = make("writer"), make("reader")
            try:
                ids = {writer.write(f"{b} ({knob})") for b in bodies}
                found = {n.id for n in reader.read(question, 10_000)}
                assert ids <= found, (writer.name, knob, len(ids - found))
            finally:
                writer.close()
                reader.close()


def lines_of(quick, kind: str) -> list[dict]:
    return [l for l in quick[1] if l["kind"] == kind]


def test_the_oracle_is_at_least_as_good_as_every_memory(quick) -> None:
    _, lines, _ = quick
    mean: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for r in runs(lines):
        mean[(r["world"], r["memory"], r["habit"])].append(r["primary"])
    for w in WORLDS:
        oracle = sum(mean[(w, "oracle", "practice")]) / 2
        for (world, memory, habit), values in mean.items():
            if world == w and memory != "oracle":
                assert oracle <= sum(values) / len(values), (w, memory, habit, oracle, values)


def test_the_report_and_its_plots_are_written_from_the_records(quick) -> None:
    out, _, proc = quick
    report = (out / "colony.md").read_text()
    for section in ("## 1. Headline", "## 2. Per cell", "Predictions", "flaky / breaking", "routes / breaking",
                    "claims / breaking"):
        assert section in report, section
    svgs = sorted(out.glob("colony-*.svg"))
    assert {p.name for p in svgs} >= {"colony-flaky-breaking.svg", "colony-routes-breaking.svg", "colony-claims-breaking.svg"}
    for p in svgs:
        assert ET.parse(p).getroot().tag.endswith("svg"), p
    assert "runs in" in proc.stderr


def test_without_the_model_it_says_how_to_get_it(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "Benchmarks" / "colony"))
    proc = subprocess.run([sys.executable, "-m", "colony", "--profile", "quick", "--traild", traild_bin(),
                           "--model-dir", str(tmp_path / "nothing"), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
    assert proc.returncode == 2 and "make model" in proc.stderr, proc.stderr
    assert not (tmp_path / "out" / "colony.md").exists()


def test_knobs_from_a_run_that_tuned_other_cells_is_refused(tmp_path: Path) -> None:
    records = tmp_path / "other.jsonl"
    records.write_text(json.dumps({"kind": "tuned", "knobs": [{"world": "flaky", "memory": "trail", "knob": {"half_life_s": 2.0}}]}) + "\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "Benchmarks" / "colony"))
    proc = subprocess.run([sys.executable, "-m", "colony", "--out", str(tmp_path / "out"), "--worlds", "flaky,routes",
                           "--memories", "trail", "--knobs-from", str(records)],
                          capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
    assert proc.returncode == 2 and "no tuned knob for routes/trail" in proc.stderr, proc.stderr
    assert not (tmp_path / "out" / "colony.jsonl").exists()


@pytest.mark.parametrize("line, says", [
    ({"kind": "tuned"}, "its last tuned line is malformed: 'knobs' is not a list"),
    ({"kind": "tuned", "knobs": [{"memory": "trail", "knob": {}}]}, "entry 0 names no world"),
    ({"kind": "tuned", "knobs": [{"world": "flaky", "memory": "trail", "knob": {}}, {"world": "flaky"}]},
     "entry 1 names no memory"),
    ({"kind": "tuned", "knobs": [{"world": "flaky", "memory": "trail"}]}, "entry 0 has no knob object"),
    ({"kind": "tuned", "knobs": ["flaky/trail"]}, "entry 0 is not an object"),
])
def test_knobs_from_a_malformed_tuned_line_is_refused(tmp_path: Path, line: dict, says: str) -> None:
    records = tmp_path / "other.jsonl"
    good = {"kind": "tuned", "knobs": [{"world": "flaky", "memory": "trail", "knob": {"half_life_s": 2.0}}]}
    records.write_text(json.dumps(good) + "\n" + json.dumps(line) + "\n")  # the last tuned line counts
    env = dict(os.environ, PYTHONPATH=str(ROOT / "Benchmarks" / "colony"))
    proc = subprocess.run([sys.executable, "-m", "colony", "--out", str(tmp_path / "out"), "--worlds", "flaky",
                           "--memories", "trail", "--knobs-from", str(records)],
                          capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
    assert proc.returncode == 2 and says in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out" / "colony.jsonl").exists()


@pytest.mark.parametrize("args, says", [
    (["--phases", "tuning,nope"], "--phases takes tuning, eval and sweep"),
    (["--worlds", "moon"], "--worlds takes flaky, routes, claims"),
    (["--profile", "huge"], "invalid choice: 'huge'"),
    (["--jobs", "many"], "invalid int value"),
    (["--habits", "practice,sloppy"], "--habits takes practice and careless"),
    (["--knobs-from", "/nonexistent/colony.jsonl"], "no tuned knobs in it"),
])
def test_bad_arguments_are_refused_before_anything_runs(tmp_path: Path, args: list[str], says: str) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "Benchmarks" / "colony"))
    proc = subprocess.run([sys.executable, "-m", "colony", "--out", str(tmp_path / "out"), *args],
                          capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
    assert proc.returncode == 2 and says in proc.stderr, proc.stderr
    assert not (tmp_path / "out" / "colony.jsonl").exists()


def test_the_llm_mode_runs_through_the_command_against_a_scripted_endpoint(tmp_path: Path) -> None:
    """No model runs here: a scripted chat-completions server plays every
    instance (read, try the first option, write, finish) through the same
    tools for trail and for the log; the records say rule `llm` and the
    endpoint; without the endpoint's variables the command says what it needs."""
    import json as _json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = _json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append(body)
            turn = sum(1 for m in body["messages"] if m["role"] == "assistant")
            option = body["messages"][0]["content"].split("Options you may try: ")[1].split(", ")[0]
            name, args = [("memory_read", {"query": "what worked?"}), ("try_option", {"option": option}),
                          ("memory_write", {"text": f"{option} was tried first"}), ("finish", {})][min(turn, 3)]
            data = _json.dumps({"choices": [{"message": {"role": "assistant", "tool_calls": [
                {"id": f"c{turn}", "type": "function", "function": {"name": name, "arguments": _json.dumps(args)}}]}}]}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    class Endpoint(ThreadingHTTPServer):
        # Instances of two runs call at once. A server answering one call at a
        # time behind http.server's listen backlog of 5 overflowed on a loaded
        # CI machine, and the kernel reset a connection (40 callers: 98 of 800
        # calls reset; threads and a backlog of 128: none).
        request_queue_size = 128

    server = Endpoint(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(os.environ, PYTHONPATH=str(ROOT / "Benchmarks" / "colony"),
               COLONY_LLM_BASE_URL=f"http://127.0.0.1:{server.server_port}/v1", COLONY_LLM_MODEL="scripted")
    args = [sys.executable, "-m", "colony", "--profile", "quick", "--llm", "--worlds", "flaky", "--memories",
            "log-newest,trail", "--seeds", "1", "--traild", traild_bin(), "--model-dir", str(MODEL), "--out", str(tmp_path)]
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=180, env=env, cwd=ROOT)
    finally:
        server.shutdown()
        server.server_close()
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(l) for l in (tmp_path / "colony.jsonl").read_text().splitlines()]
    assert [l["llm"] for l in lines if l["kind"] == "meta"] == [{"base_url": env["COLONY_LLM_BASE_URL"], "model": "scripted"}]
    run_lines = [l for l in lines if l["kind"] == "run"]
    assert {(l["memory"], l["rule"]) for l in run_lines} == {("log-newest", "llm"), ("trail", "llm")}
    assert all(l["invariants"]["instances_complete"] and l["instances"] == 40 for l in run_lines), run_lines
    assert all(l["acknowledged"] == 40 for l in run_lines)  # every instance wrote its note
    assert len(seen) == 2 * 40 * 4 and all(b["model"] == "scripted" for b in seen)
    del env["COLONY_LLM_MODEL"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
    assert proc.returncode == 2 and "needs COLONY_LLM_MODEL" in proc.stderr, proc.stderr


def _colony_traild_pids() -> set[int]:
    """traild processes started by a colony run (their socket is under a colony- folder)."""
    pids = set()
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if cmd and cmd[0].endswith(b"traild") and any(b"/colony-" in a for a in cmd):
                pids.add(int(proc.name))
    return pids


def test_a_run_stopped_by_sigterm_stops_its_daemon_and_resumes_to_the_same_runs(tmp_path: Path) -> None:
    """Stopped half-way, the run leaves whole runs only and no daemon; `--resume`
    runs what is missing, each run once, and says in the report that it resumed.
    The same records again with other code (another traild binary) are refused."""
    import signal
    import time
    if not (MODEL / "model.safetensors").exists():
        pytest.fail(f"the embedding model is not in {MODEL}: `make model` fetches it")
    sys.path.insert(0, str(ROOT / "Benchmarks" / "colony"))
    from colony import runner
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "Benchmarks" / "colony"))
    args = [sys.executable, "-m", "colony", "--profile", "quick", "--traild", traild_bin(),
            "--model-dir", str(MODEL), "--out", str(out), "--worlds", "flaky,routes", "--jobs", "2"]
    before = _colony_traild_pids()
    first = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    records = out / "colony.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if records.exists() and records.read_text().count('"kind": "run"') >= 6:
            break
        assert first.poll() is None, first.communicate()[1][-3000:]
        time.sleep(0.05)
    else:
        pytest.fail("the quick run wrote no 6 runs in 120 s")
    first.send_signal(signal.SIGTERM)
    _, stderr = first.communicate(timeout=60)
    assert first.returncode == 143, stderr[-3000:]
    assert not (_colony_traild_pids() - before), "the stopped run left its traild running"
    lines = [json.loads(l) for l in records.read_text().splitlines()]
    stopped_runs = [l for l in lines if l["kind"] == "run"]
    profile = runner.PROFILES["quick"]
    expected = len(runner.eval_specs(profile, runner.choose_knobs(profile, []))) * 2 // 3  # 2 of the 3 worlds
    assert 6 <= len(stopped_runs) < expected

    resumed = subprocess.run(args + ["--resume"], capture_output=True, text=True, timeout=240, env=env, cwd=ROOT)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    lines = [json.loads(l) for l in records.read_text().splitlines()]
    keys = [(l["world"], l["scenario"], l["memory"], l["rule"], l["habit"], l["seed"], l["phase"])
            for l in lines if l["kind"] == "run"]
    assert len(keys) == len(set(keys)) == expected
    assert [l["kind"] for l in lines].count("meta") == 1 and [l["kind"] for l in lines].count("resumed") == 1
    assert all(all(l["invariants"].values()) for l in lines if l["kind"] == "run")
    instances = defaultdict(int)
    for l in lines:
        if l["kind"] == "instance":
            instances[(l["world"], l["scenario"], l["memory"], l["rule"], l["habit"], l["seed"], l["phase"])] += 1
    assert all(instances[k] == l["instances"] for k, l in zip(keys, [l for l in lines if l["kind"] == "run"]))
    assert "**Resumed** 1 time(s)" in (out / "colony.md").read_text()

    other = tmp_path / "traild"
    other.write_bytes(Path(traild_bin()).read_bytes() + b"\0")
    other.chmod(0o755)
    with_other = [str(other) if a == traild_bin() else a for a in args]
    refused = subprocess.run([*with_other, "--resume"], capture_output=True, text=True,
                             timeout=60, env=env, cwd=ROOT)
    assert refused.returncode == 2 and "cannot resume" in refused.stderr and "another code" in refused.stderr


def test_a_run_killed_outright_leaves_no_daemon() -> None:
    """A harness killed with SIGKILL (nothing of it runs: a test's timeout, an
    operator's kill -9) takes its traild with it: the kernel kills the daemon
    when its parent dies."""
    import signal
    import time
    if not (MODEL / "model.safetensors").exists():
        pytest.fail(f"the embedding model is not in {MODEL}: `make model` fetches it")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "Benchmarks" / "colony"))
    before = _colony_traild_pids()
    with tempfile.TemporaryDirectory() as out:
        harness = subprocess.Popen([sys.executable, "-m", "colony", "--profile", "quick", "--traild", traild_bin(),
                                    "--model-dir", str(MODEL), "--out", out, "--worlds", "flaky", "--jobs", "1"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=ROOT)
        deadline = time.monotonic() + 60
        while not (_colony_traild_pids() - before) and time.monotonic() < deadline:
            assert harness.poll() is None, harness.communicate()[1][-3000:]
            time.sleep(0.05)
        started = _colony_traild_pids() - before
        assert started, "the run started no traild within 60 s"
        # Killed once the daemon serves (it has printed its ready line: no
        # later write to the harness's pipe would end it).
        sockets = [Path(a.decode()) for pid in started
                   for a in (Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0") if a.endswith(b"traild.sock")]
        while not all(s.exists() for s in sockets) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sockets and all(s.exists() for s in sockets), sockets
        time.sleep(1)
        harness.kill()
        harness.wait()
        deadline = time.monotonic() + 10
        while (_colony_traild_pids() & started) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = _colony_traild_pids() & started
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        assert not left, "the killed run left its traild running"


def test_the_vector_memory_reads_by_similarity_alone_and_trail_lets_weight_lead(daemon_factory) -> None:
    """The plain vector memory orders what it reads by similarity alone, as a
    vector store does, whatever traild's score makes of the weights; trail
    as an agent reads it puts the strongest of the notes about equally near
    the question first (docs/protocol.md, "Recall by meaning")."""
    if not (MODEL / "model.safetensors").exists():
        pytest.fail(f"the embedding model is not in {MODEL}: `make model` fetches it")
    for path in (ROOT / "Benchmarks" / "colony", ROOT / "Clients" / "python"):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    from trail_client import Trail
    from colony.trail_memory import NO_DECAY_HALF_LIFE_S, TrailMemory, VectorMemory, configure

    d = daemon_factory("vec", extra=["--model-dir", str(MODEL)])
    sock = str(d.socket_path)
    question = "carry a crate from the depot to the harbour dock"
    bodies = [f"{question} — route-A (the north bridge) took 21.0 min",
              f"{question} — route-D (through the old town) took 33.0 min"]
    for ns in ("vector", "trail"):
        configure(sock, ns, NO_DECAY_HALF_LIFE_S)
    vector = VectorMemory(sock, "vector", agent="a")
    trail = TrailMemory(sock, "trail", careless=False, agent="a")
    with Trail(sock, client_name="test") as t:
        for memory in (vector, trail):
            ids = [memory.write(b) for b in bodies]
            # route-D, the farther of the two in meaning, is the stronger.
            t.reinforce(ids[1], delta=0.5, ns=memory.ns)
    try:
        assert [n.text.split(" [entry")[0] for n in vector.read(question, 1200)] == bodies
        assert [n.text for n in trail.read(question, 1200)] == bodies[::-1]
        # The budget still holds: of 103 and 107 bytes, only the first fits 105.
        assert [n.text.split(" [entry")[0] for n in vector.read(question, 105)] == bodies[:1]
    finally:
        vector.close()
        trail.close()
