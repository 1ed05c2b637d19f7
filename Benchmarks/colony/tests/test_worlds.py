"""The worlds: determinism, the flaky corpus, success rates, the change, claims' invariants."""
from __future__ import annotations

import itertools
import random
import re
import statistics

import pytest

import colony_path  # noqa: F401  (Benchmarks/colony on sys.path)

from colony.api import SCENARIOS, Claim, Outcome, reaction
from colony.worlds import WORLDS, make_world
from colony.worlds.claims import DEATH_RATE, SILENT_DEATH_RATE, ClaimsWorld
from colony.worlds.flaky import P_SILENT_NEW, P_SILENT_OLD, P_WORKING, P_WRONG, FlakyWorld, load_corpus
from colony.worlds.routes import BLOCKED_COST, SILENT_WORSE, WORDINGS, RoutesWorld

STOP = set("""a an the of to in on for with and or is are was were be been by at from as when while because
since its it that this only not no into than then so after before during under over up down out still can
cannot could does do gets get two one all their which what whose who t s""".split())


def content_words(text: str) -> set[str]:
    """Lower-cased words, minus stop words, with a crude plural/tense stem,
    so that "fixture" and "fixtures" count as one word."""
    def stem(w: str) -> str:
        for suffix in ("ing", "ed", "es", "s"):
            if w.endswith(suffix) and len(w) - len(suffix) >= 3:
                return w[:-len(suffix)]
        return w
    return {stem(w) for w in re.findall(r"[a-z0-9_]+", text.lower()) if w not in STOP}


def jaccard(a: str, b: str) -> float:
    x, y = content_words(a), content_words(b)
    return len(x & y) / len(x | y)


# --- determinism ------------------------------------------------------------------

@pytest.mark.parametrize("name", WORLDS)
def test_same_seed_gives_the_same_tickets_in_any_call_order(name):
    a, b = make_world(name, "breaking", 7, tick=0), make_world(name, "breaking", 7, tick=0)
    order = list(range(a.instances))
    shuffled = order[:]
    random.Random(1).shuffle(shuffled)
    from_b = {i: b.ticket(i) for i in shuffled}
    assert [a.ticket(i) for i in order] == [from_b[i] for i in order]


@pytest.mark.parametrize("name", ["flaky", "routes"])
def test_outcomes_do_not_depend_on_call_order_or_attempt_number(name):
    a, b = make_world(name, "silent", 11, tick=0), make_world(name, "silent", 11, tick=0)
    keys = [(i, o) for i in range(0, a.instances, 3) for o in a.ticket(i).options]
    forward = {(i, o): a.attempt(a.ticket(i), o, k % 4) for k, (i, o) in enumerate(keys)}
    backward = {(i, o): b.attempt(b.ticket(i), o, 0) for i, o in reversed(keys)}
    assert forward == backward


@pytest.mark.parametrize("name", WORLDS)
def test_different_seeds_differ(name):
    a, b = make_world(name, "static", 1, tick=0), make_world(name, "static", 2, tick=0)
    assert [a.ticket(i) for i in range(20)] != [b.ticket(i) for i in range(20)]


def test_the_answers_differ_between_seeds():
    olds = {tuple(sorted(FlakyWorld("static", s).old.items())) for s in range(5)}
    means = {tuple(sorted(RoutesWorld("static", s).means.items())) for s in range(5)}
    assert len(olds) == 5 and len(means) > 1


def test_unknown_world_or_scenario_is_refused():
    with pytest.raises(ValueError):
        make_world("mazes", "static", 1)
    with pytest.raises(ValueError):
        make_world("flaky", "sudden", 1)


# --- the flaky corpus ----------------------------------------------------------------

def test_corpus_has_enough_symptoms_wordings_and_fixes():
    corpus = load_corpus()
    assert len(corpus) >= 20
    for s in corpus:
        assert len(s.wordings) >= 3, s.id
        assert len(s.fixes) >= 5, s.id
        assert all(re.fullmatch(r"fix-\d+", f) for f in s.fixes), s.id
        for description in s.fixes.values():
            assert description and not re.search(r"[()]|\bworked\b|\bfailed\b", description), description
    wordings = [w for s in corpus for w in s.wordings]
    assert len(wordings) == len(set(wordings))


def test_wordings_of_one_symptom_share_few_content_words():
    overlaps = []
    for s in load_corpus():
        for a, b in itertools.combinations(s.wordings, 2):
            overlaps.append(jaccard(a, b))
            assert jaccard(a, b) <= 0.2, (s.id, a, b)
    assert statistics.mean(overlaps) <= 0.06


