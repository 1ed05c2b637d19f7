"""The agent's loop in the claims world: claim, heartbeat, done.

Same skeleton as `agents.run_choice_instance` (read first, act, write,
confirm, refute), with the claim protocol as the act. One instance is one
worker's life:

1. Read the memory within the budget and make out each item's state from
   the notes: done, claimed by a live worker, or free. "strongest": the first
   (highest-ranked) note about an item decides; "evidence": done if the
   weights of "done" claims outweigh their refutations, else claimed if the
   claims whose note weighs at least LIVE_WEIGHT outweigh theirs. A claim
   note under LIVE_WEIGHT is stale: its worker stopped heartbeating (only a
   memory whose weights decay can tell; in one without weights every claim
   read looks alive).
   The first read cannot hold 200 items' notes, so before taking an item
   the worker looks it up: a read with the item's own words ("queue
   item-017") and a quarter of the budget, for at most LOOKUPS items that
   looked free, taking the first that still looks free (if none does,
   nothing looks free). A memory that
   searches finds the item's notes; one that does not (the log, the
   hand-off file) answers with what it answers to every read.
2. Check now and then (CHECK_RATE of the instances, by their seeded dice)
   the first item the notes say is done, and always up to CHECK_MAX of them
   when nothing looks free; a check costs CHECK_COST. An item found not done
   is taken (and, in practice, its done notes retracted with the reason); a
   done item found done has its note confirmed (in practice).
3. Take the item (none: the instance ends idle); write a claim note (in
   practice linked to and correcting the stale claims it takes over, which
   it refutes, and the done notes it found false).
4. Work, heartbeating (a confirm of the claim note) after every HEARTBEAT
   units, and write "done"; or die on the way (the world says so) and leave
   the claim. In practice the done note closes the claim the way
   docs/agents.md says a note that outdates another should: in the claim's
   words and how it ended ("queue item-017: claimed by worker-42, now
   done"), linked after it, deposited CLOSING_MARGIN stronger than the
   claim weighed after its last heartbeat (what the confirm answered), so
   that a read that finds the claim finds the done note as near and ranks
   it first. "careless" writes the bare "queue item-017: done by worker-42".

Heartbeats are part of the claim protocol, not a reaction: both habits send
them. "careless" drops the links, the corrections, the refutations and the
check confirmations. "oracle" takes the world's first needed item, reads
and writes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .agents import REFUTE_MAX, bytes_of, pace, start_record
from .api import Memory, Note, Record, stream

#: A claim note weighing less than this is stale (its worker stopped heartbeating).
LIVE_WEIGHT = 0.5
#: Units of work between two heartbeats.
HEARTBEAT = 1.0
#: Share of instances that check one "done" item; checks when nothing looks free.
CHECK_RATE = 0.2
CHECK_MAX = 3
#: Items that look free after the first read that are looked up, each with a read
#: of the item's own words and 1 / LOOKUP_SHARE of the budget, before one is taken.
LOOKUPS = 3
LOOKUP_SHARE = 4
#: How much more than its claim weighed a done note is deposited with, in practice.
CLOSING_MARGIN = 1.0


@dataclass
class ItemView:
    """What the notes read say about one item."""
    done: float = 0.0
    claimed: float = 0.0
    #: Set by the first note about the item ("strongest").
    first: str | None = None
    done_ids: list[str] = field(default_factory=list)
    stale_ids: list[str] = field(default_factory=list)

    def state(self, rule: str) -> str:
        if rule == "strongest":
            return self.first or "free"
        if self.done > 0:
            return "done"
        return "claimed" if self.claimed > 0 else "free"


def queue_view(world: Any, notes: list[Note]) -> dict[str, ItemView]:
    """Each item's state as the notes read, in the memory's order, tell it."""
    views: dict[str, ItemView] = {}
    for note in notes:
        for c in world.read(note.text):
            v = views.setdefault(c.subject, ItemView())
            live = note.weight >= LIVE_WEIGHT
            if c.option == "done":
                v.done += note.weight if c.works else -note.weight
                if c.works:
                    v.done_ids.append(note.id)
                state = "done" if c.works else "free"
            else:
                if c.works and live:
                    v.claimed += note.weight
                elif not c.works:
                    v.claimed -= note.weight
                if c.works and not live:
                    v.stale_ids.append(note.id)
                state = "claimed" if (c.works and live) else "free"
            if v.first is None:
                v.first = state
    return views


def run_claim_instance(world: Any, memory: Memory, instance: int, rule: str, habit: str,
                       budget_bytes: int) -> Record:
    """One worker's life in the claims world (see the module's doc)."""
    ticket = world.ticket(instance)
    world.begin(ticket)
    record = start_record(world, instance)
    record.extra = {"duplicated": 0.0, "died": 0.0, "idle": 0.0, "checks": 0.0, "found_reverted": 0.0,
                    "lost": 0.0, "finished_queue": 0.0, "after_finish": float(world.finished)}
    writes = rule != "oracle"
    practice = writes and habit == "practice"
    views: dict[str, ItemView] = {}
    corrected: list[str] = []
    if not writes:
        item = world.best(ticket)
    else:
        notes = memory.read(ticket.query, budget_bytes)
        record.bytes_read = bytes_of(notes)
        views = queue_view(world, notes)

        def state(i: str) -> str:
            return views[i].state(rule) if i in views else "free"

        item = None
        for candidate in [i for i in ticket.options if state(i) == "free"][:LOOKUPS]:
            # Go deep only where it pays: what the memory holds about this item.
            seen = {n.id for n in notes}
            more = [n for n in memory.read(world.lookup_query(candidate), budget_bytes // LOOKUP_SHARE)
                    if n.id not in seen]
            record.bytes_read += bytes_of(more)
            notes = notes + more
            views = queue_view(world, notes)
            if state(candidate) == "free":
                item = candidate
                break
        seen_done = [i for i in ticket.options if state(i) == "done"]
        spot = stream(world.seed, world.name, "agent", "check", instance).random() < CHECK_RATE
        to_check = seen_done[:CHECK_MAX] if item is None else (seen_done[:1] if spot else [])
        for candidate in to_check:
            record.cost += world.check_cost
            pace(world, world.check_cost)
            record.extra["checks"] += 1
            ids = views[candidate].done_ids
            if world.check(candidate):
                if practice and ids:
                    memory.confirm(ids[0])
                continue
            record.extra["found_reverted"] += 1
            if practice:
                for id in ids[:REFUTE_MAX]:
                    memory.refute(id, f"{candidate} is not done: its output is gone (checked); "
                                      f"worker-{instance} is redoing it", harm=True)
                corrected = ids[:REFUTE_MAX]
            item = candidate
            break
        skipped = ticket.options if item is None else ticket.options[:ticket.options.index(item)]
        record.stale_followed = sum(1 for i in skipped if state(i) == "done" and not world.is_done(i))

    if item is None:
        record.extra["idle"] = 1.0
        record.extra["done_total"] = float(world.done_count())
        return record

    claim_id = ""
    if writes:
        text = world.claim_text(item, instance)
        takeover = views[item].stale_ids[:REFUTE_MAX] if item in views else []
        if practice:
            corrected = list(dict.fromkeys(corrected + takeover))
            claim_id = memory.write(text, links=corrected, corrects=corrected)
            for id in takeover:
                memory.refute(id, f"no heartbeat: the worker on {item} is gone; "
                                  f"worker-{instance} took it over")
        else:
            claim_id = memory.write(text)

    outcome = world.attempt(ticket, item, 0)
    record.tries = 1
    record.final_option = item
    record.used_best = outcome.best
    record.extra["duplicated"] = 0.0 if outcome.best else 1.0
    elapsed = 0.0
    #: The claim's weight after its last heartbeat, where the memory keeps weights.
    claim_weight = None
    while elapsed < outcome.cost - 1e-9:
        step = min(HEARTBEAT, outcome.cost - elapsed)
        pace(world, step)
        elapsed += step
        if writes and elapsed < outcome.cost - 1e-9:
            claim_weight = memory.confirm(claim_id)
    record.cost += outcome.cost
    world.finish(ticket, item, outcome)
    if outcome.success:
        record.solved = True
        if practice:
            # The practice closes a note it outdates: in its words, after it, and stronger.
            memory.write(world.closing_text(item, instance), links=[claim_id],
                         strength=CLOSING_MARGIN + (claim_weight or 0.0))
        elif writes:
            memory.write(world.done_text(item, instance))
    else:
        record.extra["died"] = 1.0
    record.extra["done_total"] = float(world.done_count())
    record.extra["finished_queue"] = float(world.finished_by == instance)
    return record

