"""The statistics, each held to a hand-computed value or to scipy."""
from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np
import pytest

import colony_path  # noqa: F401  (Benchmarks/colony on sys.path)

from colony import stats


def inst(i: int, *, tries: int = 1, cost: float = 0.0, solved: bool = True, stale: int = 0,
         used_best: bool = True, bytes_read: int = 0, extra: Optional[dict[str, float]] = None) -> dict[str, Any]:
    return {"instance": i, "at": 0.0, "after_change": False, "tries": tries, "cost": cost, "solved": solved,
            "stale_followed": stale, "final_option": None, "used_best": used_best, "bytes_read": bytes_read,
            "extra": extra or {}}


# --- per-run metrics ----------------------------------------------------------------

def test_run_metrics_of_each_world():
    runs = [inst(0, tries=1, cost=10, solved=True, stale=0, bytes_read=100, extra={"duplicated": 1, "lost": 0}),
            inst(1, tries=3, cost=30, solved=False, stale=2, bytes_read=300, extra={"duplicated": 2, "lost": 1})]
    flaky = stats.run_metrics("flaky", runs, None)
    assert flaky.primary == 2.0 and flaky.solve_rate == 0.5 and flaky.stale_per_instance == 1.0
    assert flaky.bytes_per_instance == 200.0 and flaky.mean_cost == 20.0
    assert flaky.recovery is None and not flaky.recovery_applicable and not flaky.recovery_censored
    assert stats.run_metrics("routes", runs, None).primary == 20.0
    claims = stats.run_metrics("claims", runs, None)
    assert claims.primary == 3.0 and claims.lost == 1.0  # sums over the run
    assert stats.primary_metric("claims").total and not stats.primary_metric("flaky-builds").total
    assert stats.primary_metric("flaky-builds").key == "tries"


def test_recovery_counts_instances_before_the_first_good_window():
    def run(best: list[bool]) -> list[dict[str, Any]]:
        # five instances before the change at 5 (never the best: they must not count), then `best`.
        return [inst(i, used_best=False) for i in range(5)] + [inst(5 + i, used_best=b) for i, b in enumerate(best)]
    assert stats.recovery(run([True] * 10), 5) == 0
    assert stats.recovery(run([False] * 3 + [True] * 12), 5) == 1  # window 6..15 has 8 of 10
    # F F F F T T T T T T T F T T: from 2 the window holds 7, from 3 it holds 8
    assert stats.recovery(run([False] * 4 + [True] * 7 + [False, True, True]), 5) == 3
    assert stats.recovery(run([False, True] * 10), 5) is None  # 50 %: never
    assert stats.recovery(run([True] * 9), 5) is None  # fewer than a window after the change: censored
    assert stats.recovery(run([True] * 10), None) is None
    m = stats.run_metrics("flaky", run([False] * 20), 5)
    assert m.recovery_censored
    # order of the records does not matter, start order does
    assert stats.recovery(list(reversed(run([False] * 3 + [True] * 12))), 5) == 1


def test_recovery_median_counts_censored_runs_as_slowest():
    def m(rec: Optional[int]) -> stats.RunMetrics:
        return stats.RunMetrics(10, 1.0, None, 1.0, 0.0, rec, True, 1.0, 0.0)
    assert stats.recovery_median([m(2), m(4), m(None)]) == (4.0, 1)
    assert stats.recovery_median([m(2), m(None), m(None)]) == (None, 2)


def test_regret_is_mean_cost_above_the_oracle():
    a = stats.run_metrics("routes", [inst(0, cost=12), inst(1, cost=14)], None)
    o = stats.run_metrics("routes", [inst(0, cost=10), inst(1, cost=10)], None)
    assert stats.regret(a, o) == 3.0


# --- intervals ---------------------------------------------------------------------

def test_bootstrap_is_deterministic_and_independent_of_call_order():
    x = list(np.random.default_rng(3).normal(5, 1, 30))
    first = stats.bootstrap_ci(x)
    stats.bootstrap_ci(list(range(17)), seed=99)  # other work in between
    stats._resample_indices.cache_clear()
    assert stats.bootstrap_ci(x) == first
    assert first is not None and first.lo < first.mean < first.hi and first.n == 30
    assert stats.bootstrap_ci(x, seed=stats.BOOTSTRAP_SEED + 1) != first
    # about mean +- 1.96 sd / sqrt(n)
    half = 1.96 * np.std(x, ddof=1) / math.sqrt(30)
    assert first.hi - first.lo == pytest.approx(2 * half, rel=0.15)
    assert stats.bootstrap_ci([]) is None
    assert stats.bootstrap_ci([2.5]) == stats.Estimate(2.5, 2.5, 2.5, 1)


def test_bootstrap_columns_resample_seeds_and_skip_missing():
    rows = [[1.0, 2.0, None], [3.0, 4.0, None], [5.0, None, None]]
    ests = stats.bootstrap_ci_columns(rows, resamples=2000)
    assert ests[0] is not None and ests[0].mean == 3.0 and ests[0].n == 3 and ests[0].lo >= 1 and ests[0].hi <= 5
    assert ests[1] is not None and ests[1].mean == 3.0 and ests[1].n == 2
    assert ests[2] is None


def test_run_curve_bins_by_start_position():
    runs = [inst(i, tries=i) for i in range(20)]
    curve = stats.run_curve("flaky", runs, bins=4)
    assert curve == [2.0, 7.0, 12.0, 17.0]
    claims = stats.run_curve("claims", [inst(i, extra={"duplicated": 2}) for i in range(3)], bins=4)
    assert claims[0] == 2.0 and None in claims  # 3 instances in 4 bins: one empty
    curve_ci = stats.learning_curve([curve, [x + 1 for x in curve]], resamples=500)
    assert [e.mean for e in curve_ci if e] == [2.5, 7.5, 12.5, 17.5]