def test_a_note_in_any_wording_reads_back_as_its_symptom():
    world = FlakyWorld("static", 3)
    for s in world.symptoms.values():
        for wording, fix in zip(s.wordings, itertools.cycle(s.fixes)):
            ticket = world.ticket(0).__class__(0, wording, s.id, tuple(s.fixes), 4)
            for success in (True, False):
                text = world.say(ticket, fix, Outcome(success, 1.0, False))
                assert f"{fix} ({s.fixes[fix]})" in text
                assert world.read(text) == [Claim(s.id, fix, success)]
                assert world.read("refuted: " + text + " | reason: fix-1 worked instead") == [Claim(s.id, fix, not success)]
    assert world.read("the weather is fine") == []


def test_reaction_splits_prefixes_and_reasons():
    assert reaction("refuted: X | reason: fix-2 worked") == ("X", True)
    assert reaction("retracted: refuted: X") == ("X", False)
    assert reaction("X") == ("X", False)


# --- success rates and the change --------------------------------------------------------

def _rates(world: FlakyWorld, instances: range) -> dict[str, list[bool]]:
    """Success of every option of every ticket, by what the option is for that ticket."""
    out: dict[str, list[bool]] = {"old": [], "new": [], "other": []}
    for i in instances:
        t = world.ticket(i)
        for o in t.options:
            kind = "old" if o == world.old[t.subject] else "new" if o == world.new[t.subject] else "other"
            out[kind].append(world.attempt(t, o, 0).success)
    return {k: v for k, v in out.items()}


def test_flaky_success_rates_are_near_80_and_5_percent():
    world = FlakyWorld("static", 5, instances=3000)
    rates = _rates(world, range(3000))
    assert abs(statistics.mean(rates["old"]) - P_WORKING) < 0.03
    assert abs(statistics.mean(rates["new"] + rates["other"]) - P_WRONG) < 0.012


@pytest.mark.parametrize("scenario,old,new", [("breaking", P_WRONG, P_WORKING), ("silent", P_SILENT_OLD, P_SILENT_NEW)])
def test_flaky_changes_at_change_at(scenario, old, new):
    world = FlakyWorld(scenario, 9, instances=2000)
    assert world.change_at == 1000
    before, after = _rates(world, range(1000)), _rates(world, range(1000, 2000))
    assert abs(statistics.mean(before["old"]) - P_WORKING) < 0.04
    assert abs(statistics.mean(before["new"]) - P_WRONG) < 0.03
    assert abs(statistics.mean(after["old"]) - old) < 0.04
    assert abs(statistics.mean(after["new"]) - new) < 0.04
    t0, t1 = world.ticket(999), world.ticket(1000)
    assert world.best(t0) == world.old[t0.subject]
    assert world.best(t1) == world.new[t1.subject] != world.old[t1.subject]


def test_flaky_static_never_changes():
    world = FlakyWorld("static", 9)
    assert world.change_at is None
    assert all(world.best(world.ticket(i)) == world.old[world.ticket(i).subject] for i in range(world.instances))


