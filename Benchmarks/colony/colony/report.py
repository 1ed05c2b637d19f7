"""The colony benchmark's report: raw records (JSONL) in, Markdown and SVG out.

    python3 -m colony.report RECORDS.jsonl --out Benchmarks/results/colony.md \\
        [--predictions Benchmarks/colony/PREDICTIONS.md] [--findings FINDINGS.md]

Every figure in the report is computed here from the records, with the
functions of `colony.stats`, so running this again on the same file gives
the same report byte for byte. Nothing else is read but the predictions file
and the findings: text written by hand after reading the records (why trail
loses where it does), set in as it is, under a line that says so.

Which records count: instance lines are joined to their run line by
(world, scenario, memory, rule, habit, seed, knob), and by `phase` too when
the instance line carries one. Only "eval" runs make the headline, per-cell,
decay and prediction sections; "sweep" runs make the half-life sweep; "tuning"
runs are only counted. When two runs share a key without a phase on their
instance lines (a sweep point on an eval seed at the tuned half-life), the
j-th record of an instance number goes to the j-th such run in file order,
and the report says so. Runs of the decision rule "oracle" (colony.agents)
are shown as the memory "oracle" in every rule's cells of their world and
scenario.
"""
from __future__ import annotations

import argparse
import hashlib
import subprocess
import json
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence
from xml.sax.saxutils import escape

from . import stats
from .stats import Estimate, Metric, PairedDifference, RunMetrics

# --- names and orders ---------------------------------------------------------------

#: Memories in display order: from no memory to the oracle.
MEMORY_ORDER = ("none", "handoff", "log", "vector", "trail-nodecay", "trail", "oracle")
#: The memory the benchmark is about, its decay-off twin, and the ceiling.
TRAIL, NODECAY, ORACLE = "trail", "trail-nodecay", "oracle"
#: The decision rule that plays the oracle (colony.agents.RULES): its runs are
#: shown as the memory "oracle" in every rule's cells.
ORACLE_RULE = "oracle"
WORLD_ORDER = ("flaky", "routes", "claims")
SCENARIO_ORDER = ("static", "breaking", "silent")
RULE_ORDER = ("strongest", "evidence")
HABIT_ORDER = ("practice", "careless")
#: Runner spellings of the display names; anything else is shown as written.
ALIASES = {
    "log-newest": "log", "log-frequency": "log", "log-freq": "log", "append-log": "log",
    "trail-no-decay": "trail-nodecay", "trail-decay-off": "trail-nodecay", "nodecay": "trail-nodecay",
    "trail-shipped": "trail", "trail-as-shipped": "trail", "handoff-note": "handoff",
    "vector-memory": "vector", "plain-vector": "vector",
}
#: Okabe-Ito colours, which stay apart for the colour-blind; trail in blue.
COLORS = {
    "none": "#999999", "handoff": "#CC79A7", "log": "#E69F00", "vector": "#009E73",
    "trail-nodecay": "#56B4E9", "trail": "#0072B2", "oracle": "#000000",
}
SCENARIO_COLORS = {"static": "#009E73", "breaking": "#D55E00", "silent": "#0072B2"}
EXTRA_COLORS = ("#D55E00", "#F0E442", "#7F3C8D", "#11A579", "#3969AC")
CURVE_BINS = 10


def display_name(memory: str) -> str:
    """The display name of a runner's memory name (lower case, '_' as '-')."""
    m = memory.strip().lower().replace("_", "-")
    return ALIASES.get(m, m)


def _rank(value: str, preferred: Sequence[str]) -> int:
    """Position of `value` in `preferred` (by prefix, so "flaky-builds"
    ranks as "flaky"); after all of them when not named."""
    for i, p in enumerate(preferred):
        if value == p or value.startswith(p + "-") or (len(p) > 4 and value.startswith(p)):
            return i
    return len(preferred)


def _order(values: Iterable[str], preferred: Sequence[str]) -> list[str]:
    """Distinct `values`, those named in `preferred` first in its order, the
    rest alphabetically."""
    return sorted(set(values), key=lambda v: (_rank(v, preferred), v))


# --- reading the records -----------------------------------------------------------------

@dataclass
class Run:
    """One run line with the instance records that belong to it."""
    world: str
    scenario: str
    memory: str
    rule: str
    habit: str
    seed: int
    knob: dict[str, Any]
    phase: str
    seconds: Optional[float] = None
    change_at: Optional[int] = None
    declared_instances: Optional[int] = None
    invariants: dict[str, bool] = field(default_factory=dict)
    instances: list[dict[str, Any]] = field(default_factory=list)
    #: Seconds the run's reads waited for traild to embed notes, and the
    #: largest backlog sampled (daemon memories only).
    embedding_wait_s: Optional[float] = None
    embedding_backlog_max: Optional[int] = None

    @property
    def display(self) -> str:
        """The memory's display name."""
        return display_name(self.memory)


@dataclass
class Records:
    """What a JSONL file holds: the meta line, the runs, and what was odd."""
    meta: dict[str, Any]
    runs: list[Run]
    notes: list[str]
    source: Optional[str] = None
    sha256: Optional[str] = None
    #: The `resumed` lines: each time the run went on from its records (`--resume`).
    resumed: list[dict[str, Any]] = field(default_factory=list)


def _knob_key(knob: Any) -> Any:
    """A hashable, order-free form of a knob, the same for run and instance
    lines (a sorted tuple of items; JSON text for nested values)."""
    items = (knob or {}).items()
    try:
        key = tuple(sorted(items))
        hash(key)
        return key
    except TypeError:
        return json.dumps(knob, sort_keys=True)


def _run_key(line: Mapping[str, Any]) -> tuple:
    """What ties an instance line to its run line."""
    return (str(line["world"]), str(line["scenario"]), str(line["memory"]), str(line["rule"]),
            str(line["habit"]), int(line["seed"]), _knob_key(line.get("knob")))


def _inferred_phase(seed: int, meta: Mapping[str, Any]) -> str:
    """The phase of instances without a run line, from the meta's seed lists."""
    seeds = meta.get("seeds") or {}
    if seed in (seeds.get("tuning") or []) and seed not in (seeds.get("eval") or []):
        return "tuning"
    return "eval"


#: The fields of an instance line the statistics read; the rest (the cell's
#: keys, the knob, final_option) is dropped as the line is read, which keeps
#: a file of a million instances in a few hundred MB.
INSTANCE_FIELDS = ("instance", "at", "after_change", "tries", "cost", "solved", "stale_followed",
                   "used_best", "bytes_read", "extra")


@dataclass
class _Pending:
    """Instance lines read, waiting for the run lines (which may come after
    them): per run key, the lines' phases (or None) and slim records."""
    knob: dict[str, Any]
    phases: list[Optional[str]] = field(default_factory=list)
    instances: list[dict[str, Any]] = field(default_factory=list)


def parse_records(lines: Iterable[str]) -> Records:
    """Parses JSONL text lines (blank lines skipped) into runs with their
    instances; see the module doc for how instances find their run."""
    meta: dict[str, Any] = {}
    runs: list[Run] = []
    pending: dict[tuple, _Pending] = {}
    notes: list[str] = []
    resumed: list[dict[str, Any]] = []
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        line = json.loads(text)
        kind = line.get("kind")
        if kind == "instance":
            key = _run_key(line)
            p = pending.get(key)
            if p is None:
                p = pending[key] = _Pending(dict(line.get("knob") or {}))
            p.phases.append(line.get("phase"))
            p.instances.append({k: line[k] for k in INSTANCE_FIELDS if k in line})
        elif kind == "run":
            runs.append(Run(
                world=str(line["world"]), scenario=str(line["scenario"]), memory=str(line["memory"]),
                rule=str(line["rule"]), habit=str(line["habit"]), seed=int(line["seed"]),
                knob=dict(line.get("knob") or {}), phase=str(line.get("phase", "eval")),
                seconds=line.get("seconds"), change_at=line.get("change_at"),
                declared_instances=line.get("instances"),
                invariants={str(k): bool(v) for k, v in (line.get("invariants") or {}).items()},
                embedding_wait_s=line.get("embedding_wait_s"),
                embedding_backlog_max=(line.get("embedding_backlog") or {}).get("max")))
        elif kind == "meta":
            meta = line
        elif kind == "resumed":
            resumed.append(line)
        elif kind == "tuned":
            pass  # the knobs the eval runs name themselves
        else:
            notes.append(f"line {number}: unknown kind {kind!r}, skipped")
    _attach_instances(runs, pending, meta, notes)
    for run in runs:
        run.instances.sort(key=lambda r: int(r["instance"]))
        if run.change_at is None and run.scenario != "static":
            after = [int(r["instance"]) for r in run.instances if r.get("after_change")]
            run.change_at = min(after) if after else None
        if run.declared_instances is not None and run.declared_instances != len(run.instances):
            notes.append(f"{_run_label(run)}: run line says {run.declared_instances} instances, "
                         f"{len(run.instances)} instance lines found")
    return Records(meta=meta, runs=runs, notes=notes, resumed=resumed)


