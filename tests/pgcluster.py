#!/usr/bin/env python3
"""A throwaway PostgreSQL cluster for tests (standard library only).

As a module::

    from pgcluster import Cluster
    with Cluster() as pg:                       # initdb + start, on a free port
        url = pg.url()                          # postgres://trail:trail-test-pw@127.0.0.1:PORT/trail
        db = pg.create_database()               # a fresh database owned by `trail`
        pg.psql("SELECT 1", db=db)              # as the superuser, over the Unix socket
        pg.stop_immediate(); pg.restart()       # crash and recover, same port and data
    # stopped, and its temporary directory removed

As a command line::

    python3 tests/pgcluster.py run [--log-lines N] [--bin-dir DIR] -- CMD ARGS...

starts a cluster, runs CMD with these variables set, then stops the cluster
and removes it whatever CMD did (also on Ctrl-C, SIGTERM or SIGHUP), and exits
with CMD's status (128+N when CMD was killed by signal N):

    TRAIL_TEST_POSTGRES_URL         postgres://trail:trail-test-pw@127.0.0.1:PORT/trail
                                    (TCP, scram-sha-256; `trail` has CREATEDB and owns `trail`)
    TRAIL_TEST_POSTGRES_ADMIN       postgres://postgres@/postgres?host=SOCKETDIR&port=PORT
                                    (the superuser over the Unix socket, `trust`, no password;
                                    a libpq URL: `psql "$TRAIL_TEST_POSTGRES_ADMIN"` works)
    TRAIL_TEST_POSTGRES_DATA        the data directory
    TRAIL_TEST_POSTGRES_BIN         the directory of the server's binaries (psql, pg_ctl, ...)
    TRAIL_TEST_POSTGRES_PORT        the TCP port (also the socket's port)
    TRAIL_TEST_POSTGRES_SOCKET_DIR  the directory holding the Unix socket
    TRAIL_TEST_POSTGRES_LOG         the server log (removed with the cluster)

When CMD fails, the last --log-lines lines (default 40) of the server log are
printed to stderr before the cluster is removed.

The binaries are the newest /usr/lib/postgresql/*/bin (Debian's layout), never
the PATH. Run as root, the data directory and the server belong to the
`postgres` OS user (pg_ctl refuses root); otherwise to the current user. The
server listens on 127.0.0.1 only, on a port chosen by binding port 0, with its
socket in the cluster's temporary directory. fsync stays on. A cluster left
behind by a process that died without cleaning up (kill -9) is stopped and
removed by the next start.
"""
from __future__ import annotations

import atexit
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Optional, Sequence
from urllib.parse import quote

PG_ROOT = Path("/usr/lib/postgresql")
USER = "trail"
PASSWORD = "trail-test-pw"
DATABASE = "trail"
SUPERUSER = "postgres"
DIR_PREFIX = "trail-pgcluster-"
STARTUP_TIMEOUT = 30  # seconds pg_ctl waits for the server to accept connections
STOP_TIMEOUT = 30

SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "max_connections": "200",
    "shared_buffers": "'128MB'",
    "fsync": "on",
    "synchronous_commit": "on",
    "full_page_writes": "on",
    "password_encryption": "'scram-sha-256'",
    "huge_pages": "off",
    "logging_collector": "off",  # pg_ctl -l sends stderr to <tmp>/server.log
    "log_destination": "'stderr'",
    "log_line_prefix": "'%m [%p] %q%u@%d '",
    "log_timezone": "'UTC'",
    "timezone": "'UTC'",
    "lc_messages": "'C'",
}


class ClusterError(RuntimeError):
    """The cluster could not be set up, started, stopped or queried. From
    psql(), `returncode` is psql's: 2 when it could not connect, 3 when the SQL
    failed."""

    def __init__(self, message: str, returncode: Optional[int] = None) -> None:
        super().__init__(message)
        self.returncode = returncode


