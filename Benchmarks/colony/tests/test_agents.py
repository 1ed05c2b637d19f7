"""The agent policy and the in-process baseline memories (tick 0, no daemon)."""
from __future__ import annotations

import statistics
from dataclasses import asdict
from typing import Callable, Sequence

import pytest

import colony_path  # noqa: F401  (Benchmarks/colony on sys.path)

from colony.agents import run_instance
from colony.api import SCENARIOS, Note, Record
from colony.baselines import AppendLog, HandoffNote, NoMemory, factory
from colony.worlds import make_world
from colony.worlds.flaky import FlakyWorld

BUDGET = 4000


def run(world, memory: Callable[[], object], rule: str, habit: str = "practice",
        budget: int = BUDGET) -> list[Record]:
    """Instances one after another, each with its own memory object, closed at its end."""
    records = []
    for i in range(world.instances):
        m = memory()
        records.append(run_instance(world, m, i, rule, habit, budget))
        m.close()
    return records


class Spy:
    """A memory that answers `notes` to every read and records every call."""

    name = "spy"

    def __init__(self, notes: Sequence[Note] = ()) -> None:
        self.notes = list(notes)
        self.calls: list[tuple] = []
        #: What `confirm` answers per id (a memory with weights); None otherwise.
        self.weights: dict[str, float] = {}

    def read(self, query, budget_bytes):
        self.calls.append(("read", query))
        return list(self.notes)

    def write(self, text, links=(), strength=1.0, corrects=()):
        self.calls.append(("write", text, tuple(links), strength, tuple(corrects)))
        return f"spy:{len(self.calls)}"

    def confirm(self, id):
        self.calls.append(("confirm", id))
        return self.weights.get(id)

    def refute(self, id, reason, harm=False):
        self.calls.append(("refute", id, reason, harm))

    def close(self):
        pass

    def verbs(self, verb: str) -> list[tuple]:
        return [c for c in self.calls if c[0] == verb]


# --- the policy ---------------------------------------------------------------------

def test_unknown_rule_or_habit_is_refused():
    world = FlakyWorld("static", 1)
    with pytest.raises(ValueError):
        run_instance(world, NoMemory(), 0, "greedy", "practice", BUDGET)
    with pytest.raises(ValueError):
        run_instance(world, NoMemory(), 0, "strongest", "sloppy", BUDGET)


@pytest.mark.parametrize("name", ["flaky", "routes"])
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_oracle_never_does_worse_than_no_memory(name, scenario):
    key = "tries" if name == "flaky" else "cost"
    for seed in (1, 2, 3):
        oracle = run(make_world(name, scenario, seed, tick=0), NoMemory, "oracle")
        none = run(make_world(name, scenario, seed, tick=0), NoMemory, "evidence")
        assert statistics.mean(getattr(r, key) for r in oracle) <= statistics.mean(getattr(r, key) for r in none)
        assert sum(r.solved for r in oracle) >= sum(r.solved for r in none)
        assert all(r.used_best for r in oracle if r.tries == 1 and r.solved)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_oracle_claims_nothing_twice_and_loses_nothing(scenario):
    for seed in (1, 2):
        worlds = {k: make_world("claims", scenario, seed, tick=0, items=40) for k in ("oracle", "none")}
        oracle = run(worlds["oracle"], NoMemory, "oracle")
        none = run(worlds["none"], NoMemory, "strongest")
        a, b = worlds["oracle"].summary(), worlds["none"].summary()
        assert a["duplicated"] == 0 and a["lost"] == 0 and a["makespan"] is not None
        assert b["duplicated"] >= a["duplicated"] and b["lost"] >= a["lost"]
        assert sum(r.extra["duplicated"] for r in oracle) == 0
        assert sum(r.extra["duplicated"] for r in none) == b["duplicated"]


def test_oracle_reads_and_writes_nothing():
    spy = Spy()
    for name in ("flaky", "routes", "claims"):
        world = make_world(name, "static", 1, tick=0)
        for i in range(5):
            assert run_instance(world, spy, i, "oracle", "practice", BUDGET).bytes_read == 0
    assert spy.calls == []


@pytest.mark.parametrize("order", ["newest", "frequency"])
def test_agents_with_the_log_learn_in_the_static_flaky_world(order):
    early, late = [], []
    for seed in range(8):
        world = make_world("flaky", "static", seed, tick=0)
        log = AppendLog(order)
        records = run(world, lambda: log, "strongest", budget=12000)
        early += [r.tries for r in records[:40]]
        late += [r.tries for r in records[-40:]]
    assert statistics.mean(late) < statistics.mean(early) - 0.2


def test_a_run_is_the_same_on_a_seed_and_differs_between_seeds():
    def records(seed):
        log = AppendLog("newest")
        return [asdict(r) for r in run(make_world("flaky", "breaking", seed, tick=0), lambda: log, "evidence")]
    assert records(4) == records(4)
    assert records(4) != records(5)


