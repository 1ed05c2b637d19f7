"""Recall by meaning (contract §8) end to end, with the real model: `similar`,
`min_similarity`, the documented scores, `merge_similar`, the indexer
(stats, restart, revival), and every bad parameter. Runs on every engine.

The model is the one `make model` fetches (models/all-MiniLM-L6-v2, or
$TRAIL_MODEL_DIR); daemons here get it with --model-dir. Daemons without it
(the default elsewhere in the suite) answer -32010.
"""
from __future__ import annotations

import math
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from conftest import ROOT, assert_error, deposit, sha, store_execute, store_rows

MODEL = Path(os.environ.get("TRAIL_MODEL_DIR", ROOT / "models" / "all-MiniLM-L6-v2"))


@pytest.fixture
def meaning_daemon(daemon_factory):
    assert (MODEL / "model.safetensors").is_file(), f"the model is missing in {MODEL}: run make model"
    return daemon_factory("m", extra=["--model-dir", str(MODEL)])


@pytest.fixture
def mconn(meaning_daemon):
    with meaning_daemon.connect() as c:
        yield c


def embedded(c, ns="default", count=None, timeout=60.0):
    """Waits until the indexer has embedded every live note of `ns` (and `count` of them, if given)."""
    deadline = time.monotonic() + timeout
    while True:
        e = c.result("trail.stats", {"ns": ns})["embedding"]
        if e["pending"] == 0 and (count is None or e["embedded"] == count):
            return e
        assert time.monotonic() < deadline, f"still pending after {timeout} s: {e}"
        time.sleep(0.05)


def similar(c, text, **params):
    return c.result("trail.sense", {"similar": text, **params})["notes"]


NOTES = [
    "The build fails on a fresh machine until libzstd-dev is installed.",
    "PostgreSQL tests need a throwaway cluster started by initdb as the postgres user.",
    "Ants lay pheromone along the path to food and the colony follows the strongest scent.",
    "The deploy script must run database migrations before restarting the web servers.",
    "Our customers in Japan pay in yen and invoices are rounded to whole units.",
]


def test_hello_and_stats_report_the_model(mconn):
    hello = mconn.result("trail.hello")
    assert hello["semantic"] == {"model": "all-MiniLM-L6-v2", "dims": 384}
    deposit(mconn, NOTES[0])
    e = embedded(mconn, count=1)
    assert e == {"model": "all-MiniLM-L6-v2", "embedded": 1, "pending": 0}


def test_without_the_model_similar_and_merge_answer_32010(daemon_factory, tmp_path):
    d = daemon_factory("nomodel", extra=["--model-dir", str(tmp_path / "no-model-here")])
    with d.connect() as c:
        assert c.result("trail.hello")["semantic"] is None
        assert c.result("trail.stats")["embedding"] is None
        deposit(c, NOTES[0])
        for method, params in (("trail.sense", {"similar": "compression library missing"}),
                               ("trail.deposit", {"body": "zstd headers are needed", "merge_similar": 0.9})):
            err = assert_error(c.call(method, params), -32010, "semantic_unavailable")
            assert "make model" in err["message"] and "no-model-here" in err["message"], err
        # Everything else works as before, and nothing was written by the refused deposit.
        assert [n["body"] for n in c.result("trail.sense")["notes"]] == [NOTES[0]]
        assert [n["body"] for n in c.result("trail.sense", {"query": "libzstd"})["notes"]] == [NOTES[0]]
    assert "recall by meaning is off" in d.stderr()
    # Turned off: the model is there, but --no-semantic wins.
    off = daemon_factory("off", extra=["--model-dir", str(MODEL), "--no-semantic"])
    with off.connect() as c:
        assert c.result("trail.hello")["semantic"] is None
        err = assert_error(c.call("trail.sense", {"similar": "anything"}), -32010, "semantic_unavailable")
        assert "turned off" in err["message"]


def test_similar_finds_a_paraphrase_and_scores_as_documented(mconn):
    for body in NOTES:
        deposit(mconn, body)
    mconn.result("trail.reinforce", {"id": sha(NOTES[2]), "delta": 4})
    embedded(mconn, count=len(NOTES))
    notes = similar(mconn, "compiling breaks because a compression package is absent", limit=5)
    assert notes[0]["body"] == NOTES[0]
    assert len(notes) == 5
    assert_scored_as_documented(notes)
    # Insects: the reinforced note about ants comes first.
    assert similar(mconn, "insects mark routes with chemical signals", limit=1)[0]["body"] == NOTES[2]


def assert_scored_as_documented(notes):
    """docs/protocol.md: with near = best - 0.15, min(similarity, near) + 0.05
    max(0, similarity - near) + 0.1 ln(1 + weight (1 + rank)), best being the highest
    similarity (every note of the namespace is in `notes`); score descending, then
    similarity descending."""
    best = max(n["similarity"] for n in notes)
    near = best - 0.15
    for n in notes:
        assert -1 <= n["similarity"] <= 1
        s = n["similarity"]
        want = min(s, near) + 0.05 * max(0.0, s - near) + 0.1 * math.log1p(n["weight"] * (1 + (n["rank"] or 0)))
        assert n["score"] == pytest.approx(want, rel=1e-9, abs=1e-12)
    keys = [(n["score"], n["similarity"]) for n in notes]
    assert keys == sorted(keys, reverse=True)


