"""The colony benchmark's statistics: pure functions over raw records.

Everything here takes plain values (the dicts of the JSONL lines, lists of
floats) and returns plain values, so that `report.py` is the only place that
reads files and a reader can recompute any figure of the report from the
records with these functions alone.

Choices a reader should know, each made once here:

- Intervals are percentile bootstraps of the mean over seeds, 10,000
  resamples, from a fixed seed (`BOOTSTRAP_SEED`): the same input gives the
  same interval on every machine and in every order of calls.
- Paired tests are Wilcoxon signed-rank tests on the per-seed differences,
  two-sided, with Wilcoxon's zero method (a zero difference is dropped, as if
  that seed had not been run; Pratt's would rank it). Differences are rounded
  to 1e-9 first, so that float noise in means of counts neither makes nor
  breaks a tie. The method follows scipy's "auto" choice, taken explicitly
  here so that the p-value is the same with and without scipy: exact null
  distribution when there are no ties and at most 50 non-zero differences;
  exact enumeration of all sign flips when there are ties and at most 13;
  otherwise the normal approximation with the tie correction and no
  continuity correction.
- Holm's step-down correction is applied over a family of comparisons; the
  report's family is one table.
- A verdict is "ahead" or "behind" only when the Holm-adjusted p is below
  0.05 and the bootstrap interval excludes zero; otherwise "no clear
  difference".
"""
from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional, Sequence

import numpy as np

try:  # scipy is used when present; the fallback below gives the same p-values.
    import scipy.stats as _scipy_stats
except ImportError:  # pragma: no cover - exercised on machines without scipy
    _scipy_stats = None

#: Resamples and seed of every bootstrap interval in the report.
RESAMPLES = 10_000
BOOTSTRAP_SEED = 20_251_204
#: Two-sided level of the intervals and of the verdicts.
LEVEL = 0.95
ALPHA = 0.05
#: Recovery: a rolling window of this many consecutive instances with at
#: least this share on the best option counts as recovered.
RECOVERY_WINDOW = 10
RECOVERY_SHARE = 0.8
#: Above these counts of non-zero differences the exact tests give way to
#: the normal approximation (scipy's own thresholds).
EXACT_MAX_N = 50
EXACT_TIES_MAX_N = 13
#: Differences are rounded to this many decimals before ranking.
DIFFERENCE_DECIMALS = 9

VERDICT_AHEAD = "ahead"
VERDICT_BEHIND = "behind"
VERDICT_NONE = "no clear difference"


# --- the metric of each world ---------------------------------------------------

@dataclass(frozen=True)
class Metric:
    """How a world is scored: what the per-instance value is, whether a run
    sums it (work duplicated across the colony) or averages it (per ticket),
    what to call it, and which way is better."""
    key: str
    label: str
    unit: str
    total: bool
    #: The learning curves' axis: the per-instance value.
    per_instance: str
    lower_is_better: bool = True


@functools.lru_cache(maxsize=None)
def primary_metric(world: str) -> Metric:
    """The primary continuous metric of `world`: flaky builds count tries per
    ticket, routes the trip's cost, claims the work done twice. Worlds are
    matched by prefix so that "flaky-builds" and "flaky" read the same; an
    unknown world falls back to mean cost, which every world records."""
    w = world.lower()
    if w.startswith("flaky"):
        return Metric("tries", "mean tries per ticket", "tries", total=False, per_instance="tries per ticket")
    if w.startswith("route"):
        return Metric("cost", "mean trip cost", "cost", total=False, per_instance="cost per trip")
    if w.startswith("claim"):
        return Metric("duplicated", "duplicated work (sum per run)", "duplicated", total=True,
                      per_instance="duplicated work per instance")
    return Metric("cost", "mean cost", "cost", total=False, per_instance="cost per instance")


def instance_value(world: str, record: Mapping[str, Any]) -> float:
    """One instance's contribution to the primary metric of `world`."""
    key = primary_metric(world).key
    if key == "duplicated":
        return float((record.get("extra") or {}).get("duplicated", 0.0))
    return float(record.get(key, 0.0))