def test_record_fields_add_up():
    world = make_world("routes", "breaking", 2, tick=0)
    log = AppendLog("newest")
    for r in run(world, lambda: log, "evidence"):
        assert 1 <= r.tries <= 3 and r.cost > 0 and r.after_change == (r.instance >= world.change_at)
        assert r.used_best == (r.final_option == world.best(world.ticket(r.instance)))
    notes = log.read("anything", 500)
    spy = Spy(notes)
    r = run_instance(world, spy, 3, "strongest", "practice", 500)
    assert r.bytes_read == sum(len(n.text.encode()) for n in notes) > 0


def _stale_note(world: FlakyWorld, instance: int) -> tuple[Note, str]:
    """A note, in another instance's wording, that the old fix works."""
    t = world.ticket(instance)
    other = next(w for w in world.symptoms[t.subject].wordings if w != t.query)
    old = world.old[t.subject]
    return Note("n-old", f"{other} — {world.label(t.subject, old)} worked", 3.0), old


def test_practice_corrects_refutes_and_links_what_it_followed():
    world = FlakyWorld("breaking", 6)
    # An instance after the change, whose old fix now fails and that solves it within its tries.
    for i in range(world.change_at, world.instances):
        note, old = _stale_note(world, i)
        spy = Spy([note])
        r = run_instance(world, spy, i, "strongest", "practice", BUDGET)
        if r.solved and r.tries > 1:
            break
    assert r.stale_followed == 1 and r.final_option != old
    writes = spy.verbs("write")
    failed, worked = writes[0], writes[-1]
    assert failed[1].endswith("failed") and failed[2] == ("n-old",) and failed[4] == ("n-old",)
    assert worked[1].endswith("worked") and "n-old" in worked[2] and worked[4] == ("n-old",)
    (refute,) = spy.verbs("refute")
    assert refute[1] == "n-old" and refute[3] is False and f"{r.final_option} worked instead" in refute[2]
    assert spy.verbs("confirm") == []
    # A second strike (another note already says the old fix failed) retracts it.
    t = world.ticket(i)
    disputed = Note("n-no", f"{t.query} — {world.label(t.subject, old)} failed", 1.0)
    spy = Spy([note, disputed])
    run_instance(world, spy, i, "strongest", "practice", BUDGET)
    assert [c[3] for c in spy.verbs("refute") if c[1] == "n-old"] == [True]


def test_practice_confirms_the_note_that_helped():
    world = FlakyWorld("static", 6)
    for i in range(world.instances):
        note, old = _stale_note(world, i)
        spy = Spy([note])
        r = run_instance(world, spy, i, "strongest", "practice", BUDGET)
        if r.solved and r.tries == 1:
            break
    assert r.final_option == old and r.stale_followed == 0 and r.used_best
    assert spy.verbs("confirm") == [("confirm", "n-old")]
    (write,) = spy.verbs("write")
    assert write[2] == ("n-old",) and write[4] == ()


def test_careless_writes_bare_and_never_reacts():
    world = FlakyWorld("breaking", 6)
    for i in range(world.change_at, world.change_at + 20):
        note, _ = _stale_note(world, i)
        spy = Spy([note])
        run_instance(world, spy, i, "evidence", "careless", BUDGET)
        assert spy.verbs("confirm") == [] and spy.verbs("refute") == []
        assert all(w[2] == () and w[4] == () for w in spy.verbs("write"))


def test_routes_deposit_cheaper_trips_stronger():
    world = make_world("routes", "static", 3, tick=0)
    spy = Spy()
    for i in range(30):
        run_instance(world, spy, i, "strongest", "practice", BUDGET)
    strengths = {w[1]: w[3] for w in spy.verbs("write")}
    for text, strength in strengths.items():
        (claim,) = world.read(text)
        assert strength == pytest.approx(world.merit(claim.value))
    assert len(set(strengths.values())) > 1


def test_claims_agents_heartbeat_claim_and_mark_done():
    world = make_world("claims", "static", 2, tick=0, items=40)
    spy = Spy()
    records = [run_instance(world, spy, i, "evidence", "practice", BUDGET) for i in range(10)]
    said = [world.read(w[1])[0].option for w in spy.verbs("write")]
    assert said.count("claimed") == 10
    assert said.count("done") == sum(r.solved for r in records)
    assert len(spy.verbs("confirm")) >= 10          # heartbeats
    assert all(r.tries == 1 and r.final_option in world.items for r in records)
    assert {"duplicated", "died", "lost", "idle"} <= set(records[0].extra)


class WeighingSpy(Spy):
    """A Spy whose confirm answers a weight that grows by one a heartbeat."""

    def confirm(self, id):
        self.weights[id] = self.weights.get(id, 1.0) + 1.0
        return super().confirm(id)