ROUTES = "carry a crate from the depot to the harbour dock"
ROUTE_NOTES = [f"{ROUTES} — route-A (the north bridge) took 21.0 min",
               f"{ROUTES} — route-E (the ferry crossing) took 25.0 min",
               f"{ROUTES} — route-D (through the old town) took 33.0 min"]
OTHER_WORDS = "haul freight out of the storage yard down to the quay — route-C (the ring motorway) took 19.0 min"


def test_among_notes_about_equally_near_the_strongest_comes_first(mconn):
    """Within 0.15 of the best similarity, a little more weight puts a note
    ahead of one worded a little nearer, and equal weights keep the order
    of similarity; below that band meaning leads again, so a heavier note
    in other words stays behind them."""
    for body in [*ROUTE_NOTES, OTHER_WORDS, NOTES[2]]:
        deposit(mconn, body)
    embedded(mconn, count=5)
    found = similar(mconn, ROUTES)
    # Equal weights: the order of similarity.
    assert [n["body"] for n in found] == [ROUTE_NOTES[0], ROUTE_NOTES[1], ROUTE_NOTES[2], OTHER_WORDS, NOTES[2]]
    notes = {n["body"]: n for n in found}
    best = max(n["similarity"] for n in notes.values())
    # What the test stands on: the three notes in the question's words are
    # within the band, route-D the farthest of them; the other wording below it.
    assert all(notes[b]["similarity"] > best - 0.15 for b in ROUTE_NOTES), notes
    assert notes[ROUTE_NOTES[2]]["similarity"] < notes[ROUTE_NOTES[0]]["similarity"] - 0.03, notes
    assert notes[OTHER_WORDS]["similarity"] < best - 0.25, notes

    # A little more weight puts route-D first (by similarity plus weight
    # alone, 0.3 more would not make up the 0.03 that route-A is nearer).
    mconn.result("trail.reinforce", {"id": sha(ROUTE_NOTES[2]), "delta": 0.3})
    mconn.result("trail.reinforce", {"id": sha(OTHER_WORDS), "delta": 3})
    notes = similar(mconn, ROUTES)
    assert notes[0]["body"] == ROUTE_NOTES[2]
    assert [n["body"] for n in notes[3:]] == [OTHER_WORDS, NOTES[2]]
    assert_scored_as_documented(notes)
    # The band hangs from the best note the filters leave: without route-A
    # and route-E (min_weight), from route-D.
    filtered = similar(mconn, ROUTES, min_weight=1.2)
    assert [n["body"] for n in filtered] == [ROUTE_NOTES[2], OTHER_WORDS]
    assert_scored_as_documented(filtered)


def test_a_tag_filter_scores_its_few_notes_as_the_index_would(mconn):
    """A tag that few notes carry (at most 256) is answered from the tag
    index, its notes scored one by one; a tag that many carry goes through
    the index of meaning. Both give what the unfiltered order gives for
    those notes: same notes, order, similarities and scores."""
    colours = ["red", "green", "blue", "amber", "violet", "grey"]
    things = ["kettle", "bridge", "ledger", "compiler", "harbour", "orchard", "socket"]
    many = [f"The {c} {t} number {i} needs attention before the release."
            for i, (c, t) in enumerate((c, t) for c in colours for t in things for _ in range(8))][:300]
    few = ["The build fails until libzstd-dev is installed.",
           "Ants follow the strongest pheromone trail to food.",
           "Invoices in yen are rounded to whole units."]
    for body in many:
        deposit(mconn, body, tags=["many"])
    for body in few:
        deposit(mconn, body, tags=["few", "many"] if body == few[0] else ["few"])
    gone = "The build breaks without the zstd headers installed."
    deposit(mconn, gone, tags=["few"])
    faded = "Compiling needs the zstd development package first."
    deposit(mconn, faded, tags=["few"])
    embedded(mconn, count=len(many) + len(few) + 2)
    mconn.result("trail.retract", {"id": sha(gone), "reason": "superseded"})
    mconn.result("trail.reinforce", {"id": sha(faded), "delta": -10})
    question = "what do I install so that the build compiles?"
    everything = similar(mconn, question, limit=1000)
    assert len(everything) == len(many) + len(few)

    class shown:
        """Same notes, order and similarities; scores within 1e-6 (the
        weights in them decay between two senses)."""
        def __init__(self, notes):
            self.notes = [(n["id"], n["similarity"], n["score"]) for n in notes]

        def __eq__(self, other):
            return [n[:2] for n in self.notes] == [n[:2] for n in other.notes] and \
                all(math.isclose(a[2], b[2], abs_tol=1e-6) for a, b in zip(self.notes, other.notes))

        def __repr__(self):
            return repr(self.notes)

    tagged_few = similar(mconn, question, tags=["few"], limit=10)
    assert shown(tagged_few) == shown([n for n in everything if "few" in n["tags"]])
    assert tagged_few[0]["body"] == few[0]
    assert shown(similar(mconn, question, any_tags=["few", "nothing"], limit=2)) == shown(tagged_few[:2])
    assert shown(similar(mconn, question, tags=["few", "many"])) == shown([tagged_few[0]])
    assert shown(similar(mconn, question, tags=["many"], limit=20)) == \
        shown([n for n in everything if "many" in n["tags"]][:20])
    # Its filters still hold: min_weight, min_similarity, budget, include_faded.
    assert similar(mconn, question, tags=["few"], min_weight=2) == []
    cut = tagged_few[1]["similarity"]
    assert shown(similar(mconn, question, tags=["few"], min_similarity=cut)) == shown(tagged_few[:2])
    assert [n["body"] for n in similar(mconn, question, tags=["few"], budget_bytes=len(few[0]))] == [few[0]]
    assert faded in {n["body"] for n in similar(mconn, question, tags=["few"], include_faded=True)}
    assert gone not in {n["body"] for n in similar(mconn, question, tags=["few"], include_faded=True)}


