#!/usr/bin/env python3
"""Writes the seed corpora of the request targets (corpus/call, corpus/frame):
one valid request of every method with every param, batches, notifications,
and a few known-bad lines. The export and pack seeds are real files (made by
`trailctl export` and by the compactor, see docs/fuzzing.md) and are not
written here. Run from Fuzz/: python3 seeds.py"""
import hashlib
import json
from pathlib import Path

A = "972e81f011e487e11fc9b36ad0fdee1b2128aef6578fa10dc974b77d3da80bb6"
B = "638513d2d167ed4676bbb0a32065f6b4e9f56f18891cab917e61f2e1a7904e4a"
BODY = "the cache is warm after 9am"
RECORD = {"id": hashlib.sha256(BODY.encode()).hexdigest(), "body": BODY, "tags": ["cache"], "after": [],
          "weight": 1.5, "deposits": 2, "agent": "ant-1", "state": "live", "rank": 0.25,
          "created_at": "2026-11-22T23:59:59.123Z", "updated_at": "2026-11-23T00:00:01.000Z",
          "retraction": None, "trails": [{"to": A, "weight": 0.5}]}

PARAMS = {
    "trail.hello": {"client": "seed/1.0", "agent": "ant-1"},
    "trail.deposit": {"body": "ünïcödé 🐜 \"q\" \\ tab\t", "ns": "colony-7", "tags": ["ops", "x:y/z-1.2"],
                      "after": [A, B[:8]], "agent": "ant-1", "strength": 2.5, "force": False, "merge_similar": 0.9},
    "trail.get": {"id": A[:12], "ns": "default"},
    "trail.reinforce": {"id": A, "ns": "default", "delta": -0.5, "agent": "ant-2"},
    "trail.sense": {"ns": "default", "query": "cache warm", "tags": ["ops"], "any_tags": ["a", "b"], "limit": 1000,
                    "budget_bytes": 4096, "min_weight": 0.1, "include_faded": True, "similar": "warm cache",
                    "min_similarity": -0.5},
    "trail.link": {"from": A, "to": B, "ns": "default", "delta": 1e6, "agent": "ant-1"},
    "trail.follow": {"from": A, "ns": "default", "direction": "both", "limit": 10, "explore": 0.5, "seed": 9007199254740992},
    "trail.retract": {"id": A, "reason": "superseded by a better note", "ns": "default", "agent": "ant-1"},
    "trail.revive": {"id": A, "ns": "default", "agent": "ant-1"},
    "trail.stats": {"ns": "default"},
    "trail.namespace.configure": {"ns": "colony-7", "half_life_s": 3600, "evaporate_below": 0.05, "max_note_bytes": 65536},
    "trail.namespace.list": {},
    "trail.compact": {"ns": "colony-7"},
    "trail.watch": {"ns": "default", "tags": ["ops"]},
    "trail.unwatch": {"subscription": "s1"},
    "trail.export": {"ns": "default", "cursor": 42, "limit": 500},
    "trail.import": {"ns": "default", "records": [RECORD], "stage": "s", "commit": True, "agent": "ant-1"},
}


def request(method, params, rid=1):
    return {"jsonrpc": "2.0", "id": rid, "method": method, "params": params}


def main():
    lines = {}
    for i, (method, params) in enumerate(PARAMS.items()):
        name = method.removeprefix("trail.").replace(".", "-")
        lines[name] = json.dumps(request(method, params, i + 1), ensure_ascii=False).encode()
    lines["notification"] = json.dumps({"jsonrpc": "2.0", "method": "trail.stats"}).encode()
    lines["string-id"] = json.dumps(request("trail.get", {"id": A}, "req-7")).encode()
    lines["null-params"] = b'{"jsonrpc":"2.0","id":null,"method":"trail.hello","params":null}'
    lines["batch"] = json.dumps([request(m, p, i) for i, (m, p) in enumerate(list(PARAMS.items())[:6])]).encode()
    lines["batch-mixed"] = b'[{"jsonrpc":"2.0","method":"trail.stats"},1,{"jsonrpc":"2.0","id":2,"method":"x"},[]]'
    lines["escapes"] = b'{"jsonrpc":"2.0","id":1.5e3,"method":"trail.deposit","params":{"body":"\\ud83d\\udc1c \\u00e9\\n\\/"}}'
    lines["numbers"] = b'{"jsonrpc":"2.0","id":-0,"method":"trail.sense","params":{"limit":1E2,"min_weight":-1.5e-3}}'
    call, frame = Path("corpus/call"), Path("corpus/frame")
    for d in (call, frame):
        d.mkdir(parents=True, exist_ok=True)
    for name, line in lines.items():
        (call / name).write_bytes(line)
    # Frame seeds: byte 0 sets the limit (16 + 4*b), byte 1 the read size; then the stream.
    streams = {
        "pipelined": b"\xff\x07" + b"\n".join(lines[n] for n in ("hello", "deposit", "get", "batch")) + b"\n",
        "crlf-blank": b"\xff\x00" + lines["stats"] + b"\r\n\n  \t\n" + lines["list"] if "list" in lines else b"",
        "too-large": b"\x10\x05" + lines["deposit"] + b"\n" + lines["hello"] + b"\n",
        "last-without-newline": b"\x80\x60" + lines["hello"] + b"\n" + lines["revive"],
    }
    streams["crlf-blank"] = b"\xff\x00" + lines["stats"] + b"\r\n\n  \t\n" + lines["namespace-list"] + b"\r\n"
    for name, data in streams.items():
        (frame / name).write_bytes(data)


if __name__ == "__main__":
    main()
