"""The daemon as a process: locking, stale sockets, signals, permissions, paths."""
from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

from conftest import Conn, deposit, get_note, sha, traild_bin

REFUSAL = re.compile(r"(another traild|lock|already|in use|running)", re.IGNORECASE)


def wait_exit(proc: subprocess.Popen, timeout: float = 15.0) -> int:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail("the second traild did not exit: it should refuse to start")


def launch(args: list[str], env_extra: dict[str, str] | None = None, drop: tuple[str, ...] = ()) -> subprocess.Popen:
    env = dict(os.environ)
    for k in drop:
        env.pop(k, None)
    env.update(env_extra or {})
    return subprocess.Popen([traild_bin(), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def wait_ready(proc: subprocess.Popen, timeout: float = 30.0) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ln = proc.stdout.readline()
        if not ln:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            pytest.fail(f"traild exited with {proc.wait()} before ready:\n{err}")
        if b"ready" in ln:
            return
    pytest.fail("traild did not print ready in time")


def stop(proc: subprocess.Popen) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def test_second_daemon_on_same_socket_is_refused(daemon_factory, tmp_path):
    first = daemon_factory("one")
    with first.connect() as c:
        deposit(c, "owned by the first daemon")
    second = daemon_factory("two", start=False, socket_path=first.socket_path)
    second.start(wait=False)
    code = wait_exit(second.proc)
    assert code != 0
    err = second.stderr()
    assert REFUSAL.search(err), f"stderr should say why it refused: {err!r}"
    # The first daemon is untouched and still owns its socket.
    assert first.proc.poll() is None
    with first.connect() as c:
        assert get_note(c, sha("owned by the first daemon"))["body"] == "owned by the first daemon"


def test_second_daemon_on_same_data_dir_is_refused(daemon_factory):
    first = daemon_factory("one")
    with first.connect() as c:
        deposit(c, "data dir owner")
    second = daemon_factory("two", start=False, data_dir=first.data_dir)
    second.start(wait=False)
    code = wait_exit(second.proc)
    assert code != 0
    err = second.stderr()
    assert REFUSAL.search(err), f"stderr should say why it refused: {err!r}"
    assert first.proc.poll() is None
    with first.connect() as c:
        assert get_note(c, sha("data dir owner"))["body"] == "data dir owner"
        assert deposit(c, "still writable")["created"] is True


def test_stale_socket_from_kill9_is_replaced(daemon_factory):
    d = daemon_factory("stale")
    with d.connect() as c:
        deposit(c, "before the crash")
    d.kill9()
    assert os.path.exists(d.socket_path), "kill -9 cannot remove the socket file"
    d.start()
    with d.connect() as c:
        assert get_note(c, sha("before the crash"))["body"] == "before the crash"


def test_stale_socket_replaced_by_a_daemon_with_another_data_dir(daemon_factory):
    d = daemon_factory("stale2")
    d.kill9()
    other = daemon_factory("fresh", socket_path=d.socket_path)
    assert other.result("trail.hello")["protocol"] == 1


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly_and_data_persists(daemon_factory, sig):
    d = daemon_factory("sig")
    with d.connect() as c:
        i = deposit(c, "kept across a clean stop", strength=3)["id"]
    assert d.terminate(sig) == 0
    d.start()
    with d.connect() as c:
        note = get_note(c, i)
        assert note["weight"] == pytest.approx(3.0, rel=1e-3)
    assert d.terminate() == 0


def test_sigterm_with_open_connections(daemon_factory):
    d = daemon_factory("busy")
    conns = [d.connect() for _ in range(5)]
    for c in conns:
        c.result("trail.watch", {})
    code = d.terminate(timeout=15)
    assert code == 0
    for c in conns:
        c.close()


def test_socket_folder_0700_and_socket_0600(daemon_factory, tmp_path):
    base = Path(f"/tmp/trail-perm-{os.getpid()}-{time.monotonic_ns() % 100000}")
    try:
        sock = base / "sub" / "traild.sock"
        d = daemon_factory("perm", socket_path=sock)
        assert stat.S_IMODE(os.stat(sock.parent).st_mode) == 0o700
        st = os.stat(sock)
        assert stat.S_ISSOCK(st.st_mode)
        assert stat.S_IMODE(st.st_mode) == 0o600
        assert d.result("trail.hello")["protocol"] == 1
    finally:
        subprocess.run(["rm", "-rf", str(base)], check=False)


def test_trail_socket_env_is_honoured(tmp_path):
    base = Path(f"/tmp/trail-env-{os.getpid()}-{time.monotonic_ns() % 100000}")
    base.mkdir(parents=True)
    sock = base / "from-env.sock"
    proc = launch(["--data-dir", str(tmp_path / "data")], {"TRAIL_SOCKET": str(sock)})
    try:
        wait_ready(proc)
        assert stat.S_ISSOCK(os.stat(sock).st_mode)
        with Conn(sock) as c:
            assert c.result("trail.hello")["protocol"] == 1
    finally:
        assert stop(proc) == 0
        subprocess.run(["rm", "-rf", str(base)], check=False)


def test_socket_flag_wins_over_env(tmp_path):
    base = Path(f"/tmp/trail-flag-{os.getpid()}-{time.monotonic_ns() % 100000}")
    base.mkdir(parents=True)
    flag_sock, env_sock = base / "flag.sock", base / "env.sock"
    proc = launch(["--socket", str(flag_sock), "--data-dir", str(tmp_path / "data")], {"TRAIL_SOCKET": str(env_sock)})
    try:
        wait_ready(proc)
        assert os.path.exists(flag_sock)
        assert not os.path.exists(env_sock)
    finally:
        stop(proc)
        subprocess.run(["rm", "-rf", str(base)], check=False)


def test_default_socket_under_xdg_runtime_dir(tmp_path):
    runtime = Path(f"/tmp/trail-xdg-{os.getpid()}-{time.monotonic_ns() % 100000}")
    runtime.mkdir(mode=0o700, parents=True)
    proc = launch(["--data-dir", str(tmp_path / "data")], {"XDG_RUNTIME_DIR": str(runtime)}, drop=("TRAIL_SOCKET",))
    try:
        wait_ready(proc)
        sock = runtime / "trail" / "traild.sock"
        assert stat.S_ISSOCK(os.stat(sock).st_mode)
        assert stat.S_IMODE(os.stat(sock.parent).st_mode) == 0o700
        assert stat.S_IMODE(os.stat(sock).st_mode) == 0o600
        with Conn(sock) as c:
            assert c.result("trail.hello")["protocol"] == 1
    finally:
        assert stop(proc) == 0
        subprocess.run(["rm", "-rf", str(runtime)], check=False)


def test_store_flag_puts_the_database_where_asked(daemon_factory, tmp_path):
    db = tmp_path / "elsewhere" / "trail.sqlite"
    db.parent.mkdir()
    d = daemon_factory("store", extra=["--store", f"sqlite:{db}"])
    with d.connect() as c:
        hello = c.result("trail.hello")
        assert "sqlite" in str(hello["store"]).lower()
        deposit(c, "in the custom store")
    assert db.exists() and db.stat().st_size > 0
    assert d.terminate() == 0
    d.start()
    with d.connect() as c:
        assert get_note(c, sha("in the custom store"))["body"] == "in the custom store"


def test_bad_flags_exit_non_zero(tmp_path):
    proc = launch(["--no-such-flag"])
    assert wait_exit(proc) != 0
    proc = launch(["--socket", str(tmp_path / "x.sock"), "--data-dir", str(tmp_path / "d"), "--store", "bogus:thing"])
    assert wait_exit(proc) != 0
    assert proc.stderr is not None and proc.stderr.read().strip(), "a refused start says why on stderr"


def test_ready_is_printed_on_stdout_once_listening(daemon_factory):
    d = daemon_factory("ready", start=False)
    d.start(wait=False)
    d.wait_ready()
    # It printed ready: the socket must accept right away.
    with d.connect() as c:
        assert c.result("trail.hello")["protocol"] == 1


@pytest.mark.parametrize("suffix", ["/.", "/", "/../"])
def test_same_data_dir_spelt_differently_is_refused(daemon_factory, suffix):
    first = daemon_factory("one")
    spelt = str(first.data_dir) + suffix + (first.data_dir.name if suffix == "/../" else "")
    assert spelt != str(first.data_dir) and os.path.samefile(spelt, first.data_dir)
    proc = launch(["--socket", str(first.socket_path.parent / "other.sock"), "--data-dir", spelt])
    assert wait_exit(proc) != 0
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    assert REFUSAL.search(err), err
    assert first.result("trail.hello")["protocol"] == 1


def test_same_socket_spelt_differently_is_refused(daemon_factory, tmp_path):
    first = daemon_factory("one")
    spelt = str(first.socket_path.parent) + "/./" + first.socket_path.name
    proc = launch(["--socket", spelt, "--data-dir", str(tmp_path / "second")])
    assert wait_exit(proc) != 0
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    assert REFUSAL.search(err), err
    assert first.result("trail.hello")["protocol"] == 1


def test_two_daemons_racing_for_one_data_dir(daemon_factory):
    a = daemon_factory("racer", start=False)
    b = daemon_factory("racer", start=False, socket_path=a.socket_path.parent / "racer-b.sock")
    b.stderr_path = a.data_dir.parent / "racer-b.stderr.log"
    a.start(wait=False)
    b.start(wait=False)
    results = []
    for d in (a, b):
        line = b""
        while True:
            line = d.proc.stdout.readline()
            if not line or b"ready" in line:
                break
        results.append(b"ready" in line)
    assert sorted(results) == [False, True], "exactly one of two racing daemons may start"
    loser = b if results[0] else a
    assert wait_exit(loser.proc) != 0


def test_missing_data_dir_is_created(daemon_factory, tmp_path):
    nested = tmp_path / "not" / "yet" / "there"
    d = daemon_factory("nested", start=False, data_dir=nested)
    d.stderr_path = tmp_path / "nested.stderr.log"
    # Daemon.start creates the folder itself; remove it again to test traild.
    d.data_dir.mkdir(parents=True, exist_ok=True)
    d.data_dir.rmdir()
    d.data_dir.parent.rmdir()
    proc = launch(["--socket", str(d.socket_path), "--data-dir", str(nested)])
    try:
        wait_ready(proc)
        with Conn(d.socket_path) as c:
            deposit(c, "in a new data dir")
        assert nested.is_dir()
    finally:
        assert stop(proc) == 0


def test_socket_path_too_long_is_refused(tmp_path):
    long_sock = "/tmp/" + "s" * 120 + ".sock"
    proc = launch(["--socket", long_sock, "--data-dir", str(tmp_path / "d")])
    assert wait_exit(proc) != 0
    assert proc.stderr is not None and proc.stderr.read().strip(), "say why on stderr"


def test_connection_count_drops_when_clients_leave(daemon):
    with daemon.connect() as watcher:
        extra = [daemon.connect() for _ in range(5)]
        for c in extra:
            c.result("trail.hello")
        assert watcher.result("trail.stats")["connections"] >= 6
        for c in extra:
            c.close()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if watcher.result("trail.stats")["connections"] == 1:
                break
            time.sleep(0.05)
        assert watcher.result("trail.stats")["connections"] == 1
