"""The memories that live in a real traild, through the project's Python client.

- `TrailMemory`: trail as an agent uses it. `read` senses by meaning
  (`similar`: instances word the same problem differently) within the byte
  budget; `write` deposits, with `after` = the notes it came from and the
  notes it corrects (the practice), or bare with trail-mcp's default
  `merge_similar` 0.9 (the careless habit); `confirm` reinforces; `refute`
  repels, or retracts with the reason when the note did harm. The half-life
  is the namespace's (decay off: a half-life of years).
- `VectorMemory`: a plain vector memory on the same model: notes found by
  meaning only, nearest first. Every write is its own entry (as a vector
  store's `add` is), all weights stay 1 and never decay, and the order is the
  similarity alone (sorted here, not traild's score);
  `confirm` and a plain `refute` do nothing (there is no weight to change),
  a `refute` for harm deletes the entry (retract), as most memory libraries
  let an agent delete.

Each instance opens its own memory object (its own connection) and closes it
when it ends.

Both read only once traild has embedded the notes of the namespace that
were there when the read began (`until_embedded`): traild embeds a note
after it acknowledges the deposit (contract §8), a few milliseconds of
work, and the worlds compress an agent's minutes into milliseconds, so
without the wait the benchmark would measure an indexer that is behind, not
the memory. The time waited is recorded per namespace (`waited`).
"""
from __future__ import annotations

import hashlib
import itertools
import re
import threading
import time
from typing import Optional, Sequence

from trail_client import Trail
from trail_client.errors import Retracted, TrailError, UnknownNote

from .api import Note

#: trail-mcp's default `merge_similar` for a bare deposit (Sources/TrailMCP/MergePlan.swift).
CARELESS_MERGE = 0.9
#: "Decay off": the longest half-life traild takes (100 years less a little), in the
#: daemon's seconds: years of real time even on a clock sped up 20 times, against runs of seconds.
NO_DECAY_HALF_LIFE_S = 3.0e9
#: Notes a read may return before the byte budget stops it (the budget decides, not
#: this: the 1,200-byte budget holds at most 37 of the shortest notes a world writes,
#: 32 bytes). traild reads four candidates per note of the limit, so a higher one costs
#: the daemon time and changes nothing.
READ_LIMIT = 100
#: How long a read waits at most for the namespace's notes to be embedded.
EMBEDDED_WAIT_S = 60.0
#: Exact terms in a question: tokens with a digit (item-017, fix-3, 3.0.2).
_EXACT = re.compile(r"[A-Za-z_./-]*\d[\w./-]*")


_TAG = re.compile(r"^[a-z0-9][a-z0-9._:/-]{0,63}$")


def identifier_tags(text: str) -> list[str]:
    """The identifiers a note names (tokens with a digit: item-017, fix-3),
    as tags: what the practice tags a note with so that others find it by
    its name ("each with tags others will search by", docs/agents.md)."""
    tags = [t.lower().strip("./-") for t in _EXACT.findall(text)]
    return list(dict.fromkeys(t for t in tags if _TAG.match(t)))[:16]


def exact_terms(question: str) -> Optional[str]:
    """The question's exact terms, for `query` beside `similar` (docs/agents.md,
    "Both": a note with the exact term and one that only means the same both
    come up); None when it has none."""
    terms = _EXACT.findall(question)
    return " ".join(terms) if terms else None


_waited: dict[str, float] = {}
_waited_lock = threading.Lock()


def waited(ns: str) -> float:
    """Seconds the reads in `ns` waited for notes to be embedded."""
    with _waited_lock:
        return _waited.get(ns, 0.0)


def until_embedded(t: Trail, ns: str) -> None:
    """Returns once traild has embedded the notes of `ns` that were there
    when the call began (`trail.stats`: `embedding.embedded` has reached
    what `embedded + pending` was then, or nothing is pending), as an agent
    reading seconds after its colleagues wrote would find them. Notes that
    others deposit meanwhile are not waited for. Raises TimeoutError after
    EMBEDDED_WAIT_S."""
    started = time.monotonic()
    first = t.stats().get("embedding") or {}
    target = first.get("embedded", 0) + first.get("pending", 0)
    now = first
    # trail.stats counts the namespace's notes (a few scans of it): asked often by
    # every waiting reader, it would cost the daemon more than the embedding.
    pause = 0.005
    while now.get("pending", 0) > 0 and now.get("embedded", 0) < target:
        if time.monotonic() - started > EMBEDDED_WAIT_S:
            raise TimeoutError(f"traild had notes of {ns} to embed for {EMBEDDED_WAIT_S} s")
        time.sleep(pause)
        pause = min(2 * pause, 0.05)
        now = t.stats().get("embedding") or {}
    with _waited_lock:
        _waited[ns] = _waited.get(ns, 0.0) + time.monotonic() - started


def configure(socket: str, ns: str, half_life_s: float, contest_similarity: Optional[float] = None) -> None:
    """Creates `ns` with its half-life (and `contest_similarity`, when
    given) before any instance runs."""
    with Trail(socket, default_ns=ns, client_name="colony-bench") as t:
        t.configure_namespace(ns, half_life_s=half_life_s, contest_similarity=contest_similarity)


