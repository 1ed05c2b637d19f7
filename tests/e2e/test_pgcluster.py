"""The throwaway PostgreSQL cluster of the tests (tests/pgcluster.py) and the
engine fixtures of conftest.py work for real. No traild is needed here."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from conftest import ROOT, pgcluster_module

pgcluster = pgcluster_module()
SCRIPT = ROOT / "tests" / "pgcluster.py"


def clusters_of(pid: int) -> list[Path]:
    """The cluster directories that process `pid` created and left (other
    processes on the machine may have clusters of their own)."""
    found = []
    for d in Path(tempfile.gettempdir()).glob(pgcluster.DIR_PREFIX + "*"):
        try:
            if int((d / "owner").read_text().split()[0]) == pid:
                found.append(d)
        except (OSError, ValueError, IndexError):
            pass
    return found


def run_wrapped(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """python3 tests/pgcluster.py ARGS..., checking that it left no cluster behind."""
    p = subprocess.Popen([sys.executable, str(SCRIPT), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    out, err = p.communicate(timeout=timeout)
    assert clusters_of(p.pid) == [], err
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


def test_cluster_runs_with_the_test_settings(pg_cluster):
    assert pg_cluster.is_running()
    assert int(pg_cluster.psql("SHOW server_version_num")) >= 150000
    got = dict(line.split("|") for line in pg_cluster.psql(
        "SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'max_connections', 'shared_buffers',"
        " 'listen_addresses', 'port', 'unix_socket_directories', 'password_encryption', 'synchronous_commit')"
    ).splitlines())
    assert got == {
        "fsync": "on", "max_connections": "200", "shared_buffers": "16384",  # 8 kB pages: 128MB
        "listen_addresses": "127.0.0.1", "port": str(pg_cluster.port),
        "unix_socket_directories": str(pg_cluster.socket_dir), "password_encryption": "scram-sha-256",
        "synchronous_commit": "on",
    }
    assert (pg_cluster.socket_dir / f".s.PGSQL.{pg_cluster.port}").is_socket()
    assert "database system is ready to accept connections" in pg_cluster.log_path.read_text()
    # root runs the server as postgres; anyone else as themselves
    owner = pg_cluster.psql("SELECT pg_catalog.current_setting('data_directory')")
    assert owner == str(pg_cluster.data_dir)
    expected_uid = pgcluster.pwd.getpwnam("postgres").pw_uid if os.geteuid() == 0 else os.geteuid()
    assert pg_cluster.data_dir.stat().st_uid == expected_uid


def test_url_names_the_trail_role_on_tcp(pg_cluster):
    assert pg_cluster.url() == f"postgres://trail:trail-test-pw@127.0.0.1:{pg_cluster.port}/trail"
    assert pg_cluster.url("other") == f"postgres://trail:trail-test-pw@127.0.0.1:{pg_cluster.port}/other"
    assert pg_cluster.admin_url() == \
        f"postgres://postgres@/postgres?host={pg_cluster.socket_dir}&port={pg_cluster.port}"
    # the admin URL is a libpq URL psql accepts as it is
    out = subprocess.run([str(pg_cluster.bin_dir / "psql"), "-X", "-A", "-t", "-w", "-c", "SELECT current_user",
                          pg_cluster.admin_url()], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout.strip() == "postgres", out.stderr


def test_trail_logs_in_over_tcp_with_its_password(pg_cluster):
    out = pg_cluster.psql("SELECT current_user, current_database(), inet_server_addr(),"
                          " (SELECT rolcreatedb FROM pg_roles WHERE rolname = current_user),"
                          " (SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database())",
                          db="trail", user="trail", password="trail-test-pw", tcp=True)
    assert out == "trail|trail|127.0.0.1|t|trail"
    # it owns the database: it may create tables there
    pg_cluster.psql("CREATE TABLE IF NOT EXISTS login_probe (x int); DROP TABLE login_probe",
                    db="trail", user="trail", password="trail-test-pw", tcp=True)
    # the password is stored as a SCRAM verifier
    assert pg_cluster.psql("SELECT rolpassword FROM pg_authid WHERE rolname = 'trail'").startswith("SCRAM-SHA-256$")


def test_wrong_or_missing_password_is_refused(pg_cluster):
    with pytest.raises(pgcluster.ClusterError, match="password authentication failed for user \"trail\""):
        pg_cluster.psql("SELECT 1", db="trail", user="trail", password="not-the-password", tcp=True)
    with pytest.raises(pgcluster.ClusterError, match="no password supplied"):
        pg_cluster.psql("SELECT 1", db="trail", user="trail", tcp=True)
    # trust is for the superuser over the socket only: not over TCP, not for trail over the socket
    with pytest.raises(pgcluster.ClusterError, match="no password supplied"):
        pg_cluster.psql("SELECT 1", user="postgres", tcp=True)
    with pytest.raises(pgcluster.ClusterError, match="no password supplied"):
        pg_cluster.psql("SELECT 1", db="trail", user="trail")
    # trail over the socket with its password is fine (postgres://...?host=/dir)
    assert pg_cluster.psql("SELECT 1", db="trail", user="trail", password="trail-test-pw") == "1"


def test_create_and_drop_database(pg_cluster):
    name = pg_cluster.create_database()
    try:
        assert pg_cluster.psql(f"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{name}'") == "trail"
        pg_cluster.psql("CREATE TABLE t (x int); INSERT INTO t VALUES (1)", db=name, user="trail",
                        password="trail-test-pw", tcp=True)
        # a session still open on it does not stop the drop
        holder = subprocess.Popen([str(pg_cluster.bin_dir / "psql"), "-X", "-q", "-w", "-h", str(pg_cluster.socket_dir),
                                   "-p", str(pg_cluster.port), "-U", "postgres", "-d", name, "-c", "SELECT pg_sleep(60)"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 20
            while pg_cluster.psql(f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{name}'") == "0":
                assert time.monotonic() < deadline, "the holding session never connected"
                time.sleep(0.1)
        finally:
            pg_cluster.drop_database(name)
            holder.wait(timeout=30)
    finally:
        pg_cluster.drop_database(name)  # a no-op when already gone
    assert pg_cluster.psql(f"SELECT count(*) FROM pg_database WHERE datname = '{name}'") == "0"
    named = pg_cluster.create_database("Mixed Case-name")
    assert named == "Mixed Case-name"
    assert pg_cluster.psql("SELECT current_database()", db=named) == named
    pg_cluster.drop_database(named)


def test_background_drops_survive_a_stopped_server(pg_cluster):
    names = [pg_cluster.create_database() for _ in range(2)]
    count = f"SELECT count(*) FROM pg_database WHERE datname IN ('{names[0]}', '{names[1]}')"
    pg_cluster.stop_immediate()
    try:
        for name in names:
            pg_cluster.drop_database(name, wait=False)  # queued; retried while the server is down
        time.sleep(1)
        assert not pg_cluster.wait_for_drops(timeout=0.1)
    finally:
        pg_cluster.start()
    assert pg_cluster.wait_for_drops(timeout=60)
    assert pg_cluster.psql(count) == "0"


def test_immediate_stop_then_restart_keeps_committed_data(pg_cluster):
    name = pg_cluster.create_database()
    url, port = pg_cluster.url(name), pg_cluster.port
    pg_cluster.psql("CREATE TABLE kept (n int PRIMARY KEY, body text);"
                    "INSERT INTO kept SELECT g, 'note ' || g FROM generate_series(1, 1000) g",
                    db=name, user="trail", password="trail-test-pw", tcp=True)
    log_before = pg_cluster.log_path.stat().st_size
    try:
        pg_cluster.stop_immediate()
        assert not pg_cluster.is_running()
        with pytest.raises(pgcluster.ClusterError):
            pg_cluster.psql("SELECT 1", db=name, user="trail", password="trail-test-pw", tcp=True)
    finally:
        pg_cluster.restart()
    assert pg_cluster.is_running()
    assert (pg_cluster.port, pg_cluster.url(name)) == (port, url)
    assert pg_cluster.psql("SELECT count(*), sum(n) FROM kept", db=name, user="trail",
                           password="trail-test-pw", tcp=True) == "1000|500500"
    log = pg_cluster.log_path.read_text()[log_before:]
    assert "database system was interrupted" in log or "not properly shut down" in log, log
    # and a clean stop and restart (restart() on a running cluster)
    pg_cluster.restart()
    assert pg_cluster.psql("SELECT count(*) FROM kept", db=name) == "1000"
    pg_cluster.drop_database(name)


def test_context_manager_removes_everything():
    with pgcluster.Cluster() as c:
        tmp, pid = c.tmp, c.postmaster_pid()
        assert tmp is not None and tmp.is_dir() and pid is not None and pgcluster._is_postgres(pid)
        assert c.psql("SELECT 1", db="trail") == "1"
    assert not tmp.exists()
    assert not pgcluster._is_postgres(pid)


def test_startup_failure_is_loud_and_quick():
    c = pgcluster.Cluster(settings={"shared_buffers": "'plenty'"})
    t0 = time.monotonic()
    try:
        with pytest.raises(pgcluster.ClusterError) as err:
            c.start()
        assert time.monotonic() - t0 < 30
        assert "invalid value for parameter \"shared_buffers\"" in str(err.value)  # the server log is in it
        assert not c.is_running()
    finally:
        tmp = c.tmp
        c.close()
    assert tmp is not None and not tmp.exists()


def test_a_live_owners_cluster_is_not_reaped(pg_cluster):
    assert pg_cluster.tmp not in pgcluster.reap_stale()
    assert pg_cluster.is_running() and pg_cluster.tmp.is_dir()


def test_a_cluster_whose_owner_died_is_reaped():
    base = Path(tempfile.mkdtemp(prefix="trail-pgreap-", dir="/tmp"))
    os.chmod(base, 0o755)  # the postgres OS user must reach it
    try:
        c = pgcluster.Cluster(base_dir=base)
        c.start()
        tmp, pid = c.tmp, c.postmaster_pid()
        pgcluster._live.discard(c)  # as if its process had been killed -9: no cleanup
        gone = subprocess.Popen(["true"])
        gone.wait()
        (tmp / "owner").write_text(f"{gone.pid} 1\n")
        assert pgcluster.reap_stale(base) == [tmp]
        assert not tmp.exists() and not pgcluster._is_postgres(pid)
    finally:
        subprocess.run(["rm", "-rf", str(base)], check=False)


def test_run_sets_the_environment_and_exits_with_the_command_status():
    probe = textwrap.dedent("""
        import json, os, subprocess, sys
        env = {k: v for k, v in os.environ.items() if k.startswith("TRAIL_TEST_POSTGRES_")}
        psql = os.path.join(env["TRAIL_TEST_POSTGRES_BIN"], "psql")
        env["admin_user"] = subprocess.run([psql, "-XAtw", "-c", "SELECT current_user", env["TRAIL_TEST_POSTGRES_ADMIN"]],
                                           capture_output=True, text=True).stdout.strip()
        env["trail_user"] = subprocess.run([psql, "-XAtw", "-c", "SELECT current_user", env["TRAIL_TEST_POSTGRES_URL"]],
                                           capture_output=True, text=True).stdout.strip()
        with open(os.path.join(env["TRAIL_TEST_POSTGRES_DATA"], "postmaster.pid")) as f:
            env["pid"] = int(f.readline())
        print(json.dumps(env))
        sys.exit(7)
    """)
    p = run_wrapped("run", "--log-lines", "0", "--", sys.executable, "-c", probe)
    assert p.returncode == 7, p.stderr
    env = json.loads(p.stdout)
    port = env["TRAIL_TEST_POSTGRES_PORT"]
    assert env["TRAIL_TEST_POSTGRES_URL"] == f"postgres://trail:trail-test-pw@127.0.0.1:{port}/trail"
    sock = env["TRAIL_TEST_POSTGRES_SOCKET_DIR"]
    assert env["TRAIL_TEST_POSTGRES_ADMIN"] == f"postgres://postgres@/postgres?host={sock}&port={port}"
    assert env["TRAIL_TEST_POSTGRES_BIN"].startswith("/usr/lib/postgresql/")
    assert env["TRAIL_TEST_POSTGRES_DATA"] == f"{sock}/data"
    assert (env["admin_user"], env["trail_user"]) == ("postgres", "trail")
    assert not Path(sock).exists() and not pgcluster._is_postgres(env["pid"])
    # a command killed by a signal gives 128+N, and the server log follows on stderr
    killed = run_wrapped("run", "--", "sh", "-c", "kill -KILL $$")
    assert killed.returncode == 128 + 9, killed.stderr
    assert "database system is ready to accept connections" in killed.stderr
    usage = run_wrapped("run")
    assert usage.returncode == 2 and "usage" in usage.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_run_cleans_up_when_signalled(sig):
    p = subprocess.Popen([sys.executable, str(SCRIPT), "run", "--", "sh", "-c",
                          'echo "$TRAIL_TEST_POSTGRES_DATA"; exec sleep 120'],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        data = Path(p.stdout.readline().strip())
        pid = int((data / "postmaster.pid").read_text().split("\n", 1)[0])
        assert pgcluster._is_postgres(pid)
        p.send_signal(sig)  # to the wrapper only: it relays it to the command, then cleans up
        assert p.wait(timeout=60) == 128 + sig
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert not data.parent.exists() and not pgcluster._is_postgres(pid)
    assert clusters_of(p.pid) == []


FAKE_TRAILD = """\
import json, os, signal, sys, time
args = sys.argv[1:]
data = args[args.index("--data-dir") + 1]
with open(os.path.join(data, f"args-{os.getpid()}.json"), "w") as f:
    json.dump(args, f)
