"""Routes: the double bridge, generalised to five routes with noisy costs.

Every instance makes one trip from the depot to the dock, on the route it
chooses; the trip costs the route's mean time times a noise factor
(lognormal, sd 10 %, drawn per instance and route). Agents deposit cheaper
trips stronger: strength = merit(cost) = REFERENCE / cost, clipped to
[0.2, 5], where REFERENCE is the fastest route's nominal time (printed on
the job sheet, so every agent knows it; the agents do not know which route
has it). A 20-minute trip deposits 1.0, a 40-minute one 0.5.

Scenarios, from instance `change_at` on:
- static: the route means stay as drawn.
- breaking: the best route is blocked: a trip on it fails after costing half
  its mean (drive to the block, turn back), and the instance tries another
  route; the second-best is now the best.
- silent: the best route becomes mediocre (its mean x 1.5: 20 -> 30 min,
  between the third and fourth) and the third-best becomes the best
  (0.8 x the old best: 16 min). Nothing fails; trips on the old best only
  take longer.
"""
from __future__ import annotations

import math
import re
from typing import Any, Optional

from ..api import Claim, Outcome, Ticket, reaction, stream
from . import WorldBase

#: Route id -> what a note calls it.
ROUTES = {
    "route-A": "the north bridge",
    "route-B": "the river road",
    "route-C": "the ring motorway",
    "route-D": "through the old town",
    "route-E": "the ferry crossing",
}
#: Mean trip times in minutes, dealt to the routes per seed.
BASE_COSTS = (20.0, 24.0, 28.0, 33.0, 40.0)
#: Lognormal noise of one trip (sd of log cost).
NOISE = 0.10
#: Silent change: the old best's mean times this, the third-best's becomes this times the old best's.
SILENT_WORSE = 1.5
SILENT_BETTER = 0.8
#: A blocked trip costs this share of the route's mean before the instance turns back.
BLOCKED_COST = 0.5
#: Bounds of a deposit's strength (docs/agents.md: from small nudges, 0.2, to strong marks, 5).
MERIT_MIN, MERIT_MAX = 0.2, 5.0
SUBJECT = "depot-dock"
#: The same trip in the words of three dispatchers.
WORDINGS = (
    "carry a crate from the depot to the harbour dock",
    "deliver the parcel: warehouse to pier",
    "haul freight out of the storage yard down to the quay",
)


class RoutesWorld(WorldBase):
    """One trip per instance over `routes` routes (4 or 5)."""

    name = "routes"
    #: One minute of trip takes 2 ms of wall clock by default (a 20-minute trip: 40 ms).
    default_tick = 0.002

    def __init__(self, scenario: str, seed: int, *, instances: int = 150, concurrency: int = 8,
                 tick: Optional[float] = None, routes: int = 5, max_tries: int = 3) -> None:
        super().__init__(scenario, seed, instances, concurrency, tick)
        if not 4 <= routes <= len(ROUTES):
            raise ValueError(f"routes must be 4 to {len(ROUTES)}")
        self.max_tries = int(max_tries)
        self.routes = list(ROUTES)[:routes]
        costs = list(BASE_COSTS[:routes])
        stream(self.seed, self.name, "means").shuffle(costs)
        #: Route -> mean trip time before the change.
        self.means = dict(zip(self.routes, costs))
        ranked = sorted(self.routes, key=lambda r: self.means[r])
        self.old_best = ranked[0]
        self.reference = self.means[self.old_best]
        self.after: dict[str, float] = dict(self.means)
        self.blocked: set[str] = set()
        if scenario == "breaking":
            self.blocked = {self.old_best}
        elif scenario == "silent":
            self.after[self.old_best] = self.reference * SILENT_WORSE
            self.after[ranked[2]] = self.reference * SILENT_BETTER
        self.new_best = min((r for r in self.routes if r not in self.blocked), key=lambda r: self.after[r])

    # --- the world's truth ---------------------------------------------------

    def mean(self, route: str, instance: int) -> float:
        """The mean trip time of `route` for an instance starting at `instance`."""
        return self.after[route] if self.changed(instance) else self.means[route]

    def is_blocked(self, route: str, instance: int) -> bool:
        return self.changed(instance) and route in self.blocked

    def best(self, ticket: Ticket) -> str:
        return self.new_best if self.changed(ticket.instance) else self.old_best

    def merit(self, cost: Optional[float]) -> float:
        """REFERENCE / cost, clipped to [0.2, 5]; 1.0 without a cost."""
        if cost is None or cost <= 0:
            return 1.0
        return min(MERIT_MAX, max(MERIT_MIN, self.reference / cost))

    # --- what an instance is given and what it meets -------------------------

    def ticket(self, instance: int) -> Ticket:
        wording = stream(self.seed, self.name, "wording", instance).choice(WORDINGS)
        options = list(self.routes)
        stream(self.seed, self.name, "order", instance).shuffle(options)
        return Ticket(instance, wording, SUBJECT, tuple(options), self.max_tries)

    def attempt(self, ticket: Ticket, option: str, attempt: int) -> Outcome:
        """One trip on `option`; the noise is keyed by (instance, route), so a
        route costs an instance the same on every memory."""
        if option not in ticket.options:
            raise ValueError(f"{option!r} is not an option of ticket {ticket.instance}")
        noise = math.exp(stream(self.seed, self.name, "noise", ticket.instance, option).gauss(0.0, NOISE))
        mean = self.mean(option, ticket.instance)
        best = option == self.best(ticket)
        if self.is_blocked(option, ticket.instance):
            return Outcome(success=False, cost=round(mean * BLOCKED_COST * noise, 1), best=best)
        return Outcome(success=True, cost=round(mean * noise, 1), best=best)

    # --- notes ------------------------------------------------------------------

    def say(self, ticket: Ticket, option: str, outcome: Outcome) -> str:
        """ "<wording> — route-B (the river road) took 23.4 min" or "... was blocked"."""
        what = f"took {outcome.cost:.1f} min" if outcome.success else "was blocked"
        return f"{ticket.query} — {option} ({ROUTES[option]}) {what}"

    def read(self, text: str) -> list[Claim]:
        core, negated = reaction(text)
        if not any(w in core for w in WORDINGS):
            return []
        claims = []
        for m in re.finditer(r"\b(route-[A-E]) \([^()]*\) (?:took ([0-9]+(?:\.[0-9]+)?) min|(was blocked))", core):
            if m.group(1) not in self.routes:
                continue
            works = m.group(3) is None
            value = float(m.group(2)) if m.group(2) else None
            claims.append(Claim(SUBJECT, m.group(1), works != negated, value))
        return claims

    def describe(self) -> dict[str, Any]:
        """The seed's answers, for the run's record."""
        return {"means": dict(self.means), "after": dict(self.after), "blocked": sorted(self.blocked),
                "old_best": self.old_best, "new_best": self.new_best, "change_at": self.change_at}