# --- per-run metrics --------------------------------------------------------------

@dataclass(frozen=True)
class RunMetrics:
    """What one run (one memory on one seed in one cell) scored.

    `recovery` is None both when there was no change (`recovery_applicable`
    False) and when the colony never recovered (censored)."""
    instances: int
    primary: float
    lost: Optional[float]
    solve_rate: float
    stale_per_instance: float
    recovery: Optional[int]
    recovery_applicable: bool
    mean_cost: float
    bytes_per_instance: float

    @property
    def recovery_censored(self) -> bool:
        """The run had a change and never got back onto the best option."""
        return self.recovery_applicable and self.recovery is None


def _by_instance(instances: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Instances in start order: recovery and learning curves are about the
    order in which the colony handed out tickets, not the order of the file."""
    return sorted(instances, key=lambda r: int(r["instance"]))


def recovery(instances: Sequence[Mapping[str, Any]], change_at: Optional[int],
             window: int = RECOVERY_WINDOW, share: float = RECOVERY_SHARE) -> Optional[int]:
    """Instances after the change before the colony is back on the best option.

    Counts the instances from `change_at` on, in start order, before the first
    rolling window of `window` consecutive instances with at least `share` of
    them on the best option (`used_best`): 0 when the colony never left it.
    None when it never gets there, including when fewer than `window`
    instances follow the change (censored), and when there is no change."""
    if change_at is None:
        return None
    after = [bool(r.get("used_best")) for r in _by_instance(instances) if int(r["instance"]) >= change_at]
    need = share * window - 1e-9
    for start in range(len(after) - window + 1):
        if sum(after[start:start + window]) >= need:
            return start
    return None


def run_metrics(world: str, instances: Sequence[Mapping[str, Any]],
                change_at: Optional[int]) -> RunMetrics:
    """The metrics of one run from its instance records (fields `instance`,
    `tries`, `cost`, `solved`, `stale_followed`, `used_best`, `bytes_read`,
    `extra`)."""
    if not instances:
        raise ValueError("a run without instances has no metrics")
    n = len(instances)
    metric = primary_metric(world)
    values = [instance_value(world, r) for r in instances]
    primary = float(sum(values)) if metric.total else float(sum(values)) / n
    has_lost = any("lost" in (r.get("extra") or {}) for r in instances)
    lost = float(sum((r.get("extra") or {}).get("lost", 0.0) for r in instances)) if has_lost else None
    return RunMetrics(
        instances=n,
        primary=primary,
        lost=lost,
        solve_rate=sum(bool(r.get("solved")) for r in instances) / n,
        stale_per_instance=sum(float(r.get("stale_followed", 0)) for r in instances) / n,
        recovery=recovery(instances, change_at),
        recovery_applicable=change_at is not None,
        mean_cost=sum(float(r.get("cost", 0.0)) for r in instances) / n,
        bytes_per_instance=sum(float(r.get("bytes_read", 0)) for r in instances) / n,
    )


def regret(run: RunMetrics, oracle: RunMetrics) -> float:
    """Mean cost above the oracle's on the same seed, world and scenario: what
    not knowing the best option cost per instance."""
    return run.mean_cost - oracle.mean_cost


def recovery_median(runs: Sequence[RunMetrics]) -> tuple[Optional[float], int]:
    """Median recovery over seeds and how many were censored.

    A censored run counts as slower than any recovered one (it is, as far as
    the run saw), so the median is defined while fewer than half are
    censored; otherwise it is None ("beyond the run")."""
    applicable = [r for r in runs if r.recovery_applicable]
    censored = sum(r.recovery is None for r in applicable)
    if not applicable:
        return None, 0
    ordered = sorted(math.inf if r.recovery is None else float(r.recovery) for r in applicable)
    median = float(np.median(ordered))
    return (None if math.isinf(median) or math.isnan(median) else median), censored


# --- intervals --------------------------------------------------------------------

@dataclass(frozen=True)
class Estimate:
    """A mean over seeds with its bootstrap interval."""
    mean: float
    lo: float
    hi: float
    n: int


@functools.lru_cache(maxsize=16)
def _resample_indices(n: int, resamples: int, seed: int) -> np.ndarray:
    """Indices of `resamples` bootstrap samples of size n, from a generator
    made from `seed` alone, so an interval does not depend on what was
    computed before it. Cached (read-only): every comparison over the same
    seeds draws the same resamples anyway."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(resamples, n))
    idx.setflags(write=False)
    return idx


def bootstrap_ci(values: Sequence[float], resamples: int = RESAMPLES,
                 seed: int = BOOTSTRAP_SEED, level: float = LEVEL) -> Optional[Estimate]:
    """Mean of `values` and its percentile bootstrap interval (numpy's linear
    interpolation between order statistics). None for no values; a single
    value is its own interval."""
    x = np.asarray([v for v in values if v is not None], dtype=float)
    if x.size == 0:
        return None
    mean = float(x.mean())
    if x.size == 1:
        return Estimate(mean, mean, mean, 1)
    means = x[_resample_indices(x.size, resamples, seed)].mean(axis=1)
    tail = (1.0 - level) / 2.0 * 100.0
    lo, hi = np.percentile(means, [tail, 100.0 - tail])
    return Estimate(mean, float(lo), float(hi), int(x.size))


def bootstrap_ci_columns(matrix: Sequence[Sequence[Optional[float]]], resamples: int = RESAMPLES,
                         seed: int = BOOTSTRAP_SEED, level: float = LEVEL) -> list[Optional[Estimate]]:
    """Column-wise `bootstrap_ci` of a seeds x bins matrix, resampling whole
    seeds (rows) once for all columns: a learning curve's bins come from the
    same seeds, and this is one array operation instead of one per bin.
    Missing cells (None) are left out of their column's means."""
    m = np.asarray([[np.nan if v is None else float(v) for v in row] for row in matrix], dtype=float)
    if m.size == 0:
        return []
    counts = np.sum(~np.isnan(m), axis=0)
    out: list[Optional[Estimate]] = []
    idx = _resample_indices(m.shape[0], resamples, seed) if m.shape[0] > 1 else None
    tail = (1.0 - level) / 2.0 * 100.0
    for j in range(m.shape[1]):
        col = m[:, j]
        if counts[j] == 0:
            out.append(None)
            continue
        mean = float(np.nanmean(col))
        if idx is None or counts[j] == 1:
            out.append(Estimate(mean, mean, mean, int(counts[j])))
            continue
        if counts[j] == col.size:
            means = col[idx].mean(axis=1)
        else:
            with warnings.catch_warnings():  # a resample of only missing seeds has no mean
                warnings.simplefilter("ignore", category=RuntimeWarning)
                means = np.nanmean(col[idx], axis=1)
            means = means[~np.isnan(means)]
        lo, hi = np.percentile(means, [tail, 100.0 - tail])
        out.append(Estimate(mean, float(lo), float(hi), int(counts[j])))
    return out


# --- the signed-rank test -----------------------------------------------------------

def _prepare_differences(diffs: Sequence[float]) -> np.ndarray:
    """Rounded differences with zeros dropped (Wilcoxon's zero method)."""
    d = np.round(np.asarray(diffs, dtype=float), DIFFERENCE_DECIMALS)
    return d[d != 0]


def _average_ranks(a: np.ndarray) -> np.ndarray:
    """Ranks 1..n of `a`, ties sharing the mean of their ranks."""
    order = np.argsort(a, kind="mergesort")
    ranks = np.empty(a.size, dtype=float)
    sorted_a = a[order]
    i = 0
    while i < a.size:
        j = i
        while j + 1 < a.size and sorted_a[j + 1] == sorted_a[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def _method(d: np.ndarray) -> str:
    """Which null distribution the p-value of non-zero differences `d` uses:
    "exact", "enumerate" (exact over sign flips, for ties) or "normal"."""
    ties = np.unique(np.abs(d)).size < d.size
    if not ties and d.size <= EXACT_MAX_N:
        return "exact"
    if ties and d.size <= EXACT_TIES_MAX_N:
        return "enumerate"
    return "normal"


def _sign_flip_counts(doubled_ranks: Sequence[int]) -> np.ndarray:
    """How many of the 2^n sign assignments give each sum of positive doubled
    ranks: the exact null distribution of 2 * R+ given the ranks (ties
    included), by one shift-and-add per rank."""
    total = int(sum(doubled_ranks))
    counts = np.zeros(total + 1, dtype=np.float64)  # at most 2^50 per cell: exact in float64
    counts[0] = 1.0
    for r in doubled_ranks:
        shifted = np.zeros_like(counts)
        shifted[r:] = counts[:counts.size - r]
        counts = counts + shifted
    return counts


def _wilcoxon_own(diffs: Sequence[float]) -> float:
    """Two-sided signed-rank p-value without scipy, by the same method
    choice and formulas as `wilcoxon_p` with scipy (see the module doc)."""
    d = _prepare_differences(diffs)
    n = d.size
    if n == 0:
        return 1.0
    ranks = _average_ranks(np.abs(d))
    r_plus = float(ranks[d > 0].sum())
    method = _method(d)
    if method in ("exact", "enumerate"):
        doubled = [int(round(2 * r)) for r in ranks]
        counts = _sign_flip_counts(doubled)
        all_flips = counts.sum()
        k = int(round(2 * r_plus))
        less = counts[:k + 1].sum() / all_flips
        greater = counts[k:].sum() / all_flips
        return float(min(1.0, 2.0 * min(less, greater)))
    _, tie_counts = np.unique(np.abs(d), return_counts=True)
    tie_term = float(np.sum(tie_counts.astype(float) ** 3 - tie_counts))
    mean = n * (n + 1) / 4.0
    se = math.sqrt((n * (n + 1) * (2 * n + 1) - tie_term / 2.0) / 24.0)
    z = (r_plus - mean) / se
    return float(min(1.0, math.erfc(abs(z) / math.sqrt(2.0))))


def _wilcoxon_scipy(diffs: Sequence[float]) -> float:
    """The same p-value through scipy, with the method named explicitly so a
    change of scipy's "auto" rule cannot change the report."""
    d = _prepare_differences(diffs)
    if d.size == 0:
        return 1.0
    method = _method(d)
    if method == "enumerate":
        permutation = getattr(_scipy_stats, "PermutationMethod", None)
        if permutation is None:  # scipy < 1.11: no exact permutation method
            return _wilcoxon_own(diffs)
        # 9,999 resamples >= 2^13 sign flips, so scipy enumerates them all.
        res = _scipy_stats.wilcoxon(d, zero_method="wilcox", correction=False,
                                    alternative="two-sided", method=permutation(n_resamples=9999))
    elif method == "exact":
        res = _scipy_stats.wilcoxon(d, zero_method="wilcox", correction=False,
                                    alternative="two-sided", method="exact")
    else:
        res = _scipy_stats.wilcoxon(d, zero_method="wilcox", correction=False,
                                    alternative="two-sided", method="asymptotic")
    return float(res.pvalue)


def wilcoxon_p(diffs: Sequence[float]) -> float:
    """Two-sided Wilcoxon signed-rank p-value of paired differences (zeros
    dropped); 1.0 when every difference is zero. Uses scipy when importable."""
    if _scipy_stats is not None:
        return _wilcoxon_scipy(diffs)
    return _wilcoxon_own(diffs)


# --- paired comparisons ----------------------------------------------------------

@dataclass(frozen=True)
class PairedDifference:
    """A minus B over the seeds both ran: mean, bootstrap interval, Wilcoxon
    p, and which side is better by the mean ("a", "b", or None for a tie)."""
    mean: float
    lo: float
    hi: float
    p: float
    n: int
    lower_is_better: bool

    @property
    def better(self) -> Optional[str]:
        """The side the mean favours, aware of which way is better."""
        if self.mean == 0:
            return None
        a_lower = self.mean < 0
        return "a" if a_lower == self.lower_is_better else "b"

    @property
    def excludes_zero(self) -> bool:
        """The interval lies on one side of zero."""
        return self.lo > 0 or self.hi < 0


def pair_by_seed(a: Mapping[int, Optional[float]], b: Mapping[int, Optional[float]]
                 ) -> tuple[list[int], list[float], list[float]]:
    """The seeds both sides have a value for, in seed order, with the values:
    a pairing is only fair on the same world dice."""
    seeds = sorted(s for s in a if s in b and a[s] is not None and b[s] is not None)
    return seeds, [float(a[s]) for s in seeds], [float(b[s]) for s in seeds]  # type: ignore[arg-type]


def paired_difference(a: Sequence[float], b: Sequence[float], lower_is_better: bool = True,
                      resamples: int = RESAMPLES, seed: int = BOOTSTRAP_SEED) -> Optional[PairedDifference]:
    """A - B per seed (the sequences are paired by position), its mean,
    bootstrap interval and Wilcoxon p. None when there are no pairs."""
    if len(a) != len(b):
        raise ValueError("paired samples must have the same length")
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    est = bootstrap_ci(d.tolist(), resamples=resamples, seed=seed)
    if est is None:
        return None
    return PairedDifference(est.mean, est.lo, est.hi, wilcoxon_p(d.tolist()), est.n, lower_is_better)


def holm(pvalues: Sequence[Optional[float]]) -> list[Optional[float]]:
    """Holm's step-down adjustment over one family, in the input's order.

    The i-th smallest of m p-values is multiplied by (m - i) (i from 0), then
    made monotone by a running maximum and capped at 1; None (no test) stays
    None and does not count in m."""
    present = [(p, i) for i, p in enumerate(pvalues) if p is not None]
    present.sort()
    m = len(present)
    out: list[Optional[float]] = [None] * len(pvalues)
    running = 0.0
    for rank, (p, i) in enumerate(present):
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out


def verdict(diff: Optional[PairedDifference], p_adjusted: Optional[float], alpha: float = ALPHA) -> str:
    """"ahead" when A is better, "behind" when B is, each only when the
    adjusted p is below `alpha` and the interval excludes zero (the two must
    agree: a test and an interval that disagree are no clear answer)."""
    if diff is None or p_adjusted is None or p_adjusted >= alpha or not diff.excludes_zero:
        return VERDICT_NONE
    side = diff.better
    if side == "a":
        return VERDICT_AHEAD
    if side == "b":
        return VERDICT_BEHIND
    return VERDICT_NONE


# --- learning curves --------------------------------------------------------------

def run_curve(world: str, instances: Sequence[Mapping[str, Any]], bins: int = 10) -> list[Optional[float]]:
    """One run's primary metric per instance, averaged in `bins` equal bins
    of start position (instance i of n falls in bin floor(i * bins / n)).
    A summed metric (claims) is shown per instance, so bins of unequal size
    stay comparable. Empty bins are None."""
    ordered = _by_instance(instances)
    n = len(ordered)
    sums = [0.0] * bins
    counts = [0] * bins
    for pos, r in enumerate(ordered):
        b = min(bins - 1, pos * bins // n)
        sums[b] += instance_value(world, r)
        counts[b] += 1
    return [s / c if c else None for s, c in zip(sums, counts)]


def learning_curve(curves: Sequence[Sequence[Optional[float]]], resamples: int = RESAMPLES,
                   seed: int = BOOTSTRAP_SEED) -> list[Optional[Estimate]]:
    """Mean and interval per bin across seeds, from one `run_curve` per seed."""
    return bootstrap_ci_columns(curves, resamples=resamples, seed=seed)
