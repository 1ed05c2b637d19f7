"""Fixtures for the Python client's tests: a real traild on a temporary socket.

The binary is $TRAILD_BIN (a relative path is taken from the repository
root), else .build/debug/traild at the repository root, found from this
file's place so the suite runs from a fresh clone at any path. One daemon
serves the whole session; each test works in its own namespace.

Test modules use fixtures only (no `from conftest import`), so this suite and
tests/e2e can be collected in one pytest run.
"""
from __future__ import annotations

import asyncio
import itertools
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterator, Optional, TypeVar

import pytest

CLIENT_DIR = Path(__file__).resolve().parents[1]   # Clients/python
REPO_ROOT = Path(__file__).resolve().parents[3]    # the repository
if str(CLIENT_DIR) not in sys.path:
    sys.path.insert(0, str(CLIENT_DIR))

from trail_client import AsyncTrail, Trail  # noqa: E402

T = TypeVar("T")


def traild_bin() -> str:
    env = os.environ.get("TRAILD_BIN")
    path = Path(env) if env else REPO_ROOT / ".build" / "debug" / "traild"
    if not path.is_absolute():
        path = REPO_ROOT / path
    if not path.exists():
        pytest.fail(f"traild binary not found at {path}: build it (`swift build`) or set TRAILD_BIN")
    return str(path)


class Daemon:
    """A traild process. `socket_path` None lets the daemon find its socket
    from the environment (`env`)."""

    def __init__(self, workdir: Path, socket_path: Optional[Path], env: Optional[dict[str, str]] = None,
                 args: Optional[list[str]] = None) -> None:
        self.workdir = workdir
        self.args = list(args or [])
        self.socket_path = socket_path
        self.data_dir = workdir / "data"
        self.env = env
        self.log = workdir / "traild.log"
        self.proc: Optional[subprocess.Popen[bytes]] = None

    def start(self, timeout: float = 30.0) -> "Daemon":
        args = [traild_bin(), "--data-dir", str(self.data_dir), *self.args]
        if self.socket_path is not None:
            args += ["--socket", str(self.socket_path)]
        env = dict(os.environ)
        env.pop("TRAIL_SOCKET", None)
        env.update(self.env or {})
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, env=env)
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        buf = b""
        while b"ready" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                self.stop()
                pytest.fail(f"traild did not print ready within {timeout} s:\n{self.log.read_text(errors='replace')}")
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    code = self.proc.wait()
                    pytest.fail(f"traild exited with {code} before ready:\n{self.log.read_text(errors='replace')}")
                buf += chunk
        if self.socket_path is None:
            m = re.search(rb"socket=(\S+)", buf)
            if m:
                self.socket_path = Path(m.group(1).decode())
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    @property
    def sock(self) -> str:
        assert self.socket_path is not None
        return str(self.socket_path)


def short_tmpdir(tag: str) -> Path:
    """A fresh directory with a short path (Unix socket paths are limited to ~107 bytes)."""
    return Path(tempfile.mkdtemp(prefix=f"trail-py-{tag}-", dir="/tmp"))


@pytest.fixture(scope="session")
def daemon() -> Iterator[Daemon]:
    """One traild for the whole session."""
    work = short_tmpdir("s")
    d = Daemon(work, work / "s.sock")
    try:
        d.start()
        yield d
    finally:
        d.stop()
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture
def daemon_factory() -> Iterator[Callable[..., Daemon]]:
    """Starts extra daemons for a test: make(env=..., socket=True|False, args=[...])."""
    started: list[Daemon] = []

    def make(env: Optional[dict[str, str]] = None, socket: bool = True, args: Optional[list[str]] = None) -> Daemon:
        work = short_tmpdir("f")
        d = Daemon(work, work / "s.sock" if socket else None, env, args)
        started.append(d)
        return d.start()

    yield make
    for d in started:
        d.stop()
        shutil.rmtree(d.workdir, ignore_errors=True)


_counter = itertools.count(1)



@pytest.fixture
def ns(request: pytest.FixtureRequest) -> str:
    """A namespace of this test's own."""
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")
    return f"{next(_counter)}-{name}"[:64].rstrip("-._")


@pytest.fixture
def trail(daemon: Daemon, ns: str) -> Iterator[Trail]:
    with Trail(daemon.sock, default_ns=ns, agent="pytest-sync") as t:
        yield t


class Blocking:
    """Drives an AsyncTrail from synchronous test code: every coroutine
    method is run to completion on a private event loop. Lets one test body
    check both flavours."""

    def __init__(self, client: AsyncTrail) -> None:
        self._client = client
        self._loop = asyncio.new_event_loop()

    def run(self, aw: Awaitable[T]) -> T:
        return self._loop.run_until_complete(aw)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr) or not asyncio.iscoroutinefunction(attr):
            return attr
        return lambda *a, **kw: self.run(attr(*a, **kw))

    def shutdown(self) -> None:
        self.run(self._client.close())
        self._loop.close()


@pytest.fixture(params=["sync", "async"])
def client(request: pytest.FixtureRequest, daemon: Daemon, ns: str) -> Iterator[Any]:
    """The same test against Trail and (through Blocking) AsyncTrail."""
    if request.param == "sync":
        with Trail(daemon.sock, default_ns=ns, agent="pytest-sync") as t:
            yield t
    else:
        b = Blocking(AsyncTrail(daemon.sock, default_ns=ns, agent="pytest-async"))
        b.connect()
        try:
            yield b
        finally:
            b.shutdown()


@pytest.fixture
def flavour_agent(client: Any) -> str:
    return "pytest-sync" if isinstance(client, Trail) else "pytest-async"
