"""Flaky builds: a ticket is one build failure, to be fixed in a few tries.

The corpus (`flaky_corpus.json`) holds the symptoms, each in several
wordings that share few content words, and each with its candidate fixes
(`fix-1`... with a short description). Per seed, one fix of each symptom is
the working one. An instance gets one symptom in one wording and tries fixes
until one works or its tries run out.

Scenarios, from instance `change_at` on, for every symptom at once:
- static: the working fix works 80 % of the time, every other fix 5 %.
- breaking: the old working fix now fails (5 %) and another fix (drawn per
  seed) is the working one (80 %).
- silent: the old fix still works, only worse (50 %), and another fix now
  works 90 %, so the best answer moved without anything failing outright.

Why symptoms are not equally common: real CI has a few failures that recur
and a tail of rare ones. Symptom ranks are shuffled per seed and ticket
frequency falls as rank ** -skew (skew 0.5: the commonest of the 26 symptoms
comes up about 5 times as often as the rarest, 11 % of tickets against 2 %),
so some advice recurs often enough to be learnt and some is needed only now
and then.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from ..api import Claim, Outcome, Ticket, reaction, stream
from . import WorldBase

CORPUS = Path(__file__).with_name("flaky_corpus.json")

#: Success rates: the working fix, a wrong fix, and the silent scenario's old and new fix.
P_WORKING = 0.8
P_WRONG = 0.05
P_SILENT_OLD = 0.5
P_SILENT_NEW = 0.9
#: Words a note ends with: what happened to the fix it names.
WORKED, FAILED = "worked", "failed"


@dataclass(frozen=True)
class Symptom:
    id: str
    wordings: tuple[str, ...]
    #: Fix id -> short description, in corpus order.
    fixes: dict[str, str]


def load_corpus(path: Path = CORPUS) -> list[Symptom]:
    """The symptoms of the corpus file."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return [Symptom(s["id"], tuple(s["wordings"]), {f["id"]: f["description"] for f in s["fixes"]})
            for s in data["symptoms"]]


class FlakyWorld(WorldBase):
    """Flaky builds on one seed, in one scenario."""

    name = "flaky"
    #: One try takes 50 ms of wall clock by default.
    default_tick = 0.05

    def __init__(self, scenario: str, seed: int, *, instances: int = 120, concurrency: int = 8,
                 tick: Optional[float] = None, max_tries: int = 4, skew: float = 0.5,
                 corpus: Optional[list[Symptom]] = None) -> None:
        super().__init__(scenario, seed, instances, concurrency, tick)
        self.max_tries = int(max_tries)
        self.symptoms = {s.id: s for s in (corpus or load_corpus())}
        ids = sorted(self.symptoms)
        ranked = list(ids)
        stream(self.seed, self.name, "ranks").shuffle(ranked)
        self._frequency = {sid: (rank + 1) ** -skew for rank, sid in enumerate(ranked)}
        self._ids = ids
        #: Per symptom, the working fix before the change and the one after it.
        self.old: dict[str, str] = {}
        self.new: dict[str, str] = {}
        for sid in ids:
            fixes = list(self.symptoms[sid].fixes)
            self.old[sid] = stream(self.seed, self.name, "working", sid).choice(fixes)
            self.new[sid] = stream(self.seed, self.name, "new-working", sid).choice(
                [f for f in fixes if f != self.old[sid]])
        wordings = sorted(((w, s.id) for s in self.symptoms.values() for w in s.wordings),
                          key=lambda ws: -len(ws[0]))
        self._subject_of = dict(wordings)
        # Longest first, so a wording that contains another is found whole.
        self._wording_re = re.compile("|".join(re.escape(w) for w, _ in wordings))

    # --- the world's truth ---------------------------------------------------

    def success_rate(self, symptom: str, option: str, instance: int) -> float:
        """How often `option` fixes `symptom` for an instance starting at `instance`."""
        old, new = self.old[symptom], self.new[symptom]
        if not self.changed(instance):
            return P_WORKING if option == old else P_WRONG
        if self.scenario == "breaking":
            return P_WORKING if option == new else P_WRONG
        return {old: P_SILENT_OLD, new: P_SILENT_NEW}.get(option, P_WRONG)

    def best(self, ticket: Ticket) -> str:
        return self.new[ticket.subject] if self.changed(ticket.instance) else self.old[ticket.subject]

    def label(self, symptom: str, option: str) -> str:
        """How a note names a fix: "fix-3 (pin the toolchain to gcc 12.2)"."""
        return f"{option} ({self.symptoms[symptom].fixes[option]})"

    # --- what an instance is given and what it meets -------------------------

    def ticket(self, instance: int) -> Ticket:
        sid = stream(self.seed, self.name, "symptom", instance).choices(
            self._ids, weights=[self._frequency[s] for s in self._ids])[0]
        symptom = self.symptoms[sid]
        wording = stream(self.seed, self.name, "wording", instance).choice(symptom.wordings)
        options = list(symptom.fixes)
        stream(self.seed, self.name, "order", instance).shuffle(options)
        return Ticket(instance, wording, sid, tuple(options), self.max_tries)

    def attempt(self, ticket: Ticket, option: str, attempt: int) -> Outcome:
        """One try of `option`. The dice are keyed by (instance, option), not
        by the attempt's number: whichever memory leads an instance to a fix
        and at whichever try, that fix's fate for that instance is the same
        (common random numbers across memories); trying it twice in one
        instance gives the same result (the failure is in that checkout)."""
        if option not in ticket.options:
            raise ValueError(f"{option!r} is not an option of ticket {ticket.instance}")
        u = stream(self.seed, self.name, "outcome", ticket.instance, option).random()
        success = u < self.success_rate(ticket.subject, option, ticket.instance)
        return Outcome(success=success, cost=1.0, best=option == self.best(ticket))

    # --- notes ------------------------------------------------------------------

    def say(self, ticket: Ticket, option: str, outcome: Outcome) -> str:
        """ "<the instance's wording> — fix-3 (<description>) worked" (or failed)."""
        verb = WORKED if outcome.success else FAILED
        return f"{ticket.query} — {self.label(ticket.subject, option)} {verb}"

    def read(self, text: str) -> list[Claim]:
        core, negated = reaction(text)
        found = self._wording_re.search(core)
        if not found:
            return []
        subject = self._subject_of[found.group(0)]
        fixes = self.symptoms[subject].fixes
        claims = []
        for m in re.finditer(r"\b(fix-\d+) \([^()]*\) (worked|failed)\b", core[found.end():]):
            if m.group(1) in fixes:
                works = (m.group(2) == WORKED) != negated
                claims.append(Claim(subject, m.group(1), works))
        return claims

    def describe(self) -> dict[str, Any]:
        """The seed's answers, for the run's record."""
        return {"old": dict(self.old), "new": dict(self.new), "change_at": self.change_at}