def _attach_instances(runs: list[Run], pending: Mapping[tuple, _Pending],
                      meta: Mapping[str, Any], notes: list[str]) -> None:
    """Gives every instance line to its run (see the module doc), making a
    run for instances whose run line is missing."""
    by_key: dict[tuple, list[Run]] = {}
    for run in runs:
        by_key.setdefault((run.world, run.scenario, run.memory, run.rule, run.habit, run.seed,
                           _knob_key(run.knob)), []).append(run)
    for key, p in pending.items():
        for phase in sorted(set(p.phases), key=str):
            rows = [r for ph, r in zip(p.phases, p.instances) if ph == phase]
            candidates = [r for r in by_key.get(key, []) if phase is None or r.phase == phase]
            if not candidates:
                taken = str(phase or _inferred_phase(key[5], meta))
                run = Run(world=key[0], scenario=key[1], memory=key[2], rule=key[3], habit=key[4],
                          seed=key[5], knob=p.knob, phase=taken)
                runs.append(run)
                notes.append(f"{_run_label(run)}: instance lines without a run line (phase taken as {taken})")
                candidates = [run]
            if len(candidates) == 1:
                candidates[0].instances.extend(rows)
                continue
            seen: dict[int, int] = {}
            for r in rows:  # the j-th line of an instance number goes to the j-th run
                j = seen.get(int(r["instance"]), 0)
                seen[int(r["instance"])] = j + 1
                candidates[min(j, len(candidates) - 1)].instances.append(r)
            notes.append(f"{'/'.join(map(str, key[:6]))} {dict(p.knob)}: {len(candidates)} runs share this key; "
                         "instances split by order of appearance")


def read_records(path: Path | str) -> Records:
    """Reads a JSONL records file line by line (zstd-compressed when its name
    ends in .zst, as the committed records are: read through the `zstd`
    command), noting its name and the SHA-256 of its lines so the report names
    exactly the data it was made from."""
    digest = hashlib.sha256()

    def lines() -> Iterable[str]:
        if str(path).endswith(".zst"):
            proc = subprocess.Popen(["zstd", "-dc", "--", str(path)], stdout=subprocess.PIPE)
            assert proc.stdout is not None
            for raw in proc.stdout:
                digest.update(raw)
                yield raw.decode("utf-8")
            if proc.wait() != 0:
                raise ValueError(f"{path}: zstd could not decompress it")
            return
        with open(path, "rb") as f:
            for raw in f:
                digest.update(raw)
                yield raw.decode("utf-8")
    records = parse_records(lines())
    records.source = str(path)
    records.sha256 = digest.hexdigest()
    return records


def _run_label(run: Run) -> str:
    """A run as the notes name it."""
    return f"{run.world}/{run.scenario}/{run.memory}/{run.rule}/{run.habit} seed {run.seed} ({run.phase})"


# --- the eval cells ---------------------------------------------------------------------

@dataclass
class Cell:
    """One world x scenario x rule x habit on the eval seeds: per memory
    (display name), per seed, the run's metrics, learning curve and regret."""
    world: str
    scenario: str
    rule: str
    habit: str
    metric: Metric
    metrics: dict[str, dict[int, RunMetrics]] = field(default_factory=dict)
    curves: dict[str, dict[int, list[Optional[float]]]] = field(default_factory=dict)
    regrets: dict[str, dict[int, float]] = field(default_factory=dict)
    #: Display name -> which variant of it is shown ("newest" for log-newest),
    #: for the log and wherever two runner memories share a display name.
    variants: dict[str, str] = field(default_factory=dict)
    #: Change position as a fraction of the run (mean over runs), if any.
    change_position: Optional[float] = None

    @property
    def memories(self) -> list[str]:
        """Display names present, in display order."""
        return _order(self.metrics, MEMORY_ORDER)

    def values(self, memory: str, attr: str) -> dict[int, Optional[float]]:
        """Per seed, one attribute of the memory's metrics (or "regret")."""
        if attr == "regret":
            return dict(self.regrets.get(memory, {}))
        return {s: getattr(m, attr) for s, m in self.metrics.get(memory, {}).items()}

    def estimate(self, memory: str, attr: str = "primary") -> Optional[Estimate]:
        """Mean over seeds and bootstrap interval of one metric."""
        return stats.bootstrap_ci([v for _, v in sorted(self.values(memory, attr).items()) if v is not None])

    def compare(self, a: str, b: str, attr: str = "primary",
                lower_is_better: Optional[bool] = None) -> Optional[PairedDifference]:
        """A minus B, paired by seed."""
        if a not in self.metrics or b not in self.metrics:
            return None
        _, xa, xb = stats.pair_by_seed(self.values(a, attr), self.values(b, attr))
        if not xa:
            return None
        lib = self.metric.lower_is_better if lower_is_better is None else lower_is_better
        return stats.paired_difference(xa, xb, lower_is_better=lib)

    def variant_note(self, memory: str) -> str:
        """" (newest)" when the memory shown is one of several variants."""
        return f" ({self.variants[memory]})" if memory in self.variants else ""


@dataclass
class Analysis:
    """Everything the report shows, computed from the records."""
    records: Records
    cells: dict[tuple[str, str, str, str], Cell]
    worlds: list[str]
    scenarios: list[str]
    combos: list[tuple[str, str]]
    eval_seeds: list[int]

    def cell(self, world: str, scenario: str, rule: str, habit: str) -> Optional[Cell]:
        """The eval cell, if it was run."""
        return self.cells.get((world, scenario, rule, habit))


def analyse(records: Records, bins: int = CURVE_BINS) -> Analysis:
    """Computes the eval cells: metrics per run, the better log variant per
    cell, learning curves, and regret against the oracle on the same seed."""
    raw: dict[tuple[str, str, str, str], dict[str, dict[int, Run]]] = {}
    for run in records.runs:
        if run.phase != "eval" or not run.instances:
            continue
        by_memory = raw.setdefault((run.world, run.scenario, run.rule, run.habit), {})
        seeds = by_memory.setdefault(run.memory, {})
        if run.seed in seeds:
            records.notes.append(f"{_run_label(run)}: a second eval run on this seed; the later one is used")
        seeds[run.seed] = run
    _share_oracle_rule(raw, records.notes)
    cells: dict[tuple[str, str, str, str], Cell] = {}
    for key, by_memory in raw.items():
        world, scenario, rule, habit = key
        cell = Cell(world, scenario, rule, habit, stats.primary_metric(world))
        positions = []
        for memory, seeds in by_memory.items():
            cell.metrics[memory] = {s: stats.run_metrics(world, r.instances, r.change_at) for s, r in seeds.items()}
            cell.curves[memory] = {s: stats.run_curve(world, r.instances, bins) for s, r in seeds.items()}
            positions += [r.change_at / len(r.instances) for r in seeds.values() if r.change_at is not None]
        cell.change_position = sum(positions) / len(positions) if positions else None
        _choose_variants(cell)
        cells[key] = cell
    _attach_regret(cells)
    eval_seeds = sorted({s for c in cells.values() for m in c.metrics.values() for s in m})
    return Analysis(
        records=records, cells=cells,
        worlds=_order({k[0] for k in cells}, WORLD_ORDER),
        scenarios=_order({k[1] for k in cells}, SCENARIO_ORDER),
        combos=sorted({(k[2], k[3]) for k in cells},
                      key=lambda c: (_rank(c[0], RULE_ORDER), _rank(c[1], HABIT_ORDER), c)),
        eval_seeds=eval_seeds)


