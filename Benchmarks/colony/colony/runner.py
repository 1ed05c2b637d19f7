"""Runs the colony benchmark: every memory through the same worlds, seeds and
agent policy, against one real traild, and writes the raw records (JSONL).

A *run* is one world, scenario, memory, rule, habit, knob and seed: a fresh
world, `world.instances` instances started in index order, `world.concurrency`
at once, each in its own thread with its own memory object (for trail, its
own connection), forgetting everything when it ends. Runs go side by side
(`jobs` at once), each trail run in a namespace of its own, so the daemon's
real clock is every run's clock.

Phases: *tuning* (each memory's own knob over the same grid size, on tuning
seeds, all scenarios, rule "evidence", habit "practice"; the best mean primary
metric per world wins), *eval* (fresh seeds, the tuned knob, every cell) and
*sweep* (trail's half-life against the change period, eval seeds).

Invariants checked per run and recorded on its run line:
- `same_world`: the world's fingerprint (its tickets and answers, from a
  fresh copy of the world) is the one every other memory saw on this seed;
- `deposits_read_back`: every write a trail or vector memory acknowledged is
  there afterwards (`trail.get` finds it);
- `instances_complete`: every started instance returned its record.
The report and the quick test add "the oracle is at least as good as every
memory" across seeds.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence

from . import baselines, resume, stats
from .agents import run_instance
from .api import SCENARIOS, Memory, Note, Record
from .trail_memory import NO_DECAY_HALF_LIFE_S, Trail, TrailError, TrailMemory, VectorMemory, configure, waited
from .worlds import WORLDS, make_world

#: The memories, as the report names them. "oracle" runs rule "oracle" (reads
#: and writes nothing; the upper bound).
MEMORIES = ("none", "handoff", "log-newest", "log-frequency", "vector", "trail-nodecay", "trail", "oracle")
#: Memories that live in traild.
DAEMON_MEMORIES = ("vector", "trail-nodecay", "trail")
#: The habits each memory runs: the careless habit (a bare deposit with
#: trail-mcp's merge_similar 0.9) is a habit of trail use; the other
#: memories have no merge and keep no links, so "careless" changes only
#: whether an agent confirms and refutes, which the practice habit covers.
HABITS_OF = {m: ("practice", "careless") if m in ("trail", "trail-nodecay") else ("practice",) for m in MEMORIES}

#: Each memory's own knob and the grid it is tuned over: the same number of
#: values (the same tuning budget) for every memory that has a knob.
#: Half-lives are in seconds of real time (the worlds' clock; the daemon's
#: clock runs `Profile.rate` times faster), per world, spread around the
#: time a run takes to reach its change. Measured on one eval seed with 8
#: runs at once on 2 cores, reads waiting for the daemon's embedding: a
#: flaky or routes run lasts about 7 s, a claims run about 35 s; the first
#: grids (0.1 to 4 s, from runs that did not wait) let claims' "done" notes
#: evaporate long before the run's end.
HALF_LIVES = {"flaky": (1.0, 2.0, 4.0, 8.0), "routes": (1.0, 2.0, 4.0, 8.0), "claims": (2.0, 4.0, 8.0, 16.0)}
KNOBS: dict[str, Callable[[str], list[dict[str, Any]]]] = {
    "none": lambda w: [{}],
    "oracle": lambda w: [{}],
    "handoff": lambda w: [{"note_bytes": b} for b in (500, 1000, 2000, 4000)],
    "log-newest": lambda w: [{"window": n} for n in (20, 50, 100, 400)],
    "log-frequency": lambda w: [{"window": n} for n in (20, 50, 100, 400)],
    "vector": lambda w: [{"min_similarity": s} for s in (None, 0.2, 0.35, 0.5)],
    "trail-nodecay": lambda w: [{"min_similarity": s} for s in (None, 0.2, 0.35, 0.5)],
    "trail": lambda w: [{"half_life_s": h} for h in HALF_LIVES[w]],
}
#: The sweep: trail's half-life from far below to far above the change period.
SWEEP = {"flaky": (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 32.0), "routes": (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 32.0),
         "claims": (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 64.0)}


@dataclass(frozen=True)
class Profile:
    """How big a run of the whole benchmark is."""
    name: str
    worlds: tuple[str, ...]
    scenarios: tuple[str, ...]
    memories: tuple[str, ...]
    rules: tuple[str, ...]
    tuning_seeds: tuple[int, ...]
    eval_seeds: tuple[int, ...]
    sweep_seeds: tuple[int, ...]
    budget_bytes: int = 1200
    #: traild's clock speed-up (libfaketime): traild takes half-lives of 1 s and
    #: more, and the worlds' half-lives are fractions of a second of real time.
    rate: float = 20.0
    #: Runs at once.
    jobs: int = 12
    #: The habits eval runs (each memory runs those of `HABITS_OF` among them).
    habits: tuple[str, ...] = ("practice", "careless")
    #: World parameters (e.g. fewer instances in the quick profile).
    world_params: dict[str, dict[str, Any]] = field(default_factory=dict)


PROFILES = {
    # make test: checks the harness's invariants on every world and memory, not who wins.
    "quick": Profile("quick", WORLDS, ("breaking",), MEMORIES, ("evidence",), (), (101, 102), (),
                     jobs=6, world_params={"flaky": {"instances": 40}, "routes": {"instances": 40},
                                           "claims": {"items": 40, "instances": 80}}),
    # make bench-colony: the report.
    "full": Profile("full", WORLDS, SCENARIOS, MEMORIES, ("strongest", "evidence"),
                    tuple(range(1, 6)), tuple(range(1001, 1031)), tuple(range(1001, 1011))),
}


@dataclass(frozen=True)
class RunSpec:
    world: str
    scenario: str
    memory: str
    rule: str
    habit: str
    seed: int
    knob: tuple[tuple[str, Any], ...]
    phase: str

    @property
    def knob_dict(self) -> dict[str, Any]:
        return dict(self.knob)

    def keys(self) -> dict[str, Any]:
        return {"world": self.world, "scenario": self.scenario, "memory": self.memory, "rule": self.rule,
                "habit": self.habit, "seed": self.seed, "knob": self.knob_dict, "phase": self.phase}


def spec(world: str, scenario: str, memory: str, rule: str, habit: str, seed: int,
         knob: dict[str, Any], phase: str) -> RunSpec:
    return RunSpec(world, scenario, memory, "oracle" if memory == "oracle" else rule, habit, seed,
                   tuple(sorted(knob.items())), phase)


def fingerprint(world_name: str, scenario: str, seed: int, params: dict[str, Any]) -> str:
    """What every memory must see alike on a seed: the tickets of every
    instance and the world's answers, from a fresh copy of the world."""
    w = make_world(world_name, scenario, seed, tick=0, **params)
    h = hashlib.sha256(repr(w.describe() if world_name != "claims" else w.change_at).encode())
    for i in range(w.instances):
        t = w.ticket(i)
        h.update(repr((t.query, t.subject, t.options, t.max_tries)).encode())
    return h.hexdigest()[:16]


