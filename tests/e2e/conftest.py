"""Fixtures that start a real `traild` on a temporary socket and talk to it.

The binary is taken from $TRAILD_BIN, else .build/debug/traild at the
repository root. Every daemon gets its own socket and data dir under pytest's
tmp_path, so tests never share state.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]


def traild_bin() -> str:
    path = os.environ.get("TRAILD_BIN") or str(ROOT / ".build" / "debug" / "traild")
    if not os.path.exists(path):
        pytest.fail(f"traild binary not found at {path}: run `swift build` or set TRAILD_BIN")
    return path


class Daemon:
    """A running traild process with its socket and data dir."""

    def __init__(self, socket_path: Path, data_dir: Path, extra: list[str] | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.socket_path = socket_path
        self.data_dir = data_dir
        self.extra = extra or []
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.stderr_path = data_dir.parent / f"{data_dir.name}.stderr.log"

    def start(self, wait: bool = True) -> "Daemon":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [traild_bin(), "--socket", str(self.socket_path), "--data-dir", str(self.data_dir), *self.extra]
        env = dict(os.environ)
        if self.env:
            env.update(self.env)
        self._stderr = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self._stderr, env=env)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"traild exited with {self.proc.wait()} before ready:\n{self.stderr()}")
            if b"ready" in line:
                return
        raise RuntimeError("traild did not print ready in time")

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def connect(self) -> "Conn":
        return Conn(self.socket_path)

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        with self.connect() as c:
            return c.call(method, params)

    def result(self, method: str, params: dict[str, Any] | None = None) -> Any:
        with self.connect() as c:
            return c.result(method, params)

    def terminate(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        self._stderr.close()
        return code

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=30)
        self._stderr.close()


class Conn:
    """One JSON-RPC connection: newline-delimited JSON over the Unix socket."""

    def __init__(self, path: Path, timeout: float = 30.0) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))
        self.buf = b""
        self.next_id = 1

    def __enter__(self) -> "Conn":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(self, obj: Any) -> None:
        self.send_raw(json.dumps(obj, ensure_ascii=False).encode() + b"\n")

    def read_line(self) -> bytes:
        """Reads one line; returns b'' when the daemon closed the connection."""
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                rest, self.buf = self.buf, b""
                return rest
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def recv(self) -> Any:
        line = self.read_line()
        if not line:
            raise ConnectionError("connection closed by traild")
        return json.loads(line)

    def request(self, method: str, params: dict[str, Any] | None = None) -> int:
        rid = self.next_id
        self.next_id += 1
        msg: dict[str, Any] = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        return rid

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Sends one request and returns the whole response (skipping notifications)."""
        rid = self.request(method, params)
        while True:
            msg = self.recv()
            if isinstance(msg, dict) and msg.get("id") == rid:
                return msg

    def result(self, method: str, params: dict[str, Any] | None = None) -> Any:
        resp = self.call(method, params)
        assert "error" not in resp, resp
        return resp["result"]

    def error(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        resp = self.call(method, params)
        assert "error" in resp, resp
        return resp["error"]


@pytest.fixture
def daemon_factory(tmp_path: Path) -> Iterator[Any]:
    started: list[Daemon] = []
    # Unix socket paths are limited to ~107 bytes: keep them short.
    short = Path(f"/tmp/trail-test-{os.getpid()}-{id(tmp_path) & 0xffffff:x}")
    short.mkdir(parents=True, exist_ok=True)

    def make(name: str = "d", extra: list[str] | None = None, start: bool = True,
             env: dict[str, str] | None = None, socket_path: Path | None = None,
             data_dir: Path | None = None) -> Daemon:
        d = Daemon(socket_path or short / f"{name}.sock", data_dir or tmp_path / name, extra, env)
        started.append(d)
        if start:
            d.start()
        return d

    yield make
    for d in started:
        if d.proc is not None and d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait()
    subprocess.run(["rm", "-rf", str(short)], check=False)


@pytest.fixture
def daemon(daemon_factory: Any) -> Daemon:
    return daemon_factory()


@pytest.fixture
def conn(daemon: Daemon) -> Iterator[Conn]:
    with daemon.connect() as c:
        yield c


# ---------------------------------------------------------------------------
# Helpers shared by the e2e tests (plain functions; import them with
# `from conftest import ...`).
# ---------------------------------------------------------------------------

import hashlib
import math
import re
import threading

REASONS = {
    -32700: "parse_error", -32600: "invalid_request", -32601: "method_not_found", -32602: "invalid_params",
    -32603: "internal", -32001: "unknown_note", -32002: "note_too_large", -32003: "permission_denied",
    -32004: "invalid_namespace", -32005: "overloaded", -32006: "storage_unavailable", -32007: "ambiguous_id",
    -32008: "unknown_subscription", -32009: "retracted",
}

RFC3339_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def sha(body: str) -> str:
    """The id the contract gives a body: lowercase hex SHA-256 of its UTF-8 bytes."""
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def assert_error(resp: dict[str, Any], code: int | tuple[int, ...], reason: str | None = None,
                 field: str | None = None) -> dict[str, Any]:
    """Checks that `resp` is an error response with `code` (or one of several)
    and, when given, `data.reason` and `data.field`; returns the error."""
    assert isinstance(resp, dict), resp
    assert resp.get("jsonrpc") == "2.0", resp
    assert "result" not in resp, resp
    assert "error" in resp, resp
    err = resp["error"]
    codes = code if isinstance(code, tuple) else (code,)
    assert err.get("code") in codes, resp
    assert isinstance(err.get("message"), str) and err["message"].strip(), resp
    data = err.get("data")
    assert isinstance(data, dict) and isinstance(data.get("reason"), str), resp
    if err["code"] in REASONS and err["code"] != -32600:
        assert data["reason"] == REASONS[err["code"]], resp
    if reason is not None:
        assert data["reason"] == reason, resp
    if field is not None:
        assert data.get("field") == field, resp
    return err


def configure(c: Any, ns: str, **settings: Any) -> dict[str, Any]:
    """trail.namespace.configure, asserting success."""
    return c.result("trail.namespace.configure", {"ns": ns, **settings})


def deposit(c: Any, body: str, **params: Any) -> dict[str, Any]:
    return c.result("trail.deposit", {"body": body, **params})


def get_note(c: Any, id_: str, **params: Any) -> dict[str, Any]:
    return c.result("trail.get", {"id": id_, **params})["note"]


def decay_bounds(w0: float, t_start_min: float, t_start_max: float, t_end_min: float,
                 t_end_max: float, half_life: float = 1.0, slack: float = 0.03) -> tuple[float, float]:
    """Bounds on w0 decayed between two instants each known only to lie in an
    interval (request sent .. response read), with a little relative slack."""
    shortest = max(0.0, t_end_min - t_start_max)
    longest = t_end_max - t_start_min
    hi = w0 * 2 ** (-shortest / half_life)
    lo = w0 * 2 ** (-longest / half_life)
    return lo * (1 - slack), hi * (1 + slack)


def pipeline(c: Any, requests: list[tuple[str, dict[str, Any] | None]], timeout: float = 60.0) -> list[dict[str, Any]]:
    """Sends every request without waiting (from a thread, so that neither side
    blocks on a full socket buffer), then reads until each is answered.
    Returns the responses in request order; fails on duplicate or stray ids."""
    first = c.next_id
    lines = []
    for i, (method, params) in enumerate(requests):
        msg: dict[str, Any] = {"jsonrpc": "2.0", "id": first + i, "method": method}
        if params is not None:
            msg["params"] = params
        lines.append(json.dumps(msg, ensure_ascii=False).encode() + b"\n")
    c.next_id = first + len(requests)
    payload = b"".join(lines)
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            c.send_raw(payload)
        except BaseException as e:  # surfaced below
            errors.append(e)

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    got: dict[int, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    while len(got) < len(requests):
        assert time.monotonic() < deadline, f"only {len(got)} of {len(requests)} answered"
        msg = c.recv()
        if isinstance(msg, dict) and msg.get("method") == "trail.event":
            continue
        assert isinstance(msg, dict) and "id" in msg, msg
        rid = msg["id"]
        assert isinstance(rid, int) and first <= rid < first + len(requests), f"stray id: {msg}"
        assert rid not in got, f"id {rid} answered twice: {got[rid]} and {msg}"
        got[rid] = msg
    t.join(timeout=10)
    assert not errors, errors
    return [got[first + i] for i in range(len(requests))]


def no_pending_message(c: Any, wait: float = 0.3) -> bool:
    """True when nothing arrives on `c` within `wait` seconds (buffer included)."""
    if c.buf:
        return False
    c.sock.settimeout(wait)
    try:
        chunk = c.sock.recv(65536)
    except socket.timeout:
        return True
    finally:
        c.sock.settimeout(30.0)
    c.buf += chunk
    return False


@pytest.fixture(scope="module")
def shared_daemon(tmp_path_factory: Any) -> Iterator[Daemon]:
    """One daemon for a whole test module, for many small tests that do not
    depend on a fresh store (bad-input cases); each test still gets its own
    connection through `shared_conn`."""
    tmp = tmp_path_factory.mktemp("shared")
    short = Path(f"/tmp/trail-test-{os.getpid()}-m{id(tmp) & 0xffffff:x}")
    short.mkdir(parents=True, exist_ok=True)
    d = Daemon(short / "d.sock", tmp / "d")
    d.start()
    yield d
    if d.proc is not None and d.proc.poll() is None:
        d.proc.kill()
        d.proc.wait()
    subprocess.run(["rm", "-rf", str(short)], check=False)


@pytest.fixture
def shared_conn(shared_daemon: Daemon) -> Iterator[Conn]:
    assert shared_daemon.proc is not None and shared_daemon.proc.poll() is None, "the shared traild died"
    with shared_daemon.connect() as c:
        yield c
