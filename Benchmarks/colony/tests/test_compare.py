"""colony.compare against synthetic records whose difference is known by construction."""
from __future__ import annotations

import json
from pathlib import Path

import colony_path  # noqa: F401  (Benchmarks/colony on sys.path)

from colony import compare, report

SEEDS = list(range(12))


def _lines(stale_of, tries_of, knob=None, only_before=False) -> list[str]:
    """flaky/breaking runs of trail (careless and practice) on SEEDS: instance i
    of seed s follows stale advice stale_of(habit, s, i) times, tries tries_of(s, i)."""
    out = [{"kind": "meta", "profile": "test", "code": "c0ffee" * 10, "seeds": {"eval": SEEDS}}]
    for habit in ("careless", "practice"):
        k = knob or {"half_life_s": 2.0}
        for seed in SEEDS:
            for i in range(10):
                out.append({"kind": "instance", "world": "flaky", "scenario": "breaking", "memory": "trail",
                            "rule": "evidence", "habit": habit, "seed": seed, "knob": k, "phase": "eval",
                            "instance": i, "tries": tries_of(seed, i), "cost": 1.0, "solved": True,
                            "stale_followed": stale_of(habit, seed, i), "used_best": True, "bytes_read": 10,
                            "after_change": i >= 5, "extra": {}})
            out.append({"kind": "run", "world": "flaky", "scenario": "breaking", "memory": "trail", "rule": "evidence",
                        "habit": habit, "seed": seed, "knob": k, "phase": "eval", "seconds": 1.0, "instances": 10,
                        "invariants": {}, "change_at": 5})
    if only_before:
        out.append({"kind": "run", "world": "routes", "scenario": "static", "memory": "trail", "rule": "evidence",
                    "habit": "practice", "seed": 0, "knob": {}, "phase": "eval", "seconds": 1.0, "instances": 0,
                    "invariants": {}, "change_at": None})
    return [json.dumps(x) for x in out]


def _write(tmp_path: Path, name: str, lines: list[str]) -> report.Records:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return report.read_records(path)


def test_a_change_that_removes_stale_advice_in_one_habit_is_found_there_only(tmp_path):
    # Before: careless follows stale advice on 2 instances of every seed (plus seed % 3 more); after: none.
    before = _write(tmp_path, "before.jsonl", _lines(
        lambda h, s, i: int(h == "careless" and i < 2 + s % 3), lambda s, i: 3 + (s + i) % 2))
    after = _write(tmp_path, "after.jsonl", _lines(lambda h, s, i: 0, lambda s, i: 3 + (s + i) % 2))
    rows, notes = compare.compare(before, after)
    stale = {r.cell.habit: r for r in rows if r.metric == "stale"}
    careless, practice = stale["careless"], stale["practice"]
    assert careless.diff.n == 12
    assert abs(careless.before - sum(2 + s % 3 for s in SEEDS) / 12 / 10) < 1e-12 and careless.after == 0
    assert careless.diff.mean < 0 and careless.diff.hi < 0 and careless.verdict == "better after"
    assert practice.diff.mean == 0 and practice.verdict == "no clear difference"
    primary = [r for r in rows if r.metric == "primary"]
    assert all(r.diff.mean == 0 for r in primary)
    assert notes == []


def test_cells_with_another_knob_or_on_one_side_only_are_not_paired_and_said(tmp_path):
    same = lambda h, s, i: 0  # noqa: E731
    before = _write(tmp_path, "before.jsonl", _lines(same, lambda s, i: 3, only_before=True))
    after = _write(tmp_path, "after.jsonl", _lines(same, lambda s, i: 3, knob={"half_life_s": 4.0}))
    rows, notes = compare.compare(before, after)
    assert rows == []
    assert any(n.startswith("only before: flaky / breaking / trail") for n in notes)
    assert any(n.startswith("only after: flaky / breaking / trail") for n in notes)


