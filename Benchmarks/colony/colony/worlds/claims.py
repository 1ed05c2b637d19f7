"""Claiming work: one queue of items, many short-lived workers at once.

One instance is one worker's life: it reads the memory, claims an item it
believes free (a note "queue item-017: claimed by worker-42"), heartbeats
while it works (a confirm of its claim note every unit of work), marks the
item done (a note "queue item-017: done by worker-42", or in the
practice "queue item-017: claimed by worker-42, now done") and ends. A worker
that dies (10 % of them, drawn per instance) stops at a point drawn between
20 % and 80 % of the item, stops heartbeating and leaves its claim behind.

Unlike the other worlds this one keeps state: which items are really done
and who is working on what, because the instances act on one shared queue.
The dice (who dies, when, how long an item takes, the order a worker scans
the queue in) are still keyed by instance and item, so every memory meets
the same workers and the same items on a seed.

What is measured (grading only; the agents never see it):
- duplicated: an instance worked an item that was not needed, i.e. already
  really done, or held by a live worker who will finish it;
- lost: items not done when the run's instances are over (`settle`);
- makespan: instances started until every item was done (`summary`).

Scenarios, from instance `change_at` on:
- static: nothing changes.
- breaking: when the first instance from `change_at` on begins, 30 % of the
  items done so far are reverted (their output is lost) and must be redone.
  Their "done" notes now lie; it shows only when an agent checks an item
  (`check`), which agents do now and then, and always when they see nothing
  left to do.
- silent: the notes stay true, but workers die three times as often (30 %
  instead of 10 %, a node pool gone flaky): trusting a claim that looks
  alive still works, only worse, because more claims are left behind.
"""
from __future__ import annotations

import math
import re
import threading
from typing import Any, Optional, Sequence

from ..api import Claim, Outcome, Record, Ticket, reaction, stream
from . import WorldBase

DEATH_RATE = 0.10
SILENT_DEATH_RATE = 0.30
#: A dying worker stops somewhere in this share of its item.
DEATH_AT = (0.2, 0.8)
#: Share of the items done at the change that the breaking scenario reverts.
REVERT_FRACTION = 0.3
#: Units of work one item takes, drawn per item.
WORK = (3.0, 6.0)
#: What a check of one item costs, in units of work.
CHECK_COST = 0.5
QUERY = "work queue: which items are claimed or done"
CLAIMED, DONE = "claimed", "done"
_NOTE = re.compile(r"\bqueue (item-\d+): (claimed|done) by worker-(\d+)(, now done)?")


