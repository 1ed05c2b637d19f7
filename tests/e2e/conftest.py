"""Fixtures that start a real `traild` on a temporary socket and talk to it.

The binary is taken from $TRAILD_BIN, else .build/debug/traild at the
repository root. Every daemon gets its own socket and data dir under pytest's
tmp_path, so tests never share state.

Engines. $TRAIL_E2E_ENGINES is a comma list of the store engines the suite
runs against: `sqlite` (the default here; `make e2e` sets `sqlite,postgres`)
and `postgres`. Every test that makes
daemons (through `daemon_factory`, `daemon`, `conn`, `shared_daemon`, ...)
depends on the session-scoped `engine` fixture; with more than the default
engine it is parametrized (ids `[sqlite]`, `[postgres]`), so the whole suite
runs once per engine without copying tests. With `postgres`, each daemon gets
`--store <url>` of a fresh database in the session's throwaway cluster
(`pg_cluster`, tests/pgcluster.py), one database per data dir, so daemons
restarted on the same data dir find their notes again and tests stay
isolated; `--data-dir` is passed as before. A daemon whose `extra` already
has `--store` is left alone. `@pytest.mark.engines("postgres", ...)` limits a
test to some engines. The cluster is started lazily: a run that needs no
PostgreSQL never starts one. `pg_daemons` / `pg_daemon_pair` give several
daemons on one database (multi-daemon tests; skipped unless `postgres` is in
$TRAIL_E2E_ENGINES).

Tests that look at the store itself do it whichever the engine through the
helpers at the end: `store_rows(daemon, sql)` (a query on its store: SQLite's
file or its PostgreSQL database), `store_execute(daemon, sql)` (change it
behind the daemon's back, for fault tests), `compactor_store_args(daemon)`
(how trail-compactor names the store), `store_name(daemon)` (what hello and
`trailctl status` call it); `PsqlSession` keeps a psql session open (to hold
a lock while daemons work).
"""
from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]

KNOWN_ENGINES = ("sqlite", "postgres")


def _engines_from_env() -> list[str]:
    raw = os.environ.get("TRAIL_E2E_ENGINES", "sqlite")
    engines = list(dict.fromkeys(e.strip() for e in raw.split(",") if e.strip()))
    bad = [e for e in engines if e not in KNOWN_ENGINES]
    if bad or not engines:
        raise pytest.UsageError(f"TRAIL_E2E_ENGINES={raw!r}: give a comma list of {', '.join(KNOWN_ENGINES)}")
    return engines


ENGINES = _engines_from_env()


def traild_bin() -> str:
    path = os.environ.get("TRAILD_BIN") or str(ROOT / ".build" / "debug" / "traild")
    if not os.path.exists(path):
        pytest.fail(f"traild binary not found at {path}: run `swift build` or set TRAILD_BIN")
    return path


class Daemon:
    """A running traild process with its socket and data dir."""

    def __init__(self, socket_path: Path, data_dir: Path, extra: list[str] | None = None,
                 env: dict[str, str] | None = None, store: str | None = None,
                 database: str | None = None, pg: Any = None,
                 command: list[str] | None = None) -> None:
        self.socket_path = socket_path
        self.data_dir = data_dir
        self.extra = extra or []
        self.env = env
        self.store = store          # the --store URL given (postgres), else None
        self.database = database    # its database in pg_cluster, else None
        self.pg = pg                # the pgcluster.Cluster holding `database`, else None
        self.command = command or []  # run traild through this (it must exec it: same pid)
        self.proc: subprocess.Popen[bytes] | None = None
        self.stderr_path = data_dir.parent / f"{data_dir.name}.stderr.log"

    def start(self, wait: bool = True) -> "Daemon":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        store = ["--store", self.store] if self.store else []
        args = [*self.command, traild_bin(), "--socket", str(self.socket_path), "--data-dir", str(self.data_dir), *store, *self.extra]
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
                self.ready_line = line.decode()
                return
        raise RuntimeError("traild did not print ready in time")

    @property
    def engine(self) -> str:
        """`postgres` when the daemon was given a postgres:// --store, else `sqlite`."""
        stores = [self.store] if self.store else []
        stores += [self.extra[i + 1] for i, a in enumerate(self.extra[:-1]) if a == "--store"]
        return "postgres" if any(s.startswith(("postgres://", "postgresql://")) for s in stores) else "sqlite"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

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


class Calls:
    """request/call/result/error over `send(obj)` and `recv()`: what every
    kind of connection in the tests offers (a Conn here, a connection made
    by another user in test_access.py)."""

    next_id = 1

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


class Conn(Calls):
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



# ---------------------------------------------------------------------------
# Engines and the throwaway PostgreSQL cluster
# ---------------------------------------------------------------------------