class TrailMemory:
    """trail, one instance's connection to namespace `ns`."""

    def __init__(self, socket: str, ns: str, *, careless: bool, agent: str,
                 min_similarity: Optional[float] = None) -> None:
        self.name = "trail"
        self.ns = ns
        self.careless = careless
        self.min_similarity = min_similarity
        self._t = Trail(socket, default_ns=ns, client_name="colony-bench", agent=agent)

    def read(self, query: str, budget_bytes: int) -> list[Note]:
        """A question that names identifiers looks them up by tag first (the
        notes that name them, by meaning among those), then fills what is
        left of the budget by meaning; any other question reads by meaning
        and its exact terms."""
        until_embedded(self._t, self.ns)
        tags = identifier_tags(query)
        found: list[dict] = []
        if tags:
            found = self._t.sense(any_tags=tags, similar=query, min_similarity=self.min_similarity,
                                  budget_bytes=budget_bytes, limit=READ_LIMIT)["notes"]
        left = budget_bytes - sum(len(n["body"].encode()) for n in found)
        if left > 0:
            seen = {n["id"] for n in found}
            more = self._t.sense(exact_terms(query), similar=query, min_similarity=self.min_similarity,
                                 budget_bytes=left, limit=READ_LIMIT)["notes"]
            found += [n for n in more if n["id"] not in seen]
        return [Note(id=n["id"], text=n["body"], weight=float(n["weight"]),
                     contested_by=tuple(n.get("contested_by") or ())) for n in found]

    def write(self, text: str, links: Sequence[str] = (), strength: float = 1.0,
              corrects: Sequence[str] = ()) -> str:
        if self.careless:
            try:
                return self._t.deposit(text, strength=strength, merge_similar=CARELESS_MERGE)["id"]
            except Retracted:
                # as the error says: force deposits it again
                return self._t.deposit(text, strength=strength, merge_similar=CARELESS_MERGE, force=True)["id"]
        # A note's id is the SHA-256 of its body: re-depositing a finding that
        # the agent followed to it must not name the note as its own origin.
        own = hashlib.sha256(text.encode()).hexdigest()
        after = [i for i in dict.fromkeys([*links, *corrects]) if i != own][:32]
        tags = identifier_tags(text) or None
        try:
            return self._t.deposit(text, tags=tags, after=after or None, strength=strength)["id"]
        except Retracted:
            # The same finding was retracted by someone earlier and has now
            # worked again: the daemon's error says to deposit with force,
            # which revives it (with its history).
            return self._t.deposit(text, tags=tags, after=after or None, strength=strength, force=True)["id"]

    def confirm(self, id: str) -> Optional[float]:
        try:
            return float(self._t.reinforce(id)["weight"])
        except (UnknownNote, Retracted):
            # Retracted since it was read (another instance found it false): nothing to confirm.
            return None

    def refute(self, id: str, reason: str, harm: bool = False) -> None:
        try:
            if harm:
                self._t.retract(id, reason)
            else:
                self._t.repel(id)
        except (UnknownNote, Retracted):
            pass

    def close(self) -> None:
        self._t.close()


class VectorMemory:
    """A plain vector memory in namespace `ns` (half-life of years)."""

    _counter = itertools.count(1)
    _lock = threading.Lock()

    def __init__(self, socket: str, ns: str, *, agent: str, min_similarity: Optional[float] = None) -> None:
        self.name = "vector"
        self.ns = ns
        self.min_similarity = min_similarity
        self._t = Trail(socket, default_ns=ns, client_name="colony-bench", agent=agent)

    def read(self, query: str, budget_bytes: int) -> list[Note]:
        """The nearest notes by similarity alone (as a vector store orders
        them; traild's score would let weight lead among near notes), taken
        in that order while they fit the budget."""
        until_embedded(self._t, self.ns)
        notes = self._t.sense(similar=query, min_similarity=self.min_similarity, limit=READ_LIMIT)["notes"]
        notes.sort(key=lambda n: (-n["similarity"], n["id"]))
        taken: list[Note] = []
        for n in notes:
            size = len(n["body"].encode())
            if size <= budget_bytes:
                budget_bytes -= size
                taken.append(Note(id=n["id"], text=n["body"]))
        return taken

    def write(self, text: str, links: Sequence[str] = (), strength: float = 1.0,
              corrects: Sequence[str] = ()) -> str:
        with VectorMemory._lock:
            n = next(VectorMemory._counter)
        # An entry of its own: the same text twice is two entries, as in a
        # vector store, so no note gains weight by being written again.
        return self._t.deposit(f"{text} [entry {n}]")["id"]

    def confirm(self, id: str) -> Optional[float]:
        return None

    def refute(self, id: str, reason: str, harm: bool = False) -> None:
        if not harm:
            return
        try:
            self._t.retract(id, reason)
        except TrailError:
            pass

    def close(self) -> None:
        self._t.close()