def _share_oracle_rule(raw: dict[tuple[str, str, str, str], dict[str, dict[int, Run]]], notes: list[str]) -> None:
    """Runs with the decision rule "oracle" (the agent that knows the best
    option and reads and writes nothing: the same with any memory and any
    rule) are the oracle of every rule's cell in their world and scenario,
    of the same habit when there is one. They make no cell of their own.
    When several memories ran the oracle rule, one stands for all
    ("oracle", else "none", else the first by name)."""
    oracle_keys = [k for k in raw if k[2] == ORACLE_RULE]
    if not oracle_keys:
        return
    by_place: dict[tuple[str, str], dict[str, dict[int, Run]]] = {}
    for key in oracle_keys:
        by_memory = raw.pop(key)
        pick = ORACLE if ORACLE in by_memory else "none" if "none" in by_memory else sorted(by_memory)[0]
        by_place.setdefault((key[0], key[1]), {})[key[3]] = by_memory[pick]
        if len(by_memory) > 1:
            notes.append(f"{'/'.join(key)}: {len(by_memory)} memories ran the oracle rule; {pick}'s runs are used")
    for (world, scenario, rule, habit), by_memory in raw.items():
        habits = by_place.get((world, scenario))
        if habits and ORACLE not in by_memory:
            by_memory[ORACLE] = habits.get(habit) or habits[sorted(habits)[0]]


def _choose_variants(cell: Cell) -> None:
    """Folds runner names into display names; where two runner memories
    show as one (log-newest and log-frequency), keeps the one with the
    better mean primary metric in this cell. Choosing on the eval seeds
    favours the baseline, never trail."""
    groups: dict[str, list[str]] = {}
    for memory in cell.metrics:
        groups.setdefault(display_name(memory), []).append(memory)
    metrics, curves = {}, {}
    for shown, names in groups.items():
        sign = 1.0 if cell.metric.lower_is_better else -1.0
        best = min(sorted(names), key=lambda n: sign * _mean([m.primary for m in cell.metrics[n].values()]))
        metrics[shown], curves[shown] = cell.metrics[best], cell.curves[best]
        spelled = best.strip().lower().replace("_", "-")
        if spelled != shown and spelled.startswith(shown + "-") and (shown == "log" or len(names) > 1):
            cell.variants[shown] = spelled[len(shown) + 1:]
        elif len(names) > 1:
            cell.variants[shown] = best
    cell.metrics, cell.curves = metrics, curves


def _mean(xs: Sequence[float]) -> float:
    """Mean, infinite when empty, so an empty variant never wins a choice."""
    return sum(xs) / len(xs) if xs else math.inf


def _attach_regret(cells: dict[tuple[str, str, str, str], Cell]) -> None:
    """Regret = a run's mean cost minus the oracle's on the same world,
    scenario and seed: the oracle of the same rule and habit when there is
    one, else the mean of the oracle runs of that seed."""
    any_oracle: dict[tuple[str, str, int], list[float]] = {}
    for (world, scenario, _, _), cell in cells.items():
        for seed, m in cell.metrics.get(ORACLE, {}).items():
            any_oracle.setdefault((world, scenario, seed), []).append(m.mean_cost)
    for (world, scenario, _, _), cell in cells.items():
        own = cell.metrics.get(ORACLE, {})
        for memory, seeds in cell.metrics.items():
            out: dict[int, float] = {}
            for seed, m in seeds.items():
                if seed in own:
                    out[seed] = stats.regret(m, own[seed])
                elif (world, scenario, seed) in any_oracle:
                    costs = any_oracle[(world, scenario, seed)]
                    out[seed] = m.mean_cost - sum(costs) / len(costs)
            cell.regrets[memory] = out


# --- comparisons ---------------------------------------------------------------------

@dataclass
class Comparison:
    """A paired comparison of memory A against B in one cell, with its
    Holm-adjusted p within its family and its verdict."""
    cell: Cell
    a: str
    b: str
    diff: Optional[PairedDifference]
    p_holm: Optional[float] = None
    verdict: str = stats.VERDICT_NONE


def compare_family(pairs: Sequence[tuple[Cell, str, str]]) -> list[Comparison]:
    """Compares each (cell, A, B) on the primary metric and adjusts the
    p-values by Holm over all of them: one family, one table."""
    out = [Comparison(cell, a, b, cell.compare(a, b)) for cell, a, b in pairs]
    adjusted = stats.holm([c.diff.p if c.diff else None for c in out])
    for c, p in zip(out, adjusted):
        c.p_holm = p
        c.verdict = stats.verdict(c.diff, p)
    return out


def baselines(cell: Cell) -> list[str]:
    """What trail is compared with in a cell: every memory but itself and
    the oracle (the oracle is the ceiling, measured as regret)."""
    return [m for m in cell.memories if m not in (TRAIL, ORACLE)]


def headline_comparisons(analysis: Analysis, rule: str, habit: str) -> list[Comparison]:
    """Trail against each baseline in every world x scenario of one rule and
    habit: the family of one headline table."""
    pairs = []
    for world in analysis.worlds:
        for scenario in analysis.scenarios:
            cell = analysis.cell(world, scenario, rule, habit)
            if cell is None or TRAIL not in cell.metrics:
                continue
            pairs += [(cell, TRAIL, b) for b in baselines(cell)]
    return compare_family(pairs)


def decay_comparisons(analysis: Analysis) -> list[Comparison]:
    """Trail against trail with decay off in every cell, by scenario: the
    family of the decay table."""
    pairs = []
    for scenario in analysis.scenarios:
        for world in analysis.worlds:
            for rule, habit in analysis.combos:
                cell = analysis.cell(world, scenario, rule, habit)
                if cell is not None and TRAIL in cell.metrics and NODECAY in cell.metrics:
                    pairs.append((cell, TRAIL, NODECAY))
    return compare_family(pairs)


# --- the half-life sweep ----------------------------------------------------------------

def half_life(knob: Mapping[str, Any]) -> Optional[float]:
    """The half-life of a sweep run's knob: `half_life_s`, else the first
    numeric knob whose name contains "half_life"."""
    if isinstance(knob.get("half_life_s"), (int, float)):
        return float(knob["half_life_s"])
    for k, v in sorted(knob.items()):
        if "half_life" in k and isinstance(v, (int, float)):
            return float(v)
    return None


def change_seconds(run: Run) -> Optional[float]:
    """Seconds from the run's start to its change: the changed instance's
    start (`at`, a fraction of the run) times the run's wall time."""
    if run.change_at is None or not run.seconds:
        return None
    for r in run.instances:
        if int(r["instance"]) >= run.change_at:
            return float(r.get("at", 0.0)) * float(run.seconds)
    return None


@dataclass
class SweepGroup:
    """One memory, rule and habit swept over half-lives in one world."""
    world: str
    memory: str
    rule: str
    habit: str
    metric: Metric
    #: scenario -> half-life -> seed -> primary metric
    values: dict[str, dict[float, dict[int, float]]] = field(default_factory=dict)
    #: scenario -> seconds from start to change, over its runs
    change_s: dict[str, list[float]] = field(default_factory=dict)


def sweep_groups(records: Records) -> list[SweepGroup]:
    """The sweep runs grouped for the sweep table and plot."""
    groups: dict[tuple[str, str, str, str], SweepGroup] = {}
    for run in records.runs:
        if run.phase != "sweep" or not run.instances:
            continue
        h = half_life(run.knob)
        if h is None:
            records.notes.append(f"{_run_label(run)}: sweep run without a half-life in its knob, skipped")
            continue
        key = (run.world, display_name(run.memory), run.rule, run.habit)
        group = groups.setdefault(key, SweepGroup(*key, metric=stats.primary_metric(run.world)))
        m = stats.run_metrics(run.world, run.instances, run.change_at)
        group.values.setdefault(run.scenario, {}).setdefault(h, {})[run.seed] = m.primary
        cs = change_seconds(run)
        if cs is not None:
            group.change_s.setdefault(run.scenario, []).append(cs)
    return [groups[k] for k in sorted(groups, key=lambda k: (
        _rank(k[0], WORLD_ORDER), _rank(k[1], MEMORY_ORDER), _rank(k[2], RULE_ORDER), _rank(k[3], HABIT_ORDER), k))]


# --- predictions --------------------------------------------------------------------------