def pytest_configure(config: Any) -> None:
    config.addinivalue_line("markers", "engines(*names): run the test only on these store engines "
                                       "(those also in TRAIL_E2E_ENGINES)")


def pytest_generate_tests(metafunc: Any) -> None:
    if "engine" not in metafunc.fixturenames:
        return
    for m in metafunc.definition.iter_markers("parametrize"):
        names = m.args[0] if m.args else m.kwargs.get("argnames", "")
        if "engine" in ([n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)):
            return  # the test parametrizes `engine` itself
    engines = list(ENGINES)
    for m in metafunc.definition.iter_markers("engines"):
        engines = [e for e in engines if e in m.args]
    if engines == ["sqlite"] and ENGINES == ["sqlite"]:
        return  # the default run: no parametrization, test ids exactly as before
    metafunc.parametrize("engine", engines, indirect=True, scope="session")


@pytest.fixture(scope="session")
def engine(request: Any) -> str:
    """The store engine this test's daemons use: `sqlite` or `postgres`."""
    return getattr(request, "param", ENGINES[0])


def helper_module(name: str) -> ModuleType:
    """tests/NAME.py (a helper beside the test folders), imported as `NAME`."""
    mod = sys.modules.get(name)
    if mod is None:
        spec = importlib.util.spec_from_file_location(name, ROOT / "tests" / f"{name}.py")
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return mod


def pgcluster_module() -> ModuleType:
    """tests/pgcluster.py: throwaway PostgreSQL clusters."""
    return helper_module("pgcluster")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Any]:
    """The session's own throwaway PostgreSQL cluster (a `pgcluster.Cluster`).

    Started on first use only. Tests may stop it (`stop()`, `stop_immediate()`)
    and `restart()` it (same port, same data); daemon factories start it again
    at their teardown if a test left it down. The TRAIL_TEST_POSTGRES_* variables
    from `pgcluster.py run` are ignored: pytest must own the cluster it faults."""
    pgcluster = pgcluster_module()
    cluster = pgcluster.Cluster()
    # SIGTERM would end pytest without teardown: turn it into an interrupt so the cluster is removed.
    previous = signal.getsignal(signal.SIGTERM)
    if previous is signal.SIG_DFL:
        def on_term(signum: int, frame: Any) -> None:
            raise KeyboardInterrupt("SIGTERM")
        signal.signal(signal.SIGTERM, on_term)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.close()
        if previous is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _ensure_running(cluster: Any) -> None:
    if not cluster.is_running():
        cluster.start()


class DaemonFactory:
    """Makes daemons for one test and removes them (and their databases) after it.

    `factory(name, extra, start, env, socket_path, data_dir, db, command)`: with the
    postgres engine (or when `db` is given) the daemon gets `--store` with the
    URL of a database of pg_cluster: the one for `db` when given (daemons given
    the same `db` share it), else the one for its data dir (made on first use).
    `command` runs traild through a program that execs it (the pid stays
    traild's), e.g. `["sh", "-c", 'exec "$0" "$@"']`."""

    def __init__(self, tmp_path: Path, request: Any, engine: str, short: Path, prefix: str = "") -> None:
        self.tmp_path = tmp_path
        self.request = request
        self.engine = engine
        self.short = short
        self.prefix = prefix
        self.started: list[Daemon] = []
        self.databases: dict[str, str] = {}   # key -> database name
        self._pg: Any = None
        if engine == "postgres":
            self.pg  # start the session cluster at setup time, not inside the test

    @property
    def pg(self) -> Any:
        if self._pg is None:
            self._pg = self.request.getfixturevalue("pg_cluster")
        return self._pg

    def database(self, key: str) -> str:
        """The database for `key`, created on first use."""
        if key not in self.databases:
            self.databases[key] = self.pg.create_database()
        return self.databases[key]

    def __call__(self, name: str = "d", extra: list[str] | None = None, start: bool = True,
                 env: dict[str, str] | None = None, socket_path: Path | None = None,
                 data_dir: Path | None = None, db: str | None = None, command: list[str] | None = None) -> Daemon:
        data_dir = data_dir or self.tmp_path / f"{self.prefix}{name}"
        store = database = None
        if (self.engine == "postgres" or db is not None) and "--store" not in (extra or []):
            database = self.database(db if db is not None else "dir:" + os.path.abspath(data_dir))
            store = self.pg.url(database)
        d = Daemon(socket_path or self.short / f"{self.prefix}{name}.sock", data_dir, extra, env,
                   store=store, database=database, pg=self.pg if database is not None else None, command=command)
        self.started.append(d)
        if start:
            d.start()
        return d

    def pair(self, names: tuple[str, str] = ("a", "b"), extra: list[str] | None = None,
             start: bool = True, db: str = "pair") -> tuple[Daemon, Daemon]:
        """Two daemons, each with its own socket and data dir, on one database."""
        first, second = (self(n, extra=extra, start=start, db=db) for n in names)
        return first, second

    def close(self) -> None:
        for d in self.started:
            if d.proc is not None and d.proc.poll() is None:
                d.proc.kill()
                d.proc.wait()
        if self.databases and self._pg is not None:
            try:
                _ensure_running(self._pg)  # a fault test may have left it down
            except Exception as e:  # noqa: BLE001 - the next test using it will report it
                print(f"warning: could not start the test cluster again: {e}", file=sys.stderr)
            for name in self.databases.values():
                self._pg.drop_database(name, wait=False)  # in the background: each drop checkpoints
        subprocess.run(["rm", "-rf", str(self.short)], check=False)


