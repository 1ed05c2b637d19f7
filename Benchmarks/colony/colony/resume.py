"""Resuming a colony run that was stopped (`python3 -m colony --resume`).

A full run takes hours on a small machine; stopped (SIGTERM, or a session
that ends), it goes on later from its records instead of from the start.
What makes that sound:

- Every run writes its instance lines and its run line in one write, after
  it ended; a run stopped before that writes nothing. So a record file holds
  whole runs, and at most a torn last line when the process was killed
  outright, which `Progress.load` drops (with any instance line left without
  its run line) when it rewrites the file.
- The records name the code that made them (`fingerprint`: the colony
  package, the flaky corpus and the source traild was built from, or its
  binary, hashed): a resume with other code is refused, because figures of
  two programs would be mixed. The same commit built again may continue
  (a machine that lost its build, the records kept in git).
- The knobs are tuned once: a resumed run reuses the `tuned` line when there
  is one, and otherwise tunes on every tuning run, earlier ones included.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

PACKAGE = Path(__file__).resolve().parent


def fingerprint(traild: str) -> str:
    """SHA-256 over the colony package's sources, its data files and traild:
    the source it was built from when that is known (`built_from`), else the
    binary's bytes."""
    h = hashlib.sha256()
    files = sorted(p for p in PACKAGE.rglob("*") if p.is_file() and p.suffix in (".py", ".json"))
    for p in files:
        h.update(str(p.relative_to(PACKAGE)).encode())
        h.update(p.read_bytes())
    source = built_from(Path(traild))
    if source is not None:
        h.update(b"traild built from " + source.encode())
    else:
        h.update(b"traild binary ")
        with open(traild, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def built_from(traild: Path) -> Optional[str]:
    """What a traild in a checkout's `.build` was built from: the git trees of
    Sources and Package.swift at HEAD, Package.resolved's bytes and the build
    directory (the configuration), when the checkout has no uncommitted
    change there and the binary is newer than every source file. A run's
    records can then be continued with the same commit built again (a build
    is not byte for byte the same); otherwise None, and the binary's bytes
    name it."""
    path = traild.resolve()
    if ".build" not in path.parts:
        return None
    i = path.parts.index(".build")
    root, build = Path(*path.parts[:i]), "/".join(path.parts[i + 1:])

    def git(*args: str) -> Optional[str]:
        try:
            done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    trees = [git("rev-parse", "HEAD:Sources"), git("rev-parse", "HEAD:Package.swift")]
    if None in trees or git("status", "--porcelain", "--", "Sources", "Package.swift") != "":
        return None
    built = path.stat().st_mtime
    if any(p.stat().st_mtime > built for p in (root / "Sources").rglob("*") if p.is_file()):
        return None  # sources touched after the build: the binary may be older than they are
    resolved = root / "Package.resolved"
    pins = hashlib.sha256(resolved.read_bytes()).hexdigest() if resolved.exists() else "none"
    return f"Sources {trees[0]} Package.swift {trees[1]} Package.resolved {pins} {build}"


def run_key(line: dict[str, Any]) -> tuple:
    """What names one run: its cell, seed, knob and phase."""
    return (line["world"], line["scenario"], line["memory"], line["rule"], line["habit"], int(line["seed"]),
            json.dumps(line.get("knob") or {}, sort_keys=True), line["phase"])


class CannotResume(Exception):
    """The records cannot be continued (the reason is the message)."""


def malformed_knobs(tuned: dict[str, Any]) -> Optional[str]:
    """What is wrong with a `tuned` line's knobs (None when nothing is): a
    list of entries, each naming its `world` and `memory` and holding a
    `knob` object."""
    knobs = tuned.get("knobs")
    if not isinstance(knobs, list):
        return "'knobs' is not a list"
    for n, k in enumerate(knobs):
        if not isinstance(k, dict):
            return f"entry {n} is not an object"
        for key in ("world", "memory"):
            if not isinstance(k.get(key), str):
                return f"entry {n} names no {key}"
        if not isinstance(k.get("knob"), dict):
            return f"entry {n} has no knob object"
    return None


@dataclass
class Progress:
    """What a record file already holds."""
    meta: Optional[dict[str, Any]] = None
    runs: list[dict[str, Any]] = field(default_factory=list)
    tuned: Optional[dict[str, Any]] = None
    dropped_lines: int = 0
    #: The lines of whole runs (and meta and tuned lines), in file order.
    _kept: list[str] = field(default_factory=list, repr=False)

    @property
    def done(self) -> set[tuple]:
        return {run_key(r) for r in self.runs}

    @staticmethod
    def tuned_knobs(path: Path) -> Optional[dict[str, Any]]:
        """The tuned knobs of the records at `path`, as `read` finds them (the
        last `tuned` line; None when there is none), parsing only the lines
        that name it, not the run's million instance lines."""
        tuned = None
        if not path.exists():
            return tuned
        with path.open() as f:
            for text in f:
                if '"tuned"' not in text:
                    continue
                try:
                    line = json.loads(text)
                except json.JSONDecodeError:
                    continue
                if isinstance(line, dict) and line.get("kind") == "tuned":
                    tuned = line
        return tuned

    @staticmethod
    def read(path: Path) -> "Progress":
        """Reads `path`, whole runs only (see the module doc), and leaves the file as it is."""
        progress = Progress()
        if not path.exists():
            return progress
        instances: dict[tuple, list[str]] = {}
        for text in path.read_text().splitlines():
            if not text.strip():
                continue
            try:
                line = json.loads(text)
            except json.JSONDecodeError:
                progress.dropped_lines += 1  # torn by a kill mid-write
                continue
            if not isinstance(line, dict):
                progress.dropped_lines += 1  # not a record (JSON, but no object)
                continue
            kind = line.get("kind")
            if kind == "instance":
                instances.setdefault(run_key(line), []).append(text)
                continue
            if kind == "run":
                progress._kept += instances.pop(run_key(line), [])
                progress.runs.append(line)
            elif kind == "meta":
                progress.meta = progress.meta or line
            elif kind == "tuned":
                progress.tuned = line
            progress._kept.append(text)
        progress.dropped_lines += sum(len(v) for v in instances.values())
        return progress

    @staticmethod
    def load(path: Path) -> "Progress":
        """Reads `path` as `read` does and, when it dropped lines, rewrites the
        file with whole runs only (through a new file renamed over it), so that
        a resumed run appends after whole runs."""
        progress = Progress.read(path)
        if progress.dropped_lines:
            fresh = path.with_name(path.name + ".repaired")
            fresh.write_text("".join(t + "\n" for t in progress._kept))
            fresh.replace(path)
        return progress

    def check(self, meta: dict[str, Any]) -> None:
        """Refuses to continue records made by other code or another profile."""
        if self.meta is None:
            return
        for key in ("code", "profile", "rate", "budget_bytes", "seeds"):
            if self.meta.get(key) != meta.get(key):
                raise CannotResume(f"the records were made with another {key} "
                                   f"({self.meta.get(key)!r}, now {meta.get(key)!r}): start afresh without --resume")