@dataclass(frozen=True)
class Prediction:
    """One ordering line of the predictions file: names best first, with the
    relation between each neighbour pair (">" better, "=" no difference)."""
    world: str
    scenario: str
    names: tuple[str, ...]
    relations: tuple[str, ...]
    line: str

    def pairs(self) -> list[tuple[str, str, str]]:
        """The predicted neighbour pairs (A, relation, B)."""
        return [(self.names[i], self.relations[i], self.names[i + 1]) for i in range(len(self.relations))]


_PREDICTION = re.compile(r"^\s*(?:[-*]\s+)?`?([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)`?\s*:\s*`?([^`]*?)`?\s*$")
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def parse_predictions(text: str) -> list[Prediction]:
    """The `WORLD/SCENARIO: A > B = C` lines of a predictions file (a list
    bullet and backquotes allowed); any other line is prose and skipped."""
    out = []
    for raw in text.splitlines():
        m = _PREDICTION.match(raw)
        if not m or not re.search(r"[>=]", m.group(3)):
            continue
        parts = re.split(r"\s*([>=])\s*", m.group(3).strip())
        names, relations = parts[0::2], parts[1::2]
        if len(names) < 2 or not all(_NAME.match(n) for n in names):
            continue
        out.append(Prediction(m.group(1), m.group(2), tuple(display_name(n) for n in names),
                              tuple(relations), raw.strip()))
    return out


def pair_status(cell: Optional[Cell], a: str, relation: str, b: str) -> str:
    """Whether a predicted pair held on the eval seeds: for "A > B", held
    when A's mean is better, "clear" when the paired interval excludes zero;
    for "A = B", held when the interval includes zero."""
    if cell is None or a not in cell.metrics or b not in cell.metrics:
        return "not measured"
    diff = cell.compare(a, b)
    if diff is None:
        return "not measured"
    if relation == "=":
        if not diff.excludes_zero:
            return "held"
        return f"differs ({a if diff.better == 'a' else b} better)"
    if diff.better is None:
        return "tie"
    held = "held" if diff.better == "a" else "flipped"
    return f"{held}, {'clear' if diff.excludes_zero else 'not clear'}"


def measured_ordering(cell: Cell) -> str:
    """The cell's memories best first by mean primary metric, with ">"
    between neighbours whose paired interval excludes zero and "=" where it
    does not (unadjusted: a description, not a test)."""
    sign = 1.0 if cell.metric.lower_is_better else -1.0
    ranked = sorted(cell.memories, key=lambda m: (sign * _mean([x.primary for x in cell.metrics[m].values()]), m))
    parts = [ranked[0]] if ranked else []
    for prev, cur in zip(ranked, ranked[1:]):
        diff = cell.compare(prev, cur)
        parts += [">" if diff is not None and diff.excludes_zero else "=", cur]
    return " ".join(parts)


# --- number formats -------------------------------------------------------------------------

def decimals(*xs: Optional[float]) -> int:
    """Decimals for about three significant figures of the largest of `xs`:
    a mean and its interval share them, so they line up."""
    a = max((abs(x) for x in xs if x is not None and not math.isnan(x)), default=0.0)
    return 0 if a >= 100 else 1 if a >= 10 else 2 if a >= 1 else 3


def fmt(x: Optional[float], places: Optional[int] = None) -> str:
    """A number to `places` decimals (default: about three significant
    figures), with thousands separators and no exponent."""
    if x is None or math.isnan(x):
        return "—"
    return f"{x:,.{decimals(x) if places is None else places}f}"


def fmt_signed(x: Optional[float], places: Optional[int] = None) -> str:
    """A difference: its sign always shown."""
    s = fmt(x, places)
    return s if x is None or s.startswith(("-", "—")) else "+" + s


def fmt_est(e: Optional[Estimate]) -> str:
    """mean [lo, hi], all to the same decimals."""
    if e is None:
        return "—"
    p = decimals(e.mean, e.lo, e.hi)
    return f"{fmt(e.mean, p)} [{fmt(e.lo, p)}, {fmt(e.hi, p)}]"


def fmt_diff(d: Optional[PairedDifference]) -> str:
    """A paired difference's mean, signed, to its interval's decimals."""
    return "—" if d is None else fmt_signed(d.mean, decimals(d.mean, d.lo, d.hi))


def fmt_ci(d: Optional[PairedDifference]) -> str:
    """A difference's interval, signed, to its mean's decimals."""
    if d is None:
        return "—"
    p = decimals(d.mean, d.lo, d.hi)
    return f"[{fmt_signed(d.lo, p)}, {fmt_signed(d.hi, p)}]"


def fmt_p(p: Optional[float]) -> str:
    """A p-value to three decimals; below 0.001 only its bound means anything."""
    if p is None:
        return "—"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], right_from: int = 1) -> list[str]:
    """A Markdown table, columns from `right_from` on right-aligned."""
    align = ["---" if i < right_from else "---:" for i in range(len(header))]
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


# --- SVG ---------------------------------------------------------------------------------------

@dataclass
class Series:
    """One line: points (x, y, lo, hi), lo/hi the interval band or None."""
    label: str
    color: str
    points: list[tuple[float, float, Optional[float], Optional[float]]]
    dashed: bool = False
    width: float = 2.0


@dataclass
class Panel:
    """One plot area with its axes, lines and vertical markers."""
    title: str
    xlabel: str
    ylabel: str
    series: list[Series]
    xlog: bool = False
    xticks: Optional[list[float]] = None
    #: Vertical dashed markers: (x, label, colour).
    markers: list[tuple[float, str, str]] = field(default_factory=list)
    #: Fixed x range (data units), else the data's.
    xrange: Optional[tuple[float, float]] = None


_W, _LEFT, _PLOT_W, _PANEL_H, _PLOT_H, _TOP = 760, 70, 460, 300, 210, 52