class Acknowledged:
    """Wraps an instance's memory and keeps the ids its writes were
    acknowledged with, for the read-back check."""

    def __init__(self, inner: Memory, sink: list[str], lock: threading.Lock) -> None:
        self.inner = inner
        self.name = inner.name
        self._sink = sink
        self._lock = lock

    def read(self, query: str, budget_bytes: int) -> list[Note]:
        return self.inner.read(query, budget_bytes)

    def write(self, text: str, links: Sequence[str] = (), strength: float = 1.0,
              corrects: Sequence[str] = ()) -> str:
        id = self.inner.write(text, links, strength, corrects)
        with self._lock:
            self._sink.append(id)
        return id

    def confirm(self, id: str) -> Optional[float]:
        return self.inner.confirm(id)

    def refute(self, id: str, reason: str, harm: bool = False) -> None:
        self.inner.refute(id, reason, harm)

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close:
            close()


class ColonyRunner:
    """Runs `RunSpec`s against one daemon and appends their records to `out`."""

    _ns_counter = itertools.count(1)

    def __init__(self, socket: Optional[str], workdir: Path, profile: Profile, out: Path,
                 rate: float = 1.0, endpoint: Any = None) -> None:
        self.socket = socket
        #: The chat-completions endpoint of rule "llm" (`colony.llm.Endpoint`), when given.
        self.endpoint = endpoint
        #: How much faster than real time the daemon's clock runs: knobs are in
        #: real seconds, the namespace gets half_life_s × rate of the daemon's.
        self.rate = rate
        self.workdir = workdir
        self.profile = profile
        self.out = out
        self._write_lock = threading.Lock()
        self._fingerprints: dict[tuple[str, str, int], str] = {}
        self._fp_lock = threading.Lock()
        #: Set when the benchmark is being stopped: runs still going write nothing
        #: (a resume runs them again), and runs not started do not start.
        self.stopping = threading.Event()

    # --- records ------------------------------------------------------------------

    def emit(self, obj: dict[str, Any]) -> None:
        self.emit_all([obj])

    def emit_all(self, objs: Sequence[dict[str, Any]]) -> None:
        """Appends `objs` as JSONL lines in one write (a run's lines land whole or not at all)."""
        text = "".join(json.dumps(o, sort_keys=True) + "\n" for o in objs)
        with self._write_lock, open(self.out, "a") as f:
            f.write(text)

    def world_fingerprint(self, s: RunSpec) -> str:
        key = (s.world, s.scenario, s.seed)
        with self._fp_lock:
            if key not in self._fingerprints:
                self._fingerprints[key] = fingerprint(s.world, s.scenario, s.seed,
                                                      self.profile.world_params.get(s.world, {}))
            return self._fingerprints[key]

    # --- memories -----------------------------------------------------------------

    def _namespace(self, s: RunSpec) -> str:
        n = next(ColonyRunner._ns_counter)
        return f"colony-{s.world[:6]}-{s.seed}-{n}"

    def memory_factory(self, s: RunSpec, world: Any) -> tuple[Callable[[int], Memory], dict[str, Any]]:
        """A function giving instance i its memory, and what the run's line
        says about the memory (its namespace)."""
        knob = s.knob_dict
        m = s.memory
        if m in ("none", "oracle"):
            none = baselines.NoMemory()
            return (lambda i: none), {}
        if m == "handoff":
            path = self.workdir / f"handoff-{s.world}-{s.scenario}-{s.seed}-{next(ColonyRunner._ns_counter)}.md"
            make = baselines.factory("handoff", path=path, budget_bytes=knob.get("note_bytes"))
            return (lambda i: make()), {"file": path.name}
        if m in ("log-newest", "log-frequency"):
            make = baselines.factory(m, window=knob.get("window"))
            return (lambda i: make()), {}
        if self.socket is None:
            raise RuntimeError(f"memory {m} needs a traild")
        ns = self._namespace(s)
        socket = self.socket
        min_similarity = knob.get("min_similarity")
        # A plain vector memory has no contests (contract §8); the practice keeps
        # the claims world's queue records, written from one template, in a
        # namespace with contests off, as docs/agents.md teaches. Claiming
        # agents never read contested_by, so this changes only the daemon's work.
        contests_off = m == "vector" or (s.world == "claims" and s.habit == "practice")
        contest_similarity = 1.0 if contests_off else None
        if m == "vector":
            configure(socket, ns, NO_DECAY_HALF_LIFE_S, contest_similarity)
            return (lambda i: VectorMemory(socket, ns, agent=f"worker-{i}", min_similarity=min_similarity)), {"ns": ns}
        half_life = NO_DECAY_HALF_LIFE_S if m == "trail-nodecay" else float(knob["half_life_s"]) * self.rate
        configure(socket, ns, half_life, contest_similarity)
        careless = s.habit == "careless"
        return (lambda i: TrailMemory(socket, ns, careless=careless, agent=f"worker-{i}",
                                      min_similarity=min_similarity)), {"ns": ns}

    # --- one run ------------------------------------------------------------------

    def run(self, s: RunSpec) -> Optional[dict[str, Any]]:
        """Runs one spec; emits its instance lines and its run line together;
        returns the run line, or None when the benchmark is being stopped."""
        if self.stopping.is_set():
            return None
        params = self.profile.world_params.get(s.world, {})
        world = make_world(s.world, s.scenario, s.seed, **params)
        factory, where = self.memory_factory(s, world)
        acknowledged: list[str] = []
        ack_lock = threading.Lock()
        records: dict[int, Record] = {}
        errors: list[str] = []
        next_instance = itertools.count(0)
        begun: set[int] = set()
        lock = threading.Lock()
        started = time.monotonic()

        def worker() -> None:
            while True:
                with lock:
                    if world.name == "claims" and world.finished:
                        return
                    i = next(next_instance)
                    if i >= world.instances:
                        return
                    begun.add(i)
                memory: Optional[Acknowledged] = None
                try:
                    # Inside the try: an instance whose memory cannot connect is
                    # a failed instance, not a dead thread that loses it quietly.
                    memory = Acknowledged(factory(i), acknowledged, ack_lock)
                    if s.rule == "llm":
                        from .llm import run_llm_instance
                        rec = run_llm_instance(world, memory, i, self.endpoint, self.profile.budget_bytes)
                    else:
                        rec = run_instance(world, memory, i, s.rule, s.habit, self.profile.budget_bytes)
                    with lock:
                        records[i] = rec
                except Exception as exc:  # a failed instance fails the run's invariant, loudly
                    with lock:
                        errors.append(f"instance {i}: {type(exc).__name__}: {exc}")
                finally:
                    if memory is not None:
                        memory.close()

        threads = [threading.Thread(target=worker, name=f"colony-{s.world}-{i}") for i in range(world.concurrency)]
        backlog = BacklogSampler(self.socket, where.get("ns"))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.monotonic() - started
        backlog.stop()
        if self.stopping.is_set():
            return None
        ordered = [records[i] for i in sorted(records)]
        if world.name == "claims":
            world.settle(ordered)
        invariants = {
            "same_world": True,  # filled by check_same_world across memories
            "instances_complete": not errors and set(records) == begun,
            "deposits_read_back": self.read_back(s, where.get("ns"), acknowledged),
        }
        fp = self.world_fingerprint(s)
        rows = [asdict(r) for r in ordered]
        primary = stats.run_metrics(s.world, rows, world.change_at).primary if rows else float("nan")
        line = {"kind": "run", **s.keys(), "seconds": round(seconds, 3), "instances": len(ordered), "primary": primary,
                "change_at": world.change_at, "invariants": invariants, "world_fingerprint": fp,
                "errors": errors[:5], "acknowledged": len(acknowledged), **where}
        if backlog.samples:
            line["embedding_backlog"] = backlog.summary()
        if where.get("ns"):
            line["embedding_wait_s"] = round(waited(where["ns"]), 3)
        if world.name == "claims":
            line["claims"] = world.summary()
        if self.stopping.is_set():
            return None
        self.emit_all([{"kind": "instance", **s.keys(), **r} for r in rows] + [line])
        return line

    def read_back(self, s: RunSpec, ns: Optional[str], ids: list[str]) -> bool:
        """Every acknowledged write of a daemon memory is there afterwards."""
        if ns is None or self.socket is None:
            return True
        with Trail(self.socket, default_ns=ns, client_name="colony-bench") as t:
            for id in dict.fromkeys(ids):
                try:
                    t.get(id)
                except Exception:
                    return False
        return True

    def run_all(self, specs: Iterable[RunSpec], progress: Optional[Callable[[int, int], None]] = None,
                done: Optional[set[tuple]] = None) -> list[dict[str, Any]]:
        """Runs `specs` (`jobs` at once), leaving out those whose key (see
        `resume.run_key`) is in `done`; returns the run lines written."""
        specs = [s for s in specs if done is None or resume.run_key(s.keys()) not in done]
        lines: list[dict[str, Any]] = []
        finished = 0
        with ThreadPoolExecutor(max_workers=self.profile.jobs) as pool:
            for line in pool.map(self.run, specs):
                if line is not None:
                    lines.append(line)
                finished += 1
                if progress:
                    progress(finished, len(specs))
        return lines


