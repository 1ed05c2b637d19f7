"""The in-process baseline memories: what a colony has without trail.

- `NoMemory`: reads nothing, keeps nothing (the floor).
- `HandoffNote`: one shared file that each instance reads whole at its start
  and rewrites whole at its end, cut to the budget; overlapping instances
  clobber each other (last writer wins), as a shared NOTES.md does.
- `AppendLog`: one append-only log shared by all, read newest first (or by
  how often a line was written) and cut to the budget.

They are plain Python, thread-safe (a lock around shared state), with the
same four verbs as every memory (`api.Memory`) plus `close()`. None of them
searches: the query is ignored, which is what a hand-off file or a log
gives a reader who does not know the words the writer used.
"""
from __future__ import annotations

import hashlib
import itertools
import os
import threading
from pathlib import Path
from typing import Callable, Optional, Sequence

from .api import REASON_SEP, REFUTED, RETRACTED, Memory, Note

#: The hand-off file's size when no instance has said its budget.
DEFAULT_BUDGET = 4000


def _one_line(text: str) -> str:
    """Lines are the unit of both baselines: a note never spans two."""
    return " ".join(text.split())


def _fit(lines: Sequence[str], budget_bytes: int) -> list[str]:
    """The lines, in order, that fit in `budget_bytes` of bodies: each line is
    taken if it still fits in what is left (trail's own budget walk), so one
    long line does not hide the short ones after it."""
    out, left = [], budget_bytes
    for line in lines:
        size = len(line.encode())
        if size <= left:
            out.append(line)
            left -= size
    return out


class NoMemory:
    """Reads nothing, writes nothing: instances know only their ticket."""

    name = "none"

    def __init__(self) -> None:
        self._ids = itertools.count()

    def read(self, query: str, budget_bytes: int) -> list[Note]:
        return []

    def write(self, text: str, links: Sequence[str] = (), strength: float = 1.0,
              corrects: Sequence[str] = ()) -> str:
        return f"none:{next(self._ids)}"

    def confirm(self, id: str) -> None:
        pass

    def refute(self, id: str, reason: str, harm: bool = False) -> None:
        pass

    def close(self) -> None:
        pass


# --- the hand-off note ------------------------------------------------------------

_FILE_LOCKS: dict[str, threading.Lock] = {}
_FILE_LOCKS_GUARD = threading.Lock()


def _file_lock(path: Path) -> threading.Lock:
    with _FILE_LOCKS_GUARD:
        return _FILE_LOCKS.setdefault(str(path.resolve()), threading.Lock())


def line_id(line: str) -> str:
    """A hand-off line's id: its hash, so the same line has the same id for
    every instance that reads it."""
    return "h:" + hashlib.sha256(line.encode()).hexdigest()[:16]


class HandoffNote:
    """One instance's view of the shared hand-off file at `path`.

    Make one object per instance (the factory does). The file is read whole
    at the instance's first verb and kept as the instance's own copy, newest
    line on top; `write` puts its line on top (dropping an identical line and
    the lines it `corrects`), `confirm` moves a line to the top, `refute`
    drops it (with or without harm: a hand-off has no weights to lower).
    `close()` rewrites the whole file as that copy, cut to the budget keeping
    the top (newest) lines, and only if the instance changed something: two
    instances that overlap both start from the same file and the one that
    ends last erases what the other added. The budget is `budget_bytes`, else
    the one of the instance's first `read`, else DEFAULT_BUDGET.
    `links` and `strength` have nowhere to go in a file of lines and are
    ignored."""

    name = "handoff"

    def __init__(self, path: str | os.PathLike[str], budget_bytes: Optional[int] = None) -> None:
        self.path = Path(path)
        self.budget_bytes = budget_bytes
        self._lines: Optional[list[str]] = None
        self._dirty = False
        self._lock = threading.Lock()

    def _load(self) -> list[str]:
        if self._lines is None:
            with _file_lock(self.path):
                try:
                    text = self.path.read_text(encoding="utf-8")
                except FileNotFoundError:
                    text = ""
            self._lines = [line for line in text.splitlines() if line.strip()]
        return self._lines

    def read(self, query: str, budget_bytes: int) -> list[Note]:
        with self._lock:
            if self.budget_bytes is None:
                self.budget_bytes = budget_bytes
            return [Note(line_id(line), line) for line in _fit(self._load(), budget_bytes)]

    def write(self, text: str, links: Sequence[str] = (), strength: float = 1.0,
              corrects: Sequence[str] = ()) -> str:
        line = _one_line(text)
        new_id = line_id(line)
        drop = set(corrects) | {new_id}
        with self._lock:
            lines = self._load()
            lines[:] = [line] + [old for old in lines if line_id(old) not in drop]
            self._dirty = True
        return new_id

    def confirm(self, id: str) -> None:
        with self._lock:
            lines = self._load()
            hit = [line for line in lines if line_id(line) == id]
            if hit:
                lines[:] = hit[:1] + [line for line in lines if line_id(line) != id]
                self._dirty = True

    def refute(self, id: str, reason: str, harm: bool = False) -> None:
        with self._lock:
            lines = self._load()
            kept = [line for line in lines if line_id(line) != id]
            if len(kept) != len(lines):
                lines[:] = kept
                self._dirty = True

    def close(self) -> None:
        with self._lock:
            if not self._dirty or self._lines is None:
                return
            body = "".join(line + "\n" for line in _fit(self._lines, self.budget_bytes or DEFAULT_BUDGET))
            with _file_lock(self.path):
                tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
                tmp.write_text(body, encoding="utf-8")
                os.replace(tmp, self.path)
            self._dirty = False


