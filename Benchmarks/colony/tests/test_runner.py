"""The runner's own accounting: a run says when an instance was lost."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import colony_path  # noqa: F401  (Benchmarks/colony on sys.path)

from colony import runner


class UnreachableForOne(runner.ColonyRunner):
    """The log memory, except that instance 3's memory cannot be made, as when
    its connection to traild is refused."""

    def memory_factory(self, s: runner.RunSpec, world: Any) -> tuple[Callable[[int], Any], dict[str, Any]]:
        make, where = super().memory_factory(s, world)

        def factory(i: int) -> Any:
            if i == 3:
                raise ConnectionRefusedError(111, "Connection refused")
            return make(i)
        return factory, where


def test_an_instance_whose_memory_cannot_be_made_breaks_the_run_invariant(tmp_path: Path) -> None:
    profile = runner.PROFILES["quick"]
    out = tmp_path / "colony.jsonl"
    r = UnreachableForOne(None, tmp_path, profile, out)
    s = runner.spec("flaky", "static", "log-newest", "evidence", "practice", 101, {}, "eval")
    line = r.run(s)
    assert line is not None
    assert line["invariants"]["instances_complete"] is False
    assert any(e.startswith("instance 3: ConnectionRefusedError") for e in line["errors"]), line["errors"]
    # Every other instance ran and was recorded; the lost one is the only gap.
    instances = [json.loads(l) for l in out.read_text().splitlines() if json.loads(l)["kind"] == "instance"]
    world = runner.make_world("flaky", "static", 101, **profile.world_params["flaky"])
    assert sorted(rec["instance"] for rec in instances) == [i for i in range(world.instances) if i != 3]
    assert line["instances"] == world.instances - 1


def test_a_run_whose_instances_all_return_is_complete(tmp_path: Path) -> None:
    profile = runner.PROFILES["quick"]
    r = runner.ColonyRunner(None, tmp_path, profile, tmp_path / "colony.jsonl")
    line = r.run(runner.spec("flaky", "static", "log-newest", "evidence", "practice", 101, {}, "eval"))
    assert line is not None and line["invariants"]["instances_complete"] is True and line["errors"] == []


def test_eval_runs_only_the_profile_habits() -> None:
    full = runner.PROFILES["full"]
    knobs = runner.choose_knobs(full, [])
    both = runner.eval_specs(full, knobs)
    practice = runner.eval_specs(replace(full, habits=("practice",)), knobs)
    assert {s.habit for s in both} == {"practice", "careless"}
    assert {s.habit for s in practice} == {"practice"}
    # Only trail's two memories have a careless habit: the rest keep every run.
    assert len(both) - len(practice) == sum(1 for s in both if s.habit == "careless") > 0
    assert all(s.memory in ("trail", "trail-nodecay") for s in both if s.habit == "careless")