def find_bin_dir() -> Path:
    """The newest /usr/lib/postgresql/<version>/bin that has the server."""
    found = []
    for d in PG_ROOT.glob("*/bin"):
        if all((d / b).exists() for b in ("initdb", "pg_ctl", "postgres", "psql")):
            try:
                key = tuple(int(x) for x in d.parent.name.split("."))
            except ValueError:
                continue
            found.append((key, d))
    if not found:
        raise ClusterError(f"no PostgreSQL server in {PG_ROOT}/*/bin: install Debian's `postgresql` package "
                           "(`make deps` does)")
    return max(found)[1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _proc_start_time(pid: int) -> Optional[str]:
    """The start time of process `pid` (clock ticks since boot), None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()[19]


def _is_postgres(pid: int) -> bool:
    try:
        return os.path.basename(os.readlink(f"/proc/{pid}/exe")) in ("postgres", "postmaster")
    except OSError:
        return False


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(LC_ALL="C", LANG="C", PGCONNECT_TIMEOUT="10")
    return env


_live: "set[Cluster]" = set()


@atexit.register
def _close_all() -> None:
    for c in list(_live):
        c.close()


class Cluster:
    """A throwaway PostgreSQL cluster in its own temporary directory.

    Layout of `self.tmp`: `data/` (the data directory), `server.log`, the Unix
    socket `.s.PGSQL.<port>`, and `owner` (pid of the creating process, used to
    reap clusters whose owner died)."""

    def __init__(self, bin_dir: Optional[os.PathLike] = None, base_dir: Optional[os.PathLike] = None,
                 startup_timeout: float = STARTUP_TIMEOUT, reap: bool = True,
                 settings: Optional[dict[str, str]] = None, netns: Optional[str] = None,
                 hba: Sequence[str] = ()) -> None:
        """settings: postgresql.conf values added to (or replacing) SETTINGS,
        written as given (quote strings: {"work_mem": "'8MB'"}). netns: the
        network namespace the server runs in (`ip netns exec`; its Unix socket
        is reachable from any namespace). hba: pg_hba.conf lines added after
        the default ones (e.g. "host all all 10.0.0.0/8 scram-sha-256")."""
        self.settings = dict(SETTINGS, **(settings or {}))
        self.netns = netns
        self.hba = list(hba)
        self.bin_dir = Path(bin_dir) if bin_dir else find_bin_dir()
        self.base_dir = Path(base_dir) if base_dir else Path(tempfile.gettempdir())
        self.startup_timeout = startup_timeout
        self.reap = reap
        self.password = PASSWORD
        self.tmp: Optional[Path] = None
        self.port: Optional[int] = None
        self.run_as: Optional[pwd.struct_passwd] = None
        if os.geteuid() == 0:
            try:
                self.run_as = pwd.getpwnam(SUPERUSER)
            except KeyError:
                raise ClusterError("running as root, the server needs the `postgres` OS user "
                                   "(Debian's postgresql package creates it)") from None
        self._initialized = False
        self._drop_lock = threading.Lock()
        self._drop_queue: list[str] = []
        self._dropper: Optional[threading.Thread] = None

    # -- paths -------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self._need_tmp() / "data"

    @property
    def socket_dir(self) -> Path:
        return self._need_tmp()

    @property
    def log_path(self) -> Path:
        return self._need_tmp() / "server.log"

    def _need_tmp(self) -> Path:
        if self.tmp is None:
            raise ClusterError("the cluster was never started (or was closed)")
        return self.tmp

    # -- URLs --------------------------------------------------------------
    def url(self, db: str = DATABASE, user: str = USER, password: Optional[str] = None) -> str:
        """postgres://USER:PASSWORD@127.0.0.1:PORT/DB over TCP; the password
        defaults to trail's when user is `trail`."""
        self._need_tmp()
        if password is None and user == USER:
            password = self.password
        auth = quote(user, safe="") + (":" + quote(password, safe="") if password is not None else "")
        return f"postgres://{auth}@127.0.0.1:{self.port}/{quote(db, safe='')}"

    def admin_url(self, db: str = "postgres") -> str:
        """The superuser over the Unix socket (trust, no password), as a libpq URL."""
        return (f"postgres://{SUPERUSER}@/{quote(db, safe='')}"
                f"?host={quote(str(self.socket_dir), safe='/')}&port={self.port}")

    def env(self) -> dict[str, str]:
        """The TRAIL_TEST_POSTGRES_* variables describing this cluster."""
        return {
            "TRAIL_TEST_POSTGRES_URL": self.url(),
            "TRAIL_TEST_POSTGRES_ADMIN": self.admin_url(),
            "TRAIL_TEST_POSTGRES_DATA": str(self.data_dir),
            "TRAIL_TEST_POSTGRES_BIN": str(self.bin_dir),
            "TRAIL_TEST_POSTGRES_PORT": str(self.port),
            "TRAIL_TEST_POSTGRES_SOCKET_DIR": str(self.socket_dir),
            "TRAIL_TEST_POSTGRES_LOG": str(self.log_path),
        }

    # -- running commands --------------------------------------------------
    def _as_server(self, cmd: Sequence[str]) -> list[str]:
        """`cmd` run as the server's OS user (postgres when we are root), and
        pg_ctl in the cluster's network namespace when it has one (entered as
        root, before the user changes)."""
        netns = ["ip", "netns", "exec", self.netns] if self.netns and Path(cmd[0]).name == "pg_ctl" else []
        if self.run_as is None:
            return [*netns, *cmd]
        if shutil.which("setpriv"):
            return [*netns, "setpriv", f"--reuid={self.run_as.pw_uid}", f"--regid={self.run_as.pw_gid}",
                    "--init-groups", "--", *cmd]
        if shutil.which("runuser"):
            return [*netns, "runuser", "-u", self.run_as.pw_name, "--", *cmd]
        raise ClusterError("running as root needs `setpriv` or `runuser` to run the server as postgres")

    def _server_env(self) -> dict[str, str]:
        env = _clean_env()
        if self.run_as is not None:
            env.update(HOME=str(self._need_tmp()), USER=self.run_as.pw_name, LOGNAME=self.run_as.pw_name)
        return env

    def _run(self, cmd: Sequence[str], timeout: float, what: str, check: bool = True,
             as_server: bool = True) -> subprocess.CompletedProcess:
        args = self._as_server(cmd) if as_server else list(cmd)
        try:
            p = subprocess.run(args, cwd=self._need_tmp(), env=self._server_env() if as_server else _clean_env(),
                               stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise ClusterError(f"{what}: timed out after {timeout:.0f} s: {' '.join(args)}\n"
                               f"{self._log_tail()}") from e
        if check and p.returncode != 0:
            raise ClusterError(f"{what} failed (exit {p.returncode}): {' '.join(args)}\n{p.stdout}{p.stderr}"
                               f"{self._log_tail()}")
        return p

    def _log_tail(self, lines: int = 60) -> str:
        if self.tmp is None:
            return ""
        try:
            text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return f"--- {self.log_path} (last {len(text)} lines) ---\n" + "\n".join(text) + "\n"

    def _pg(self, name: str) -> str:
        return str(self.bin_dir / name)

    # -- lifecycle ---------------------------------------------------------
    def _make_tmp(self) -> None:
        """The cluster's temporary directory, owned by the server's user, with
        its `owner` file (what `reap_stale` reads)."""
        if self.reap:
            reap_stale(self.base_dir)
        self.tmp = Path(tempfile.mkdtemp(prefix=DIR_PREFIX, dir=self.base_dir))
        _live.add(self)
        (self.tmp / "owner").write_text(f"{os.getpid()} {_proc_start_time(os.getpid())}\n")
        os.chmod(self.tmp, 0o755)
        if self.run_as is not None:
            os.chown(self.tmp, self.run_as.pw_uid, self.run_as.pw_gid)

    def _init(self) -> None:
        self._make_tmp()
        if self.run_as is not None:
            if self._run(["test", "-w", str(self.tmp)], 10, "access check", check=False).returncode != 0:
                raise ClusterError(f"the postgres OS user cannot write {self.tmp}: choose another base_dir "
                                   "(or TMPDIR) that it can reach")
        self._run([self._pg("initdb"), "-D", str(self.data_dir), "-U", SUPERUSER, "--encoding=UTF8",
                   "--no-locale", "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync",
                   "--no-instructions"], 120, "initdb")
        (self.data_dir / "pg_hba.conf").write_text(
            "# written by tests/pgcluster.py\n"
            "# TYPE  DATABASE  USER      ADDRESS         METHOD\n"
            f"local   all       {SUPERUSER}                  trust\n"
            f"local   replication {SUPERUSER}                trust\n"
            "local   all       all                       scram-sha-256\n"
            "host    all       all       127.0.0.1/32    scram-sha-256\n" + "".join(f"{line}\n" for line in self.hba))
        self.port = free_port()
        self._write_settings()

    def _write_settings(self) -> None:
        conf = self.data_dir / "postgresql.conf"
        text = conf.read_text()
        marker = "\n# --- tests/pgcluster.py ---\n"
        text = text.split(marker)[0]
        settings = dict(self.settings, port=str(self.port), unix_socket_directories=f"'{self.socket_dir}'")
        text += marker + "".join(f"{k} = {v}\n" for k, v in settings.items())
        conf.write_text(text)

    def start(self) -> "Cluster":
        """Creates the cluster on first use, then starts it (a no-op when it runs)."""
        first = not self._initialized
        if first:
            self._init()
        elif self.is_running():
            return self
        for attempt in range(3):
            try:
                self._pg_ctl_start()
                break
            except ClusterError:
                # another process took the free port between bind and listen: try another (first start only)
                log = self._log_tail(20)
                if first and attempt < 2 and "ddress already in use" in log:
                    self.port = free_port()
                    self._write_settings()
                    continue
                raise
        if first:
            pw = self.password.replace("'", "''")
            self.psql(f"CREATE ROLE {USER} LOGIN CREATEDB PASSWORD '{pw}';\n"
                      f"CREATE DATABASE {DATABASE} OWNER {USER};\n")
            self._initialized = True
        return self

    def _pg_ctl_start(self) -> None:
        cmd = [self._pg("pg_ctl"), "start", "-D", str(self.data_dir), "-l", str(self.log_path), "-w",
               "-t", str(int(self.startup_timeout)), "-s"]
        try:
            self._run(cmd, self.startup_timeout + 15, "starting PostgreSQL")
        except ClusterError:
            self._kill_postmaster()
            raise

    def stop(self, mode: str = "fast") -> None:
        """pg_ctl stop -m MODE (smart, fast or immediate); a no-op when it is not running."""
        if self.tmp is None or not self.is_running():
            return
        self._run([self._pg("pg_ctl"), "stop", "-D", str(self.data_dir), "-m", mode, "-w",
                   "-t", str(STOP_TIMEOUT), "-s"], STOP_TIMEOUT + 15, f"stopping PostgreSQL (-m {mode})")

    def stop_immediate(self) -> None:
        """pg_ctl stop -m immediate: a crash as far as the data is concerned (recovery on next start)."""
        self.stop("immediate")

    def restart(self) -> "Cluster":
        """Stops the server if it runs (fast) and starts it again on the same port and data dir."""
        if not self._initialized:
            return self.start()
        self.stop()
        return self.start()

    def standby(self, synchronous: bool = False) -> "Cluster":
        """A streaming standby of this (running) cluster, started on a port of
        its own: `pg_basebackup -R` over the Unix socket, hot standby (read-only
        sessions). With `synchronous`, this cluster waits for the standby to
        flush every commit before it acknowledges it (synchronous_standby_names
        '*'). Close it like any cluster; `promote()` makes it a primary."""
        other = Cluster(self.bin_dir, self.base_dir, self.startup_timeout, reap=self.reap, settings=self.settings)
        other._make_tmp()
        other._run([other._pg("pg_basebackup"), "-D", str(other.data_dir), "-R", "-X", "stream", "-c", "fast",
                    "-h", str(self.socket_dir), "-p", str(self.port), "-U", SUPERUSER], 120, "pg_basebackup")
        other.port = free_port()
        other._write_settings()
        other._pg_ctl_start()
        other._initialized = True
        other.password = self.password
        if synchronous:
            self.psql("ALTER SYSTEM SET synchronous_standby_names = '*'")
            self.psql("SELECT pg_reload_conf()")
        for _ in range(200):  # streaming, and (when synchronous) counted as the synchronous standby
            state = self.psql("SELECT sync_state FROM pg_stat_replication").split()
            if state and (not synchronous or state[0] == "sync"):
                return other
            time.sleep(0.05)
        raise ClusterError(f"the standby did not start streaming from {self.socket_dir}\n{other._log_tail()}")

    def promote(self) -> None:
        """pg_ctl promote: this standby becomes a primary (it waits until it is)."""
        self._run([self._pg("pg_ctl"), "promote", "-D", str(self.data_dir), "-w", "-t", "60", "-s"], 75,
                  "promoting the standby")

    def postmaster_pid(self) -> Optional[int]:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError, ClusterError):
            return None

    def is_running(self) -> bool:
        pid = self.postmaster_pid()
        return pid is not None and _is_postgres(pid)

    def _kill_postmaster(self) -> None:
        pid = self.postmaster_pid()
        if pid is None or not _is_postgres(pid):
            return
        try:
            os.kill(pid, signal.SIGQUIT)  # what pg_ctl stop -m immediate sends
            for _ in range(100):
                if not _is_postgres(pid):
                    return
                time.sleep(0.05)
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def close(self) -> None:
        """Stops the server (immediate: its data is thrown away, so no shutdown
        checkpoint; else SIGKILL) and removes the temporary directory."""
        _live.discard(self)
        with self._drop_lock:
            self._drop_queue.clear()
        if self.tmp is None:
            return
        try:
            if self.is_running():
                try:
                    self.stop("immediate")
                except ClusterError:
                    pass
                self._kill_postmaster()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None
            self._initialized = False

    def __enter__(self) -> "Cluster":
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- SQL ---------------------------------------------------------------
    def psql(self, sql: str, db: str = "postgres", user: str = SUPERUSER, password: Optional[str] = None,
             tcp: bool = False, timeout: float = 60, check: bool = True) -> str:
        """Runs `sql` (one or more statements, each its own transaction) with
        psql and returns its output, unaligned and without headers, trailing
        newline removed. By default as the superuser over the Unix socket; with
        tcp=True over 127.0.0.1 (then `password` is sent for scram)."""
        cmd = [self._pg("psql"), "-X", "-q", "-A", "-t", "-w", "-v", "ON_ERROR_STOP=1",
               "-h", "127.0.0.1" if tcp else str(self.socket_dir), "-p", str(self.port), "-U", user, "-d", db,
               "-f", "-"]
        env = _clean_env()
        if password is not None:
            env["PGPASSWORD"] = password
        try:
            p = subprocess.run(cmd, input=sql, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise ClusterError(f"psql timed out after {timeout:.0f} s: {sql!r}") from e
        if check and p.returncode != 0:
            raise ClusterError(f"psql as {user} on {db} failed (exit {p.returncode}): {sql!r}\n{p.stderr}",
                               p.returncode)
        return p.stdout.rstrip("\n") if check else (p.stdout + p.stderr).rstrip("\n")

    def create_database(self, name: Optional[str] = None, owner: str = USER) -> str:
        """A fresh database owned by `owner` (a generated name when none is given); returns its name."""
        name = name or f"t_{uuid.uuid4().hex[:16]}"
        self.psql(f"CREATE DATABASE {quote_ident(name)} OWNER {quote_ident(owner)}")
        return name

    def drop_database(self, name: str, wait: bool = True) -> None:
        """Drops the database, ending its sessions (a no-op when it does not exist).

        Every DROP DATABASE makes PostgreSQL checkpoint (flush and fsync what is
        dirty: on a busy disk a second or more), so wait=False queues the drop to
        a background thread instead, for test teardowns; a drop that fails while
        the server is down is retried when it is back; `wait_for_drops()` waits
        for the queue to empty; close() forgets what is left."""
        if wait:
            self.psql(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")
            return
        with self._drop_lock:
            self._drop_queue.append(name)
            if self._dropper is None:
                self._dropper = threading.Thread(target=self._drop_worker, name="pgcluster-dropper", daemon=True)
                self._dropper.start()

    def _drop_worker(self) -> None:
        while True:
            with self._drop_lock:
                if not self._drop_queue or self.tmp is None:
                    self._dropper = None
                    return
                name = self._drop_queue[0]
            try:
                self.psql(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")
            except Exception as e:  # noqa: BLE001
                if self.tmp is None:
                    continue
                if getattr(e, "returncode", None) == 2 or not self.is_running():
                    time.sleep(0.5)  # stopped (or starting) after a test's fault: try again when it is back
                    continue
                sys.stderr.write(f"pgcluster: could not drop database {name}: {e}\n")
            with self._drop_lock:
                if self._drop_queue and self._drop_queue[0] == name:
                    self._drop_queue.pop(0)

    def wait_for_drops(self, timeout: float = 120) -> bool:
        """Waits until the drops queued by drop_database(wait=False) are done; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._drop_lock:
                if not self._drop_queue:
                    return True
            time.sleep(0.05)
        return False


def reap_stale(base_dir: Optional[os.PathLike] = None) -> list[Path]:
    """Stops and removes clusters under base_dir whose creating process is gone
    (and that this user created); returns the directories removed."""
    base = Path(base_dir) if base_dir else Path(tempfile.gettempdir())
    removed = []
    for d in base.glob(DIR_PREFIX + "*"):
        owner = d / "owner"
        try:
            if owner.stat().st_uid != os.geteuid():
                continue
            pid_s, start = owner.read_text().split()
            pid = int(pid_s)
        except (OSError, ValueError):
            continue
        if _proc_start_time(pid) == start:
            continue  # its owner is alive
        try:
            ppid = int((d / "data" / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            ppid = None
        if ppid is not None and _is_postgres(ppid):
            try:
                os.kill(ppid, signal.SIGQUIT)
                for _ in range(100):
                    if not _is_postgres(ppid):
                        break
                    time.sleep(0.05)
                else:
                    os.kill(ppid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(d, ignore_errors=True)
        removed.append(d)
    return removed


# ---------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
SI_KERNEL = 0x80  # si_code of a signal the kernel sent (a terminal's Ctrl-C), not kill(2)


def _print_log_tail(cluster: Cluster, lines: int) -> None:
    if lines > 0:
        tail = cluster._log_tail(lines)
        if tail:
            sys.stderr.write(tail)


def run(cmd: list[str], log_lines: int = 40, bin_dir: Optional[str] = None) -> int:
    """Starts a cluster, runs cmd with TRAIL_TEST_POSTGRES_* set, removes the cluster; returns cmd's status."""
    def interrupted(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    # until cmd runs, a signal interrupts the start-up; the finally below still cleans up
    for s in FORWARDED:
        signal.signal(s, interrupted)
    cluster = Cluster(bin_dir=bin_dir)
    try:
        try:
            cluster.start()
        except ClusterError as e:
            sys.stderr.write(f"pgcluster: could not start PostgreSQL: {e}\n")
            return 1
        except KeyboardInterrupt:
            sys.stderr.write("pgcluster: interrupted while starting PostgreSQL\n")
            return 130
        env = dict(os.environ, **cluster.env())
        # From here on signals are only collected (sigtimedwait): relayed to cmd
        # when someone kill(2)ed us; a terminal's Ctrl-C already reached cmd, which
        # shares our process group. Cleanup then runs with signals still blocked.
        sigs = set(FORWARDED) | {signal.SIGCHLD}
        signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
        try:
            child = subprocess.Popen(cmd, env=env,
                                     preexec_fn=lambda: signal.pthread_sigmask(signal.SIG_UNBLOCK, sigs))
        except OSError as e:
            sys.stderr.write(f"pgcluster: cannot run {cmd[0]}: {e}\n")
            return 127
        signalled = False
        while child.poll() is None:
            info = signal.sigtimedwait(sigs, 1.0)
            if info is None or info.si_signo == signal.SIGCHLD:
                continue
            signalled = True
            if info.si_code != SI_KERNEL and child.poll() is None:
                try:
                    child.send_signal(info.si_signo)
                except ProcessLookupError:
                    pass
        status = child.returncode
        code = status if status >= 0 else 128 - status
        if code != 0 and not signalled:
            sys.stderr.write(f"pgcluster: {cmd[0]} exited with {code}; the PostgreSQL server log follows\n")
            _print_log_tail(cluster, log_lines)
        return code
    finally:
        signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED)  # a second Ctrl-C must not stop the cleanup
        cluster.close()


def main(argv: Optional[list[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    usage = ("usage: pgcluster.py run [--log-lines N] [--bin-dir DIR] -- CMD [ARGS...]\n"
             "Starts a throwaway PostgreSQL cluster, runs CMD with TRAIL_TEST_POSTGRES_URL, _ADMIN, _DATA, _BIN,\n"
             "_PORT, _SOCKET_DIR and _LOG set, then removes the cluster; exits with CMD's status.\n")
    if not argv or argv[0] in ("-h", "--help") or argv[0] != "run":
        sys.stderr.write(usage)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    argv = argv[1:]
    log_lines, bin_dir = 40, None
    while argv and argv[0] != "--":
        opt = argv.pop(0)
        if opt in ("--log-lines", "--bin-dir") and argv:
            val = argv.pop(0)
            if opt == "--log-lines":
                try:
                    log_lines = int(val)
                except ValueError:
                    sys.stderr.write(usage)
                    return 2
            else:
                bin_dir = val
        elif opt in ("-h", "--help"):
            sys.stderr.write(usage)
            return 0
        else:
            argv.insert(0, opt)
            break
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        sys.stderr.write(usage)
        return 2
    return run(argv, log_lines=log_lines, bin_dir=bin_dir)


if __name__ == "__main__":
    sys.exit(main())