@pytest.fixture
def daemon_factory(tmp_path: Path, request: Any, engine: str) -> Iterator[Any]:
    # Unix socket paths are limited to ~107 bytes: keep them short.
    short = Path(f"/tmp/trail-test-{os.getpid()}-{id(tmp_path) & 0xffffff:x}")
    short.mkdir(parents=True, exist_ok=True)
    factory = DaemonFactory(tmp_path, request, engine, short)
    yield factory
    factory.close()


@pytest.fixture
def pg_daemons(tmp_path: Path, request: Any) -> Iterator[DaemonFactory]:
    """A daemon factory that always uses the postgres engine, for tests of
    several daemons on one database: `pg_daemons.pair()`, or
    `pg_daemons(name, db="shared")` for any number. Data dirs and sockets are
    named `pg-<name>`. Skipped unless `postgres` is in TRAIL_E2E_ENGINES."""
    if "postgres" not in ENGINES:
        pytest.skip("needs the postgres engine: set TRAIL_E2E_ENGINES to include postgres")
    short = Path(tempfile.mkdtemp(prefix=f"trail-test-{os.getpid()}-p", dir="/tmp"))
    factory = DaemonFactory(tmp_path, request, "postgres", short, prefix="pg-")
    yield factory
    factory.close()


@pytest.fixture
def pg_daemon_pair(pg_daemons: DaemonFactory) -> tuple[Daemon, Daemon]:
    """Two started daemons (`pg-a`, `pg-b`) serving one fresh PostgreSQL database."""
    return pg_daemons.pair()


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
    -32008: "unknown_subscription", -32009: "retracted", -32010: "semantic_unavailable",
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
def shared_daemon(tmp_path_factory: Any, request: Any, engine: str) -> Iterator[Daemon]:
    """One daemon for a whole test module, for many small tests that do not
    depend on a fresh store (bad-input cases); each test still gets its own
    connection through `shared_conn`. With the postgres engine, on a database
    of its own."""
    tmp = tmp_path_factory.mktemp("shared")
    short = Path(f"/tmp/trail-test-{os.getpid()}-m{id(tmp) & 0xffffff:x}")
    short.mkdir(parents=True, exist_ok=True)
    pg = request.getfixturevalue("pg_cluster") if engine == "postgres" else None
    database = pg.create_database() if pg is not None else None
    d = Daemon(short / "d.sock", tmp / "d", store=pg.url(database) if pg is not None else None,
               database=database, pg=pg)
    try:
        d.start()
        yield d
    finally:
        if d.proc is not None and d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait()
        if pg is not None:
            _ensure_running(pg)
            pg.drop_database(database, wait=False)
        subprocess.run(["rm", "-rf", str(short)], check=False)


@pytest.fixture
def shared_conn(shared_daemon: Daemon) -> Iterator[Conn]:
    assert shared_daemon.proc is not None and shared_daemon.proc.poll() is None, "the shared traild died"
    with shared_daemon.connect() as c:
        yield c


# ---------------------------------------------------------------------------
# The daemon's store, whichever the engine (SQLite file or PostgreSQL database)
# ---------------------------------------------------------------------------

def _sqlite_path(daemon: Daemon) -> Path:
    for i, a in enumerate(daemon.extra[:-1]):
        if a == "--store" and daemon.extra[i + 1].startswith("sqlite:"):
            return Path(daemon.extra[i + 1][len("sqlite:"):])
    return daemon.data_dir / "trail.db"


def _pg_of(daemon: Daemon) -> Any:
    assert daemon.pg is not None and daemon.database is not None, \
        "this daemon's PostgreSQL store was not made by a daemon factory: no cluster to query"
    return daemon.pg