def _nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 5 times a power of ten) covering lo..hi."""
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    start = math.floor(lo / step) * step
    ticks = []
    t = start
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 12))
        t += step
    return ticks


def _tick(t: float) -> str:
    """A tick label: tick values are round, so no padding zeros."""
    return f"{t:,.0f}" if abs(t) >= 1000 else f"{round(t, 10):g}"


def _panel_svg(panel: Panel, y0: float) -> list[str]:
    """The SVG elements of one panel whose top is at y0."""
    out: list[str] = []
    top, bottom = y0 + 24, y0 + 24 + _PLOT_H
    right = _LEFT + _PLOT_W
    out.append(f'<text x="{_LEFT}" y="{y0 + 14:.1f}" font-weight="bold">{escape(panel.title)}</text>')
    pts = [p for s in panel.series for p in s.points]
    if not pts:
        out.append(f'<text x="{_LEFT + _PLOT_W / 2:.1f}" y="{(top + bottom) / 2:.1f}" '
                   'text-anchor="middle">no data</text>')
        return out
    tx = (lambda v: math.log10(v)) if panel.xlog else (lambda v: v)
    xs = [tx(p[0]) for p in pts] + [tx(m[0]) for m in panel.markers]
    ys = [v for p in pts for v in (p[1], p[2], p[3]) if v is not None]
    x_lo, x_hi = (tx(panel.xrange[0]), tx(panel.xrange[1])) if panel.xrange else (min(xs), max(xs))
    if x_hi == x_lo:
        x_lo, x_hi = x_lo - 1, x_hi + 1
    y_lo, y_hi = min(ys), max(ys)
    if y_lo >= 0 and y_lo < 0.5 * y_hi:
        y_lo = 0.0
    if y_hi - y_lo < 1e-9:  # a flat line sits mid-panel, not on an edge
        pad = abs(y_hi) * 0.05 or 1.0
        y_lo, y_hi = y_lo - pad, y_hi + pad
    ticks = _nice_ticks(y_lo, y_hi)
    y_lo, y_hi = min(ticks[0], y_lo), max(ticks[-1], y_hi)

    def sx(v: float) -> float:
        return _LEFT + (tx(v) - x_lo) / (x_hi - x_lo) * _PLOT_W

    def sy(v: float) -> float:
        return bottom - (v - y_lo) / (y_hi - y_lo) * _PLOT_H

    for t in ticks:
        out.append(f'<line x1="{_LEFT}" y1="{sy(t):.1f}" x2="{right}" y2="{sy(t):.1f}" stroke="#eee"/>')
        out.append(f'<text x="{_LEFT - 6}" y="{sy(t) + 4:.1f}" text-anchor="end" fill="#333">{escape(_tick(t))}</text>')
    xticks = panel.xticks if panel.xticks is not None else (
        sorted({p[0] for p in pts}) if panel.xlog else _nice_ticks(x_lo, x_hi))
    for t in xticks:
        if not (x_lo - 1e-9 <= tx(t) <= x_hi + 1e-9):
            continue
        out.append(f'<line x1="{sx(t):.1f}" y1="{top}" x2="{sx(t):.1f}" y2="{bottom}" stroke="#f3f3f3"/>')
        out.append(f'<text x="{sx(t):.1f}" y="{bottom + 16:.1f}" text-anchor="middle" fill="#333">'
                   f'{escape(_tick(t))}</text>')
    out.append(f'<text x="{_LEFT + _PLOT_W / 2:.1f}" y="{bottom + 34:.1f}" text-anchor="middle">'
               f'{escape(panel.xlabel)}</text>')
    mid = (top + bottom) / 2
    out.append(f'<text x="18" y="{mid:.1f}" transform="rotate(-90 18 {mid:.1f})" text-anchor="middle">'
               f'{escape(panel.ylabel)}</text>')
    out.append(f'<rect x="{_LEFT}" y="{top}" width="{_PLOT_W}" height="{_PLOT_H}" fill="none" stroke="#888"/>')
    for i, (x, label, color) in enumerate(panel.markers):
        out.append(f'<line x1="{sx(x):.1f}" y1="{top}" x2="{sx(x):.1f}" y2="{bottom}" stroke="{color}" '
                   f'stroke-dasharray="4 3"><title>{escape(label)}</title></line>')
        out.append(f'<text x="{sx(x) + 3:.1f}" y="{top + 12 + 13 * i:.1f}" fill="{color}" font-size="11">'
                   f'{escape(label)}</text>')
    for s in panel.series:
        band = [p for p in s.points if p[2] is not None and p[3] is not None]
        if len(band) > 1:
            ring = [(sx(p[0]), sy(p[3])) for p in band] + [(sx(p[0]), sy(p[2])) for p in reversed(band)]
            coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in ring)
            out.append(f'<polygon points="{coords}" fill="{s.color}" fill-opacity="0.12" stroke="none"/>')
    for s in panel.series:
        coords = " ".join(f"{sx(p[0]):.1f},{sy(p[1]):.1f}" for p in s.points)
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        out.append(f'<polyline points="{coords}" fill="none" stroke="{s.color}" stroke-width="{s.width}"{dash}>'
                   f'<title>{escape(s.label)}</title></polyline>')
    for i, s in enumerate(panel.series):
        ly = top + 8 + i * 18
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        out.append(f'<line x1="{right + 16}" y1="{ly:.1f}" x2="{right + 40}" y2="{ly:.1f}" stroke="{s.color}" '
                   f'stroke-width="{s.width}"{dash}/>')
        out.append(f'<text x="{right + 46}" y="{ly + 4:.1f}">{escape(s.label)}</text>')
    return out


def svg_chart(title: str, subtitle: str, panels: Sequence[Panel]) -> str:
    """A hand-written SVG of stacked panels: title, subtitle, then each panel
    with its own axes and legend on the right."""
    height = _TOP + _PANEL_H * max(1, len(panels))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{height}" viewBox="0 0 {_W} {height}" '
           f'font-family="Helvetica, Arial, sans-serif" font-size="12">',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="{_LEFT}" y="22" font-size="15" font-weight="bold">{escape(title)}</text>',
           f'<text x="{_LEFT}" y="38" fill="#555">{escape(subtitle)}</text>']
    for i, panel in enumerate(panels):
        out += _panel_svg(panel, _TOP + i * _PANEL_H)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _color(name: str, palette: Mapping[str, str], i: int) -> str:
    """A name's fixed colour, so a memory looks the same in every figure."""
    return palette.get(name, EXTRA_COLORS[i % len(EXTRA_COLORS)])


def curve_svg(cell: Cell) -> str:
    """Learning curves of one cell: the primary metric per bin of start
    position, one line per memory with its interval band across seeds."""
    series = []
    for i, memory in enumerate(cell.memories):
        rows = [c for _, c in sorted(cell.curves[memory].items())]
        ests = stats.learning_curve(rows)
        n = len(ests)
        points = [((b + 0.5) / n, e.mean, e.lo, e.hi) for b, e in enumerate(ests) if e is not None]
        series.append(Series(memory + cell.variant_note(memory), _color(memory, COLORS, i), points,
                             dashed=memory == ORACLE, width=3.0 if memory == TRAIL else 2.0))
    markers = [(cell.change_position, "change", "#D55E00")] if cell.change_position is not None else []
    better = "lower" if cell.metric.lower_is_better else "higher"
    seeds = len({s for m in cell.metrics.values() for s in m})
    panel = Panel(f"{cell.world} / {cell.scenario}", "position in the run (share of instances, by start)",
                  cell.metric.per_instance, series, markers=markers, xticks=[0, 0.2, 0.4, 0.6, 0.8, 1.0],
                  xrange=(0.0, 1.0))
    return svg_chart(f"colony: {cell.world} / {cell.scenario}, learning curves",
                     f"rule {cell.rule}, habit {cell.habit}; mean over {seeds} seeds with 95 % bootstrap band; "
                     f"{better} is better", [panel])


def sweep_svg(groups: Sequence[SweepGroup]) -> str:
    """The half-life sweep: one panel per world (and memory, rule, habit),
    one line per scenario, the change time of each scenario marked."""
    panels = []
    for g in groups:
        series, markers = [], []
        changes: dict[float, list[tuple[str, str]]] = {}
        for i, scenario in enumerate(_order(g.values, SCENARIO_ORDER)):
            color = _color(scenario, SCENARIO_COLORS, i)
            points = []
            for h in sorted(g.values[scenario]):
                e = stats.bootstrap_ci([v for _, v in sorted(g.values[scenario][h].items())])
                if e is not None:
                    points.append((h, e.mean, e.lo, e.hi))
            series.append(Series(scenario, color, points))
            if g.change_s.get(scenario):
                cs = sum(g.change_s[scenario]) / len(g.change_s[scenario])
                if cs > 0:
                    changes.setdefault(round(cs, 1), []).append((scenario, color))
        for cs, named in sorted(changes.items()):  # scenarios changing at the same time share a marker
            color = named[0][1] if len(named) == 1 else "#555555"
            markers.append((cs, "change: " + ", ".join(n for n, _ in named), color))
        title = f"{g.world}: {g.memory}, rule {g.rule}, habit {g.habit}"
        panels.append(Panel(title, "half-life (s, log scale)", g.metric.label, series, xlog=True, markers=markers))
    return svg_chart("colony: half-life sweep", "primary metric per half-life, mean over seeds with 95 % band; "
                     "dashed: seconds from start to the change", panels)


# --- the report ----------------------------------------------------------------------------------

@dataclass
class Report:
    """The Markdown and the SVG files (name -> text) to write beside it."""
    markdown: str
    svgs: dict[str, str]


def _slug(*parts: str) -> str:
    """File-name-safe parts joined by '-'."""
    return "-".join(re.sub(r"[^A-Za-z0-9_.]+", "_", p) for p in parts)


def _curve_file(prefix: str, cell: Cell, primary: tuple[str, str]) -> str:
    """colony-WORLD-SCENARIO.svg for the first rule and habit, with the rule
    and habit appended for the others."""
    if (cell.rule, cell.habit) == primary:
        return f"{prefix}-{_slug(cell.world, cell.scenario)}.svg"
    return f"{prefix}-{_slug(cell.world, cell.scenario, cell.rule, cell.habit)}.svg"


def build_report(records: Records, predictions: Optional[str] = None,
                 predictions_name: Optional[str] = None, prefix: str = "colony",
                 command: Optional[str] = None, findings: Optional[str] = None,
                 findings_name: Optional[str] = None) -> Report:
    """The whole report from parsed records, the predictions text and the
    findings written by hand (if any)."""
    analysis = analyse(records)
    svgs: dict[str, str] = {}
    lines = _intro(analysis)
    headline = {combo: headline_comparisons(analysis, *combo) for combo in analysis.combos}
    lines += _headline_section(analysis, headline)
    lines += _cells_section(analysis, svgs, prefix)
    lines += _decay_section(analysis)
    lines += _sweep_section(records, analysis, svgs, prefix)
    lines += _predictions_section(analysis, headline, predictions, predictions_name)
    lines += _findings_section(findings, findings_name)
    lines += _how_section(analysis, predictions, predictions_name, command)
    return Report("\n".join(lines).rstrip() + "\n", svgs)