print("traild ready (fake)", flush=True)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
time.sleep(600)
"""

FAKE_TESTS = """\
import json, sys
from pathlib import Path

import pytest


def args_of(d):
    return [json.loads(p.read_text()) for p in sorted(Path(d.data_dir).glob("args-*.json"))]


def test_factory(daemon_factory, engine):
    a = daemon_factory("a")
    b = daemon_factory("b")
    a2 = daemon_factory("a2", data_dir=a.data_dir)
    own = daemon_factory("own", extra=["--store", "sqlite:/elsewhere.db"])
    assert daemon_factory.engine == engine
    assert own.store is None and args_of(own)[0][-2:] == ["--store", "sqlite:/elsewhere.db"]
    assert "--data-dir" in args_of(a)[0] and str(a.data_dir) in args_of(a)[0]
    if engine == "sqlite":
        assert a.store is None and b.store is None
        assert all("--store" not in args for args in args_of(a) + args_of(b))
        assert "pgcluster" not in sys.modules, "the sqlite engine started PostgreSQL"
    else:
        pg = sys.modules["pgcluster"]._live.copy().pop()
        assert a.store == pg.url(a.database) and a2.store == a.store and b.store != a.store
        assert all(args[args.index("--store") + 1] == a.store for args in args_of(a))
        assert pg.psql(f"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{b.database}'") == "trail"


