"""The agent: one policy skeleton for every memory, as docs/agents.md teaches.

An instance reads first within a byte budget, acts, writes what it found
(linked to the notes that led it there), confirms what helped and refutes
what misled, with a reason; then it ends and forgets everything. The code
never looks at which memory it has: the same calls go to every memory, and
every difference in outcome is the memory's.

Everything below is fixed before any result is seen.

Decision rules (`rule`):
- "strongest" (follow the strongest): first the option of the first
  (highest-ranked) note that says an option works for the ticket's subject,
  then the others in the ticket's order. No exploration.
- "evidence" (weigh the evidence): each option scores the sum, over the
  notes read that are about the ticket's subject, of +weight x merit for a
  "works" claim (merit: 1.0, or for a claim with a cost REFERENCE / cost, the
  same as a deposit's strength) and -weight for a "failed" claim, divided by
  (PRIOR + the sum of those weights): the weighted average of what the notes
  say, shrunk towards 0 (unknown) so that one note alone counts for less
  than many that agree. Options are tried best score first, ties in ticket
  order. With probability EXPLORE (the instance's own seeded dice) the first
  try is instead a uniformly drawn option other than the top one.
  Why an average and not the bare sum: in routes every trip "works", so a
  sum only counts how often a route was taken and the colony stays on
  whichever route it took first; the average lets one explored trip on a
  faster route outrank many on a slower one, and for works/failed votes it
  orders options as the sum does unless failures weigh in.
- "oracle": the world's best option first, then ticket order; reads nothing
  and writes nothing (the upper bound, the same with any memory).

Habits (`habit`):
- "practice": a note is written with `links` = the notes whose advice was
  followed to it, plus the notes it corrects, which also go in `corrects`;
  the note followed to a success is confirmed; every note read that misled
  (its claim about a tried option was contradicted) is refuted with a
  reason, and retracted (`harm=True`) on a second strike (see `_harmful`).
- "careless": the same notes, written bare (no links, no corrects) and no
  confirm or refute. The runner configures the memory for this habit (for
  trail: trail-mcp's default merge_similar 0.9); the agent passes nothing.

What an instance writes (both habits, "as you work"): a note when an option
succeeds (with strength = world.merit(cost)), and a note when an option that a
note said works has just failed (the memory was wrong: a finding). A failure
of an option no note recommended is not written: with five candidate fixes
per symptom, those notes would crowd every budget with noise.

Claims have their own loop (claim, heartbeat, done): `colony.claiming`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from random import Random
from typing import Any, Sequence

from .api import Claim, Memory, Note, Outcome, Record, Ticket, stream

RULES = ("strongest", "evidence", "oracle")
HABITS = ("practice", "careless")
#: "evidence": chance that the first try explores (any option but the top-scored one).
EXPLORE = 0.1
#: "evidence": the weight of the prior "unknown" (0) each option's average starts from;
#: one note of weight 1 saying "works" scores 0.8.
PRIOR = 0.25
#: A note that gave a cost misled when the trip cost more than (1 + SLACK) times it
#: (trip noise is 10 %: a true note is refuted about 2 % of the time).
SLACK = 0.35
#: At most this many ids in `links`, this many notes refuted, and this many
#: confirmed per instance ("reinforce what actually saved you work", not all you read).
LINK_MAX = 3
REFUTE_MAX = 3
CONFIRM_MAX = 1


def run_instance(world: Any, memory: Memory, instance: int, rule: str, habit: str,
                 budget_bytes: int) -> Record:
    """Runs instance `instance` of `world` against `memory` and returns its
    life. Sleeps `world.tick * cost` per unit of cost (real time). Raises
    ValueError for an unknown rule or habit."""
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; expected one of {RULES}")
    if habit not in HABITS:
        raise ValueError(f"unknown habit {habit!r}; expected one of {HABITS}")
    if world.name == "claims":
        from .claiming import run_claim_instance
        return run_claim_instance(world, memory, instance, rule, habit, budget_bytes)
    return run_choice_instance(world, memory, instance, rule, habit, budget_bytes)


# --- shared by both loops ----------------------------------------------------------

def pace(world: Any, cost: float) -> None:
    """Real time passes while an instance acts, so that instances overlap and
    decay acts on the daemon's clock."""
    if world.tick > 0 and cost > 0:
        time.sleep(world.tick * cost)


def start_record(world: Any, instance: int) -> Record:
    return Record(instance=instance, at=instance / world.instances,
                  after_change=world.change_at is not None and instance >= world.change_at)


def bytes_of(notes: Sequence[Note]) -> int:
    return sum(len(n.text.encode()) for n in notes)


# --- flaky builds and routes: choose among options -----------------------------------

@dataclass(frozen=True)
class Advice:
    """One claim of a note read, about the ticket's subject."""
    note: Note
    claim: Claim


def read_advice(world: Any, ticket: Ticket, notes: Sequence[Note]) -> list[Advice]:
    """The claims of the notes read that bear on this ticket, in the memory's order."""
    return [Advice(n, c) for n in notes for c in world.read(n.text)
            if c.subject == ticket.subject and c.option in ticket.options]