def _intro(analysis: Analysis) -> list[str]:
    """Title and the choices every table depends on, stated once."""
    meta = analysis.records.meta
    metrics = ", ".join(f"{w}: {stats.primary_metric(w).label}" for w in analysis.worlds)
    return [
        f"# Colony benchmark{': ' + str(meta['profile']) + ' run' if meta.get('profile') else ''}",
        "",
        "Simulated agent instances share one memory and solve tickets in simulated worlds; on a seed, every "
        "memory sees the same world and the same agent dice. Every figure below is computed from the raw "
        f"records by `python3 -m colony.report` (section 6 says how), over {len(analysis.eval_seeds)} eval seeds.",
        "",
        f"- **Primary metric** (lower is better): {metrics or '—'}.",
        "- **Intervals**: 95 % percentile bootstrap of the mean over seeds "
        f"({stats.RESAMPLES:,} resamples, seed {stats.BOOTSTRAP_SEED}).",
        "- **Tests**: paired by seed, two-sided Wilcoxon signed-rank (zero differences dropped), "
        "Holm-adjusted within each table.",
        f"- **Verdict**: *ahead* or *behind* when the Holm-adjusted p is below {stats.ALPHA} and the interval "
        "of the difference excludes zero; otherwise *no clear difference*.",
        "- **log**: the better of the log variants in each cell, named in brackets; choosing it on the eval "
        "seeds favours the baseline.",
        "",
    ] + ([f"**Too few seeds for a verdict**: with {len(analysis.eval_seeds)} eval seeds no two-sided "
          "signed-rank test can reach p < 0.05 (6 is the least), so every verdict below is *no clear "
          "difference* whatever the means say.", ""] if 0 < len(analysis.eval_seeds) < 6 else [])


def _headline_section(analysis: Analysis, headline: Mapping[tuple[str, str], list[Comparison]]) -> list[str]:
    """Section 1: per rule and habit, the means table and trail's paired differences."""
    out = ["## 1. Headline: the primary metric", ""]
    for rule, habit in analysis.combos:
        cells = [analysis.cell(w, s, rule, habit) for w in analysis.worlds for s in analysis.scenarios]
        cells = [c for c in cells if c is not None]
        memories = _order({m for c in cells for m in c.metrics}, MEMORY_ORDER)
        out += [f"### rule `{rule}`, habit `{habit}`", "",
                "Mean over eval seeds [95 % interval]:", ""]
        rows = [[f"{c.world} / {c.scenario}", c.metric.unit]
                + [fmt_est(c.estimate(m)) + c.variant_note(m) if m in c.metrics else "—" for m in memories]
                for c in cells]
        out += _table(["world / scenario", "metric"] + memories, rows, right_from=2) + [""]
        comps = headline[(rule, habit)]
        if comps:
            out += [f"trail minus each baseline, paired by seed (negative is better for trail); "
                    f"Holm over the {sum(c.diff is not None for c in comps)} comparisons of this table:", ""]
            rows = [[f"{c.cell.world} / {c.cell.scenario}", c.b + c.cell.variant_note(c.b),
                     fmt_diff(c.diff), fmt_ci(c.diff),
                     str(c.diff.n) if c.diff else "0", fmt_p(c.p_holm), _verdict_text(c.verdict)]
                    for c in comps]
            out += _table(["world / scenario", "baseline", "trail − baseline", "95 % CI", "seeds", "Holm p",
                           "verdict"], rows, right_from=2) + [""]
    return out


def _verdict_text(verdict: str) -> str:
    """A verdict, in bold when there is one."""
    return verdict if verdict == stats.VERDICT_NONE else f"**{verdict}**"


def _recovery_text(runs: Sequence[RunMetrics]) -> str:
    """Median recovery with its censored count, or a dash where nothing changed."""
    median, censored = stats.recovery_median(runs)
    applicable = sum(r.recovery_applicable for r in runs)
    if applicable == 0:
        return "—"
    shown = "beyond the run" if median is None else (str(int(median)) if median == int(median) else fmt(median))
    return f"{shown} ({censored}/{applicable} censored)"


def _cells_section(analysis: Analysis, svgs: dict[str, str], prefix: str) -> list[str]:
    """Section 2: per world and scenario, the learning curves and the secondary metrics."""
    out = ["## 2. Per cell: secondary metrics", "",
           "Per memory, mean over eval seeds [95 % interval]. *stale*: options taken on a note's advice after "
           "the world had made them not the best, per instance. *recovery*: instances after the change before "
           f"the first window of {stats.RECOVERY_WINDOW} consecutive instances with at least "
           f"{stats.RECOVERY_SHARE:.0%} on the best option (median over seeds, a censored seed counted as "
           "slower than all; censored: never recovered within the run). *regret*: mean cost per instance "
           "above the oracle's on the same seed.", ""]
    primary = analysis.combos[0] if analysis.combos else ("", "")
    for world in analysis.worlds:
        for scenario in analysis.scenarios:
            cells = [analysis.cell(world, scenario, r, h) for r, h in analysis.combos]
            cells = [c for c in cells if c is not None]
            if not cells:
                continue
            out += [f"### {world} / {scenario}", ""]
            files = []
            for c in cells:
                name = _curve_file(prefix, c, primary)
                svgs[name] = curve_svg(c)
                files.append((c, name))
            main = [name for c, name in files if (c.rule, c.habit) == primary]
            if main:
                out += [f"![learning curves, {world} / {scenario}]({main[0]})", ""]
            others = [f"[{c.rule}, {c.habit}]({name})" for c, name in files if (c.rule, c.habit) != primary]
            if others:
                out += ["Learning curves of the other rules and habits: " + ", ".join(others) + ".", ""]
            has_lost = any(m.lost is not None for c in cells for runs in c.metrics.values() for m in runs.values())
            header = ["rule", "habit", "memory", cells[0].metric.unit, "solved", "stale / instance", "recovery",
                      "regret", "bytes read / instance"] + (["lost"] if has_lost else [])
            rows = []
            for c in cells:
                for m in c.memories:
                    runs = [x for _, x in sorted(c.metrics[m].items())]
                    row = [c.rule, c.habit, m + c.variant_note(m), fmt_est(c.estimate(m)),
                           fmt_est(c.estimate(m, "solve_rate")), fmt_est(c.estimate(m, "stale_per_instance")),
                           _recovery_text(runs), fmt_est(c.estimate(m, "regret")),
                           fmt_est(c.estimate(m, "bytes_per_instance"))]
                    if has_lost:
                        row.append(fmt_est(c.estimate(m, "lost")))
                    rows.append(row)
            out += _table(header, rows, right_from=3) + [""]
    return out


def _decay_section(analysis: Analysis) -> list[str]:
    """Section 3: trail against itself with decay off, by scenario."""
    comps = decay_comparisons(analysis)
    out = ["## 3. Does decay help? trail against trail with decay off", ""]
    if not comps:
        return out + ["No cell has both trail and trail-nodecay on the eval seeds.", ""]
    out += ["trail minus trail-nodecay on the primary metric, paired by seed (negative: decay helps); Holm over "
            f"the {sum(c.diff is not None for c in comps)} comparisons of this table. Stale advice and "
            "recovery beside it, trail / trail-nodecay.", ""]
    rows = []
    for c in comps:
        cell = c.cell
        stale = cell.compare(TRAIL, NODECAY, "stale_per_instance", lower_is_better=True)
        rec = " / ".join(_recovery_text([x for _, x in sorted(cell.metrics[m].items())]) for m in (TRAIL, NODECAY))
        rows.append([cell.scenario, cell.world, cell.rule, cell.habit,
                     fmt_est(cell.estimate(TRAIL)), fmt_est(cell.estimate(NODECAY)),
                     fmt_diff(c.diff), fmt_ci(c.diff), fmt_p(c.p_holm),
                     _verdict_text(c.verdict),
                     f"{fmt_diff(stale)} {fmt_ci(stale)}" if stale else "—", rec])
    out += _table(["scenario", "world", "rule", "habit", "trail", "trail-nodecay", "difference", "95 % CI",
                   "Holm p", "decay", "stale / instance, difference", "recovery"], rows, right_from=4) + [""]
    by_scenario: dict[str, list[str]] = {}
    for c in comps:
        by_scenario.setdefault(c.cell.scenario, []).append(c.verdict)
    summary = [f"{s}: decay ahead in {v.count(stats.VERDICT_AHEAD)}, behind in {v.count(stats.VERDICT_BEHIND)}, "
               f"no clear difference in {v.count(stats.VERDICT_NONE)} of {len(v)}" for s, v in by_scenario.items()]
    return out + ["By scenario: " + "; ".join(summary) + ".", ""]