@pytest.mark.parametrize("weighs", [False, True])
def test_claims_practice_closes_the_claim_in_its_words_after_it_and_stronger(weighs):
    world = make_world("claims", "static", 2, tick=0, items=40)
    spy = WeighingSpy() if weighs else Spy()
    solved = 0
    for i in range(10):
        solved += run_instance(world, spy, i, "evidence", "practice", BUDGET).solved
    writes = spy.verbs("write")
    claims = {w[1]: f"spy:{spy.calls.index(w) + 1}" for w in writes if world.read(w[1])[0].option == "claimed"}
    closings = [w for w in writes if world.read(w[1])[0].option == "done"]
    assert len(closings) == solved > 0
    for _, text, links, strength, _ in closings:
        (claim_text,) = [c for c in claims if text.startswith(c)]
        assert links == (claims[claim_text],)
        heartbeat = spy.weights.get(claims[claim_text])
        assert strength == pytest.approx(1.0 + (heartbeat or 0.0))
        assert (heartbeat is not None) == weighs


def test_claims_careless_writes_a_bare_done_note():
    world = make_world("claims", "static", 2, tick=0, items=40)
    spy = WeighingSpy()
    for i in range(10):
        run_instance(world, spy, i, "evidence", "careless", BUDGET)
    for _, text, links, strength, _ in spy.verbs("write"):
        (claim,) = world.read(text)
        assert links == () and strength == 1.0
        assert text == (world.claim_text if claim.option == "claimed" else world.done_text)(claim.subject, int(text.rsplit("-", 1)[1]))


@pytest.mark.parametrize("memory", ["log-newest", "log-frequency", "handoff"])
def test_claims_run_with_every_baseline(memory, tmp_path):
    world = make_world("claims", "breaking", 3, tick=0, items=40)
    records = run(world, factory(memory, path=tmp_path / "handoff.md"), "evidence")
    lost = world.settle(records)
    assert lost == world.summary()["lost"] == sum(r.extra["lost"] for r in records)
    assert sum(r.extra["duplicated"] for r in records) == world.summary()["duplicated"]


# --- the baselines ------------------------------------------------------------------

def test_no_memory_keeps_nothing():
    m = NoMemory()
    m.write("x")
    assert m.read("x", 1000) == []


def test_append_log_newest_first_cut_to_budget_and_window():
    log = AppendLog("newest")
    ids = [log.write(f"line {k}") for k in range(5)]
    assert [n.text for n in log.read("q", 1000)] == [f"line {k}" for k in (4, 3, 2, 1, 0)]
    assert [n.text for n in log.read("q", 13)] == ["line 4", "line 3"]
    assert ids[0] == "log:0" and all(n.weight == 1.0 for n in log.read("q", 1000))
    windowed = AppendLog("newest", window=2)
    for k in range(5):
        windowed.write(f"line {k}")
    assert [n.text for n in windowed.read("q", 1000)] == ["line 4", "line 3"]


def test_append_log_frequency_and_reactions_read_as_claims():
    world = FlakyWorld("static", 1)
    t = world.ticket(0)
    a = world.say(t, t.options[0], _ok())
    b = world.say(t, t.options[1], _ok())
    log = AppendLog("frequency")
    ia = log.write(a)
    log.write(b)
    log.confirm(ia)
    notes = log.read("q", 10_000)
    assert [(n.text, n.weight) for n in notes] == [(a, 2.0), (b, 1.0)]
    log.refute(notes[1].id, "it did not hold", harm=True)
    texts = [n.text for n in log.read("q", 10_000)]
    assert texts[1].startswith("retracted: ") and "| reason: it did not hold" in texts[1]
    assert world.read(texts[1])[0].works is False


def _ok():
    from colony.api import Outcome
    return Outcome(True, 1.0, True)


def test_handoff_last_writer_wins_and_keeps_the_newest_lines(tmp_path):
    path = tmp_path / "handoff.md"
    first = HandoffNote(path)
    first.read("q", 40)
    first.write("alpha finding one")
    first.write("beta finding two")
    first.close()
    assert path.read_text().splitlines() == ["beta finding two", "alpha finding one"]
    a, b = HandoffNote(path), HandoffNote(path)      # two instances overlap
    assert [n.text for n in a.read("q", 40)] == ["beta finding two", "alpha finding one"]
    b.read("q", 40)
    a.write("gamma from a")
    b.write("delta from b")
    a.close()
    b.close()                                         # the last writer erases a's line
    assert path.read_text().splitlines() == ["delta from b", "beta finding two"]  # cut to 40 bytes


def test_handoff_confirm_moves_up_refute_drops_and_corrects_replace(tmp_path):
    path = tmp_path / "handoff.md"
    path.write_text("one\ntwo\nthree\n")
    m = HandoffNote(path, budget_bytes=100)
    ids = {n.text: n.id for n in m.read("q", 100)}
    m.confirm(ids["three"])
    m.refute(ids["one"], "wrong", harm=False)
    m.write("two, corrected", corrects=[ids["two"]])
    assert path.read_text() == "one\ntwo\nthree\n"   # nothing written before close
    m.close()
    assert path.read_text().splitlines() == ["two, corrected", "three"]
    untouched = HandoffNote(path)
    untouched.read("q", 100)
    path.write_text("someone else\n")
    untouched.close()                                  # learned nothing: does not rewrite
    assert path.read_text() == "someone else\n"