def plan(rule: str, world: Any, ticket: Ticket, advice: Sequence[Advice],
         dice: Random) -> tuple[list[str], dict[str, list[str]]]:
    """The order in which to try the options, and for each option taken on
    a note's word, the ids of the notes that recommended it (best first)."""
    base = list(ticket.options)
    if rule == "oracle":
        best = world.best(ticket)
        return [best] + [o for o in base if o != best], {}
    recommenders: dict[str, list[str]] = {}
    for a in advice:
        if a.claim.works and a.note.id not in recommenders.get(a.claim.option, []):
            recommenders.setdefault(a.claim.option, []).append(a.note.id)
    if rule == "strongest":
        first = next((a for a in advice if a.claim.works), None)
        if first is None:
            return base, {}
        top = first.claim.option
        return [top] + [o for o in base if o != top], {top: [first.note.id]}
    said = dict.fromkeys(base, 0.0)
    weight = dict.fromkeys(base, PRIOR)
    for a in advice:
        said[a.claim.option] += a.note.weight * (world.merit(a.claim.value) if a.claim.works else -1.0)
        weight[a.claim.option] += a.note.weight
    score = {o: said[o] / weight[o] for o in base}
    ranked = sorted(base, key=lambda o: -score[o])  # stable: ties stay in ticket order
    explore, pick = dice.random(), dice.random()
    explored = None
    if explore < EXPLORE and len(ranked) > 1:
        explored = ranked[1 + int(pick * (len(ranked) - 1))]
        ranked = [explored] + [o for o in ranked if o != explored]
    followed = {o: recommenders[o] for o in ranked
                if o != explored and score[o] > 0 and o in recommenders}
    return ranked, followed


def agrees(claim: Claim, outcome: Outcome) -> bool:
    """Whether what happened bears the claim out: same success, and for a
    claim with a cost, not more than (1 + SLACK) times that cost."""
    if claim.works != outcome.success:
        return False
    return not (claim.works and claim.value is not None and outcome.cost > claim.value * (1 + SLACK))


def _harmful(item: Advice, outcome: Outcome, advice: Sequence[Advice]) -> bool:
    """A note did harm (retract, not just repel) on a second strike: its
    option failed now, and it was already disputed, by another note read
    that says the option failed or by the memory's own `contested_by`. One
    failure alone may be the 20 % bad luck of a good fix; two are not."""
    if outcome.success:
        return False
    disputed = any(a.note.id != item.note.id and a.claim.option == item.claim.option and not a.claim.works
                   for a in advice)
    return disputed or bool(item.note.contested_by)


def _reason(item: Advice, outcome: Outcome, solved: str | None) -> str:
    """What is wrong and what to do instead, for the next reader."""
    option = item.claim.option
    if not item.claim.works:
        said = f"{option} worked when tried"
    elif outcome.success:
        said = f"{option} cost {outcome.cost:.1f}, not {item.claim.value:.1f}"
    else:
        said = f"{option} failed when tried"
    if solved is not None and solved != option:
        return f"{said}; {solved} worked instead"
    return said if solved is not None else f"{said}; none of the other tries worked"


def run_choice_instance(world: Any, memory: Memory, instance: int, rule: str, habit: str,
                        budget_bytes: int) -> Record:
    """One instance of a world where a ticket is solved by choosing among
    options (flaky builds, routes)."""
    ticket = world.ticket(instance)
    record = start_record(world, instance)
    writes = rule != "oracle"
    practice = writes and habit == "practice"
    notes = memory.read(ticket.query, budget_bytes) if writes else []
    record.bytes_read = bytes_of(notes)
    advice = read_advice(world, ticket, notes)
    dice = stream(world.seed, world.name, "agent", "explore", instance)
    order, followed = plan(rule, world, ticket, advice, dice)

    misled: dict[str, tuple[Advice, Outcome]] = {}
    solved: str | None = None
    last: str | None = None
    for attempt, option in enumerate(order[:ticket.max_tries]):
        outcome = world.attempt(ticket, option, attempt)
        pace(world, outcome.cost)
        record.tries += 1
        record.cost += outcome.cost
        last = option
        if option in followed and not outcome.best:
            record.stale_followed += 1
        wrong = [a for a in advice if a.claim.option == option and not agrees(a.claim, outcome)]
        for a in wrong:
            misled.setdefault(a.note.id, (a, outcome))
        if outcome.success:
            solved = option
            if writes:
                text = world.say(ticket, option, outcome)
                strength = world.merit(outcome.cost)
                if practice:
                    corrected = list(misled)[:REFUTE_MAX]
                    links = list(dict.fromkeys(followed.get(option, [])[:LINK_MAX] + corrected))
                    memory.write(text, links=links, strength=strength, corrects=corrected)
                else:
                    memory.write(text, strength=strength)
            break
        recommended = [a.note.id for a in wrong if a.claim.works][:LINK_MAX]
        if writes and recommended:
            text = world.say(ticket, option, outcome)
            if practice:
                memory.write(text, links=recommended, corrects=recommended)
            else:
                memory.write(text)

    if practice:
        for id in followed.get(solved, [])[:CONFIRM_MAX] if solved else []:
            if id not in misled:
                memory.confirm(id)
        for id, (item, outcome) in list(misled.items())[:REFUTE_MAX]:
            memory.refute(id, _reason(item, outcome, solved), harm=_harmful(item, outcome, advice))

    record.solved = solved is not None
    record.final_option = solved or last
    record.used_best = record.final_option == world.best(ticket)
    return record