def _shipped_half_lives(records: Records) -> dict[str, set[float]]:
    """Half-lives the eval runs of trail used, per world: marks the shipped
    (tuned) point in the sweep table."""
    out: dict[str, set[float]] = {}
    for run in records.runs:
        if run.phase == "eval" and run.display == TRAIL:
            h = half_life(run.knob)
            if h is not None:
                out.setdefault(run.world, set()).add(h)
    return out


def _first_per_world(groups: Sequence[SweepGroup]) -> list[SweepGroup]:
    """One sweep group per world for the plot (trail, then the first rule and
    habit), so the figure stays small; the table shows them all."""
    out: dict[str, SweepGroup] = {}
    for g in groups:  # already in order: memory, rule, habit
        out.setdefault(g.world, g)
    return list(out.values())


def _sweep_section(records: Records, analysis: Analysis, svgs: dict[str, str], prefix: str) -> list[str]:
    """Section 4: the half-life sweep, against the time to the change."""
    groups = sweep_groups(records)
    out = ["## 4. Half-life sweep", ""]
    if not groups:
        return out + ["No sweep runs in the records.", ""]
    name = f"{prefix}-halflife.svg"
    svgs[name] = sweep_svg(_first_per_world(groups))
    shipped = _shipped_half_lives(records)
    out += [f"![half-life sweep]({name})", "",
            "The figure shows one rule and habit per world (the first table of each world below).", "",
            "Primary metric per half-life, mean over seeds [95 % interval]; **bold**: the best mean of each "
            "scenario; *shipped*: the half-life of the eval runs. The change comes after the seconds shown "
            "(start of the first changed instance, mean over runs); the ratio is half-life ÷ that time.", ""]
    for g in groups:
        scenarios = _order(g.values, SCENARIO_ORDER)
        out += [f"### {g.world}: {g.memory}, rule `{g.rule}`, habit `{g.habit}` ({g.metric.unit})", ""]
        changes = []
        for s in scenarios:
            cs = g.change_s.get(s)
            changes.append(f"{s}: change after {fmt(sum(cs) / len(cs))} s" if cs else f"{s}: no change")
        out += ["; ".join(changes) + ".", ""]
        halves = sorted({h for s in scenarios for h in g.values[s]})
        best: dict[str, float] = {}
        ests: dict[tuple[str, float], Optional[Estimate]] = {}
        sign = 1.0 if g.metric.lower_is_better else -1.0
        for s in scenarios:
            for h in halves:
                ests[(s, h)] = stats.bootstrap_ci([v for _, v in sorted(g.values[s].get(h, {}).items())])
            present = [h for h in halves if ests[(s, h)] is not None]
            if present:
                best[s] = min(present, key=lambda h: sign * ests[(s, h)].mean)  # type: ignore[union-attr]
        rows = []
        for h in halves:
            label = _tick(h) + (" *shipped*" if h in shipped.get(g.world, set()) else "")
            row = [label]
            for s in scenarios:
                e = ests[(s, h)]
                text = fmt_est(e)
                if e is not None and best.get(s) == h:
                    text = f"**{text}**"
                cs = g.change_s.get(s)
                if cs and e is not None:
                    text += f" (×{fmt(h / (sum(cs) / len(cs)))})"
                row.append(text)
            rows.append(row)
        out += _table(["half-life (s)"] + scenarios, rows) + [""]
    return out


def _predictions_section(analysis: Analysis, headline: Mapping[tuple[str, str], list[Comparison]],
                         text: Optional[str], name: Optional[str]) -> list[str]:
    """Section 5: each predicted ordering beside the measured ones, pair by
    pair, then the cells where trail loses."""
    out = ["## 5. Predictions against measurements", ""]
    if text is None:
        out += ["No predictions file was given.", ""]
    else:
        preds = parse_predictions(text)
        digest = hashlib.sha256(text.encode()).hexdigest()[:12]
        out += [f"Predictions from `{name or 'the predictions file'}` (SHA-256 {digest}…), written before the "
                "run. A pair *held* when the first memory's mean is better on the eval seeds, *clear* when "
                "the paired 95 % interval excludes zero (unadjusted); the measured ordering puts `=` between "
                "neighbours whose interval includes zero.", ""]
        if not preds:
            out += ["The file holds no `WORLD/SCENARIO: A > B` lines.", ""]
        held = flipped = total = 0
        flips: list[str] = []
        for p in preds:
            out += [f"### {p.world} / {p.scenario}", "", f"- predicted: `{' '.join(_interleave(p))}`"]
            for rule, habit in analysis.combos:
                cell = analysis.cell(p.world, p.scenario, rule, habit)
                out.append(f"- measured ({rule}, {habit}): "
                           + (f"`{measured_ordering(cell)}`" if cell else "not measured"))
            out.append("")
            rows = []
            for a, rel, b in p.pairs():
                row = [f"{a} {rel} {b}"]
                for rule, habit in analysis.combos:
                    status = pair_status(analysis.cell(p.world, p.scenario, rule, habit), a, rel, b)
                    row.append(f"**{status}**" if status.startswith(("flipped", "differs")) else status)
                    if status != "not measured":
                        total += 1
                        if status.startswith("held"):
                            held += 1
                        elif status.startswith(("flipped", "differs")):
                            flipped += 1
                            flips.append(f"{p.world}/{p.scenario} ({rule}, {habit}): predicted {a} {rel} {b}, {status}")
                rows.append(row)
            out += _table(["predicted pair"] + [f"{r}, {h}" for r, h in analysis.combos], rows) + [""]
        if preds:
            out += [f"In all: {held} of {total} measured predicted pairs held, {flipped} went the other way"
                    + (":" if flips else "."), ""]
            out += [f"- {f}" for f in flips] + ([""] if flips else [])
    out += _losses(headline)
    return out


def _interleave(p: Prediction) -> list[str]:
    """A prediction's names and relations back in one sequence."""
    out = [p.names[0]]
    for rel, n in zip(p.relations, p.names[1:]):
        out += [rel, n]
    return out


def _losses(headline: Mapping[tuple[str, str], list[Comparison]]) -> list[str]:
    """The cells where trail loses: clearly (verdict "behind") and by the
    mean only."""
    comps = [c for cs in headline.values() for c in cs if c.diff is not None]
    behind = [c for c in comps if c.verdict == stats.VERDICT_BEHIND]
    worse = [c for c in comps if c.verdict != stats.VERDICT_BEHIND and c.diff.better == "b"]  # type: ignore[union-attr]

    def line(c: Comparison) -> str:
        d = c.diff
        assert d is not None
        return (f"- {c.cell.world}/{c.cell.scenario} ({c.cell.rule}, {c.cell.habit}): trail − "
                f"{c.b}{c.cell.variant_note(c.b)} = {fmt_diff(d)} {c.cell.metric.unit} {fmt_ci(d)}, "
                f"Holm p {fmt_p(c.p_holm)}")
    out = ["### Where trail loses", ""]
    out += [f"Behind, clearly ({len(behind)}):"] + ([line(c) for c in behind] or ["- none"]) + [""]
    out += [f"Worse by the mean, no clear difference ({len(worse)}):"] + ([line(c) for c in worse] or ["- none"])
    return out + [""]


def _findings_section(text: Optional[str], name: Optional[str]) -> list[str]:
    """The hand-written reading of the losses, under a line that says it is
    not computed (nothing when no findings were given)."""
    if text is None:
        return []
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    body = text.strip().splitlines()
    if body and body[0].startswith("# "):
        body = body[1:]  # the file's own title; the section has one
    return (["### Why trail loses where it does", "",
             f"*Written by hand after reading the records, not computed: `{name or 'the findings file'}` "
             f"(SHA-256 {digest}…), set in as it is.*", ""]
            + "\n".join(body).strip().splitlines() + [""])