class ClaimsWorld(WorldBase):
    """A queue of `items` items, on one seed, in one scenario."""

    name = "claims"
    #: One unit of work takes 20 ms of wall clock by default.
    default_tick = 0.02

    def __init__(self, scenario: str, seed: int, *, items: int = 200, concurrency: int = 8,
                 instances: Optional[int] = None, tick: Optional[float] = None,
                 death_rate: float = DEATH_RATE, silent_death_rate: float = SILENT_DEATH_RATE,
                 revert_fraction: float = REVERT_FRACTION) -> None:
        # Twice the items: enough for every memory that coordinates at all to finish.
        super().__init__(scenario, seed, 2 * items if instances is None else instances, concurrency, tick)
        self.items = tuple(f"item-{k:03d}" for k in range(items))
        self._item_set = frozenset(self.items)
        self.death_rate = death_rate
        self.silent_death_rate = silent_death_rate
        self.revert_fraction = revert_fraction
        self.check_cost = CHECK_COST
        self._lock = threading.Lock()
        self._done: set[str] = set()
        #: item -> {instance: will it finish}, for the workers on it now.
        self._holders: dict[str, dict[int, bool]] = {}
        #: item -> the last instance that worked on it (for attributing lost items).
        self._last_worker: dict[str, int] = {}
        self.duplicated = 0
        self.finished_by: Optional[int] = None
        self.reverted: tuple[str, ...] = ()
        self._revert_applied = False

    # --- dice -------------------------------------------------------------------

    def fate(self, instance: int) -> tuple[bool, float]:
        """Whether worker `instance` dies in its item, and at which share of it."""
        r = stream(self.seed, self.name, "death", instance)
        u, at = r.random(), r.uniform(*DEATH_AT)
        rate = self.silent_death_rate if (self.scenario == "silent" and self.changed(instance)) else self.death_rate
        return u < rate, at

    def work(self, item: str) -> float:
        """Units of work `item` takes."""
        return round(stream(self.seed, self.name, "work", item).uniform(*WORK), 2)

    # --- the queue's truth ------------------------------------------------------

    @property
    def finished(self) -> bool:
        """Every item is really done (a runner may stop starting instances)."""
        with self._lock:
            return len(self._done) == len(self.items)

    def is_done(self, item: str) -> bool:
        with self._lock:
            return item in self._done

    def done_count(self) -> int:
        with self._lock:
            return len(self._done)

    def _needed(self, item: str) -> bool:
        return item not in self._done and not any(self._holders.get(item, {}).values())

    def best(self, ticket: Ticket) -> Optional[str]:  # type: ignore[override]
        """The oracle: the first item in the ticket's order that is needed now
        (not done, no live worker on it who will finish); None when none is."""
        with self._lock:
            return next((i for i in ticket.options if self._needed(i)), None)

    # --- an instance's life -------------------------------------------------------

    def ticket(self, instance: int) -> Ticket:
        """The items in the order this worker scans the queue (shuffled per
        instance, so workers that see nothing do not all collide on item 0)."""
        order = list(self.items)
        stream(self.seed, self.name, "order", instance).shuffle(order)
        return Ticket(instance, QUERY, "queue", tuple(order), 1)

    def begin(self, ticket: Ticket) -> None:
        """An instance starts; in "breaking", the first one from `change_at`
        on reverts a share of the done items (chosen by per-item dice)."""
        if self.scenario != "breaking" or not self.changed(ticket.instance):
            return
        with self._lock:
            if self._revert_applied:
                return
            self._revert_applied = True
            done = sorted(self._done, key=lambda i: stream(self.seed, self.name, "revert", i).random())
            self.reverted = tuple(sorted(done[:math.ceil(self.revert_fraction * len(done))]))
            self._done.difference_update(self.reverted)

    def check(self, item: str) -> bool:
        """Whether `item` is really done (the agent looks at its output; costs CHECK_COST)."""
        return self.is_done(item)

    def attempt(self, ticket: Ticket, option: str, attempt: int) -> Outcome:
        """Starts work on item `option`: registers the worker on it and says
        how long it will work (the whole item, or up to its death) and whether
        it will finish (`success`). `best` is whether the item was needed."""
        dies, at = self.fate(ticket.instance)
        work = self.work(option)
        with self._lock:
            needed = self._needed(option)
            if not needed:
                self.duplicated += 1
            self._holders.setdefault(option, {})[ticket.instance] = not dies
            self._last_worker[option] = ticket.instance
        return Outcome(success=not dies, cost=round(work * at, 2) if dies else work, best=needed)

    def finish(self, ticket: Ticket, option: str, outcome: Outcome) -> int:
        """The worker stops on `option` (done, or dead); returns the items really done."""
        with self._lock:
            self._holders.get(option, {}).pop(ticket.instance, None)
            if outcome.success:
                self._done.add(option)
                if len(self._done) == len(self.items) and self.finished_by is None:
                    self.finished_by = ticket.instance
            return len(self._done)

    # --- notes ------------------------------------------------------------------

    def lookup_query(self, item: str) -> str:
        """The words a worker reads the memory with to see one item's state."""
        return f"queue {item}: claimed or done"

    def claim_text(self, item: str, instance: int) -> str:
        return f"queue {item}: {CLAIMED} by worker-{instance}"

    def done_text(self, item: str, instance: int) -> str:
        return f"queue {item}: {DONE} by worker-{instance}"

    def closing_text(self, item: str, instance: int) -> str:
        """The done note in the practice: the claim's own words and how it
        ended, so that a read that finds the claim finds this note as near."""
        return f"{self.claim_text(item, instance)}, now {DONE}"

    def say(self, ticket: Ticket, option: str, outcome: Outcome) -> str:
        """The done note (after a finished item); a dead worker says nothing,
        its claim note stays."""
        return self.done_text(option, ticket.instance) if outcome.success else self.claim_text(option, ticket.instance)

    def read(self, text: str) -> list[Claim]:
        """Claim(subject=item, option="claimed" or "done", works=True) per
        statement; a refutation line flips `works`."""
        core, negated = reaction(text)
        return [Claim(m.group(1), DONE if m.group(4) else m.group(2), not negated)
                for m in _NOTE.finditer(core) if m.group(1) in self._item_set]

    # --- the run's figures ------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """lost (items not done), duplicated (unneeded work), makespan
        (instances started until all were done; None if never), reverted."""
        with self._lock:
            lost = len(self.items) - len(self._done)
            return {"lost": lost, "duplicated": self.duplicated,
                    "makespan": None if self.finished_by is None else self.finished_by + 1,
                    "reverted": len(self.reverted)}

    def settle(self, records: Sequence[Record]) -> int:
        """After the run: writes `extra["lost"]` on the records so that their
        sum is the number of items not done. An item is charged to the last
        instance that worked on it (the one that died on it, or whose work was
        reverted), else to the last record. Returns the items lost."""
        by_instance = {r.instance: r for r in records}
        for r in records:
            r.extra["lost"] = 0.0
        if not records:
            return 0
        last = max(by_instance)
        with self._lock:
            missing = [i for i in self.items if i not in self._done]
            for item in missing:
                owner = self._last_worker.get(item, last)
                by_instance.get(owner, by_instance[last]).extra["lost"] += 1.0
        return len(missing)

    def describe(self) -> dict[str, Any]:
        return {"items": len(self.items), "change_at": self.change_at, **self.summary()}