# --- signed-rank test -------------------------------------------------------------------

def test_wilcoxon_by_hand():
    # five positive differences: R+ = 15 is the largest of 2^5 equally likely sums
    assert stats._wilcoxon_own([1, 2, 3, 4, 5]) == pytest.approx(2 / 32)
    # ranks 1, 2, 3 with signs +, -, +: R+ = 4 of sums {0,1,2,3,3,4,5,6}; P(<=4) = 6/8, P(>=4) = 3/8
    assert stats._wilcoxon_own([1, -2, 3]) == pytest.approx(0.75)
    # ties: |d| ranks 1.5, 1.5, 3; all positive: only one of 8 flips reaches R+ = 6 -> p = 2/8
    assert stats._wilcoxon_own([1, 1, 2]) == pytest.approx(0.25)
    # zeros are dropped (Wilcoxon's method): the same as without them
    assert stats._wilcoxon_own([0, 1, 0, 2, 3, 4, 5]) == stats._wilcoxon_own([1, 2, 3, 4, 5])
    assert stats._wilcoxon_own([0.0, 0.0]) == 1.0 and stats.wilcoxon_p([]) == 1.0


def test_wilcoxon_normal_approximation_by_hand():
    d = np.arange(1, 61, dtype=float)  # 60 positive, no ties
    z = (60 * 61 / 2 - 60 * 61 / 4) / math.sqrt(60 * 61 * 121 / 24)
    assert stats._wilcoxon_own(d) == pytest.approx(math.erfc(z / math.sqrt(2)), rel=1e-12)


def _vectors() -> list[np.ndarray]:
    rng = np.random.default_rng(11)
    return [
        rng.normal(0.3, 1, 8),                      # exact
        rng.normal(0.3, 1, 30),                     # exact
        rng.normal(0.2, 1, 50),                     # exact, at the limit
        rng.normal(0.2, 1, 80),                     # normal approximation
        np.round(rng.normal(0.5, 1, 12), 0),        # ties and zeros, enumerated
        np.round(rng.normal(0.3, 1, 30), 1),        # ties and zeros, normal
        np.array([3, 3, 3, -1, 2, 2, 0, 5, -2, 1, 1, 4, 3]) / 40,  # ties of means of 40 tickets
        np.array([0.1 - 0.3, 0.2 - 0.4, 0.3, -0.2, 0.5, 0.6]),     # float noise that rounds to a tie
    ]


@pytest.mark.skipif(stats._scipy_stats is None, reason="scipy not installed")
def test_own_wilcoxon_agrees_with_scipy():
    import scipy.stats
    for d in _vectors():
        ours = stats._wilcoxon_own(d)
        assert ours == pytest.approx(stats._wilcoxon_scipy(d), abs=1e-6)
        nonzero = stats._prepare_differences(d)
        # and with scipy's own "auto" choice on the same (rounded, non-zero) differences
        assert ours == pytest.approx(scipy.stats.wilcoxon(nonzero).pvalue, abs=1e-6)
    assert {stats._method(stats._prepare_differences(d)) for d in _vectors()} == {"exact", "enumerate", "normal"}


# --- paired differences, Holm, verdicts ------------------------------------------------

def test_pair_by_seed_keeps_common_seeds_with_values():
    seeds, a, b = stats.pair_by_seed({1: 1.0, 2: 2.0, 3: None, 5: 5.0}, {2: 1.0, 3: 1.0, 1: 0.5, 4: 0.0})
    assert seeds == [1, 2] and a == [1.0, 2.0] and b == [0.5, 1.0]


def test_paired_difference_direction():
    rng = np.random.default_rng(5)
    b = rng.normal(10, 1, 30)
    a = b - 1.0 + rng.normal(0, 0.1, 30)
    d = stats.paired_difference(list(a), list(b))
    assert d is not None and d.mean == pytest.approx(-1.0, abs=0.05) and d.hi < 0 and d.p < 1e-6
    assert d.better == "a" and d.excludes_zero
    higher = stats.paired_difference(list(a), list(b), lower_is_better=False)
    assert higher is not None and higher.better == "b"
    assert stats.paired_difference([], []) is None
    with pytest.raises(ValueError):
        stats.paired_difference([1.0], [1.0, 2.0])


def test_holm_against_a_hand_computed_example():
    # sorted: 0.005 x4 = 0.02, 0.01 x3 = 0.03, 0.03 x2 = 0.06, 0.04 x1 = 0.04 -> max so far 0.06
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # None is no test: m = 3 here; and the cap at 1
    assert stats.holm([0.2, None, 0.5, 0.01]) == pytest.approx([0.4, None, 0.5, 0.03])
    assert stats.holm([0.6, 0.7]) == [1.0, 1.0]
    assert stats.holm([]) == []


def test_verdict_needs_both_the_test_and_the_interval():
    ahead = stats.PairedDifference(-1.0, -1.5, -0.5, 0.001, 30, True)
    assert stats.verdict(ahead, 0.01) == "ahead"
    assert stats.verdict(ahead, 0.2) == "no clear difference"
    straddles = stats.PairedDifference(-1.0, -1.5, 0.1, 0.001, 30, True)
    assert stats.verdict(straddles, 0.01) == "no clear difference"
    behind = stats.PairedDifference(1.0, 0.5, 1.5, 0.001, 30, True)
    assert stats.verdict(behind, 0.01) == "behind"
    # higher is better: a positive difference is ahead
    assert stats.verdict(stats.PairedDifference(1.0, 0.5, 1.5, 0.001, 30, False), 0.01) == "ahead"
    assert stats.verdict(None, None) == "no clear difference"
