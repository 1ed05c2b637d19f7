#!/usr/bin/env python3
"""A first measurement of traild: durable deposits per second and sense latency.

Starts its own traild (release build by default) on a temporary socket and data
dir, then measures:
  - deposits acknowledged per second, 1 client sequential;
  - deposits acknowledged per second, N clients (processes) pipelining;
  - sense top-10 by weight latency (p50, p99) at a given store size.
Clients are Python processes on the same 2-core machine as the daemon, so the
figures are a floor. The full benchmark (Swift load generator, peers) is
Benchmarks/ issue 7.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def connect(path: str) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


def deposit_line(i: int, prefix: str) -> bytes:
    body = f"{prefix} note {i}: the build step {i % 97} needs flag {i % 13}"
    return (json.dumps({"jsonrpc": "2.0", "id": i, "method": "trail.deposit",
                        "params": {"body": body, "tags": [f"t{i % 8}"]}}) + "\n").encode()


def read_lines(sock: socket.socket, buf: bytearray, n: int) -> bytearray:
    count = 0
    while True:
        count_now = buf.count(b"\n")
        if count_now >= n:
            break
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    lines = buf.split(b"\n")
    for line in lines[:n]:
        if b'"error"' in line:
            raise RuntimeError(line[:300])
        count += 1
    return bytearray(b"\n".join(lines[n:]))


def sequential(path: str, n: int, prefix: str) -> float:
    s = connect(path)
    buf = bytearray()
    t = time.perf_counter()
    for i in range(n):
        s.sendall(deposit_line(i, prefix))
        buf = read_lines(s, buf, 1)
    return n / (time.perf_counter() - t)


def pipelined_worker(args: tuple[str, int, int, str]) -> int:
    path, n, window, prefix = args
    s = connect(path)
    buf = bytearray()
    sent = done = 0
    while done < n:
        batch = b"".join(deposit_line(sent + k, prefix) for k in range(min(window - (sent - done), n - sent)))
        k = batch.count(b"\n")
        if k:
            s.sendall(batch)
            sent += k
        got = max(1, (sent - done) // 2)
        buf = read_lines(s, buf, got)
        done += got
    return done


def pipelined(path: str, clients: int, per_client: int, window: int, prefix: str) -> float:
    with mp.Pool(clients) as pool:
        t = time.perf_counter()
        total = sum(pool.map(pipelined_worker, [(path, per_client, window, f"{prefix}-{c}") for c in range(clients)]))
        return total / (time.perf_counter() - t)


def sense_latency(path: str, n: int, params: dict) -> tuple[float, float]:
    s = connect(path)
    buf = bytearray()
    lat = []
    line = (json.dumps({"jsonrpc": "2.0", "id": 1, "method": "trail.sense", "params": params}) + "\n").encode()
    for _ in range(n):
        t = time.perf_counter()
        s.sendall(line)
        buf = read_lines(s, buf, 1)
        lat.append(time.perf_counter() - t)
    lat.sort()
    return lat[len(lat) // 2] * 1e3, lat[int(len(lat) * 0.99)] * 1e3


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--traild", default=str(ROOT / ".build" / "release" / "traild"))
    ap.add_argument("--sequential", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--per-client", type=int, default=2000)
    ap.add_argument("--window", type=int, default=32)
    ap.add_argument("--notes", type=int, default=100_000)
    ap.add_argument("--sense", type=int, default=2000)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="trail-bench-"))
    sock = str(tmp / "s.sock")
    proc = subprocess.Popen([args.traild, "--socket", sock, "--data-dir", str(tmp / "data"), "--log-level", "warning"],
                            stdout=subprocess.PIPE)
    assert proc.stdout is not None and b"ready" in proc.stdout.readline()
    try:
        seq = sequential(sock, args.sequential, "seq")
        pipe = pipelined(sock, args.clients, args.per_client, args.window, "pipe")
        loaded = args.sequential + args.clients * args.per_client
        if loaded < args.notes:
            per = (args.notes - loaded + args.clients - 1) // args.clients
            pipelined(sock, args.clients, per, 64, "fill")
        p50, p99 = sense_latency(sock, args.sense, {"limit": 10})
        q50, q99 = sense_latency(sock, max(200, args.sense // 10), {"limit": 10, "query": "build flag"})
        result = {
            "deposits_per_s_1_client_sequential": round(seq),
            f"deposits_per_s_{args.clients}_clients_pipelining_{args.window}": round(pipe),
            "notes": args.notes,
            "sense_top10_p50_ms": round(p50, 3),
            "sense_top10_p99_ms": round(p99, 3),
            "sense_query_p50_ms": round(q50, 3),
            "sense_query_p99_ms": round(q99, 3),
        }
        print(json.dumps(result, indent=2))
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
