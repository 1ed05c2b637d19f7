"""Two runs of the colony benchmark side by side, paired by seed: what a
change to traild (or to the agents) did, cell by cell.

    python3 -m colony.compare BEFORE.jsonl[,MORE.jsonl] AFTER.jsonl[,MORE.jsonl] --out FILE.md \\
        [--title TEXT] [--before-label TEXT] [--after-label TEXT]

A side may be several record files (comma-separated: runs of other seeds of
the same cells); a seed run twice on one side is refused.

A cell is a world, scenario, memory, decision rule, habit and knob; only
eval runs count, and only cells both files ran with the same knob. For each
cell and metric (stale advice followed per instance, the world's primary
metric, and in the claims world the items lost) the table gives both
means, the mean of the paired differences (after minus before) with its
bootstrap 95 % interval, Wilcoxon's p and
Holm's adjustment over the cells of that metric, and the verdict of
`colony.stats.verdict` (the interval and the adjusted test must agree).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from . import report, stats


@dataclass(frozen=True)
class Cell:
    world: str
    scenario: str
    memory: str
    rule: str
    habit: str
    knob: str

    @property
    def label(self) -> str:
        return f"{self.world} / {self.scenario} / {report.display_name(self.memory)} / {self.rule} / {self.habit}"


@dataclass
class Row:
    cell: Cell
    metric: str
    before: float
    after: float
    diff: Optional[stats.PairedDifference]
    p_adjusted: Optional[float] = None

    @property
    def verdict(self) -> str:
        # "ahead" means after is better (A = after).
        v = stats.verdict(self.diff, self.p_adjusted)
        return {stats.VERDICT_AHEAD: "better after", stats.VERDICT_BEHIND: "worse after"}.get(v, v)


#: The metrics compared, each with its table's heading and how a run's metrics give it
#: (None where the world has no such figure: only claims loses items).
METRICS: dict[str, tuple[str, Callable[[stats.RunMetrics], Optional[float]]]] = {
    "stale": ("Stale advice followed per instance", lambda m: m.stale_per_instance),
    "primary": ("Primary metric (flaky: tries per ticket; routes: trip cost; claims: duplicated work)",
                lambda m: m.primary),
    "lost": ("Items lost a run (claims: not done when the run's instances are over)", lambda m: m.lost),
}


def _cells(records: report.Records) -> dict[Cell, dict[int, stats.RunMetrics]]:
    out: dict[Cell, dict[int, stats.RunMetrics]] = {}
    for run in records.runs:
        if run.phase != "eval" or not run.instances:
            continue
        cell = Cell(run.world, run.scenario, run.memory, run.rule, run.habit, repr(sorted(run.knob.items())))
        seeds = out.setdefault(cell, {})
        if run.seed in seeds:
            raise ValueError(f"{cell.label} {cell.knob}: seed {run.seed} was run twice on one side")
        seeds[run.seed] = stats.run_metrics(run.world, run.instances, run.change_at)
    return out


def read_side(paths: list[str]) -> report.Records:
    """The runs of several record files as one: the first file's meta, each
    file's name and code listed in `source`."""
    parts = [report.read_records(p) for p in paths]
    first = parts[0]
    if len(parts) == 1:
        return first
    codes = sorted({str(p.meta.get("code", "?"))[:12] for p in parts})
    return report.Records(meta={**first.meta, "code": " + ".join(codes)}, runs=[r for p in parts for r in p.runs],
                          notes=[n for p in parts for n in p.notes], source=", ".join(str(p.source) for p in parts))


def compare(before: report.Records, after: report.Records) -> tuple[list[Row], list[str]]:
    """The rows of every metric, and what could not be paired."""
    a, b = _cells(before), _cells(after)
    notes = [f"only before: {c.label} {c.knob}" for c in sorted(set(a) - set(b), key=lambda c: c.label)]
    notes += [f"only after: {c.label} {c.knob}" for c in sorted(set(b) - set(a), key=lambda c: c.label)]
    rows: list[Row] = []
    for metric, (_, value) in METRICS.items():
        family: list[Row] = []
        for cell in sorted(set(a) & set(b), key=lambda c: c.label):
            seeds, x, y = stats.pair_by_seed({s: value(m) for s, m in b[cell].items()},
                                             {s: value(m) for s, m in a[cell].items()})
            if not seeds:
                continue
            diff = stats.paired_difference(x, y, lower_is_better=True)
            family.append(Row(cell, metric, sum(y) / len(y), sum(x) / len(x), diff))
        for row, p in zip(family, stats.holm([r.diff.p if r.diff else None for r in family])):
            row.p_adjusted = p
        rows += family
    return rows, notes


def _fmt(x: Optional[float], digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def markdown(rows: list[Row], notes: list[str], before: report.Records, after: report.Records,
             title: str, before_label: str, after_label: str) -> str:
    lines = [f"# {title}", "",
             f"- **Before**: {before_label} (code {str(before.meta.get('code', '?'))[:27]}; {before.source})",
             f"- **After**: {after_label} (code {str(after.meta.get('code', '?'))[:27]}; {after.source})",
             "- Paired by seed; differences are after minus before (lower is better for every metric); bootstrap 95 % "
             "intervals; Wilcoxon signed-rank p with Holm's adjustment over the cells of each metric.", ""]
    for metric, (heading, _) in METRICS.items():
        if not any(r.metric == metric for r in rows):
            continue
        lines += [f"## {heading}", "",
                  "| cell | seeds | before | after | after - before [95 % CI] | p (Holm) | verdict |",
                  "|---|---:|---:|---:|---|---:|---|"]
        for r in (r for r in rows if r.metric == metric):
            d = r.diff
            ci = f"{_fmt(d.mean)} [{_fmt(d.lo)}, {_fmt(d.hi)}]" if d else "-"
            lines.append(f"| {r.cell.label} | {d.n if d else 0} | {_fmt(r.before)} | {_fmt(r.after)} | {ci} | "
                         f"{_fmt(r.p_adjusted, 4)} | {r.verdict} |")
        lines.append("")
    if notes:
        lines += ["## Not paired", ""] + [f"- {n}" for n in notes] + [""]
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m colony.compare", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--out", required=True)
    ap.add_argument("--title", default="The colony benchmark before and after a change")
    ap.add_argument("--before-label", default="before")
    ap.add_argument("--after-label", default="after")
    args = ap.parse_args(argv)
    before, after = read_side(args.before.split(",")), read_side(args.after.split(","))
    try:
        rows, notes = compare(before, after)
    except ValueError as exc:
        print(f"colony.compare: {exc}", file=sys.stderr)
        return 2
    if not rows:
        print("colony.compare: no cell was run by both (eval runs, same knob)", file=sys.stderr)
        return 2
    Path(args.out).write_text(markdown(rows, notes, before, after, args.title, args.before_label, args.after_label))
    print(f"colony.compare: {len(rows)} rows -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