def test_min_similarity_limit_tags_budget_and_faded(mconn):
    deposit(mconn, NOTES[0], tags=["build"])
    deposit(mconn, NOTES[1], tags=["build", "db"])
    deposit(mconn, NOTES[3], tags=["db"])
    deposit(mconn, NOTES[4])
    embedded(mconn, count=4)
    everything = similar(mconn, "setting up the machine to compile and test", limit=10)
    assert len(everything) == 4
    sims = {n["body"]: n["similarity"] for n in everything}
    cut = sorted(sims.values())[1]
    kept = similar(mconn, "setting up the machine to compile and test", min_similarity=cut)
    assert {n["body"] for n in kept} == {b for b, s in sims.items() if s >= cut}
    assert [n["body"] for n in similar(mconn, "setting up the machine to compile and test", limit=1)] == [everything[0]["body"]]
    assert {n["body"] for n in similar(mconn, "compile", tags=["build"])} == {NOTES[0], NOTES[1]}
    assert {n["body"] for n in similar(mconn, "compile", tags=["build", "db"])} == {NOTES[1]}
    assert {n["body"] for n in similar(mconn, "compile", any_tags=["db"])} == {NOTES[1], NOTES[3]}
    # A budget walks the meaning order, skipping what does not fit.
    order = [n["body"] for n in everything]
    budget = len(order[0].encode()) + len(order[2].encode())
    skipping = similar(mconn, "setting up the machine to compile and test", budget_bytes=budget)
    taken, left = [], budget
    for b in order:
        if len(b.encode()) <= left:
            taken.append(b)
            left -= len(b.encode())
    assert [n["body"] for n in skipping] == taken
    # Faded notes only with include_faded; min_weight keeps its meaning.
    mconn.result("trail.reinforce", {"id": sha(NOTES[4]), "delta": -10})
    assert NOTES[4] not in {n["body"] for n in similar(mconn, "invoices in yen")}
    assert similar(mconn, "invoices in yen", include_faded=True)[0]["body"] == NOTES[4]
    mconn.result("trail.reinforce", {"id": sha(NOTES[0]), "delta": 5})
    assert [n["body"] for n in similar(mconn, "invoices in yen", min_weight=3)] == [NOTES[0]]


def test_similar_with_query_fuses_the_two_orders(mconn):
    bodies = NOTES + [
        "Install the zstd headers before building the daemon.",
        "The colony keeps its memory in the environment, not in a brain.",
        "Rounding invoices in yen to whole units avoids fractional currency.",
    ]
    for b in bodies:
        deposit(mconn, b)
    embedded(mconn, count=len(bodies))
    text, query = "package needed to compile", "zstd"
    fused = similar(mconn, text, query=query, limit=20)
    meaning = similar(mconn, text, limit=100)
    words = mconn.result("trail.sense", {"query": query, "limit": 100})["notes"]
    m_place = {n["id"]: i + 1 for i, n in enumerate(meaning)}
    w_place = {n["id"]: i + 1 for i, n in enumerate(words)}
    expect = {}
    for i in set(m_place) | set(w_place):
        expect[i] = (1 / (60 + m_place[i]) if i in m_place else 0) + (1 / (60 + w_place[i]) if i in w_place else 0)
    order = sorted(expect, key=lambda i: (-expect[i], i))
    assert [n["id"] for n in fused] == order[:20]
    for n in fused:
        assert n["score"] == pytest.approx(expect[n["id"]], rel=1e-12)
        assert n["similarity"] == pytest.approx(next(m["similarity"] for m in meaning if m["id"] == n["id"]), abs=1e-12)
    # A note matching the words comes first: both orders put it high.
    assert fused[0]["body"] in (NOTES[0], bodies[5])


def test_merge_similar_lands_on_the_note_and_keeps_the_body_in_history(mconn):
    first = deposit(mconn, NOTES[0], tags=["build"])
    embedded(mconn, count=1)
    # A paraphrase keeps the decisive tokens (libzstd-dev): see the corrections below.
    para = "A new computer fails to compile the project until libzstd-dev is added."
    r = deposit(mconn, para, merge_similar=0.6, tags=["setup"], agent="ant-2")
    assert r["merged"] is True and r["created"] is False, r
    assert r["id"] == first["id"] and 0.6 <= r["similarity"] <= 1
    assert r["deposits"] == 2 and r["weight"] == pytest.approx(2, rel=1e-3)
    got = mconn.result("trail.get", {"id": first["id"]})
    assert got["note"]["body"] == NOTES[0]
    assert got["note"]["tags"] == ["build", "setup"]
    merges = [h for h in got["history"] if h["op"] == "merge"]
    assert len(merges) == 1 and merges[0]["detail"] == para and merges[0]["agent"] == "ant-2", got["history"]
    # The merged body is not a note of its own.
    assert_error(mconn.call("trail.get", {"id": sha(para)}), -32001, "unknown_note")
    # Below the threshold: an ordinary deposit, found by meaning once it answers.
    other = "Invoices for customers in Japan are rounded to whole yen."
    r = deposit(mconn, other, merge_similar=0.99)
    assert r["merged"] is False and r["created"] is True and "similarity" not in r
    assert r["id"] == sha(other)
    assert similar(mconn, "rounding of Japanese currency", limit=1)[0]["id"] == sha(other)
    # The same body again is a re-deposit of itself, not a merge.
    r = deposit(mconn, other, merge_similar=0.5)
    assert r["merged"] is False and r["created"] is False and r["id"] == sha(other) and r["deposits"] == 2
    # Without merge_similar the result has no `merged`.
    assert "merged" not in deposit(mconn, NOTES[3])