class BacklogSampler:
    """Samples, every `PERIOD` seconds of a daemon memory's run, how many of
    the namespace's live notes traild has still to embed (`trail.stats`,
    `embedding.pending`): a note is found by meaning only once embedded
    (contract §8), so a run whose backlog grows measures a daemon that is
    behind, not the memory (reads wait for it: `trail_memory.until_embedded`).
    The run line records the largest and the mean, as a reader of the
    record can check how far the daemon was behind between reads."""

    PERIOD = 0.25

    def __init__(self, socket: Optional[str], ns: Optional[str]) -> None:
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        if socket is None or ns is None:
            return
        self._thread = threading.Thread(target=self._sample, args=(socket, ns), name=f"backlog-{ns}", daemon=True)
        self._thread.start()

    def _sample(self, socket: str, ns: str) -> None:
        """Samples at the start, then every PERIOD until stopped; a daemon
        that is gone (the benchmark being stopped) ends the sampling."""
        try:
            with Trail(socket, default_ns=ns, client_name="colony-bench") as t:
                while True:
                    embedding = t.stats().get("embedding") or {}
                    self.samples.append(int(embedding.get("pending", 0)))
                    if self._stop.wait(self.PERIOD):
                        return
        except (OSError, TrailError):
            return

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def summary(self) -> dict[str, float]:
        return {"max": max(self.samples), "mean": round(sum(self.samples) / len(self.samples), 2),
                "samples": len(self.samples)}


