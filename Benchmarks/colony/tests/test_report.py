"""The report against synthetic records whose effects are known by construction."""
from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

import colony_path  # noqa: F401  (Benchmarks/colony on sys.path)

from colony import report, stats

SEEDS = list(range(30))
N = 24
CHANGE_AT = 12
#: Extra tries per instance over trail, by construction (before jitter).
OFFSETS = {"none": 2.0, "handoff": 1.5, "log-newest": 1.0, "log-frequency": 1.25,
           "vector": 0.5, "trail-nodecay": 0.0, "trail": 0.0, "oracle": -0.5}


def _extra_tries(memory: str, seed: int, i: int) -> int:
    """Extra tries of instance i over trail's, whole tries so the records look
    like the runner's. vector: +1 on every other instance, and one more on
    (seed % 5) instances: trail - vector = -(0.5 + (seed % 5) / N) per seed.
    trail-nodecay: +k on seed s and -k on seed s + 1 (k from the pair), so
    its mean difference from trail is exactly zero."""
    if memory == "vector":
        return (i % 2 == 0) + (i < seed % 5)
    if memory == "trail-nodecay":
        k = 1 + (seed // 2) % 3
        return (k if seed % 2 == 0 else -k) if i == 0 else 0
    if memory == "none":
        return 2
    if memory == "handoff":
        return 1 + (i % 2 == 0)
    if memory == "log-newest":
        return 1
    if memory == "log-frequency":
        return 1 + (i % 4 == 0)
    if memory == "oracle":
        return -(i % 2 == 0)
    return 0


def _instances(world: str, scenario: str, memory: str, seed: int, knob: dict[str, Any],
               n: int = N) -> list[dict[str, Any]]:
    change = CHANGE_AT if scenario != "static" else None
    out = []
    for i in range(n):
        tries = 3 + (seed * 7 + i * 3) % 4 + _extra_tries(memory, seed, i)
        after = change is not None and i >= change
        # trail misses the best option for 3 instances after the change; nodecay never returns.
        used_best = not (after and ((memory == "trail" and i < change + 3) or memory == "trail-nodecay"))
        out.append({"kind": "instance", "world": world, "scenario": scenario, "memory": memory,
                    "rule": "strongest", "habit": "practice", "seed": seed, "knob": knob,
                    "instance": i, "at": i / n, "after_change": after, "tries": tries,
                    "cost": float(tries) * 10.0, "solved": tries < 7,
                    "stale_followed": int(after and memory == "trail-nodecay"),
                    "final_option": "a", "used_best": used_best, "bytes_read": 100 * (1 + (memory != "none")),
                    "extra": ({"duplicated": float(tries - 3), "lost": 0.0} if world == "claims" else {})})
    return out


def _run(world: str, scenario: str, memory: str, seed: int, knob: dict[str, Any], phase: str,
         n: int = N) -> dict[str, Any]:
    return {"kind": "run", "world": world, "scenario": scenario, "memory": memory, "rule": "strongest",
            "habit": "practice", "seed": seed, "knob": knob, "phase": phase, "seconds": 8.0, "instances": n,
            "invariants": {"no_lost_writes": True}, "change_at": CHANGE_AT if scenario != "static" else None}


def synthetic_lines(worlds: tuple[str, ...] = ("flaky",), scenarios: tuple[str, ...] = ("static", "breaking"),
                    sweep: bool = True) -> list[str]:
    """JSONL lines: a meta line, eval runs of every memory on 30 seeds, a few
    tuning runs, and a half-life sweep of trail on 5 other seeds."""
    lines: list[dict[str, Any]] = [{"kind": "meta", "profile": "test", "started_at": "2026-12-04T20:00:00Z",
                                    "machine": {"cores": 2}, "traild": "0.1.0", "clock": "real",
                                    "seeds": {"tuning": [1000, 1001], "eval": SEEDS},
                                    "predictions": "Benchmarks/colony/PREDICTIONS.md"}]
    for world in worlds:
        for scenario in scenarios:
            for memory in OFFSETS:
                knob = {"half_life_s": 4} if memory == "trail" else {}
                for seed in SEEDS:
                    lines += _instances(world, scenario, memory, seed, knob)
                    lines.append(_run(world, scenario, memory, seed, knob, "eval"))
            for seed in (1000, 1001):
                knob = {"half_life_s": 2}
                lines += _instances(world, scenario, "trail", seed, knob, n=10)
                lines.append(_run(world, scenario, "trail", seed, knob, "tuning", n=10))
            if sweep:
                for h in (1, 4, 16):
                    for seed in range(100, 105):
                        knob = {"half_life_s": h}
                        inst = _instances(world, scenario, "trail", seed, knob)
                        for r in inst:  # a longer half-life costs a try more in this made-up world
                            r["tries"] += int(h == 16)
                        lines += inst
                        lines.append(_run(world, scenario, "trail", seed, knob, "sweep"))
    return [json.dumps(line) for line in lines]


PREDICTIONS = """# Predictions

Written before the run.

- flaky/breaking: oracle > trail > vector > log > handoff > none
- `flaky/static: vector > trail = trail-nodecay`
this line is prose: a > b
"""


@pytest.fixture(scope="module")
def built() -> tuple[report.Records, report.Report]:
    records = report.parse_records(synthetic_lines())
    return records, report.build_report(records, PREDICTIONS, "PREDICTIONS.md")


def _comparison(records: report.Records, scenario: str, baseline: str) -> report.Comparison:
    analysis = report.analyse(records)
    comps = report.headline_comparisons(analysis, "strongest", "practice")
    return next(c for c in comps if c.cell.scenario == scenario and c.b == baseline)


def test_a_known_advantage_is_ahead_with_an_interval_excluding_zero(built):
    records, rep = built
    c = _comparison(records, "breaking", "vector")
    assert c.diff is not None and c.diff.n == 30
    assert c.diff.mean == pytest.approx(-(0.5 + 2 / N))
    assert c.diff.hi < 0 and c.diff.lo < c.diff.mean < c.diff.hi
    assert c.verdict == "ahead"
    assert "| flaky / breaking | vector | -0.583 |" in rep.markdown
    assert "**ahead**" in rep.markdown


def test_no_effect_is_no_clear_difference(built):
    records, _ = built
    c = _comparison(records, "breaking", "trail-nodecay")
    assert c.diff is not None and c.diff.mean == pytest.approx(0.0, abs=1e-12)
    assert c.diff.lo < 0 < c.diff.hi
    assert c.verdict == "no clear difference"


def test_headline_p_values_are_holm_adjusted_over_the_table(built):
    records, _ = built
    comps = report.headline_comparisons(report.analyse(records), "strongest", "practice")
    raw = [c.diff.p if c.diff else None for c in comps]
    assert [c.p_holm for c in comps] == stats.holm(raw)
    assert len(comps) == 2 * 5  # two scenarios, five baselines (oracle is not one)


def test_the_better_log_variant_is_shown_and_named(built):
    records, rep = built
    cell = report.analyse(records).cell("flaky", "breaking", "strongest", "practice")
    assert cell is not None and cell.variants["log"] == "newest"
    assert "log (newest)" in rep.markdown and "log-frequency" not in rep.markdown.split("## 6.")[0]


def test_recovery_and_censoring_reach_the_cell_table(built):
    _, rep = built
    row = "| trail | 4.50 [4.50, 4.50] | 1.00 [1.00, 1.00] | 0.000 [0.000, 0.000] | 1 (0/30 censored) |"
    assert row in rep.markdown
    assert "beyond the run (30/30 censored)" in rep.markdown


def test_svgs_parse_and_have_one_polyline_per_memory(built):
    _, rep = built
    assert {"colony-flaky-static.svg", "colony-flaky-breaking.svg", "colony-halflife.svg"} <= set(rep.svgs)
    ns = "{http://www.w3.org/2000/svg}"
    root = ET.fromstring(rep.svgs["colony-flaky-breaking.svg"])
    titles = [p.find(f"{ns}title").text for p in root.iter(f"{ns}polyline")]
    assert titles == ["none", "handoff", "log (newest)", "vector", "trail-nodecay", "trail", "oracle"]
    texts = "".join(t.text or "" for t in root.iter(f"{ns}text"))
    assert "position in the run" in texts and "tries per ticket" in texts and "change" in texts
    assert len(list(root.iter(f"{ns}polygon"))) == 7  # one interval band per memory
    sweep = ET.fromstring(rep.svgs["colony-halflife.svg"])
    assert [p.find(f"{ns}title").text for p in sweep.iter(f"{ns}polyline")] == ["static", "breaking"]


def test_sweep_table_marks_the_best_and_the_shipped_half_life(built):
    _, rep = built
    section = rep.markdown.split("## 4.")[1].split("## 5.")[0]
    assert "| 4 *shipped* |" in section
    assert section.count("**") >= 4  # a best mean per scenario, in bold
    assert "breaking: change after 4.00 s" in section  # instance 12 of 24 starts at 4 s of 8


def test_predictions_mark_a_flipped_pair_and_the_losses(built):
    _, rep = built
    section = rep.markdown.split("## 5.")[1].split("## 6.")[0]
    assert "| vector > trail | **flipped, clear** |" in section
    assert "| trail > vector | held, clear |" in section
    assert "| trail = trail-nodecay | held |" in section
    assert "measured (strongest, practice): `oracle > trail = trail-nodecay > vector > log > handoff > none`" in section
    assert "flaky/static (strongest, practice): predicted vector > trail, flipped, clear" in section
    assert "Behind, clearly (0):" in section


def test_trail_losing_is_listed():
    lines = [json.loads(x) for x in synthetic_lines(scenarios=("breaking",), sweep=False)]
    for line in lines:  # make vector better than trail instead
        if line.get("kind") == "instance" and line["memory"] == "vector":
            line["tries"] -= 2
    rep = report.build_report(report.parse_records(json.dumps(x) for x in lines))
    section = rep.markdown.split("### Where trail loses")[1]
    assert "Behind, clearly (1):" in section
    assert "flaky/breaking (strongest, practice): trail − vector = +1.42 tries" in section


def test_too_few_seeds_say_so_and_give_no_verdict():
    lines = [json.loads(x) for x in synthetic_lines(scenarios=("breaking",), sweep=False)]
    few = [x for x in lines if x.get("kind") == "meta" or x.get("seed", 0) < 5]
    rep = report.build_report(report.parse_records(json.dumps(x) for x in few))
    assert "**Too few seeds for a verdict**: with 5 eval seeds" in rep.markdown
    assert "**ahead**" not in rep.markdown


def test_the_oracle_rule_is_the_oracle_of_every_rule():
    lines = [json.loads(x) for x in synthetic_lines(scenarios=("breaking",), sweep=False)]
    out = []
    for x in lines:
        if x.get("memory") == "oracle":  # as colony.agents runs it: rule "oracle", any memory
            x = dict(x, memory="none", rule="oracle")
        out.append(x)
        if x.get("kind") in ("instance", "run") and x["rule"] == "strongest":
            out.append(dict(x, rule="evidence"))
    analysis = report.analyse(report.parse_records(json.dumps(x) for x in out))
    assert analysis.combos == [("strongest", "practice"), ("evidence", "practice")]
    for rule in ("strongest", "evidence"):
        cell = analysis.cell("flaky", "breaking", rule, "practice")
        assert cell is not None and cell.estimate("oracle").mean == pytest.approx(4.0)
        assert cell.estimate("none").mean == pytest.approx(6.5)  # the real "none", not the oracle's runs
        assert cell.estimate("trail", "regret").mean == pytest.approx(5.0)


def test_parse_predictions_reads_ordering_lines_only():
    preds = report.parse_predictions(PREDICTIONS + "routes/silent: trail-nodecay = log-frequency > none\n")
    assert [(p.world, p.scenario) for p in preds] == [("flaky", "breaking"), ("flaky", "static"), ("routes", "silent")]
    assert preds[1].pairs() == [("vector", ">", "trail"), ("trail", "=", "trail-nodecay")]
    assert preds[2].names == ("trail-nodecay", "log", "none")


def test_instances_of_runs_sharing_a_key_are_split_in_order():
    a = _instances("flaky", "breaking", "trail", 7, {"half_life_s": 4}, n=12)
    b = _instances("flaky", "breaking", "trail", 7, {"half_life_s": 4}, n=12)
    for r in b:
        r["tries"] = 99
    lines = a + [_run("flaky", "breaking", "trail", 7, {"half_life_s": 4}, "eval", n=12)]
    lines += b + [_run("flaky", "breaking", "trail", 7, {"half_life_s": 4}, "sweep", n=12)]
    records = report.parse_records(json.dumps(x) for x in lines)
    by_phase = {r.phase: r for r in records.runs}
    assert {x["tries"] for x in by_phase["sweep"].instances} == {99}
    assert 99 not in {x["tries"] for x in by_phase["eval"].instances}
    assert any("split by order" in n for n in records.notes)


def test_instance_phase_field_decides_when_present():
    a = _instances("flaky", "static", "trail", 7, {}, n=12)
    for r in a:
        r["phase"] = "sweep"
    lines = [_run("flaky", "static", "trail", 7, {}, phase, n=12) for phase in ("eval", "sweep")]
    records = report.parse_records(json.dumps(x) for x in lines + a)
    by_phase = {r.phase: r for r in records.runs}
    assert len(by_phase["sweep"].instances) == 12 and not by_phase["eval"].instances


def test_write_report_is_deterministic_and_the_cli_writes_beside(tmp_path: Path):
    path = tmp_path / "records.jsonl"
    path.write_text("\n".join(synthetic_lines(scenarios=("breaking",), sweep=False)) + "\n")
    preds = tmp_path / "PREDICTIONS.md"
    preds.write_text(PREDICTIONS)
    out = tmp_path / "results" / "colony.md"
    assert report.main([str(path), "--out", str(out), "--predictions", str(preds)]) == 0
    first = {p.name: p.read_text() for p in out.parent.iterdir()}
    assert set(first) == {"colony.md", "colony-flaky-breaking.svg"}
    report.write_report(path, out, preds, command=None)
    text = out.read_text()
    assert text.split("## 6.")[0] == first["colony.md"].split("## 6.")[0]
    assert "all 242 checks held" in text  # 8 memories x 30 seeds, and 2 tuning runs
    assert "SHA-256" in text and "tuning**: 2 runs" in text


def test_compressed_records_give_the_same_report(tmp_path: Path):
    """The committed records are zstd-compressed: read through `zstd -dc`,
    they give the report the plain file gives, and the same digest."""
    plain = tmp_path / "colony.jsonl"
    plain.write_text("".join(l + "\n" for l in synthetic_lines(scenarios=("breaking",), sweep=False)))
    packed = tmp_path / "colony.jsonl.zst"
    subprocess.run(["zstd", "-q", "-19", str(plain), "-o", str(packed)], check=True)
    a, b = report.read_records(plain), report.read_records(packed)
    assert a.sha256 == b.sha256
    # the same figures; only the file's name differs
    assert report.build_report(a).markdown == report.build_report(b).markdown.replace("colony.jsonl.zst", "colony.jsonl")
    broken = tmp_path / "broken.jsonl.zst"
    broken.write_bytes(packed.read_bytes()[:40])
    with pytest.raises(ValueError, match="could not decompress"):
        report.read_records(broken)


def test_the_time_reads_waited_for_embedding_is_reported_per_memory_and_world(tmp_path: Path):
    lines = [json.loads(l) for l in synthetic_lines(scenarios=("breaking",), sweep=False)]
    for l in lines:
        if l["kind"] == "run" and l["memory"] in ("vector", "trail"):
            l["embedding_wait_s"] = 2.0 if l["memory"] == "trail" else 4.0
            l["embedding_backlog"] = {"max": 7 if l["seed"] % 2 else 3, "mean": 1.5, "samples": 10}
    path = tmp_path / "records.jsonl"
    path.write_text("".join(json.dumps(l) + "\n" for l in lines))
    out = tmp_path / "colony.md"
    report.write_report(path, out, None, command=None)
    section = out.read_text().split("## 6.")[1]
    assert "Reads waited for traild to embed" in section
    table = section.split("Reads waited for traild to embed")[1].split("Knobs of the eval runs")[0]
    assert "| trail | 2.00 s; 7 |" in table and "| vector | 4.00 s; 7 |" in table
    # Only the memories that wait (the others have no daemon to wait for).
    assert "| trail-nodecay |" not in table and "| log" not in table and "| none |" not in table


def test_findings_are_set_in_after_the_losses_and_marked_as_written_by_hand(tmp_path: Path):
    path = tmp_path / "records.jsonl"
    path.write_text("\n".join(synthetic_lines(scenarios=("breaking",), sweep=False)) + "\n")
    preds = tmp_path / "PREDICTIONS.md"
    preds.write_text(PREDICTIONS)
    findings = tmp_path / "FINDINGS.md"
    findings.write_text("# Findings\n\nThe log wins routes because it counts.\n")
    out = tmp_path / "colony.md"
    assert report.main([str(path), "--out", str(out), "--predictions", str(preds), "--findings", str(findings)]) == 0
    text = out.read_text()
    losses, why, how = text.index("### Where trail loses"), text.index("### Why trail loses where it does"), text.index("## 6.")
    assert losses < why < how
    assert "The log wins routes because it counts." in text[why:how] and "# Findings" not in text
    assert "Written by hand after reading the records, not computed" in text[why:how]
    assert f"--findings {findings}" in text[how:]
    report.write_report(path, out, preds, command=None)
    assert "Why trail loses where it does" not in out.read_text()