def test_two_paraphrases_deposited_at_once_make_one_note(meaning_daemon):
    paraphrases = ["Run the database migrations before you restart the web servers when deploying.",
                   "When shipping a release, apply schema changes first and only then reboot the app servers."]
    results = [None, None]
    barrier = threading.Barrier(2)

    def send(i):
        with meaning_daemon.connect() as c:
            barrier.wait()
            results[i] = deposit(c, paraphrases[i], merge_similar=0.4)  # they are 0.48 apart

    threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    created = [r for r in results if r["created"]]
    merged = [r for r in results if r["merged"]]
    assert len(created) == 1 and len(merged) == 1, results
    assert merged[0]["id"] == created[0]["id"]
    with meaning_daemon.connect() as c:
        notes = c.result("trail.sense", {"limit": 10})["notes"]
        assert len(notes) == 1 and notes[0]["deposits"] == 2


# A trigger that refuses every new vector, and its removal, on each engine.
REFUSE_VECTORS = {
    "sqlite": "CREATE TRIGGER refuse_vectors BEFORE INSERT ON note_vector BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
    "postgres": "CREATE FUNCTION refuse_vectors() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$; "
                "CREATE TRIGGER refuse_vectors BEFORE INSERT ON note_vector FOR EACH ROW EXECUTE FUNCTION refuse_vectors();",
}
ALLOW_VECTORS = {
    "sqlite": "DROP TRIGGER refuse_vectors;",
    "postgres": "DROP TRIGGER refuse_vectors ON note_vector; DROP FUNCTION refuse_vectors();",
}


def test_vectors_the_store_refused_are_embedded_again(daemon_factory):
    """The indexer stores a batch's vectors while it embeds the next one.
    When the store refuses them, that batch and every one after it are read
    and embedded again once it takes them: none is left without a vector."""
    d = daemon_factory("f", extra=["--model-dir", str(MODEL), "--embedding-threads", "2"])
    store_execute(d, REFUSE_VECTORS[d.engine])
    bodies = [f"Runner {i} failed its build until the cache in /var/cache/build-{i} was cleared." for i in range(200)]
    with d.connect() as c:
        for b in bodies:
            deposit(c, b)
        deadline = time.monotonic() + 60
        while d.stderr().count("the indexer could not read or write the store") < 2:
            assert time.monotonic() < deadline, "the indexer never met the refusal"
            time.sleep(0.05)
        e = c.result("trail.stats")["embedding"]
        assert e["embedded"] == 0 and e["pending"] == len(bodies), e
        assert store_rows(d, "SELECT count(*) FROM note_vector") == [(0,)]
        store_execute(d, ALLOW_VECTORS[d.engine])
        embedded(c, count=len(bodies), timeout=60)
        assert store_rows(d, "SELECT count(*) FROM note_vector") == [(len(bodies),)]
        assert similar(c, "the cache of runner 137 had to be emptied", limit=1)[0]["body"] == bodies[137]


def test_vectors_survive_a_restart_and_a_revival(daemon_factory):
    d = daemon_factory("r", extra=["--model-dir", str(MODEL), "--compaction-interval", "0"])
    with d.connect() as c:
        for b in NOTES:
            deposit(c, b)
        embedded(c, count=len(NOTES))
    stamps = store_rows(d, "SELECT note, stamp FROM note_vector ORDER BY note")
    assert len(stamps) == len(NOTES)
    d.terminate()
    d.start()
    with d.connect() as c:
        # Loaded from the store, not embedded again: the same rows, the same stamps.
        e = embedded(c, count=len(NOTES), timeout=10)
        assert e["embedded"] == len(NOTES)
        assert f"vectors={len(NOTES)}" in d.stderr().replace('"', "")
        time.sleep(0.3)
        assert store_rows(d, "SELECT note, stamp FROM note_vector ORDER BY note") == stamps
        assert similar(c, "pheromone routes of insects", limit=1)[0]["body"] == NOTES[2]
        # Retracted: out of the index and of every search by meaning.
        c.result("trail.retract", {"id": sha(NOTES[2]), "reason": "off topic for this colony"})
        assert embedded(c)["embedded"] == len(NOTES) - 1
        assert NOTES[2] not in {n["body"] for n in similar(c, "pheromone routes of insects")}
        c.result("trail.revive", {"id": sha(NOTES[2])})
        embedded(c, count=len(NOTES))
        assert similar(c, "pheromone routes of insects", limit=1)[0]["body"] == NOTES[2]
        # Evaporated: archived and out of memory; deposited again, found again.
        c.result("trail.namespace.configure", {"ns": "default", "evaporate_below": 1e5})
        assert c.result("trail.compact", {"ns": "default"})["evaporated"] == len(NOTES)
        assert c.result("trail.stats")["embedding"]["embedded"] == 0
        assert similar(c, "pheromone routes of insects") == []
        c.result("trail.namespace.configure", {"ns": "default", "evaporate_below": 0.05})
        deposit(c, NOTES[2])
        embedded(c, count=1)
        assert similar(c, "pheromone routes of insects", limit=1)[0]["body"] == NOTES[2]


