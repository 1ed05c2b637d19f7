#!/usr/bin/env python3
"""Compaction benchmark: N notes with a share faded, then one `trail.compact`.

Loads the notes through `trail.import` (records with chosen weights, so the
faded share is exact), then measures, against a release `traild`:
  - compaction wall time (the daemon's own duration_ms and the client's);
  - traild's peak RSS during compaction (VmHWM reset through clear_refs);
  - archive bytes per archived note;
  - sense top-10 p50/p99 from a second process, before and during compaction;
  - deposit latency (p50, p99, max) from a third process during compaction:
    how long a write waits while the compactor holds the write lock.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing as mp
import multiprocessing.synchronize
import random
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOW = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


class Conn:
    def __init__(self, path: str) -> None:
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(path)
        self.f = self.s.makefile("rwb", buffering=1 << 20)
        self.n = 0

    def call(self, method: str, params: dict) -> dict:
        self.n += 1
        self.f.write(json.dumps({"jsonrpc": "2.0", "id": self.n, "method": method, "params": params}).encode() + b"\n")
        self.f.flush()
        r = json.loads(self.f.readline())
        if "error" in r:
            raise RuntimeError(r["error"])
        return r["result"]


def records(n: int, faded_share: float, edges_per_live: int, seed: int = 1, all_trails: bool = False):
    rng = random.Random(seed)
    live_count = n - int(n * faded_share)
    ids = []
    for i in range(n):
        body = f"note {i}: observed that step {i % 1000} of the build needs care ({rng.random():.6f})"
        ids.append((hashlib.sha256(body.encode()).hexdigest(), body))
    for i, (nid, body) in enumerate(ids):
        live = i < live_count
        trails = []
        if (live or all_trails) and live_count > 1:
            for _ in range(edges_per_live):
                j = rng.randrange(n if all_trails else live_count)
                if j != i:
                    trails.append({"to": ids[j][0], "weight": round(rng.uniform(0.5, 3), 3)})
        yield {"id": nid, "body": body, "tags": [f"t{i % 16}"], "after": [], "weight": rng.uniform(0.2, 5) if live else 0.01,
               "deposits": 1, "agent": None, "state": "live", "rank": None, "created_at": NOW, "updated_at": NOW,
               "retraction": None, "trails": list({t["to"]: t for t in trails}.values())}


def rss_parts_kb(pid: int) -> dict[str, int]:
    parts = {}
    for line in open(f"/proc/{pid}/status"):
        key = line.split(":")[0]
        if key in ("RssAnon", "RssFile", "RssShmem"):
            parts[key] = int(line.split()[1])
    return parts


def rss_peak_kb(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def sense_loop(path: str, seconds: float, stop: "mp.synchronize.Event", out: "mp.Queue[list[float]]") -> None:
    c = Conn(path)
    lat = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end and not stop.is_set():
        t = time.perf_counter()
        c.call("trail.sense", {"ns": "bench", "limit": 10})
        lat.append(time.perf_counter() - t)
    out.put(lat)


def deposit_loop(path: str, stop: "mp.synchronize.Event", out: "mp.Queue[list[float]]") -> None:
    """Deposits into another namespace, one at a time, until told to stop: how long writes wait."""
    c = Conn(path)
    lat = []
    i = 0
    while not stop.is_set():
        i += 1
        t = time.perf_counter()
        c.call("trail.deposit", {"ns": "writes-during", "body": f"written during compaction {i} {t}"})
        lat.append(time.perf_counter() - t)
    out.put(lat)


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))] * 1e3 if xs else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--traild", default=str(ROOT / ".build" / "release" / "traild"))
    ap.add_argument("--notes", type=int, default=1_000_000)
    ap.add_argument("--faded", type=float, default=0.9)
    ap.add_argument("--edges-per-live", type=int, default=3)
    ap.add_argument("--all-trails", action="store_true",
                    help="give faded notes trails too (to any note), as trail-bench's W7 does: 3M trails at 1M notes")
    ap.add_argument("--batch", type=int, default=None, help="compaction_batch for traild (default: its own)")
    ap.add_argument("--rss-trace", metavar="FILE", help="write traild's RSS every 20 ms during compaction to FILE "
                    "(lines: unix time, anonymous KB, file KB), to see which part of the run holds the memory")
    ap.add_argument("--reuse", metavar="DIR", help="keep the loaded store in DIR and start from a copy of it next time "
                    "(same --notes, --faded and --edges-per-live; the load then takes seconds)")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="trail-compact-bench-"))
    sock = str(tmp / "s.sock")
    extra: list[str] = []
    if args.batch:
        (tmp / "traild.json").write_text(json.dumps({"compaction_batch": args.batch}))
        extra = ["--config", str(tmp / "traild.json")]
    def start() -> subprocess.Popen[bytes]:
        p = subprocess.Popen([args.traild, "--socket", sock, "--data-dir", str(tmp / "data"), "--log-level", "warning",
                              "--compaction-interval", "0", *extra], stdout=subprocess.PIPE, stderr=None)
        assert p.stdout is not None and b"ready" in p.stdout.readline()
        return p

    saved = Path(args.reuse) / f"{args.notes}-{args.faded}-{args.edges_per_live}{'-all' if args.all_trails else ''}" if args.reuse else None
    load_s = 0.0
    if saved and saved.exists():
        shutil.copytree(saved, tmp / "data")
    proc = start()
    try:
        c = Conn(sock)
        if not (saved and saved.exists()):
            c.call("trail.namespace.configure", {"ns": "bench", "half_life_s": 604800})
            t = time.perf_counter()
            batch: list[dict] = []
            for rec in records(args.notes, args.faded, args.edges_per_live, all_trails=args.all_trails):
                batch.append(rec)
                if len(batch) == 1000:
                    c.call("trail.import", {"ns": "bench", "records": batch, "stage": "load", "commit": False})
                    batch = []
            c.call("trail.import", {"ns": "bench", "records": batch, "stage": "load", "commit": True})
            load_s = time.perf_counter() - t
            if saved:
                proc.terminate()
                proc.wait()
                shutil.copytree(tmp / "data", saved)
                proc = start()
                c = Conn(sock)
        before = c.call("trail.stats", {"ns": "bench"})

        q: "mp.Queue[list[float]]" = mp.Queue()
        stop = mp.Event()
        p = mp.Process(target=sense_loop, args=(sock, 3.0, stop, q))
        p.start()
        baseline = q.get()
        p.join()

        with open(f"/proc/{proc.pid}/clear_refs", "w") as f:
            f.write("5")
        p = mp.Process(target=sense_loop, args=(sock, 600.0, stop, q))
        p.start()
        wq: "mp.Queue[list[float]]" = mp.Queue()
        w = mp.Process(target=deposit_loop, args=(sock, stop, wq))
        w.start()
        time.sleep(0.3)
        # Peak anonymous memory (the daemon's own) apart from file pages
        # (the store's memory-mapped pages, which the kernel drops at will).
        peaks: dict[str, int] = {}
        before_rss = rss_parts_kb(proc.pid)
        done = threading.Event()
        trace: list[str] = []

        def sample() -> None:
            while not done.is_set():
                parts = rss_parts_kb(proc.pid)
                for k, v in parts.items():
                    peaks[k] = max(peaks.get(k, 0), v)
                if args.rss_trace:
                    trace.append(f"{time.time():.3f} {parts.get('RssAnon', 0)} {parts.get('RssFile', 0)}")
                time.sleep(0.02)

        sampler = threading.Thread(target=sample)
        sampler.start()
        t = time.perf_counter()
        report = c.call("trail.compact", {"ns": "bench"})
        wall = time.perf_counter() - t
        done.set()
        sampler.join()
        stop.set()
        during = q.get()
        p.join()
        writes = wq.get()
        w.join()
        peak = rss_peak_kb(proc.pid)
        if args.rss_trace:
            Path(args.rss_trace).write_text("\n".join(trace) + "\n")
        after = c.call("trail.stats", {"ns": "bench"})
        result = {
            "notes": args.notes, "faded_share": args.faded, "trails": before["edges"],
            "load_s": round(load_s, 1),
            "compaction_wall_s": round(wall, 2), "compaction_duration_ms": report["duration_ms"],
            "evaporated": report["evaporated"], "ranked": report["ranked"],
            "peak_rss_mb_during_compaction": round(peak / 1024, 1),
            "peak_rss_anon_mb": round(peaks.get("RssAnon", 0) / 1024, 1),
            "rss_anon_before_mb": round(before_rss.get("RssAnon", 0) / 1024, 1),
            "peak_rss_file_mb": round(peaks.get("RssFile", 0) / 1024, 1),
            "archive_bytes_per_note": round(after["archived_bytes"] / max(1, after["archived"]), 1),
            "compression_ratio": round(after["compression_ratio"] or 0, 2),
            "sense_p50_ms_before": round(pct(baseline, 0.5), 3), "sense_p99_ms_before": round(pct(baseline, 0.99), 3),
            "sense_p50_ms_during": round(pct(during, 0.5), 3), "sense_p99_ms_during": round(pct(during, 0.99), 3),
            "sense_samples_during": len(during),
            "deposits_during": len(writes), "deposit_p50_ms_during": round(pct(writes, 0.5), 2),
            "deposit_p99_ms_during": round(pct(writes, 0.99), 1), "deposit_max_ms_during": round(max(writes) * 1e3, 1),
        }
        print(json.dumps(result, indent=2))
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