def store_rows(daemon: Daemon, sql: str) -> list[tuple[Any, ...]]:
    """Runs one query on `daemon`'s store and returns its rows as tuples, whichever the engine.

    SQLite: a read-only connection to its trail.db (WAL: it sees every
    committed write). PostgreSQL: psql as the superuser on its database, the
    rows carried as JSON (`row_to_json`, column order kept): integers come
    back as int, double precision as float, booleans as bool (SQLite has 0/1),
    bytea as '\\x...' text. Write SQL that both engines read alike."""
    if daemon.engine == "sqlite":
        import sqlite3
        db = sqlite3.connect(f"file:{_sqlite_path(daemon)}?mode=ro", uri=True)
        try:
            return db.execute(sql).fetchall()
        finally:
            db.close()
    pg = _pg_of(daemon)
    out = pg.psql(f"SELECT coalesce(json_agg(row_to_json(q)), '[]'::json)::text FROM ({sql}) q", db=daemon.database)
    # json (not jsonb) keeps the columns in order, duplicate names included.
    return list(json.loads(out, object_pairs_hook=lambda pairs: tuple(v for _, v in pairs)))


def store_execute(daemon: Daemon, sql: str) -> None:
    """Runs statements that change `daemon`'s store behind its back (fault tests):
    sqlite3 on its file, or psql as the superuser on its database."""
    if daemon.engine == "sqlite":
        import sqlite3
        db = sqlite3.connect(str(_sqlite_path(daemon)), timeout=30)
        try:
            db.executescript(sql)
        finally:
            db.close()
        return
    _pg_of(daemon).psql(sql, db=daemon.database)


def compactor_store_args(daemon: Daemon) -> list[str]:
    """How trail-compactor names `daemon`'s store: `--data-dir DIR` on SQLite,
    `--store postgres://...` on PostgreSQL."""
    if daemon.engine == "sqlite":
        return ["--data-dir", str(daemon.data_dir)]
    assert daemon.store is not None
    return ["--store", daemon.store]


def store_name(daemon: Daemon) -> str:
    """What `trail.hello`'s `database` and `trailctl status` call the store:
    `sqlite:PATH`, or the PostgreSQL URL without its password."""
    if daemon.engine == "sqlite":
        return f"sqlite:{_sqlite_path(daemon)}"
    pg = _pg_of(daemon)
    return f"postgres://trail@127.0.0.1:{pg.port}/{daemon.database}"


class PsqlSession:
    """One psql session kept open, as the superuser over the Unix socket, on
    database `db` of cluster `pg`: for a test that holds a lock (or a
    transaction) while daemons work. `run(sql)` sends statements and returns
    their output (unaligned, no headers); a failing statement ends the
    session (ON_ERROR_STOP) and `run` raises with psql's message."""

    def __init__(self, pg: Any, db: str) -> None:
        cmd = [str(pg.bin_dir / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
               "-h", str(pg.socket_dir), "-p", str(pg.port), "-U", "postgres", "-d", db]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     env=env)
        self.count = 0

    def __enter__(self) -> "PsqlSession":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, sql: str, timeout: float = 30.0) -> str:
        import select
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.count += 1
        marker = f"__psql_session_done_{self.count}__"
        self.proc.stdin.write((sql.rstrip().rstrip(";") + ";\n\\echo " + marker + "\n").encode())
        self.proc.stdin.flush()
        out = b""
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while marker.encode() + b"\n" not in out:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"psql did not finish {sql!r} in {timeout} s: {out.decode(errors='replace')}")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise RuntimeError(f"psql ended on {sql!r}: {out.decode(errors='replace')}")
                out += chunk
        return out.decode(errors="replace").split(marker)[0].rstrip("\n")

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


def assert_bad_start(tmp_path: Path, i: int, what: str, url: str, words: str, secrets: list[str],
                     bound: float, flags: int = 0) -> str:
    """Starts traild on `url` and asserts that it stops at once (within
    `bound` seconds, never ready) with exactly one line matching `words`
    and none of `secrets` in what it printed; returns that line."""
    started = time.monotonic()
    p = subprocess.run([traild_bin(), "--socket", str(tmp_path / f"{i}.sock"), "--data-dir", str(tmp_path / f"d{i}"),
                        "--store", url], capture_output=True, timeout=60)
    took = time.monotonic() - started
    err = p.stderr.decode(errors="replace")
    assert p.returncode != 0, (what, err)
    assert took < bound, (what, took)
    assert b"ready" not in p.stdout, what
    for secret in secrets:
        assert secret not in err, (what, err)
    said = [line for line in err.splitlines() if re.search(words, line, flags)]
    assert len(said) == 1, (what, err)
    print(f"bad start ({what}): exit {p.returncode} after {took:.2f} s: {said[0].strip()}")
    return said[0]