BAD = [
    ("trail.sense", {"similar": ""}, "similar"),
    ("trail.sense", {"similar": "   \n\t"}, "similar"),
    ("trail.sense", {"similar": 42}, "similar"),
    ("trail.sense", {"similar": ["a", "b"]}, "similar"),
    ("trail.sense", {"similar": "x" * 70000}, "similar"),
    ("trail.sense", {"similar": "x" * 5000}, "similar"),  # over the namespace's max_note_bytes (4096)
    ("trail.sense", {"similar": "a", "min_similarity": 1.5}, "min_similarity"),
    ("trail.sense", {"similar": "a", "min_similarity": -1.01}, "min_similarity"),
    ("trail.sense", {"similar": "a", "min_similarity": "0.5"}, "min_similarity"),
    ("trail.sense", {"similar": "a", "min_similarity": True}, "min_similarity"),
    ("trail.sense", {"min_similarity": 0.5}, "min_similarity"),
    ("trail.deposit", {"body": "b", "merge_similar": 0}, "merge_similar"),
    ("trail.deposit", {"body": "b", "merge_similar": -0.2}, "merge_similar"),
    ("trail.deposit", {"body": "b", "merge_similar": 1.0001}, "merge_similar"),
    ("trail.deposit", {"body": "b", "merge_similar": 2}, "merge_similar"),
    ("trail.deposit", {"body": "b", "merge_similar": "0.9"}, "merge_similar"),
    ("trail.deposit", {"body": "b", "merge_similar": True}, "merge_similar"),
]


@pytest.mark.parametrize("method,params,field", BAD, ids=[f"{m}-{f}-{i}" for i, (m, _, f) in enumerate(BAD)])
def test_bad_parameters_are_refused_clearly(mconn, method, params, field):
    deposit(mconn, NOTES[0])
    err = assert_error(mconn.call(method, params), -32602, "invalid_params", field=field)
    assert field in err["message"], err
    # Nothing written, and the daemon still serves.
    notes = mconn.result("trail.sense")["notes"]
    assert [n["body"] for n in notes] == [NOTES[0]]


def test_null_means_left_out(mconn):
    # As for every param: null is the same as leaving it out.
    assert "merged" not in deposit(mconn, NOTES[0], merge_similar=None)
    assert mconn.result("trail.sense", {"similar": None})["notes"][0]["body"] == NOTES[0]


def test_nan_and_infinity_are_not_json(meaning_daemon):
    # JSON has no NaN: a frame that carries one is a parse error, and the connection goes on.
    s = socket.socket(socket.AF_UNIX)
    s.connect(str(meaning_daemon.socket_path))
    f = s.makefile("rwb")
    for raw in (b'{"jsonrpc":"2.0","id":1,"method":"trail.deposit","params":{"body":"b","merge_similar":NaN}}\n',
                b'{"jsonrpc":"2.0","id":2,"method":"trail.sense","params":{"similar":"a","min_similarity":Infinity}}\n'):
        f.write(raw)
        f.flush()
        import json
        resp = json.loads(f.readline())
        assert resp["error"]["code"] == -32700, resp
    f.write(b'{"jsonrpc":"2.0","id":3,"method":"trail.hello"}\n')
    f.flush()
    import json
    assert json.loads(f.readline())["result"]["semantic"]["dims"] == 384
    s.close()


