#!/usr/bin/env bash
# Runs the libFuzzer targets built into .build-fuzz (make fuzz builds them).
#   Fuzz/run.sh SECONDS [TARGET...]        each target for SECONDS, on a scratch corpus that
#                                           grows across runs (.build-fuzz/corpus/TARGET)
#   FUZZ_SMOKE=1 Fuzz/run.sh SECONDS ...   the committed seeds only, nothing kept, a fixed
#                                           seed and count of runs so that make test does the
#                                           same work every time (SECONDS only caps it)
# A crash, hang or broken invariant stops that target with its input in
# .build-fuzz/artifacts/TARGET/ and makes the script fail; docs/fuzzing.md says
# how to turn one into a regression test.
set -euo pipefail
# Swift's own crash handler would take the signal from libFuzzer, which then writes no
# artifact: off here (run a target on one input without it to see a Swift backtrace).
export SWIFT_BACKTRACE=enable=no
cd "$(dirname "$0")/.."
seconds=$1
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(frame call export pack)
bin=.build-fuzz/release
failed=()
for t in "${targets[@]}"; do
    # Smoke runs: about five seconds' worth of each on this project's two-core machines.
    case $t in
        frame) dict=Fuzz/dict/request.dict smoke_runs=20000 ;;
        call) dict=Fuzz/dict/request.dict smoke_runs=300000 ;;
        export) dict=Fuzz/dict/archive.dict smoke_runs=60000 ;;
        pack) dict=Fuzz/dict/archive.dict smoke_runs=50000 ;;
        *) echo "unknown fuzz target $t (frame, call, export, pack)" >&2; exit 2 ;;
    esac
    artifacts=.build-fuzz/artifacts/$t
    mkdir -p "$artifacts"
    limits=(-max_total_time="$seconds")
    if [ -n "${FUZZ_SMOKE:-}" ]; then
        work=$(mktemp -d)
        limits+=(-seed=14 -runs="$smoke_runs")
    else
        work=.build-fuzz/corpus/$t
        mkdir -p "$work"
    fi
    # A scratch copy: what the fuzzer adds never lands in the committed seeds.
    cp -n Fuzz/corpus/$t/* "$work"/ 2>/dev/null || true  # (newer cp -n fails on a file kept)
    log=.build-fuzz/fuzz-$t.log
    if [ -n "${FUZZ_SMOKE:-}" ]; then echo "fuzz-$t: $smoke_runs runs, seed 14"; else echo "fuzz-$t: ${seconds}s"; fi
    if "$bin/fuzz-$t" "${limits[@]}" -timeout=10 -rss_limit_mb=2048 -dict="$dict" \
        -artifact_prefix="$artifacts/" -print_final_stats=1 "$work" >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
        echo "fuzz-$t: ok, $runs executions ($rate/s), corpus $(ls "$work" | wc -l) inputs"
    else
        echo "fuzz-$t: FAILED; the input is in $artifacts/, the log in $log:" >&2
        grep -E "fuzz invariant|Fatal error|ERROR: libFuzzer|SUMMARY|Test unit written" "$log" >&2 || tail -20 "$log" >&2
        failed+=("$t")
    fi
    [ -z "${FUZZ_SMOKE:-}" ] || rm -rf "$work"
done
[ ${#failed[@]} -eq 0 ] || { echo "fuzz targets that failed: ${failed[*]}" >&2; exit 1; }
