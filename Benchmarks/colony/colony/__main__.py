"""`python3 -m colony`: runs the colony benchmark and writes its report.

    PYTHONPATH=Benchmarks/colony python3 -m colony --profile full \\
        [--traild .build/release/traild] [--model-dir models/all-MiniLM-L6-v2] \\
        [--out Benchmarks/results] [--jobs 12]

Writes OUT/colony.jsonl (the raw records: one line per instance, one per
run, one meta line) and, from it, OUT/colony.md with its SVG plots
(`colony.report`). Stopped by SIGTERM or Ctrl-C, it stops its daemon and
leaves whole runs only; `--resume` goes on from them (`colony.resume`). `make bench-colony` runs the full profile; `make test`
runs the quick one (tests/e2e/test_colony_benchmark.py), which checks the
harness's invariants, not who wins.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import signal
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from . import report, resume, runner
from .daemon import ROOT, ColonyDaemon, find_traild


def machine() -> dict[str, object]:
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version(),
            "load_average_start": " ".join(f"{x:.2f}" for x in os.getloadavg())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m colony", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", choices=sorted(runner.PROFILES), default="full")
    ap.add_argument("--traild", help="the traild binary (default: $TRAILD_BIN, else .build/release, else .build/debug)")
    ap.add_argument("--model-dir", default=str(ROOT / "models" / "all-MiniLM-L6-v2"))
    ap.add_argument("--out", default=str(ROOT / "Benchmarks" / "results"))
    ap.add_argument("--jobs", type=int, help="runs at once (default: the profile's)")
    ap.add_argument("--seeds", help="eval seeds: the profile's first N, or A-B (those of the profile from A to B; "
                                    "default: all the profile's)")
    ap.add_argument("--worlds", help="only these worlds, comma-separated (flaky, routes, claims)")
    ap.add_argument("--phases", default="tuning,eval,sweep",
                    help="phases to run, comma-separated (tuning, eval, sweep; without tuning, each knob is its grid's middle)")
    ap.add_argument("--memories", help="only these memories, comma-separated (" + ", ".join(runner.MEMORIES) + ")")
    ap.add_argument("--habits", help="eval runs only these habits, comma-separated (practice, careless)")
    ap.add_argument("--knobs-from", metavar="RECORDS",
                    help="eval with the knobs another run tuned (its colony.jsonl) instead of tuning: "
                         "a change set beside the full run's cells")
    ap.add_argument("--llm", action="store_true",
                    help="a real model plays the instances (rule llm; flaky and routes): an OpenAI-compatible endpoint "
                         "named by COLONY_LLM_BASE_URL, COLONY_LLM_MODEL and COLONY_LLM_API_KEY (colony/llm.py)")
    ap.add_argument("--keep", action="store_true", help="keep the daemon's folder (data, log)")
    ap.add_argument("--resume", action="store_true",
                    help="go on from OUT/colony.jsonl, made by the same code and profile, instead of starting afresh "
                         "(runs already there are not run again; colony/resume.py)")
    args = ap.parse_args(argv)

    profile = runner.PROFILES[args.profile]
    if args.jobs:
        profile = replace(profile, jobs=args.jobs)
    if args.seeds:
        try:
            if "-" in args.seeds:
                low, high = (int(x) for x in args.seeds.split("-", 1))
                chosen = tuple(s for s in profile.eval_seeds if low <= s <= high)
            else:
                chosen = profile.eval_seeds[:int(args.seeds)]
        except ValueError:
            ap.error("--seeds takes a count (5) or a range of the profile's seeds (1011-1020)")
        if not chosen:
            ap.error(f"--seeds {args.seeds} names none of the profile's eval seeds "
                     f"({profile.eval_seeds[0]}-{profile.eval_seeds[-1]})")
        profile = replace(profile, eval_seeds=chosen)
    if args.worlds:
        worlds = tuple(args.worlds.split(","))
        if not set(worlds) <= set(runner.WORLDS):
            ap.error(f"--worlds takes {', '.join(runner.WORLDS)}, comma-separated")
        profile = replace(profile, worlds=worlds)
    if args.memories:
        memories = tuple(args.memories.split(","))
        if not set(memories) <= set(runner.MEMORIES):
            ap.error(f"--memories takes {', '.join(runner.MEMORIES)}, comma-separated")
        profile = replace(profile, memories=memories)
    if args.habits:
        habits = tuple(args.habits.split(","))
        if not set(habits) <= {"practice", "careless"}:
            ap.error("--habits takes practice and careless, comma-separated")
        profile = replace(profile, habits=habits)
    knobs_from = None
    if args.knobs_from:
        tuned = resume.Progress.tuned_knobs(Path(args.knobs_from))
        if tuned is None:
            ap.error(f"--knobs-from {args.knobs_from}: no tuned knobs in it (a run that tuned writes them)")
        malformed = resume.malformed_knobs(tuned)
        if malformed:
            ap.error(f"--knobs-from {args.knobs_from}: its last tuned line is malformed: {malformed}")
        have = {(k["world"], k["memory"]) for k in tuned["knobs"]}
        missing = [f"{w}/{m}" for w in profile.worlds for m in profile.memories if (w, m) not in have]
        if missing:
            ap.error(f"--knobs-from {args.knobs_from}: no tuned knob for {', '.join(missing)}")
        knobs_from = tuned
    endpoint = None
    if args.llm:
        from .llm import Endpoint, LLMUnavailable
        try:
            endpoint = Endpoint.from_environment()
        except LLMUnavailable as exc:
            ap.error(str(exc))
        # The model decides how it writes: one habit; it plays the choice worlds only.
        profile = replace(profile, rules=("llm",), worlds=tuple(w for w in profile.worlds if w != "claims"),
                          tuning_seeds=(), sweep_seeds=())
    phases = set(args.phases.split(","))
    if not phases <= {"tuning", "eval", "sweep"}:
        ap.error("--phases takes tuning, eval and sweep, comma-separated")
    if "tuning" not in phases:
        profile = replace(profile, tuning_seeds=())
    if "sweep" not in phases:
        profile = replace(profile, sweep_seeds=())
    if "eval" not in phases:
        profile = replace(profile, eval_seeds=())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    records = out / "colony.jsonl"
    if not Path(args.model_dir, "model.safetensors").exists():
        print(f"colony: no embedding model in {args.model_dir}: `make model` fetches it "
              "(recall by meaning is what the trail and vector memories read with)", file=sys.stderr)
        return 2
    traild = find_traild(args.traild)
    code = resume.fingerprint(traild)
    seeds = {"tuning": list(profile.tuning_seeds), "eval": list(profile.eval_seeds), "sweep": list(profile.sweep_seeds)}
    progress = resume.Progress()
    if args.resume:
        progress = resume.Progress.load(records)
        try:
            progress.check({"code": code, "profile": profile.name, "rate": profile.rate,
                            "budget_bytes": profile.budget_bytes, "seeds": seeds})
        except resume.CannotResume as exc:
            print(f"colony: cannot resume {records}: {exc}", file=sys.stderr)
            return 2
    else:
        records.unlink(missing_ok=True)
    started = time.monotonic()
    daemon = ColonyDaemon(traild, args.model_dir, keep=args.keep, rate=profile.rate)
    stopping: list[runner.ColonyRunner] = []

    def stop(*_: object) -> None:
        # Runs still going write nothing (a resume runs them again); the daemon stops now.
        for r in stopping:
            r.stopping.set()
        daemon.stop()
        sys.exit(143)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    daemon.start()
    try:
        with tempfile.TemporaryDirectory(prefix="colony-files-") as files:
            run = runner.ColonyRunner(daemon.socket, Path(files), profile, records, rate=profile.rate, endpoint=endpoint)
            stopping.append(run)
            now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
            if progress.meta is None:
                run.emit({"kind": "meta", "profile": profile.name, "started_at": now, "code": code,
                          "machine": machine(), "traild": daemon.version, "semantic": daemon.semantic,
                          "clock": f"faketime x{profile.rate:g}: traild's wall clock runs {profile.rate:g} times faster "
                                   "than real time (libfaketime; its timers stay real); worlds tick in real "
                                   "milliseconds; half-lives are given in real seconds",
                          "rate": profile.rate,
                          "budget_bytes": profile.budget_bytes, "jobs": profile.jobs, "seeds": seeds,
                          "predictions": "Benchmarks/colony/PREDICTIONS.md",
                          "llm": {"base_url": endpoint.base_url, "model": endpoint.model} if endpoint else None})
            else:
                run.emit({"kind": "resumed", "at": now, "runs_before": len(progress.runs),
                          "dropped_lines": progress.dropped_lines, "jobs": profile.jobs, "machine": machine()})

            def progress_of(phase: str):
                def say(done: int, total: int) -> None:
                    if done == total or done % 50 == 0:
                        print(f"[{time.monotonic() - started:7.1f}s] {phase}: {done}/{total} runs", file=sys.stderr)
                return say

            done = progress.done
            earlier = progress.runs
            if progress.tuned is not None or knobs_from is not None:
                tuned = progress.tuned or knobs_from
                knobs = {(k["world"], k["memory"]): k["knob"] for k in tuned["knobs"]}
                if progress.tuned is None:
                    run.emit({"kind": "tuned", "from": str(args.knobs_from), "knobs": tuned["knobs"]})
            else:
                tuning = run.run_all(runner.tuning_specs(profile), progress_of("tuning"), done)
                knobs = runner.choose_knobs(profile, tuning + [r for r in earlier if r["phase"] == "tuning"])
                run.emit({"kind": "tuned",
                          "knobs": [{"world": w, "memory": m, "knob": k} for (w, m), k in knobs.items()]})
            run.run_all(runner.eval_specs(profile, knobs), progress_of("eval"), done)
            run.run_all(runner.sweep_specs(profile), progress_of("sweep"), done)
    finally:
        daemon.stop()
    lines = resume.Progress.read(records).runs
    bad = runner.check_same_world(lines)
    failed = [l for l in lines if not all(l["invariants"].values())]
    paths = report.write_report(records, out / "colony.md", predictions=ROOT / "Benchmarks" / "colony" / "PREDICTIONS.md",
                                command=f"python3 -m colony --profile {profile.name}")
    print(f"colony: {len(lines) - len(progress.runs)} runs in {time.monotonic() - started:.0f} s "
          f"({len(lines)} in the records); "
          f"wrote {records} and {', '.join(str(p) for p in paths)}", file=sys.stderr)
    for line in bad:
        print(f"colony: invariant broken: {line}", file=sys.stderr)
    for l in failed[:10]:
        print(f"colony: invariant broken in {l['world']}/{l['scenario']}/{l['memory']} seed {l['seed']}: "
              f"{l['invariants']} {l.get('errors')}", file=sys.stderr)
    return 1 if bad or failed else 0


if __name__ == "__main__":
    sys.exit(main())
