"""Resuming a stopped run: what the records keep, and what refuses to mix."""
from __future__ import annotations

import json
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
