"""A real traild for a colony run: started on its embedded SQLite store in a
fresh folder, with the embedding model, and stopped (SIGTERM) at the end.
Nothing in traild exists for the benchmark: it is the daemon as shipped."""
from __future__ import annotations

import ctypes
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[3]


def find_traild(explicit: Optional[str] = None) -> str:
    """`explicit`, else $TRAILD_BIN, else the release build, else the debug build."""
    for candidate in (explicit, os.environ.get("TRAILD_BIN"),
                      str(ROOT / ".build" / "release" / "traild"), str(ROOT / ".build" / "debug" / "traild")):
        if candidate and Path(candidate).is_file():
            return candidate
    raise SystemExit("no traild: build it (`swift build -c release`) or pass --traild / set TRAILD_BIN")


def libfaketime() -> str:
    """libfaketime's multi-threaded library (Debian's `faketime` package)."""
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketimeMT.so.1") + glob.glob("/usr/lib/faketime/libfaketimeMT.so.1"))
    if not found:
        raise SystemExit("libfaketime is not installed (Debian package `faketime`): `make system-deps` installs it")
    return found[0]


def _die_with_parent() -> None:
    """In traild's process before it execs: the kernel kills it when the
    harness that started it dies (PR_SET_PDEATHSIG), so a harness killed
    outright (SIGKILL, a test's timeout) leaves no daemon behind. traild
    under a fast clock keeps embedding what it was given and does not stop
    on SIGTERM (see `stop`); one such orphan once ran beside the rest of the
    end-to-end suite."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class ColonyDaemon:
    """One traild, its socket and data dir (removed at `stop` unless kept).

    `rate` > 1 runs traild's wall clock that many times faster than real time
    (libfaketime's rate, `FAKETIME="+0 xRATE"`; its monotonic clock, which its
    timers use, stays real): a half-life of 1 s, the shortest traild accepts,
    is then 1/RATE s of the worlds' real time. traild is the daemon as
    shipped; only its clock is sped up, and the report says by how much."""

    def __init__(self, traild: str, model_dir: Optional[str], keep: bool = False, rate: float = 1.0) -> None:
        self.traild = traild
        self.model_dir = model_dir
        self.keep = keep
        self.rate = rate
        self.dir = Path(tempfile.mkdtemp(prefix="colony-"))
        self.socket = str(self.dir / "traild.sock")
        self.proc: Optional[subprocess.Popen[bytes]] = None
        self.version = "unknown"

    def start(self) -> "ColonyDaemon":
        args = [self.traild, "--socket", self.socket, "--data-dir", str(self.dir / "data")]
        if self.model_dir:
            args += ["--model-dir", self.model_dir]
        env = dict(os.environ)
        if self.rate != 1.0:
            # Through sh, which execs traild: a traild preloaded with libfaketime by a
            # parent that does not have it preloaded loses its arguments (seen with
            # Swift 6, tests/e2e/test_colony.py); a preloaded sh that execs it does not.
            args = ["sh", "-c", 'exec "$0" "$@"', *args]
            env.update({"LD_PRELOAD": libfaketime(), "FAKETIME": f"+0 x{self.rate:g}",
                        "FAKETIME_DONT_FAKE_MONOTONIC": "1"})
        self._log = open(self.dir / "traild.log", "ab")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self._log, env=env,
                                     preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"traild exited with {self.proc.wait()} before ready:\n{self.log_tail()}")
            if b"ready" in line:
                self.ready_line = line.decode().strip()
                break
        else:
            raise RuntimeError("traild did not print its ready line within 60 s")
        from trail_client import Trail
        with Trail(self.socket, client_name="colony-bench") as t:
            hello = t.server or {}
            self.version = f"{hello.get('server', 'traild')} {hello.get('version', '?')}"
            self.semantic = hello.get("semantic")
        return self

    def log_tail(self, n: int = 4000) -> str:
        try:
            return (self.dir / "traild.log").read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            # Under libfaketime at a rate, traild's shutdown waits on absolute timers the
            # rate stretches (tests/e2e/test_colony.py saw the same with a shifted clock):
            # it is not stopped gracefully, and its store is thrown away anyway.
            try:
                self.proc.wait(timeout=15 if self.rate == 1.0 else 2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "ColonyDaemon":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
