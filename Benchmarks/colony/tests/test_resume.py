"""Resuming a stopped run: what the records keep, and what refuses to mix."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

import colony_path  # noqa: F401  (Benchmarks/colony on sys.path)

from colony import resume, runner


def _run_lines(seed: int, memory: str = "trail", n: int = 2) -> list[str]:
    keys = runner.spec("flaky", "static", memory, "evidence", "practice", seed, {"half_life_s": 2.0}, "eval").keys()
    lines = [json.dumps({"kind": "instance", **keys, "instance": i}) for i in range(n)]
    return lines + [json.dumps({"kind": "run", **keys, "invariants": {"same_world": True}, "primary": 1.0})]


def test_whole_runs_are_kept_and_a_cut_run_and_a_torn_line_are_dropped(tmp_path: Path) -> None:
    path = tmp_path / "colony.jsonl"
    meta = json.dumps({"kind": "meta", "code": "abc", "profile": "quick"})
    tuned = json.dumps({"kind": "tuned", "knobs": [{"world": "flaky", "memory": "trail", "knob": {"half_life_s": 2.0}}]})
    cut = _run_lines(1002)[:-1]  # its instance lines, but the run never wrote its run line
    path.write_text("\n".join([meta, tuned, *_run_lines(1001), *cut]) + "\n" + '{"kind": "inst')
    progress = resume.Progress.load(path)
    assert progress.meta is not None and progress.meta["code"] == "abc"
    assert progress.tuned is not None
    assert [r["seed"] for r in progress.runs] == [1001]
    assert progress.dropped_lines == 3  # two instance lines of the cut run, one torn line
    kept = [json.loads(l) for l in path.read_text().splitlines()]
    assert [l["kind"] for l in kept] == ["meta", "tuned", "instance", "instance", "run"]
    # Loading again changes nothing.
    again = resume.Progress.load(path)
    assert again.dropped_lines == 0 and [json.loads(l) for l in path.read_text().splitlines()] == kept


def test_reading_the_records_leaves_them_as_they_are(tmp_path: Path) -> None:
    """Only a resume repairs the file; the report reads it as it is."""
    path = tmp_path / "colony.jsonl"
    text = "\n".join([*_run_lines(1001), *_run_lines(1002)[:-1]]) + "\n" + '{"kind": "inst'
    path.write_text(text)
    progress = resume.Progress.read(path)
    assert [r["seed"] for r in progress.runs] == [1001] and progress.dropped_lines == 3
    assert path.read_text() == text


def test_the_key_of_a_spec_is_the_key_of_its_run_line() -> None:
    s = runner.spec("claims", "silent", "vector", "strongest", "practice", 1007, {"min_similarity": None}, "eval")
    line = json.loads(json.dumps({"kind": "run", **s.keys()}))
    assert resume.run_key(s.keys()) == resume.run_key(line)
    other = runner.spec("claims", "silent", "vector", "strongest", "practice", 1007, {"min_similarity": 0.2}, "eval")
    assert resume.run_key(other.keys()) != resume.run_key(line)


def test_records_of_other_code_or_another_profile_are_not_continued(tmp_path: Path) -> None:
    progress = resume.Progress(meta={"kind": "meta", "code": "abc", "profile": "full", "rate": 20.0,
                                     "budget_bytes": 1200, "seeds": {"eval": [1001]}})
    same = {"code": "abc", "profile": "full", "rate": 20.0, "budget_bytes": 1200, "seeds": {"eval": [1001]}}
    progress.check(same)
    for key, value in (("code", "def"), ("profile", "quick"), ("seeds", {"eval": [1001, 1002]})):
        with pytest.raises(resume.CannotResume, match=key):
            progress.check({**same, key: value})
    resume.Progress().check(same)  # nothing to continue: anything goes


def test_the_fingerprint_names_the_daemon_binary(tmp_path: Path) -> None:
    binary = tmp_path / "traild"
    binary.write_bytes(b"one build")
    first = resume.fingerprint(str(binary))
    assert resume.fingerprint(str(binary)) == first
    binary.write_bytes(b"another build")
    assert resume.fingerprint(str(binary)) != first


def _checkout(tmp_path: Path) -> Path:
    """A git checkout with Sources, Package.swift and a built traild."""
    root = tmp_path / "trail"
    (root / "Sources" / "traild").mkdir(parents=True)
    (root / "Sources" / "traild" / "main.swift").write_text("print(1)\n")
    (root / "Package.swift").write_text("// package\n")
    for args in (["init", "-q"], ["add", "."], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one"]):
        subprocess.run(["git", "-C", str(root), *args], check=True)
    binary = root / ".build" / "release" / "traild"
    binary.parent.mkdir(parents=True)
    binary.write_bytes(b"one build")
    return binary


def test_a_traild_built_again_from_the_same_commit_continues_the_records(tmp_path: Path) -> None:
    binary = _checkout(tmp_path)
    first = resume.fingerprint(str(binary))
    assert resume.built_from(binary) is not None
    binary.write_bytes(b"the same commit built again")
    assert resume.fingerprint(str(binary)) == first


def test_a_traild_of_other_sources_does_not(tmp_path: Path) -> None:
    binary = _checkout(tmp_path)
    root = binary.parents[2]
    first = resume.fingerprint(str(binary))
    # Changed and not committed: the binary's bytes name it.
    (root / "Sources" / "traild" / "main.swift").write_text("print(2)\n")
    os.utime(binary)  # built after the change
    assert resume.built_from(binary) is None
    assert resume.fingerprint(str(binary)) != first
    # Committed: another source tree.
    subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "two"], check=True)
    assert resume.built_from(binary) is not None
    assert resume.fingerprint(str(binary)) != first
    # A source file newer than the binary: it may be a build of older sources.
    later = binary.stat().st_mtime + 10
    os.utime(root / "Sources" / "traild" / "main.swift", (later, later))
    assert resume.built_from(binary) is None
    # Another configuration (a debug build) of the same commit.
    debug = root / ".build" / "debug" / "traild"
    debug.parent.mkdir()
    debug.write_bytes(b"debug")
    os.utime(debug, (later + 1, later + 1))
    release = root / ".build" / "release" / "traild"
    os.utime(release, (later + 1, later + 1))
    assert resume.fingerprint(str(debug)) != resume.fingerprint(str(release))


def test_tuned_knobs_are_read_from_their_line_alone(tmp_path: Path) -> None:
    path = tmp_path / "colony.jsonl"
    tuned = {"kind": "tuned", "knobs": [{"world": "flaky", "memory": "trail", "knob": {"half_life_s": 2.0}}]}
    path.write_text("\n".join([json.dumps({"kind": "meta"}), '{"kind": "instance", "note": "tuned" torn',
                               json.dumps({"kind": "instance", "extra": {"text": "tuned"}}), json.dumps(tuned),
                               '["tuned"]']) + "\n")
    assert resume.Progress.tuned_knobs(path) == tuned
    # A line that is JSON but no object is not a record: skipped by both readers.
    odd = tmp_path / "odd.jsonl"
    odd.write_text("\n".join([json.dumps({"kind": "meta"}), json.dumps(tuned), '["tuned"]', "7"]) + "\n")
    assert resume.Progress.tuned_knobs(odd) == tuned
    progress = resume.Progress.read(odd)
    assert progress.tuned == tuned and progress.dropped_lines == 2
    # Two tuned lines: the last one counts, as it does for `read`.
    later = {"kind": "tuned", "knobs": [{"world": "flaky", "memory": "trail", "knob": {"half_life_s": 4.0}}]}
    with path.open("a") as f:
        f.write(json.dumps(later) + "\n")
    assert resume.Progress.tuned_knobs(path) == later
    both = tmp_path / "both.jsonl"
    both.write_text(json.dumps(tuned) + "\n" + json.dumps(later) + "\n")
    assert resume.Progress.tuned_knobs(both) == resume.Progress.read(both).tuned == later
    assert resume.Progress.tuned_knobs(tmp_path / "none.jsonl") is None
    path.write_text(json.dumps({"kind": "meta"}) + "\n")
    assert resume.Progress.tuned_knobs(path) is None
