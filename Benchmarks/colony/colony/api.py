"""The interfaces every part of the colony benchmark meets.

One simulator per world, one policy skeleton per world shared by every
memory, many memories behind the same four verbs. Nothing here does I/O.

Time is real: a world ticks in milliseconds of wall clock, and the trail
memories decay on the daemon's own clock (half-lives of seconds), so a run
is paced by `World.pace` sleeps, not by a simulated clock.
"""
from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import Optional, Protocol, Sequence

SCENARIOS = ("static", "breaking", "silent")


def stream(seed: int, *names: object) -> random.Random:
    """An independent random stream derived from `seed` and `names` (e.g.
    ``stream(seed, "flaky", "outcome", ticket, attempt)``): the same names
    give the same stream on every memory, so every memory sees the same world
    and the same agent dice on a seed."""
    digest = hashlib.sha256(repr((seed,) + tuple(names)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


# --- how a weightless memory writes a reaction as a line ----------------------

#: A memory without weights (a log) writes a reaction to a note as a line of
#: its own: the reacted-to text after one of these prefixes. A reader takes
#: the claims of the rest of the line with `works` flipped (a refutation of a
#: refutation flips twice). "confirmed" needs no prefix: the log writes the
#: text again, which a reader takes as the same claim once more.
REFUTED = "refuted: "
RETRACTED = "retracted: "
#: Separates a reaction's reason from the text it reacts to, so that a reader
#: never reads claims out of a reason.
REASON_SEP = " | reason: "


def reaction(text: str) -> tuple[str, bool]:
    """Splits a line into the note text it states and whether it states it
    negated: ``reaction("refuted: X | reason: R") == ("X", True)``. Plain
    note text comes back unchanged, not negated."""
    core = text.split(REASON_SEP, 1)[0]
    negated = False
    while core.startswith((REFUTED, RETRACTED)):
        core = core[len(REFUTED) if core.startswith(REFUTED) else len(RETRACTED):]
        negated = not negated
    return core, negated


# --- what a memory returns --------------------------------------------------

@dataclass(frozen=True)
class Note:
    """One note a memory returned from `read`, in the memory's own order
    (best first). `weight` is 1.0 for memories without weights."""
    id: str
    text: str
    weight: float = 1.0
    #: Ids of notes that disagree with this one (trail's `contested_by`), when the memory knows.
    contested_by: tuple[str, ...] = ()


class Memory(Protocol):
    """The four verbs. Every memory gets the same reading budget."""
    name: str

    def read(self, query: str, budget_bytes: int) -> list[Note]:
        """Notes that fit in `budget_bytes` of bodies, best first by the
        memory's own order."""
        ...

    def write(self, text: str, links: Sequence[str] = (), strength: float = 1.0,
              corrects: Sequence[str] = ()) -> str:
        """Leaves `text`; `links` are the notes it came from (trail's `after`),
        `strength` how strongly (routes deposit cheaper trips stronger),
        `corrects` the notes this one corrects (the practice names them in
        `after` too). Returns the note's id."""
        ...

    def confirm(self, id: str) -> Optional[float]:
        """The note helped (trail: reinforce). Returns the note's weight
        after it where the memory keeps weights (trail), else None."""
        ...

    def refute(self, id: str, reason: str, harm: bool = False) -> None:
        """The note misled (trail: repel); with `harm`, it did harm and is
        withdrawn with `reason` (trail: retract)."""
        ...


# --- what a world offers the policy -------------------------------------------

@dataclass(frozen=True)
class Claim:
    """What an agent reads out of one note's text: the note says `option`
    worked (`works` True) or failed (False) for `subject` (a symptom, a
    route set, an item), with `value` a cost when the note gives one."""
    subject: str
    option: str
    works: bool
    value: Optional[float] = None


@dataclass(frozen=True)
class Outcome:
    """The result of one action: success, its cost (time units of the
    world: tries, minutes of a trip, seconds of work), and whether the option
    was the best one at that moment (for regret and stale advice)."""
    success: bool
    cost: float
    best: bool


@dataclass
class Record:
    """One instance's life, as the raw JSONL keeps it. The runner adds the
    cell's keys (world, scenario, memory, rule, habit, seed)."""
    instance: int
    #: When it started, as a fraction of the run (0..1), and whether after the change.
    at: float
    after_change: bool
    tries: int = 0
    cost: float = 0.0
    solved: bool = False
    #: An option taken because a note recommended it while the world said it was no longer the best.
    stale_followed: int = 0
    #: The option the instance ended on (or None), and whether it was the best then.
    final_option: Optional[str] = None
    used_best: bool = False
    bytes_read: int = 0
    #: World-specific figures, e.g. {"duplicated": 1}.
    extra: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Ticket:
    """What instance `instance` is given when it starts: the words it reads
    the memory with (its own wording of the problem), the subject the world
    grades it on (hidden from the agent's reading: it only sees `query`),
    the options it may try in the order it would try them without memory
    (shuffled per instance from the seed), and its cap on tries."""
    instance: int
    query: str
    subject: str
    options: tuple[str, ...]
    max_tries: int


class World(Protocol):
    """One seeded simulator in one scenario. Deterministic: every random
    choice comes from `stream(seed, name, ...)` keyed by what it decides
    (instance, attempt, option), never from call order, so every memory and
    every interleaving of concurrent instances sees the same world."""
    name: str
    scenario: str
    seed: int
    #: Instances in the run, how many run at once, and the index of the first
    #: instance that starts after the change (None in the static scenario).
    instances: int
    concurrency: int
    change_at: Optional[int]
    #: Wall-clock seconds one unit of `Outcome.cost` takes (the agent sleeps it),
    #: so that concurrent instances overlap and decay acts on real time.
    tick: float

    def ticket(self, instance: int) -> Ticket: ...

    def attempt(self, ticket: Ticket, option: str, attempt: int) -> Outcome:
        """Tries `option` as the ticket's `attempt`-th try (from 0)."""
        ...

    def say(self, ticket: Ticket, option: str, outcome: Outcome) -> str:
        """The note an agent of this world writes after trying `option`: one
        short sentence in the instance's own wording of the subject, naming
        the option and whether it worked (and the cost where the world has one)."""
        ...

    def read(self, text: str) -> list[Claim]:
        """What an agent reads out of a note's text (any memory's: a log line,
        a hand-off file's line, a trail note): the claims it makes, for any
        subject. Text it cannot read gives no claims.

        Agents are perfect readers: a note about the ticket's symptom in other
        words is understood as such (its Claim has the ticket's `subject`).
        Memories differ in what they put before the reader within the budget,
        not in how well it reads."""
        ...

    def best(self, ticket: Ticket) -> str:
        """The oracle: the option that is best for the ticket's subject at the
        moment the ticket was given."""
        ...

    def merit(self, cost: Optional[float]) -> float:
        """How much an outcome of this cost is worth, 1.0 for a plain success:
        the `strength` an agent deposits a success with, and what a `works`
        claim with this `value` weighs in the "evidence" rule. Worlds without
        costs answer 1.0; routes answer reference cost / cost, so a cheaper
        trip deposits stronger (the double bridge)."""
        ...