# --- the append-only log ---------------------------------------------------------------

ORDERS = ("newest", "frequency")


class AppendLog:
    """An append-only log shared by every instance (one object for the run).

    `write` appends the text as a line. The reactions are lines too, which a
    reader takes as claims: `confirm` appends the confirmed line again (the
    same claim once more, and the newest); `refute` appends
    "refuted: <line> | reason: <reason>" ("retracted: ..." with `harm`),
    which a reader takes as the opposite claim (`api.reaction`).

    `read` ignores the query and considers the `window` newest lines (all
    when None: the tuning knob). With order "newest" it returns them newest
    first, each line a note of weight 1.0. With order "frequency" it returns
    each distinct statement once (lines equal up to their reason), most often
    written first, then newest, with its count as its weight: the log's only
    measure of how much a line is backed. Both are cut to the budget.
    Ids are "log:<line number>"."""

    def __init__(self, order: str = "newest", window: Optional[int] = None) -> None:
        if order not in ORDERS:
            raise ValueError(f"unknown order {order!r}; expected one of {ORDERS}")
        if window is not None and window < 1:
            raise ValueError("window must be at least 1 line")
        self.order = order
        self.window = window
        self.name = f"log-{order}"
        self._lines: list[str] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._lines)

    def _append(self, line: str) -> str:
        with self._lock:
            self._lines.append(line)
            return f"log:{len(self._lines) - 1}"

    def _line(self, id: str) -> Optional[str]:
        try:
            k = int(id.removeprefix("log:"))
        except ValueError:
            return None
        with self._lock:
            return self._lines[k] if 0 <= k < len(self._lines) else None

    def read(self, query: str, budget_bytes: int) -> list[Note]:
        with self._lock:
            start = 0 if self.window is None else max(0, len(self._lines) - self.window)
            recent = list(enumerate(self._lines[start:], start))
        if self.order == "newest":
            ranked = [(k, line, 1.0) for k, line in reversed(recent)]
        else:
            groups: dict[str, list[int | str]] = {}
            for k, line in recent:
                key = line.split(REASON_SEP, 1)[0]
                g = groups.setdefault(key, [0, k, line])
                g[0], g[1], g[2] = int(g[0]) + 1, k, line
            ordered = sorted(groups.values(), key=lambda g: (-int(g[0]), -int(g[1])))
            ranked = [(int(g[1]), str(g[2]), float(g[0])) for g in ordered]
        out, left = [], budget_bytes
        for k, line, weight in ranked:
            size = len(line.encode())
            if size <= left:
                out.append(Note(f"log:{k}", line, weight))
                left -= size
        return out

    def write(self, text: str, links: Sequence[str] = (), strength: float = 1.0,
              corrects: Sequence[str] = ()) -> str:
        return self._append(_one_line(text))

    def confirm(self, id: str) -> None:
        line = self._line(id)
        if line is not None:
            self._append(line)

    def refute(self, id: str, reason: str, harm: bool = False) -> None:
        line = self._line(id)
        if line is not None:
            statement = line.split(REASON_SEP, 1)[0]
            self._append(f"{RETRACTED if harm else REFUTED}{statement}{REASON_SEP}{_one_line(reason)}")

    def close(self) -> None:
        """Nothing to release: the log outlives every instance."""


# --- factories ----------------------------------------------------------------------

def factory(kind: str, *, path: Optional[str | os.PathLike[str]] = None, window: Optional[int] = None,
            budget_bytes: Optional[int] = None) -> Callable[[], Memory]:
    """A function that gives each instance its memory object, for one run:
    "none"; "handoff" (needs `path`; a new object per instance, all on one
    file); "log-newest" or "log-frequency" (one shared log, `window`)."""
    if kind == "none":
        none = NoMemory()
        return lambda: none
    if kind == "handoff":
        if path is None:
            raise ValueError("a hand-off note needs a path")
        return lambda: HandoffNote(path, budget_bytes)
    if kind in ("log-newest", "log-frequency"):
        log = AppendLog(kind.removeprefix("log-"), window)
        return lambda: log
    raise ValueError(f"unknown baseline {kind!r}")