def tuning_specs(p: Profile) -> list[RunSpec]:
    out = []
    for w in p.worlds:
        for m in p.memories:
            grid = KNOBS[m](w)
            if len(grid) < 2:
                continue
            for knob in grid:
                for sc in p.scenarios:
                    for seed in p.tuning_seeds:
                        out.append(spec(w, sc, m, "evidence", "practice", seed, knob, "tuning"))
    return out


def choose_knobs(p: Profile, runs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """The knob with the best (lowest) mean primary metric per world and
    memory over the tuning runs; the middle of the grid when not tuned."""
    chosen: dict[tuple[str, str], dict[str, Any]] = {}
    for w in p.worlds:
        for m in p.memories:
            grid = KNOBS[m](w)
            scores = []
            for knob in grid:
                mine = [r for r in runs if r["world"] == w and r["memory"] == m and r["knob"] == knob]
                if mine:
                    scores.append((sum(r["primary"] for r in mine) / len(mine), grid.index(knob)))
            chosen[(w, m)] = grid[min(scores)[1]] if scores else grid[(len(grid) - 1) // 2]
    return chosen


def eval_specs(p: Profile, knobs: dict[tuple[str, str], dict[str, Any]]) -> list[RunSpec]:
    out = []
    for seed in p.eval_seeds:
        for w in p.worlds:
            for sc in p.scenarios:
                for m in p.memories:
                    rules = ("oracle",) if m == "oracle" else p.rules
                    for rule in rules:
                        for habit in (HABITS_OF[m] if rule != "llm" else ("practice",)):
                            if habit not in p.habits:
                                continue
                            out.append(spec(w, sc, m, rule, habit, seed, knobs[(w, m)], "eval"))
    return out


def sweep_specs(p: Profile) -> list[RunSpec]:
    return [spec(w, sc, "trail", "evidence", "practice", seed, {"half_life_s": h}, "sweep")
            for seed in p.sweep_seeds for w in p.worlds for sc in p.scenarios for h in SWEEP[w]]


def check_same_world(lines: list[dict[str, Any]]) -> list[str]:
    """Runs of one world, scenario and seed whose fingerprints differ (must be none)."""
    seen: dict[tuple[str, str, int], str] = {}
    bad = []
    for l in lines:
        key = (l["world"], l["scenario"], l["seed"])
        if seen.setdefault(key, l["world_fingerprint"]) != l["world_fingerprint"]:
            bad.append(f"{key}: {l['memory']} saw another world")
    return bad