def test_every_world_changes_half_way():
    for name in WORLDS:
        for scenario in SCENARIOS:
            w = make_world(name, scenario, 1, tick=0)
            assert w.change_at == (None if scenario == "static" else w.instances // 2)


def test_routes_costs_are_noisy_and_merit_is_reference_over_cost():
    world = RoutesWorld("static", 4)
    assert len(world.routes) >= 4
    costs = [world.attempt(world.ticket(i), world.old_best, 0).cost for i in range(100)]
    assert len(set(costs)) > 50 and abs(statistics.mean(costs) / world.reference - 1) < 0.05
    assert world.merit(world.reference) == 1.0
    assert world.merit(2 * world.reference) == 0.5
    assert world.merit(1000.0) == 0.2 and world.merit(None) == 1.0


def test_routes_breaking_blocks_the_best_route_from_change_at():
    world = RoutesWorld("breaking", 4)
    before, after = world.ticket(world.change_at - 1), world.ticket(world.change_at)
    assert world.attempt(before, world.old_best, 0).success
    blocked = world.attempt(after, world.old_best, 0)
    assert not blocked.success and blocked.cost < world.means[world.old_best] * BLOCKED_COST * 1.5
    assert world.best(before) == world.old_best and world.best(after) == world.new_best != world.old_best
    assert world.read(world.say(after, world.old_best, blocked)) == [Claim("depot-dock", world.old_best, False)]


def test_routes_silent_makes_the_best_route_mediocre():
    world = RoutesWorld("silent", 4)
    assert world.mean(world.old_best, world.change_at) == world.reference * SILENT_WORSE
    assert world.mean(world.new_best, world.change_at) < world.reference
    ranked = sorted(world.routes, key=lambda r: world.mean(r, world.change_at))
    assert 0 < ranked.index(world.old_best) < len(ranked) - 1
    t = world.ticket(world.change_at)
    out = world.attempt(t, world.new_best, 0)
    assert out.success and out.best
    assert world.read(world.say(t, world.new_best, out)) == [Claim("depot-dock", world.new_best, True, out.cost)]


def test_routes_wordings_share_few_content_words():
    assert all(jaccard(a, b) <= 0.2 for a, b in itertools.combinations(WORDINGS, 2))


# --- claims ---------------------------------------------------------------------------

def test_claims_world_sizes_and_death_rate():
    world = ClaimsWorld("static", 3)
    assert len(world.items) == 200 and world.concurrency == 8 and world.instances == 400
    deaths = [world.fate(i)[0] for i in range(world.instances)]
    assert abs(statistics.mean(deaths) - DEATH_RATE) < 0.04
    assert all(0.2 <= world.fate(i)[1] <= 0.8 for i in range(50))
    assert len(set(world.ticket(0).options)) == 200 and world.ticket(0).options != world.ticket(1).options


def test_claims_silent_raises_the_death_rate_after_change_at():
    world = ClaimsWorld("silent", 3, items=1000)
    before = [world.fate(i)[0] for i in range(world.change_at)]
    after = [world.fate(i)[0] for i in range(world.change_at, world.instances)]
    assert abs(statistics.mean(before) - DEATH_RATE) < 0.03
    assert abs(statistics.mean(after) - SILENT_DEATH_RATE) < 0.04


def _finish(world: ClaimsWorld, instance: int, item: str) -> Outcome:
    t = world.ticket(instance)
    out = world.attempt(t, item, 0)
    world.finish(t, item, Outcome(True, out.cost, out.best))
    return out


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_claims_breaking_reverts_done_items_at_change_at_only(scenario):
    world = ClaimsWorld(scenario, 5, items=40)
    for k, item in enumerate(world.items[:20]):
        _finish(world, k, item)
        world.begin(world.ticket(k))
    assert world.done_count() == 20
    half = world.instances // 2
    world.begin(world.ticket(half - 1))
    assert world.done_count() == 20
    world.begin(world.ticket(half))
    world.begin(world.ticket(half + 1))
    if scenario == "breaking":
        assert len(world.reverted) == 6 and world.done_count() == 14
        assert all(not world.check(i) for i in world.reverted)
    else:
        assert world.reverted == () and world.done_count() == 20


def test_claims_bookkeeping_duplicated_lost_makespan():
    world = ClaimsWorld("static", 5, items=3, instances=10)
    assert _finish(world, 0, "item-000").best
    assert not _finish(world, 1, "item-000").best          # already done: duplicated
    t = world.ticket(2)
    world.attempt(t, "item-001", 0)                           # a live worker holds it ...
    held = world.attempt(world.ticket(3), "item-001", 0)
    assert held.best == world.fate(2)[0]                      # ... duplicated unless that worker dies
    world.finish(t, "item-001", Outcome(True, 1.0, True))
    summary = world.summary()
    assert summary["lost"] == 1 and summary["makespan"] is None
    from colony.api import Record
    records = [Record(instance=i, at=i / 10, after_change=False) for i in range(4)]
    assert world.settle(records) == 1 and sum(r.extra["lost"] for r in records) == 1
    _finish(world, 4, "item-002")
    assert world.finished and world.summary()["makespan"] == 5


def test_claims_notes_read_back():
    world = ClaimsWorld("static", 1)
    assert world.read(world.claim_text("item-007", 3)) == [Claim("item-007", "claimed", True)]
    assert world.read("refuted: " + world.done_text("item-007", 3)) == [Claim("item-007", "done", False)]
    assert world.read("queue item-999: done by worker-1") == []
    closing = world.closing_text("item-007", 3)
    assert closing.startswith(world.claim_text("item-007", 3))
    assert world.read(closing) == [Claim("item-007", "done", True)]
    assert world.read("refuted: " + closing) == [Claim("item-007", "done", False)]