def test_model_settings_in_the_config_file_and_bad_ones(daemon_factory, tmp_path):
    import json
    import subprocess
    from conftest import traild_bin
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"model_dir": str(MODEL), "embedding_threads": 2}))
    d = daemon_factory("cfg", extra=["--config", str(cfg)])
    with d.connect() as c:
        assert c.result("trail.hello")["semantic"]["model"] == "all-MiniLM-L6-v2"
    cfg.write_text(json.dumps({"model_dir": str(MODEL), "semantic": False}))
    d2 = daemon_factory("cfg2", extra=["--config", str(cfg)])
    with d2.connect() as c:
        assert c.result("trail.hello")["semantic"] is None
    for bad, words in (({"semantic": "yes"}, "semantic"), ({"embedding_threads": 0}, "embedding_threads"),
                       ({"model_dir": 3}, "model_dir")):
        cfg.write_text(json.dumps(bad))
        r = subprocess.run([traild_bin(), "--config", str(cfg), "--socket", str(tmp_path / "x.sock"),
                            "--data-dir", str(tmp_path / "x")], capture_output=True, text=True, timeout=30)
        assert r.returncode != 0 and words in r.stderr, (bad, r.stderr)
    r = subprocess.run([traild_bin(), "--embedding-threads", "0", "--socket", str(tmp_path / "y.sock"),
                        "--data-dir", str(tmp_path / "y")], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "--embedding-threads" in r.stderr, r.stderr


def test_a_damaged_model_is_refused_and_traild_serves_without_it(daemon_factory, tmp_path):
    import shutil
    broken = tmp_path / "broken-model"
    shutil.copytree(MODEL, broken)
    with open(broken / "model.safetensors", "r+b") as f:
        f.truncate(1000)
    d = daemon_factory("broken", extra=["--model-dir", str(broken)])
    with d.connect() as c:
        assert c.result("trail.hello")["semantic"] is None
        err = assert_error(c.call("trail.sense", {"similar": "x"}), -32010, "semantic_unavailable")
        assert "cannot be used" in err["message"] and "model.safetensors" in err["message"], err
        deposit(c, "still serving")
    assert "recall by meaning is off" in d.stderr()


def test_a_correction_deposited_after_its_note_is_never_merged_into_it(mconn):
    wrong = deposit(mconn, "SQLite in WAL mode works fine on an NFS share.")
    embedded(mconn, count=1)
    fix = "SQLite in WAL mode does not work on an NFS share."
    r = deposit(mconn, fix, merge_similar=0.5, after=[wrong["id"][:12]])
    assert r["merged"] is False and r["created"] is True and r["id"] == sha(fix), r
    # Without after, the same body would have merged: the two read alike.
    other = deposit(mconn, "SQLite in WAL mode is fine on NFS shares.", merge_similar=0.5)
    assert other["merged"] is True


def test_a_correction_is_never_merged_but_deposited_contesting_the_near_note(mconn):
    """Contract §8: a body close to a note (0.99 here) that disagrees with it on
    a decisive token is deposited as its own note, after the note it contests,
    and the result names that note in `contests`; a paraphrase that keeps the
    tokens still merges."""
    stale = deposit(mconn, "The flaky build on the NFS runners -- fix-3 resolved it.")
    embedded(mconn, count=1)
    correction = "The flaky build on the NFS runners -- fix-5 resolved it."
    r = deposit(mconn, correction, merge_similar=0.9, agent="ant-2")
    assert r["merged"] is False and r["created"] is True and r["id"] == sha(correction), r
    assert r["contests"] == [stale["id"]]
    got = mconn.result("trail.get", {"id": r["id"]})
    assert got["note"]["body"] == correction and got["note"]["after"] == [stale["id"]]
    # The stale note keeps its body, gains no deposit, and leads to the correction.
    old = mconn.result("trail.get", {"id": stale["id"]})["note"]
    assert old["body"] == "The flaky build on the NFS runners -- fix-3 resolved it." and old["deposits"] == 1
    assert r["id"] in [t["to"] for t in mconn.result("trail.follow", {"from": stale["id"]})["trails"]]
    # A paraphrase keeping fix-5 and its outcome merges into the correction, not the stale note.
    para = "On the NFS runners the flaky build was resolved by fix-5."
    m = deposit(mconn, para, merge_similar=0.8)
    assert m["merged"] is True and m["id"] == r["id"] and "contests" not in m, m
    # A third fix contests both near notes that name another fix.
    third = deposit(mconn, "The flaky build on the NFS runners -- fix-7 resolved it.", merge_similar=0.9)
    assert third["merged"] is False and sorted(third["contests"]) == sorted([stale["id"], r["id"]]), third
    # Negation and failure flip it too; an ordinary deposit has no `contests`.
    fails = deposit(mconn, "The flaky build on the NFS runners -- fix-7 did not resolve it.", merge_similar=0.9)
    assert fails["merged"] is False and third["id"] in fails["contests"], fails
    assert "contests" not in deposit(mconn, "Invoices in Japan are rounded to whole yen.", merge_similar=0.9)


def test_corrections_of_the_corpus_never_merge_and_rewordings_merge_as_before(mconn, capsys):
    """corrections.json: each note in a namespace of its own, then its
    correction or rewording deposited with merge_similar 0.9. No correction
    merges (each contests its note); a rewording merges exactly when its
    similarity reaches 0.9, as it did before the rule (read with a sense by
    meaning), so the rule costs rewordings nothing."""
    import json
    corpus = json.loads((Path(__file__).parent / "corrections.json").read_text())
    pairs = [("c", p["note"], p["correction"]) for p in corpus["corrections"]] + \
            [("r", p["note"], p["rewording"]) for p in corpus["rewordings"]]
    for n, (kind, note, _) in enumerate(pairs):
        deposit(mconn, note, ns=f"{kind}{n}")
    for n, (kind, _, _) in enumerate(pairs):
        embedded(mconn, ns=f"{kind}{n}", count=1)
    outcome = {"c": [], "r": []}
    for n, (kind, note, other) in enumerate(pairs):
        ns = f"{kind}{n}"
        near = similar(mconn, other, ns=ns, limit=1)[0]["similarity"]
        r = deposit(mconn, other, ns=ns, merge_similar=0.9)
        outcome[kind].append((near, r, other))
    corrections, rewordings = outcome["c"], outcome["r"]
    merged = [o for _, r, o in corrections if r["merged"]]
    assert not merged, merged
    near_enough = [(sim, r) for sim, r, _ in corrections if sim >= 0.9]
    assert all(r["contests"] == [sha(p["note"])] for (sim, r), p in zip(
        [(s_, r_) for s_, r_, _ in corrections], corpus["corrections"]) if sim >= 0.9)
    wrong = [(round(sim, 3), o) for sim, r, o in rewordings if r["merged"] != (sim >= 0.9) or "contests" in r]
    assert not wrong, wrong
    with capsys.disabled():
        print(f"\ncorrections ({len(corrections)}): merged 0 (at or above 0.9, so merged before the rule: "
              f"{len(near_enough)}); rewordings ({len(rewordings)}): merged "
              f"{sum(1 for _, r, _ in rewordings if r['merged'])}, as before")


def contested_by(c, id_, ns="default"):
    return c.result("trail.get", {"id": id_, "ns": ns})["note"].get("contested_by")


def test_notes_that_disagree_contest_each_other_in_get_and_every_sense_until_one_side_is_out(mconn):
    """Contract §8, contested notes: two notes close in meaning that disagree
    on a decisive token, deposited plainly (no merge asked), contest each
    other once embedded: `contested_by` in get and in sense by weight, by
    words and by meaning, strongest first; it ends when one side is repelled
    to zero or retracted; an unrelated note and a paraphrase show nothing."""
    a = deposit(mconn, "The flaky build on the NFS runners -- fix-3 resolved it.")["id"]
    b = deposit(mconn, "The flaky build on the NFS runners -- fix-5 resolved it.")["id"]
    other = deposit(mconn, "Invoices in Japan are rounded to whole yen.")["id"]
    embedded(mconn, count=3)
    assert contested_by(mconn, a) == [b] and contested_by(mconn, b) == [a]
    assert contested_by(mconn, other) is None
    for params in ({}, {"query": "flaky build"}, {"similar": "which fix resolves the flaky NFS build?"}):
        notes = {n["id"]: n for n in mconn.result("trail.sense", params)["notes"]}
        assert notes[a]["contested_by"] == [b] and notes[b]["contested_by"] == [a], params
        assert "contested_by" not in notes.get(other, {}), params
    # A third side, weaker than b: strongest first.
    mconn.result("trail.reinforce", {"id": b, "delta": 4})
    c = deposit(mconn, "The flaky build on the NFS runners -- fix-7 resolved it.")["id"]
    embedded(mconn, count=4)
    assert contested_by(mconn, a) == [b, c] and contested_by(mconn, c) == [b, a]
    # A paraphrase of a keeps its tokens: it contests b and c, not a.
    p = deposit(mconn, "On the NFS runners, the flaky build was resolved by fix-3.")["id"]
    embedded(mconn, count=5)
    assert a not in (contested_by(mconn, p) or []) and p not in (contested_by(mconn, a) or [])
    # A correction that names what it corrects in `after` contests it all the same.
    d = deposit(mconn, "The flaky build on the NFS runners -- fix-9 resolved it.", after=[a])["id"]
    embedded(mconn, count=6)
    assert d in contested_by(mconn, a) and a in contested_by(mconn, d)
    assert mconn.result("trail.get", {"id": d})["note"]["after"] == [a]
    # Repelled to zero: out of the contest while at zero; retracted: out.
    mconn.result("trail.reinforce", {"id": c, "delta": -10})
    assert c not in contested_by(mconn, a) and contested_by(mconn, c) is None
    mconn.result("trail.retract", {"id": b, "reason": "fix-5 was a red herring: it only masked the race"})
    assert contested_by(mconn, b) is None and b not in (contested_by(mconn, a) or [])


def test_contest_similarity_is_a_namespace_setting(mconn):
    """`contest_similarity` in namespace.configure: shown in the settings; a
    pair that contests at the default 0.9 does not at 1.0; lowered, it takes
    effect for the next note at once (this daemon's configure, not a value
    read a second before); null leaves it as it is; every bad value refused
    by name."""
    timeout30, timeout60 = "Set the request timeout to 30 s or uploads abort.", "Set the request timeout to 60 s or uploads abort."
    a0 = deposit(mconn, timeout30, ns="loose")["id"]
    b0 = deposit(mconn, timeout60, ns="loose")["id"]
    embedded(mconn, ns="loose", count=2)
    assert contested_by(mconn, a0, ns="loose") == [b0] and contested_by(mconn, b0, ns="loose") == [a0]

    got = mconn.result("trail.namespace.configure", {"ns": "strict", "contest_similarity": 1.0})
    assert got["contest_similarity"] == 1.0
    listed = {n["ns"]: n for n in mconn.result("trail.namespace.list", {})["namespaces"]}
    assert listed["strict"]["contest_similarity"] == 1.0 and listed["loose"]["contest_similarity"] == 0.9
    a = deposit(mconn, timeout30, ns="strict")["id"]
    b = deposit(mconn, timeout60, ns="strict")["id"]
    embedded(mconn, ns="strict", count=2)
    assert contested_by(mconn, a, ns="strict") is None and contested_by(mconn, b, ns="strict") is None

    assert mconn.result("trail.namespace.configure", {"ns": "strict", "contest_similarity": None})["contest_similarity"] == 1.0
    assert mconn.result("trail.namespace.configure", {"ns": "strict", "contest_similarity": 0.85})["contest_similarity"] == 0.85
    c = deposit(mconn, "Set the request timeout to 90 s or uploads abort.", ns="strict")["id"]
    embedded(mconn, ns="strict", count=3)
    assert sorted(contested_by(mconn, c, ns="strict")) == sorted([a, b])
    assert contested_by(mconn, a, ns="strict") == [c], "a and b were embedded at 1.0: compared going forward only"

    assert mconn.result("trail.hello", {})["defaults"]["contest_similarity"] == 0.9
    for bad in (0, -0.1, 1.5, 1.0000001, "0.9", True, [0.9]):
        assert_error(mconn.call("trail.namespace.configure", {"ns": "strict", "contest_similarity": bad}), -32602,
                     "invalid_params", field="contest_similarity")
    assert mconn.result("trail.namespace.configure", {"ns": "strict"})["contest_similarity"] == 0.85


def test_paraphrases_are_found_by_meaning_not_by_words(mconn, capsys):
    """The 48 pairs of paraphrases.json (no content word shared): each note
    deposited, each paraphrase sensed by meaning and by words; top-1 and top-3
    reported. The independent NumPy forward pass gives 44/48 and 45/48
    (test_paraphrase_corpus.py): the daemon's model must give the same."""
    import json
    pairs = json.loads((Path(__file__).parent / "paraphrases.json").read_text())
    assert len(pairs) >= 30
    for p in pairs:
        deposit(mconn, p["note"])
    embedded(mconn, count=len(pairs))
    meaning = {1: 0, 3: 0}
    words = {1: 0, 3: 0}
    for p in pairs:
        want = sha(p["note"])
        by_meaning = [n["id"] for n in similar(mconn, p["paraphrase"], limit=3)]
        resp = mconn.call("trail.sense", {"query": p["paraphrase"], "limit": 3})
        by_words = [n["id"] for n in resp["result"]["notes"]] if "result" in resp else []
        for k in (1, 3):
            meaning[k] += want in by_meaning[:k]
            words[k] += want in by_words[:k]
    n = len(pairs)
    with capsys.disabled():
        print(f"\nparaphrases ({n} pairs): by meaning top-1 {meaning[1]}/{n}, top-3 {meaning[3]}/{n}; "
              f"by words (full text) top-1 {words[1]}/{n}, top-3 {words[3]}/{n}")
    assert meaning[1] >= 43 and meaning[3] >= 44, meaning
    assert words[3] < meaning[3] / 2, words


def test_two_daemons_on_one_database_find_each_others_notes_by_meaning(pg_daemons):
    a = pg_daemons("ma", db="shared", extra=["--model-dir", str(MODEL)])
    b = pg_daemons("mb", db="shared", extra=["--model-dir", str(MODEL)])
    with a.connect() as ca, b.connect() as cb:
        for body in NOTES:
            deposit(ca, body)
        embedded(ca, count=len(NOTES))
        # b picks up the vectors a stored (it looks every second), and embeds none itself.
        embedded(cb, count=len(NOTES), timeout=15)
        assert similar(cb, "insects mark routes with chemical signals", limit=1)[0]["body"] == NOTES[2]
        assert len(store_rows(a, "SELECT note FROM note_vector")) == len(NOTES)
        # A paraphrase through b merges into a's note.
        r = deposit(cb, "Insects such as ants mark the route to something to eat with a scent the others follow.",
                    merge_similar=0.5)
        assert r["merged"] is True and r["id"] == sha(NOTES[2]), r
        assert ca.result("trail.get", {"id": sha(NOTES[2])})["note"]["deposits"] == 2


def test_notes_deposited_through_two_daemons_at_once_contest_each_other_on_both(pg_daemons):
    """Contested notes across daemons on one database (contract §8): two
    notes that disagree, deposited at the same moment through two daemons,
    are one stored pair, shown by both daemons; a retraction through one
    ends the contest for the other."""
    import threading
    a = pg_daemons("ca", db="contest", extra=["--model-dir", str(MODEL)])
    b = pg_daemons("cb", db="contest", extra=["--model-dir", str(MODEL)])
    one, two = "The flaky NFS build: fix-3 resolved it.", "The flaky NFS build: fix-5 resolved it."
    with a.connect() as ca, b.connect() as cb:
        go = threading.Barrier(2)
        def put(c, body):
            go.wait()
            deposit(c, body)
        threads = [threading.Thread(target=put, args=(ca, one)), threading.Thread(target=put, args=(cb, two))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        embedded(ca, count=2, timeout=15)
        embedded(cb, count=2, timeout=15)
        deadline = time.monotonic() + 15
        while contested_by(ca, sha(one)) is None or contested_by(cb, sha(two)) is None:
            assert time.monotonic() < deadline, "the two daemons never saw the contest"
            time.sleep(0.1)
        for c in (ca, cb):
            assert contested_by(c, sha(one)) == [sha(two)] and contested_by(c, sha(two)) == [sha(one)]
        assert len(store_rows(a, "SELECT a, b FROM contest")) == 1
        ca.result("trail.retract", {"id": sha(two), "reason": "fix-5 only hid the race"})
        assert contested_by(cb, sha(one)) is None


def test_a_damaged_stored_vector_is_embedded_again(daemon_factory):
    from conftest import store_execute
    d = daemon_factory("dv", extra=["--model-dir", str(MODEL), "--compaction-interval", "0"])
    with d.connect() as c:
        for b in NOTES:
            deposit(c, b)
        embedded(c, count=len(NOTES))
    d.terminate()
    # Five bytes: not whole 4-byte floats.
    damaged = "x'0102030405'" if d.engine == "sqlite" else "'\\x0102030405'::bytea"
    store_execute(d, f"UPDATE note_vector SET vector = {damaged} WHERE note = "
                     f"(SELECT seq FROM note WHERE id = '{sha(NOTES[2])}')")
    d.start()
    with d.connect() as c:
        embedded(c, count=len(NOTES), timeout=10)
        assert similar(c, "pheromone routes of insects", limit=1)[0]["body"] == NOTES[2]
        assert similar(c, "compression library missing", limit=1)[0]["body"] == NOTES[0]
    assert "left out stored vectors of the wrong length" in d.stderr()
    # Stored again whole: 384 floats.
    lengths = store_rows(d, "SELECT length(vector) FROM note_vector" if d.engine == "sqlite"
                         else "SELECT octet_length(vector) FROM note_vector")
    assert sorted(r[0] for r in lengths) == [384 * 4] * len(NOTES)
