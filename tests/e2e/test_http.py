"""traild's HTTP listener (issue 15, first step): off by default, loopback
unless the config says otherwise, /healthz answering whether the store does."""
from __future__ import annotations

import http.client
import json
import re
import subprocess
import time

import pytest

from conftest import traild_bin


def http_url(d) -> tuple[str, int]:
    m = re.search(r"http=http://(\S+):(\d+)/\?token=[0-9a-f]{64}\b", d.ready_line)
    assert m, d.ready_line
    return m.group(1), int(m.group(2))


def http_token(d) -> str:
    return re.search(r"\?token=([0-9a-f]{64})", d.ready_line).group(1)


def fetch(host: str, port: int, path: str, method: str = "GET", headers: dict[str, str] | None = None) -> tuple[int, str]:
    c = http.client.HTTPConnection(host, port, timeout=20)
    try:
        c.request(method, path, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read().decode()
    finally:
        c.close()


def test_healthz_and_nothing_else(daemon_factory):
    d = daemon_factory("web", extra=["--http", "127.0.0.1:0"])
    host, port = http_url(d)
    assert host == "127.0.0.1" and port > 0
    assert fetch(host, port, "/healthz") == (200, "ok\n")
    assert fetch(host, port, "/healthz?probe=1") == (200, "ok\n")
    assert fetch(host, port, "/healthz", "HEAD") == (200, "")
    status, body = fetch(host, port, "/nowhere")
    assert status == 404 and "/nowhere" in body
    status, body = fetch(host, port, "/healthz", "POST")
    assert status == 405 and "only reads" in body
    # Keep-alive: several requests on one connection.
    c = http.client.HTTPConnection(host, port, timeout=20)
    for _ in range(3):
        c.request("GET", "/healthz")
        r = c.getresponse()
        assert r.status == 200 and r.read() == b"ok\n"
    c.close()
    # The socket is served as before.
    assert d.result("trail.hello")["server"] == "traild"


def test_off_by_default(daemon):
    assert "http=" not in daemon.ready_line


def test_http_in_the_config_and_beyond_loopback(daemon_factory, tmp_path):
    cfg = tmp_path / "web.json"
    cfg.write_text(json.dumps({"http": "0.0.0.0:0", "http_remote": True}))
    d = daemon_factory("remote", extra=["--config", str(cfg)])
    host, port = http_url(d)
    assert host == "0.0.0.0"
    assert fetch("127.0.0.1", port, "/healthz") == (200, "ok\n")


@pytest.mark.parametrize("args, says", [
    (["--http", "0.0.0.0:0"], "is not a loopback address"),
    (["--http", "127.0.0.1"], "--http must be ADDR:PORT"),
    (["--http", "127.0.0.1:99999"], "--http must be ADDR:PORT"),
    (["--http", ":8080"], "--http must be ADDR:PORT"),
])
def test_bad_http_addresses_stop_the_daemon_with_the_reason(tmp_path, args, says):
    r = subprocess.run([traild_bin(), *args, "--socket", str(tmp_path / "x.sock"), "--data-dir", str(tmp_path / "x")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and says in r.stderr, r.stderr


def test_a_port_in_use_is_refused_with_the_reason(daemon_factory):
    first = daemon_factory("web1", extra=["--http", "127.0.0.1:0"])
    _, port = http_url(first)
    second = daemon_factory("web2", extra=["--http", f"127.0.0.1:{port}"], start=False)
    with pytest.raises(RuntimeError) as failure:
        second.start()
    assert f"cannot listen for HTTP on 127.0.0.1:{port}" in str(failure.value)


def test_healthz_says_503_while_the_database_is_down(pg_daemons):
    d = pg_daemons("webpg", extra=["--http", "127.0.0.1:0"])
    host, port = http_url(d)
    assert fetch(host, port, "/healthz") == (200, "ok\n")
    pg = d.pg
    pg.stop_immediate()
    try:
        status, body = fetch(host, port, "/healthz")
        assert status == 503 and body.startswith("unavailable: ") and "store" in body, body
    finally:
        pg.restart()
    deadline = time.monotonic() + 60
    while fetch(host, port, "/healthz")[0] != 200:
        assert time.monotonic() < deadline, "healthz never came back"
        time.sleep(0.2)
    assert d.alive()


def scrape(host: str, port: int) -> dict[tuple[str, tuple], float]:
    """/metrics through prometheus_client's own text parser: {(sample name, sorted labels): value}."""
    from prometheus_client.parser import text_string_to_metric_families
    status, body = fetch(host, port, "/metrics")
    assert status == 200
    samples = {}
    for family in text_string_to_metric_families(body):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def test_metrics_count_what_the_test_did(daemon_factory):
    d = daemon_factory("metrics", extra=["--http", "127.0.0.1:0"])
    host, port = http_url(d)
    with d.connect() as c:
        ids = [c.result("trail.deposit", {"body": f"metric note {i}", "ns": "gauge"})["id"] for i in range(5)]
        c.result("trail.retract", {"id": ids[0], "ns": "gauge", "reason": "wrong"})
        for _ in range(3):
            c.result("trail.sense", {"ns": "gauge"})
        assert c.error("trail.get", {"id": "ab" * 32, "ns": "gauge"})["code"] == -32001
        assert c.error("trail.no.such", {})["code"] == -32601
        assert c.error("trail.deposit", {"body": ""})["code"] == -32602
        c.result("trail.compact", {"ns": "gauge"})
        c.result("trail.watch", {"ns": "gauge"})
        m = scrape(host, port)

        def req(method: str, outcome: str) -> float:
            return m.get(("trail_requests_total", (("method", method), ("outcome", outcome))), 0)

        assert req("trail.deposit", "ok") == 5
        assert req("trail.deposit", "invalid_params") == 1
        assert req("trail.sense", "ok") == 3
        assert req("trail.get", "unknown_note") == 1
        assert req("other", "method_not_found") == 1
        assert req("trail.retract", "ok") == 1
        assert m[("trail_request_duration_seconds_count", (("method", "trail.sense"),))] == 3
        assert m[("trail_request_duration_seconds_count", (("method", "trail.deposit"),))] == 6
        assert 0 < m[("trail_request_duration_seconds_sum", (("method", "trail.sense"),))] < 3
        assert m[("trail_notes", (("ns", "gauge"), ("state", "live")))] == 4
        assert m[("trail_notes", (("ns", "gauge"), ("state", "retracted")))] == 1
        assert m[("trail_connections", ())] == 1
        assert m[("trail_watchers", ())] == 1
        assert m[("trail_write_queue_depth", ())] == 0
        assert m[("trail_store_bytes", ())] == c.result("trail.stats", {"ns": "gauge"})["store_bytes"] or d.engine == "postgres"
        assert m[("trail_compactions_total", (("ns", "gauge"),))] == 1
        assert m[("trail_compaction_duration_seconds_count", (("ns", "gauge"),))] == 1
        # Six writes of the test committed (and the compactor's own), in groups of at least one.
        groups, writes = m[("trail_group_commit_writes_count", ())], m[("trail_group_commit_writes_sum", ())]
        assert 1 <= groups <= writes and writes >= 6
        # No bodies in the metrics.
        assert "metric note" not in fetch(host, port, "/metrics")[1]


def test_the_map_api_needs_the_token_and_reads_the_colony(daemon_factory):
    import os
    import stat
    d = daemon_factory("api", extra=["--http", "127.0.0.1:0"])
    host, port = http_url(d)
    token = http_token(d)
    # The token file: beside the socket, the owner's alone, the ready line's token.
    token_file = str(d.socket_path) + ".http-token"
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
    assert open(token_file).read().strip() == token
    # Without it, or with another: 401, and no note in the answer.
    with d.connect() as c:
        a = c.result("trail.deposit", {"body": "the map shows me", "ns": "map"})
        b = c.result("trail.deposit", {"body": "and the note I came from", "ns": "map", "after": [a["id"]]})
        c.result("trail.deposit", {"body": "a third, alone", "ns": "map"})
        c.result("trail.link", {"from": a["id"], "to": b["id"], "ns": "map"})
    for path in ("/api/namespaces", "/api/graph?ns=map", f"/api/note?ns=map&id={a['id']}", "/api/graph?ns=map&token=" + "0" * 64):
        status, body = fetch(host, port, path)
        assert status == 401 and "token" in body and "the map shows me" not in body, (path, status)
    status, body = fetch(host, port, "/api/graph?ns=map", headers={"Authorization": "Bearer " + "f" * 64})
    assert status == 401
    # /healthz and /metrics need none (they show no bodies).
    assert fetch(host, port, "/healthz")[0] == 200 and fetch(host, port, "/metrics")[0] == 200

    def api(path: str) -> tuple[int, dict]:
        status, body = fetch(host, port, path, headers={"Authorization": f"Bearer {token}"})
        return status, json.loads(body)

    status, ns = api("/api/namespaces")
    assert status == 200 and "map" in [n["ns"] for n in ns["namespaces"]]
    status, graph = api(f"/api/graph?ns=map&token={token}")
    assert status == 200 and len(graph["notes"]) == 3
    assert {(t["from"], t["to"]) for t in graph["trails"]} >= {(a["id"], b["id"])}
    status, note = api(f"/api/note?ns=map&id={a['id'][:12]}")
    assert status == 200 and note["note"]["body"] == "the map shows me" and note["history"]
    status, found = api("/api/search?ns=map&q=alone")
    assert status == 200 and [n["body"] for n in found["notes"]] == ["a third, alone"]
    # Bad input: a clear error in the socket's shape, and the daemon still serving.
    for path, code, http_status in (("/api/graph?ns=map&limit=0", -32602, 400), ("/api/graph?ns=Not%20valid", -32004, 400),
                                    ("/api/note?ns=map&id=" + "ab" * 32, -32001, 404), ("/api/note?ns=map", -32602, 400),
                                    ("/api/search?ns=map", -32602, 400), ("/api/search?ns=map&q=%20", -32602, 400),
                                    ("/api/search?ns=map&similar=meaning", -32010, 501), ("/api/nothing", None, 404)):
        status, body = fetch(host, port, path, headers={"Authorization": f"Bearer {token}"})
        assert status == http_status, (path, status, body)
        if code is not None:
            assert json.loads(body)["error"]["code"] == code, (path, body)
    assert d.result("trail.hello")["server"] == "traild"
    d.terminate()
    assert not os.path.exists(token_file)


def test_events_stream_as_server_sent_events(daemon_factory):
    d = daemon_factory("sse", extra=["--http", "127.0.0.1:0"])
    host, port = http_url(d)
    token = http_token(d)
    assert fetch(host, port, "/api/events?ns=live")[0] == 401
    status, body = fetch(host, port, "/api/events?ns=Bad%20ns", headers={"Authorization": f"Bearer {token}"})
    assert status == 400 and json.loads(body)["error"]["code"] == -32004
    c = http.client.HTTPConnection(host, port, timeout=20)
    c.request("GET", f"/api/events?ns=live&token={token}")
    r = c.getresponse()
    assert r.status == 200 and r.getheader("Content-Type") == "text/event-stream"
    assert r.readline() == b": watching live\n"

    def next_event() -> dict:
        lines = []
        while True:
            line = r.readline()
            assert line, "the stream ended"
            if line == b"\n" and lines:
                break
            if line.strip() and not line.startswith(b":"):
                lines.append(line.decode().rstrip("\n"))
        assert lines[0] == "event: trail", lines
        return json.loads(lines[1].removeprefix("data: "))

    with d.connect() as conn:
        assert conn.result("trail.stats", {"ns": "live"})["watchers"] == 1
        note = conn.result("trail.deposit", {"body": "seen live on the map", "ns": "live"})
        conn.result("trail.deposit", {"body": "elsewhere", "ns": "other"})
        conn.result("trail.retract", {"id": note["id"], "ns": "live", "reason": "shown, then taken back"})
        first, second = next_event(), next_event()
        assert (first["event"], first["note"]["body"]) == ("deposited", "seen live on the map")
        assert (second["event"], second["note"]["state"]) == ("retracted", "retracted")
        c.close()
        deadline = time.monotonic() + 10
        while conn.result("trail.stats", {"ns": "live"})["watchers"] != 0:
            assert time.monotonic() < deadline, "the stream's subscription outlived it"
            time.sleep(0.05)


def test_with_the_model_the_map_searches_by_meaning_and_metrics_show_the_backlog(daemon_factory):
    import os
    from pathlib import Path
    from conftest import ROOT
    model = Path(os.environ.get("TRAIL_MODEL_DIR", ROOT / "models" / "all-MiniLM-L6-v2"))
    if not (model / "model.safetensors").exists():
        pytest.fail(f"the embedding model is not in {model}: run `make model`")
    d = daemon_factory("webmodel", extra=["--http", "127.0.0.1:0", "--model-dir", str(model)])
    host, port = http_url(d)
    token = http_token(d)
    with d.connect() as c:
        for body in ("the build needs libzstd-dev installed", "postgres tests start a throwaway cluster", "agents should sense before they deposit"):
            c.result("trail.deposit", {"body": body, "ns": "meaning"})
        deadline = time.monotonic() + 60
        while c.result("trail.stats", {"ns": "meaning"})["embedding"]["pending"] != 0:
            assert time.monotonic() < deadline, "the notes were not embedded"
            time.sleep(0.1)
    m = scrape(host, port)
    assert m[("trail_embedding_backlog", (("ns", "meaning"),))] == 0
    status, body = fetch(host, port, "/api/namespaces", headers={"Authorization": f"Bearer {token}"})
    assert status == 200 and json.loads(body)["semantic"]["dims"] == 384
    status, body = fetch(host, port, "/api/search?ns=meaning&similar=which%20compression%20library%20must%20be%20present&limit=1",
                         headers={"Authorization": f"Bearer {token}"})
    assert status == 200, body
    found = json.loads(body)["notes"]
    assert found[0]["body"] == "the build needs libzstd-dev installed" and 0 < found[0]["similarity"] <= 1
    # The same question again is answered from the vectors embedded lately: the same answer, one hit more.
    before = scrape(host, port)
    status, again = fetch(host, port, "/api/search?ns=meaning&similar=which%20compression%20library%20must%20be%20present&limit=1",
                          headers={"Authorization": f"Bearer {token}"})
    # The same note at the same similarity (its weight, and so its score, decays between the two).
    assert status == 200
    assert [(n["id"], n["similarity"]) for n in json.loads(again)["notes"]] == [(n["id"], n["similarity"]) for n in found]
    after = scrape(host, port)
    hit, miss = ("trail_embedding_cache_lookups", (("outcome", "hit"),)), ("trail_embedding_cache_lookups", (("outcome", "miss"),))
    assert before[miss] >= 1
    assert (after[hit] - before[hit], after[miss] - before[miss]) == (1, 0)
    # Every miss was embedded by a pass of the model (texts asked at once share one).
    assert after[("trail_embedding_request_texts", ())] == after[miss]
    assert 1 <= after[("trail_embedding_request_passes", ())] <= after[miss]

    # A body the indexer embedded lately, deposited in other namespaces, is taken from the notes' cache:
    # the three notes so far were three misses; the same body in two more namespaces, two hits.
    note_hit, note_miss = (("trail_embedding_note_cache_lookups", (("outcome", o),)) for o in ("hit", "miss"))
    assert (after[note_hit], after[note_miss]) == (0, 3)
    with d.connect() as c:
        for ns in ("meaning-2", "meaning-3"):
            c.result("trail.deposit", {"body": "the build needs libzstd-dev installed", "ns": ns})
            deadline = time.monotonic() + 60
            while c.result("trail.stats", {"ns": ns})["embedding"]["embedded"] != 1:
                assert time.monotonic() < deadline, f"the note in {ns} was not embedded"
                time.sleep(0.05)
            # Found by meaning there, at the similarity the first namespace gives it.
            again = c.result("trail.sense", {"ns": ns, "similar": "which compression library must be present", "limit": 1})["notes"]
            assert [n["body"] for n in again] == ["the build needs libzstd-dev installed"]
            assert abs(again[0]["similarity"] - found[0]["similarity"]) < 1e-4
    final = scrape(host, port)
    assert (final[note_hit], final[note_miss]) == (2, 3)
    # The questions' cache is apart: deposits neither hit nor miss there.
    assert final[miss] == after[miss]


@pytest.mark.parametrize("config, says", [
    ({"http": 8377}, "http in"),
    ({"http": "127.0.0.1:port"}, "must be ADDR:PORT"),
    ({"http": "0.0.0.0:0"}, "is not a loopback address"),
    ({"http": "0.0.0.0:0", "http_remote": "yes"}, "http_remote in"),
])
def test_bad_http_config_stops_the_daemon_with_the_reason(tmp_path, config, says):
    cfg = tmp_path / "bad.json"
    cfg.write_text(json.dumps(config))
    r = subprocess.run([traild_bin(), "--config", str(cfg), "--socket", str(tmp_path / "x.sock"), "--data-dir", str(tmp_path / "x")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and says in r.stderr, r.stderr