def test_the_command_writes_the_table_and_refuses_when_nothing_pairs(tmp_path):
    lines = _lines(lambda h, s, i: int(i == 0), lambda s, i: 3)
    (tmp_path / "a.jsonl").write_text("\n".join(lines) + "\n")
    (tmp_path / "b.jsonl").write_text("\n".join(lines) + "\n")
    out = tmp_path / "ba.md"
    assert compare.main([str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl"), "--out", str(out), "--title", "T"]) == 0
    text = out.read_text()
    assert text.startswith("# T") and "| flaky / breaking / trail / evidence / careless | 12 | 0.100 | 0.100 |" in text
    other = _lines(lambda h, s, i: 0, lambda s, i: 3, knob={"half_life_s": 9.0})
    (tmp_path / "c.jsonl").write_text("\n".join(other) + "\n")
    assert compare.main([str(tmp_path / "a.jsonl"), str(tmp_path / "c.jsonl"), "--out", str(tmp_path / "x.md")]) == 2


def test_a_side_may_be_several_files_of_other_seeds_but_not_the_same_seed_twice(tmp_path):
    stale = lambda h, s, i: int(h == "careless" and i == 0)  # noqa: E731
    first = _lines(stale, lambda s, i: 3)
    later = [line.replace('"seed": ', '"seed": 50') for line in first]  # seeds 500-5011: other seeds
    for name, lines in (("a.jsonl", first), ("b.jsonl", later), ("c.jsonl", first)):
        (tmp_path / name).write_text("\n".join(lines) + "\n")
    side = compare.read_side([str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl")])
    rows, _ = compare.compare(side, side)
    assert {r.diff.n for r in rows} == {24}
    out = tmp_path / "x.md"
    two = f"{tmp_path / 'a.jsonl'},{tmp_path / 'b.jsonl'}"
    assert compare.main([two, two, "--out", str(out)]) == 0 and "| 24 |" in out.read_text()
    twice = f"{tmp_path / 'a.jsonl'},{tmp_path / 'c.jsonl'}"
    assert compare.main([twice, two, "--out", str(out)]) == 2


def _claims_lines(lost_of) -> list[str]:
    """claims/breaking runs of trail on SEEDS: instance i of seed s is charged lost_of(s, i) lost items."""
    out = [{"kind": "meta", "profile": "test", "code": "c0ffee" * 10, "seeds": {"eval": SEEDS}}]
    for seed in SEEDS:
        for i in range(10):
            out.append({"kind": "instance", "world": "claims", "scenario": "breaking", "memory": "trail",
                        "rule": "strongest", "habit": "practice", "seed": seed, "knob": {"half_life_s": 16.0},
                        "phase": "eval", "instance": i, "tries": 1, "cost": 4.0, "solved": True,
                        "stale_followed": 0, "used_best": True, "bytes_read": 10, "after_change": i >= 5,
                        "extra": {"duplicated": 0.0, "lost": lost_of(seed, i)}})
        out.append({"kind": "run", "world": "claims", "scenario": "breaking", "memory": "trail", "rule": "strongest",
                    "habit": "practice", "seed": seed, "knob": {"half_life_s": 16.0}, "phase": "eval", "seconds": 1.0,
                    "instances": 10, "invariants": {}, "change_at": 5})
    return [json.dumps(x) for x in out]


def test_items_lost_are_compared_in_claims_and_only_there(tmp_path):
    before = _write(tmp_path, "before.jsonl", _claims_lines(lambda s, i: float(i < 3 + s % 2))
                    + _lines(lambda h, s, i: 0, lambda s, i: 3)[1:])
    after = _write(tmp_path, "after.jsonl", _claims_lines(lambda s, i: float(i == 0))
                   + _lines(lambda h, s, i: 0, lambda s, i: 3)[1:])
    rows, _ = compare.compare(before, after)
    (lost,) = [r for r in rows if r.metric == "lost"]
    assert lost.cell.world == "claims" and lost.diff.n == 12
    assert lost.before == sum(3 + s % 2 for s in SEEDS) / 12 and lost.after == 1.0
    assert lost.diff.hi < 0 and lost.verdict == "better after"
    assert {r.cell.world for r in rows if r.metric == "primary"} == {"claims", "flaky"}
    text = compare.markdown(rows, [], before, after, "T", "b", "a")
    assert "## Items lost a run" in text and "| claims / breaking / trail / strongest / practice | 12 | 3.500 | 1.000 |" in text
    flaky_only = compare.markdown([r for r in rows if r.cell.world == "flaky"], [], before, after, "T", "b", "a")
    assert "Items lost" not in flaky_only