def test_shared(shared_daemon, engine):
    assert (shared_daemon.store is None) == (engine == "sqlite")


@pytest.mark.engines("postgres")
def test_postgres_only(daemon_factory, engine):
    assert engine == "postgres" and daemon_factory("p").store


def test_pair(pg_daemon_pair):
    a, b = pg_daemon_pair
    assert a.store == b.store and a.data_dir != b.data_dir and a.socket_path != b.socket_path


def test_no_daemons():
    pass


def test_zz_no_cluster_unless_needed():
    import conftest
    if conftest.ENGINES == ["sqlite"]:
        assert "pgcluster" not in sys.modules, "a sqlite-only run loaded (and so maybe started) PostgreSQL"
"""


@pytest.mark.parametrize("engines, outcome", [
    ("", {"passed": 4, "skipped": 2}),  # default: sqlite only, ids as before, no cluster
    ("sqlite,postgres", {"passed": 8}),
    ("postgres", {"passed": 6}),
])
def test_engine_parametrization_of_the_daemon_fixtures(tmp_path, engines, outcome):
    """Runs a small suite over conftest.py's fixtures with a fake traild."""
    (tmp_path / "fake_traild.py").write_text(FAKE_TRAILD)
    traild = tmp_path / "traild"
    traild.write_text(f"#!/bin/sh\nexec {sys.executable} {tmp_path / 'fake_traild.py'} \"$@\"\n")
    traild.chmod(0o755)
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_fake.py").write_text(FAKE_TESTS)
    env = {k: v for k, v in os.environ.items() if k not in ("TRAIL_E2E_ENGINES", "PYTEST_ADDOPTS")}
    env.update(TRAILD_BIN=str(traild), PYTHONPATH=str(ROOT / "tests" / "e2e"))
    if engines:
        env["TRAIL_E2E_ENGINES"] = engines
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "conftest", "-v", "-rs", "-p", "no:cacheprovider",
                             "--rootdir", str(suite), str(suite)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=suite)
    out, err = proc.communicate(timeout=300)
    p = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    summary = p.stdout.strip().splitlines()[-1]
    for word, n in outcome.items():
        assert f"{n} {word}" in summary, p.stdout + p.stderr
    assert "failed" not in summary and "error" not in summary, p.stdout + p.stderr
    if not engines:
        assert "test_factory PASSED" in p.stdout and "[sqlite]" not in p.stdout, p.stdout
    else:
        for e in engines.split(","):
            assert f"test_factory[{e}] PASSED" in p.stdout, p.stdout
    assert clusters_of(proc.pid) == [], "the inner run left a cluster behind"
