"""The benchmark harness at tiny sizes, so that it cannot rot.

Runs `trail-bench --smoke` (binary from $TRAIL_BENCH_BIN, else
.build/debug/trail-bench), which starts and stops its own traild and
redis-server, runs every workload on every system, and writes the table, the
JSON and the chart. The figures themselves mean nothing at these sizes; the
test checks that every workload produced its row for every system, with
answers counted: a window in which nothing finished (a debug build at 1,024
requests in flight) is extended until something does, never written as a
zero (`MeasuringWindow`), which `--duration 0.001` checks on purpose.

Then `trail-bench --smoke --only postgres` (the postgres phase: a throwaway
PostgreSQL cluster it makes and removes, traild on it with one and two
daemons, raw PostgreSQL, traild on SQLite), which writes postgres.md and
postgres.json and nothing else.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKLOADS = ["W1", "W2", "W3", "W4", "W5", "W6", "W7"]
# Which peers each workload is compared with (Redis has no full-text search).
PEERS = {
    "W1": {"redis", "sqlite", "fsync"},
    "W2": {"redis", "sqlite", "fsync"},
    "W3": {"redis", "redis-zrevrange", "sqlite"},
    "W4": {"sqlite"},
    "W5": {"redis", "sqlite"},
    "W6": {"redis"},
    "W7": {"redis", "sqlite"},
}


def bench_bin() -> str:
    path = os.environ.get("TRAIL_BENCH_BIN") or str(ROOT / ".build" / "debug" / "trail-bench")
    if not os.path.exists(path):
        pytest.fail(f"trail-bench not found at {path}: run `swift build` or set TRAIL_BENCH_BIN")
    return path


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, subprocess.CompletedProcess[str]]:
    for tool in ("redis-server", "redis-benchmark"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed: `make system-deps` installs redis-server and redis-tools")
    out = tmp_path_factory.mktemp("bench-out")
    work = tmp_path_factory.mktemp("bench-work")
    args = [bench_bin(), "--smoke", "--out", str(out), "--work-dir", str(work)]
    if os.environ.get("TRAILD_BIN"):
        args += ["--traild", os.environ["TRAILD_BIN"]]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, f"trail-bench --smoke failed ({proc.returncode}):\n{proc.stderr[-4000:]}"
    return out, work, proc


def test_writes_the_table_json_and_chart(smoke: tuple[Path, Path, subprocess.CompletedProcess[str]]) -> None:
    out, _, _ = smoke
    for name in ("latest.md", "latest.json", "sense-latency.svg"):
        assert (out / name).stat().st_size > 0, name


def test_json_has_every_workload_on_every_system(smoke: tuple[Path, Path, subprocess.CompletedProcess[str]]) -> None:
    out, _, _ = smoke
    results = json.loads((out / "latest.json").read_text())
    assert results["profile"] == "smoke"
    assert results["fsyncPerSecond"] > 0
    machine = results["machine"]
    for key in ("cpu", "kernel", "traild", "redis", "sqlite"):
        assert machine[key] and machine[key] != "unknown", key
    rows = results["rows"]
    for workload in WORKLOADS:
        mine = [r for r in rows if r["workload"] == workload]
        assert mine, f"no {workload} row"
        for row in mine:
            trail = row["trail"]
            assert trail.get("value", 0) > 0 or trail["latency"]["p50"] > 0, (workload, trail)
            if workload != "W7":
                assert trail["latency"]["samples"] > 0, (workload, row["title"], trail)
            assert set(row["peers"]) == PEERS[workload], (workload, sorted(row["peers"]))
            for name, peer in row["peers"].items():
                assert peer.get("value", 0) > 0 or peer["latency"]["p99"] > 0, (workload, name, peer)
    # W1 at 1 client and each pipelining count; reads at each size.
    assert len([r for r in rows if r["workload"] == "W1"]) == 3
    for workload in ("W3", "W4", "W5"):
        assert sorted(r["notes"] for r in rows if r["workload"] == workload) == results["sizes"]
    assert [m["notes"] for m in results["memory"]] == results["sizes"]
    assert all(m["traildPeakKiB"] > 0 and m["redisPeakKiB"] > 0 for m in results["memory"])


def test_markdown_table_has_every_workload_row(smoke: tuple[Path, Path, subprocess.CompletedProcess[str]]) -> None:
    out, _, proc = smoke
    table = (out / "latest.md").read_text()
    for workload in WORKLOADS:
        assert f"\n| {workload} " in table, f"no {workload} row in latest.md"
    assert "## Goals" in table and "× Redis" in table and "× SQLite" in table
    assert table.strip() in proc.stdout  # the table is printed too


def test_meaning_has_onnx_runtime_beside_traild(smoke: tuple[Path, Path, subprocess.CompletedProcess[str]]) -> None:
    """ONNX Runtime (Benchmarks/onnx_minilm.py) ran on the same questions and
    notes, the shipped file and its own int8: each one's vectors agree with
    traild's encoder, and it has a rate for each set of notes and thread
    count traild has."""
    out, _, _ = smoke
    meaning = json.loads((out / "latest.json").read_text())["meaning"]
    runs = meaning.get("onnxRuntime")
    assert [r["variant"] for r in runs] == ["shipped", "dynamic"], f"ONNX Runtime: {runs and [r['variant'] for r in runs]}; {meaning.get('remarks')}"
    pairs = lambda rows: sorted((r["targetBytes"], r["threads"]) for r in rows)  # noqa: E731
    for run in runs:
        assert run["meanCosine"] >= 0.95 and run["lowestCosine"] > 0.9, run
        assert run["question"]["samples"] == meaning["queries"] and run["question"]["p50"] > 0
        assert pairs(run["throughput"]) == pairs(meaning["throughput"])
        assert all(r["perSecond"] > 0 and r["policy"] for r in run["throughput"])
    assert runs[0]["modelSHA256"] == "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
    table = (out / "latest.md").read_text()
    assert "### Beside ONNX Runtime" in table and "| ONNX Runtime shipped |" in table.replace(" | × |", " |")
    assert "ahead of ONNX Runtime, shipped" in table and "ahead of ONNX Runtime, dynamic" in table


def test_chart_is_svg_with_trail_and_redis(smoke: tuple[Path, Path, subprocess.CompletedProcess[str]]) -> None:
    out, _, _ = smoke
    root = ET.parse(out / "sense-latency.svg").getroot()
    assert root.tag.endswith("svg")
    text = (out / "sense-latency.svg").read_text()
    assert "trail p99" in text and "Redis ZREVRANGE p99" in text
    assert text.count("<polyline") == 6


def test_every_server_was_stopped(smoke: tuple[Path, Path, subprocess.CompletedProcess[str]]) -> None:
    _, work, _ = smoke
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert str(work) not in ps, "a traild or redis-server of the smoke run is still running"


def test_a_window_too_short_for_any_answer_is_extended_not_written_as_zero(tmp_path: Path) -> None:
    """A measuring window of 1 ms is shorter than any answer of a debug
    traild at 1,024 requests in flight: every timed run must stretch its
    window until its first answers, give a figure above zero from real
    latency samples, and say in the table that it did."""
    out, work = tmp_path / "out", tmp_path / "work"
    args = [bench_bin(), "--smoke", "--only", "writes", "--duration", "0.001", "--out", str(out), "--work-dir", str(work)]
    if os.environ.get("TRAILD_BIN"):
        args += ["--traild", os.environ["TRAILD_BIN"]]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, f"trail-bench failed ({proc.returncode}):\n{proc.stderr[-4000:]}"
    rows = json.loads((out / "latest.json").read_text())["rows"]
    assert sorted(r["workload"] for r in rows) == ["W1", "W1", "W1", "W2"]
    extended = 0
    for row in rows:
        trail = row["trail"]
        assert trail["value"] > 0 and trail["latency"]["samples"] > 0, (row["title"], trail)
        extended += "window extended from 0.00 s to" in trail["how"]
        for name, peer in row["peers"].items():
            assert peer["value"] > 0, (row["title"], name, peer)
    assert extended >= 3, [r["trail"]["how"] for r in rows]
    table = (out / "latest.md").read_text()
    assert "## Measuring windows extended" in table and "W1 new deposits, 64 clients" in table


# The postgres phase: which peers each of its workloads has.
PG_PEERS = {
    "W1": {"sqlite-traild", "raw-pg", "raw-pg-per-deposit", "fsync"},
    "W3": {"raw-pg", "engine-pg", "raw-pg-two", "sqlite-traild"},
    "W4": {"sqlite-traild"},
    "W6": {"sqlite-traild"},
}


@pytest.fixture(scope="module")
def pg_smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, subprocess.CompletedProcess[str]]:
    if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        pytest.fail("no PostgreSQL server in /usr/lib/postgresql/*/bin: `make system-deps` installs postgresql")
    out = tmp_path_factory.mktemp("bench-pg-out")
    work = tmp_path_factory.mktemp("bench-pg-work")
    args = [bench_bin(), "--smoke", "--only", "postgres", "--out", str(out), "--work-dir", str(work)]
    if os.environ.get("TRAILD_BIN"):
        args += ["--traild", os.environ["TRAILD_BIN"]]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, f"trail-bench --smoke --only postgres failed ({proc.returncode}):\n{proc.stderr[-4000:]}"
    return out, work, proc


def test_postgres_phase_writes_its_table_and_json_only(pg_smoke: tuple[Path, Path, subprocess.CompletedProcess[str]]) -> None:
    out, _, proc = pg_smoke
    assert sorted(p.name for p in out.iterdir()) == ["postgres.json", "postgres.md"]
    table = (out / "postgres.md").read_text()
    for workload in PG_PEERS:
        assert f"\n| {workload} " in table, f"no {workload} row in postgres.md"
    assert "## Goals and comparisons" in table and "≥ 0.5x" in table and "≤ 2 ms" in table
    assert table.strip() in proc.stdout


def test_postgres_phase_has_every_workload_on_every_system(pg_smoke: tuple[Path, Path, subprocess.CompletedProcess[str]]) -> None:
    out, _, _ = pg_smoke
    results = json.loads((out / "postgres.json").read_text())
    assert results["profile"] == "smoke"
    settings = {s["name"]: s["value"] for s in results["server"]["settings"]}
    assert settings["fsync"] == "on" and settings["synchronous_commit"] == "on", settings
    assert settings["shared_buffers"] and settings["max_connections"] and settings["server_version"]
    assert results["roundTrip"]["async"]["p50"] > 0 and results["roundTrip"]["blocking"]["p50"] > 0
    assert results["rawBatch"] >= 1
    assert "equal" in results["preloadCheck"]
    rows = results["rows"]
    for workload, peers in PG_PEERS.items():
        mine = [r for r in rows if r["workload"] == workload]
        assert mine, f"no {workload} row"
        for row in mine:
            trail = row["trail"]
            assert trail.get("value", 0) > 0 or trail["latency"]["p50"] > 0, (workload, trail)
            assert trail["latency"]["samples"] > 0, (workload, row["title"], trail)
            expected = set(peers)
            if workload == "W1" and row["title"] != "new deposits, 1 client, sequential":
                expected.add("pg-2daemons")
            assert set(row["peers"]) == expected, (workload, sorted(row["peers"]))
            for name, peer in row["peers"].items():
                assert peer.get("value", 0) > 0 or peer["latency"]["p99"] > 0, (workload, name, peer)
    assert len([r for r in rows if r["workload"] == "W1"]) == 3
    for workload in ("W3", "W4"):
        assert sorted(r["notes"] for r in rows if r["workload"] == workload) == results["sizes"]
    systems = {w["system"] for w in results["writes"]}
    assert systems == {"traild-pg", "traild-pg-2daemons", "traild-sqlite", "raw-pg", "raw-pg-per-deposit"}, systems
    for w in results["writes"]:
        if w["system"].startswith("traild-pg"):
            assert w["groups"]["count"] > 0 and w["groups"]["mean"] >= 1, w
    assert [p["notes"] for p in results["preload"]] == results["sizes"]
    read_costs = {(c["workload"], c["system"]) for c in results["reads"]}
    assert read_costs == {("W3", "traild-pg"), ("W3", "raw-pg"), ("W3", "engine-pg"), ("W3", "raw-pg-two"), ("W3", "traild-sqlite"),
                          ("W4", "traild-pg"), ("W4", "traild-sqlite"), ("W6", "traild-pg"), ("W6", "traild-sqlite")}, read_costs
    for c in results["reads"]:
        assert c["perSecond"] > 0 and (c.get("traildMicros") or c.get("benchMicros")), c
        if c["system"] != "traild-sqlite":
            assert c["postgresMicros"] > 0, c


def test_postgres_phase_stopped_its_servers(pg_smoke: tuple[Path, Path, subprocess.CompletedProcess[str]]) -> None:
    out, work, _ = pg_smoke
    data_dir = json.loads((out / "postgres.json").read_text())["server"]["dataDir"]
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert data_dir and data_dir not in ps, "the PostgreSQL server of the smoke run is still running"
    assert f"{work}/" not in ps, "a traild of the postgres smoke run is still running"
    if not data_dir.startswith(f"{work}/"):
        # the postgres OS user could not reach the work dir: the cluster went elsewhere, and is removed
        assert not Path(data_dir).exists(), f"{data_dir} was left behind"
