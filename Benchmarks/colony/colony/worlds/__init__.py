"""The worlds of the colony benchmark, one simulator per world, and their factory.

Every world is seeded and deterministic: each random choice comes from
`api.stream(seed, world, what, key...)` keyed by what it decides (which
symptom instance 7 gets, whether option X works for instance 7), never by
call order, so every memory and every interleaving of concurrent instances
sees the same world on a seed. Only the claims world keeps state (which items
are really done), because there the instances act on one shared queue.

Each world runs in three scenarios (`api.SCENARIOS`): "static", "breaking"
(from instance `change_at` = instances // 2 on, the old answer fails) and
"silent" (from `change_at` on, the old answer still works, only worse, and
another is now best). Each world's module says what changes.
"""
from __future__ import annotations

from typing import Any, Optional

from ..api import SCENARIOS


class WorldBase:
    """What every world shares: its identity, its size and when it changes."""

    name: str = ""
    #: Wall-clock seconds per unit of cost when the caller does not say.
    default_tick: float = 0.0

    def __init__(self, scenario: str, seed: int, instances: int, concurrency: int,
                 tick: Optional[float]) -> None:
        if scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {scenario!r}; expected one of {SCENARIOS}")
        if instances < 2 or concurrency < 1:
            raise ValueError("a world needs at least 2 instances and 1 at a time")
        self.scenario = scenario
        self.seed = int(seed)
        self.instances = int(instances)
        self.concurrency = int(concurrency)
        self.tick = self.default_tick if tick is None else float(tick)
        #: Half-way, so that the colony has as long to learn the new answer as it had for the old.
        self.change_at: Optional[int] = None if scenario == "static" else self.instances // 2

    def changed(self, instance: int) -> bool:
        """Whether `instance` starts after the change (never in "static")."""
        return self.change_at is not None and instance >= self.change_at

    def merit(self, cost: Optional[float]) -> float:
        """1.0: a success is a success in worlds without costs (see `api.World.merit`)."""
        return 1.0

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(scenario={self.scenario!r}, seed={self.seed}, "
                f"instances={self.instances}, concurrency={self.concurrency}, change_at={self.change_at})")


WORLDS = ("flaky", "routes", "claims")


def make_world(name: str, scenario: str, seed: int, **params: Any) -> Any:
    """A new world `name` ("flaky", "routes" or "claims") in `scenario` on
    `seed`; `params` are the world's keyword arguments (`instances`,
    `concurrency`, `tick`, and the world's own). A claims world keeps the
    queue's state, so make a fresh one for every run."""
    from .claims import ClaimsWorld
    from .flaky import FlakyWorld
    from .routes import RoutesWorld
    kinds = {"flaky": FlakyWorld, "routes": RoutesWorld, "claims": ClaimsWorld}
    if name not in kinds:
        raise ValueError(f"unknown world {name!r}; expected one of {WORLDS}")
    return kinds[name](scenario, seed, **params)