def _how_section(analysis: Analysis, predictions: Optional[str], predictions_name: Optional[str],
                 command: Optional[str]) -> list[str]:
    """Section 6: the meta line, seeds, phases, knobs, invariants, and how to
    make this report again."""
    records = analysis.records
    meta = records.meta
    out = ["## 6. How it was run", ""]
    machine = meta.get("machine")
    machine_text = ("; ".join(f"{k}: {v}" for k, v in machine.items()) if isinstance(machine, dict)
                    else str(machine) if machine else "—")
    seeds = meta.get("seeds") or {}
    out += [f"- **Profile**: {meta.get('profile', '—')}; started {meta.get('started_at', '—')}",
            f"- **Machine**: {machine_text}",
            f"- **traild**: {meta.get('traild', '—')}; **clock**: {meta.get('clock', '—')}",
            f"- **Seeds**: tuning {_seed_list(seeds.get('tuning'))}; eval {_seed_list(seeds.get('eval'))}; "
            f"eval seeds in the records {_seed_list(analysis.eval_seeds)}"]
    overlap = set(seeds.get("tuning") or []) & set(seeds.get("eval") or [])
    if overlap:
        out.append(f"- **Warning**: tuning and eval seeds overlap ({_seed_list(sorted(overlap))}): "
                   "the knobs were tuned on some of the seeds they are judged on")
    if records.resumed:
        out.append(f"- **Resumed** {len(records.resumed)} time(s) from its records (`--resume`, the same code): "
                   + "; ".join(f"{r.get('at', '?')} after {r.get('runs_before', '?')} runs, {r.get('jobs', '?')} at once"
                               for r in records.resumed))
    if meta.get("predictions"):
        out.append(f"- **Predictions** named by the run: `{meta['predictions']}`"
                   + (f"; read from `{predictions_name}`" if predictions is not None and predictions_name else ""))
    by_phase: dict[str, list[Run]] = {}
    for run in records.runs:
        by_phase.setdefault(run.phase, []).append(run)
    for phase in _order(by_phase, ("tuning", "eval", "sweep")):
        runs = by_phase[phase]
        seconds = sum(float(r.seconds or 0.0) for r in runs)
        out.append(f"- **{phase}**: {len(runs):,} runs, {sum(len(r.instances) for r in runs):,} instances, "
                   f"{fmt(seconds)} s of run time")
    out += _waiting_lines(records.runs)
    out += ["", "Knobs of the eval runs (tuned on the tuning seeds); memories without a knob are not listed:", ""]
    knobs: dict[tuple[str, str], set[str]] = {}
    for run in by_phase.get("eval", []):
        if run.knob:
            text = ", ".join(f"{k}={v}" for k, v in sorted(run.knob.items()))
            knobs.setdefault((run.memory, run.world), set()).add(text)
    worlds = _order({w for _, w in knobs}, WORLD_ORDER)
    memories = sorted({m for m, _ in knobs}, key=lambda m: (_rank(display_name(m), MEMORY_ORDER), m))
    rows = [[m] + ["; ".join(sorted(knobs.get((m, w), set()))) or "—" for w in worlds] for m in memories]
    out += (_table(["memory"] + worlds, rows) if rows else ["No memory has a knob."]) + [""]
    failed = [(r, name) for r in records.runs for name, ok in sorted(r.invariants.items()) if not ok]
    checked = sum(len(r.invariants) for r in records.runs)
    if failed:
        out += [f"**Invariants that failed** ({len(failed):,} of {checked:,} checks):", ""]
        out += [f"- {_run_label(r)}: {name}" for r, name in failed[:40]]
        if len(failed) > 40:
            out.append(f"- … and {len(failed) - 40} more")
        out.append("")
    else:
        out += [f"Invariants: all {checked:,} checks held.", ""]
    notes = list(dict.fromkeys(records.notes))  # analysing twice must not say things twice
    if notes:
        out += ["Notes on the records:", ""] + [f"- {n}" for n in notes[:40]]
        if len(notes) > 40:
            out.append(f"- … and {len(notes) - 40} more")
        out.append("")
    src = f"`{records.source}`" if records.source else "the records"
    digest = f" (SHA-256 {records.sha256})" if records.sha256 else ""
    out += [f"Made from {src}{digest} by `{command or 'python3 -m colony.report RECORDS.jsonl --out OUT.md'}` "
            "(with `Benchmarks/colony` on the Python path); the same command on the same file gives the same "
            "figures.", ""]
    return out


def _waiting_lines(runs: Sequence[Run]) -> list[str]:
    """How long the daemon memories' reads waited for traild to embed what
    was written (reads wait for the notes there when they begin: see the
    README), per memory and world: the mean per run, and the largest backlog
    sampled in any run."""
    waits: dict[tuple[str, str], list[Run]] = {}
    for r in runs:
        if r.embedding_wait_s is not None:
            waits.setdefault((r.memory, r.world), []).append(r)
    if not waits:
        return []
    worlds = _order({w for _, w in waits}, WORLD_ORDER)
    memories = sorted({m for m, _ in waits}, key=lambda m: (_rank(display_name(m), MEMORY_ORDER), m))
    rows = []
    for m in memories:
        row = [display_name(m)]
        for w in worlds:
            mine = waits.get((m, w), [])
            if not mine:
                row.append("—")
                continue
            mean = sum(float(r.embedding_wait_s or 0.0) for r in mine) / len(mine)
            backlog = max((int(r.embedding_backlog_max) for r in mine if r.embedding_backlog_max is not None), default=0)
            row.append(f"{fmt(mean)} s; {backlog}")
        rows.append(row)
    return ["", "Reads waited for traild to embed the notes there when they began (time summed over a run's "
                "readers, mean per run; the largest backlog of notes to embed sampled in any run):", ""] \
        + _table(["memory"] + worlds, rows)


def _seed_list(seeds: Optional[Sequence[int]]) -> str:
    """Seeds as ranges: 1-30, 41."""
    if not seeds:
        return "—"
    s = sorted(set(int(x) for x in seeds))
    parts, start, prev = [], s[0], s[0]
    for x in s[1:] + [None]:  # type: ignore[list-item]
        if x is not None and x == prev + 1:
            prev = x
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if x is not None:
            start = prev = x
    return ", ".join(parts) + f" ({len(s)})"


def _shown(path: Path | str) -> str:
    """`path` as a reader of the repository names it: relative to its root when inside it."""
    root = Path(__file__).resolve().parents[3]
    try:
        return str(Path(path).resolve().relative_to(root))
    except ValueError:
        return str(path)


def write_report(records_path: Path | str, out: Path | str, predictions: Path | str | None = None,
                 command: Optional[str] = None, findings: Path | str | None = None) -> list[Path]:
    """Reads the records (and predictions), writes the Markdown to `out` and
    the SVGs beside it; returns the paths written."""
    records = read_records(records_path)
    text = Path(predictions).read_text(encoding="utf-8") if predictions is not None else None
    out_path = Path(out)
    prefix = out_path.stem
    found = Path(findings).read_text(encoding="utf-8") if findings is not None else None
    report = build_report(records, text, _shown(predictions) if predictions is not None else None,
                          prefix=prefix, command=command, findings=found,
                          findings_name=_shown(findings) if findings is not None else None)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(report.markdown, encoding="utf-8")
    written = [out_path]
    for name, svg in sorted(report.svgs.items()):
        p = out_path.parent / name
        p.write_text(svg, encoding="utf-8")
        written.append(p)
    return written


def main(argv: Optional[Sequence[str]] = None) -> int:
    """The command line: parse, write, print the paths written."""
    parser = argparse.ArgumentParser(prog="python3 -m colony.report", description=__doc__.splitlines()[0])
    parser.add_argument("records", help="raw records, JSONL")
    parser.add_argument("--out", required=True, help="the Markdown report; SVGs are written beside it")
    parser.add_argument("--predictions", help="PREDICTIONS.md with WORLD/SCENARIO: A > B lines")
    parser.add_argument("--findings", help="Markdown written by hand after reading the records: why trail loses "
                                           "where it does (set in after the predictions)")
    args = parser.parse_args(argv)
    command = f"python3 -m colony.report {args.records} --out {args.out}" + (
        f" --predictions {args.predictions}" if args.predictions else "") + (
        f" --findings {args.findings}" if args.findings else "")
    written = write_report(args.records, args.out, args.predictions, command=command, findings=args.findings)
    for p in written:
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
