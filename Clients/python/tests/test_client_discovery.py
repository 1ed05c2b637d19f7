"""Socket discovery, as the contract's section 3 says: the explicit path, else
TRAIL_SOCKET, else $XDG_RUNTIME_DIR/trail/traild.sock, else
/tmp/trail-$UID/traild.sock."""
from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

from trail_client import AsyncTrail, DaemonUnavailable, Trail, default_socket_path, resolve_socket_path


def test_rule_order() -> None:
    env = {"TRAIL_SOCKET": "/a/s.sock", "XDG_RUNTIME_DIR": "/run/user/7"}
    assert resolve_socket_path("/explicit.sock", env) == "/explicit.sock"
    assert resolve_socket_path(None, env) == "/a/s.sock"
    assert default_socket_path({"XDG_RUNTIME_DIR": "/run/user/7"}) == "/run/user/7/trail/traild.sock"
    assert default_socket_path({}, uid=1234) == "/tmp/trail-1234/traild.sock"
    assert default_socket_path({}) == f"/tmp/trail-{os.getuid()}/traild.sock"
    # Empty values count as unset.
    assert default_socket_path({"TRAIL_SOCKET": "", "XDG_RUNTIME_DIR": ""}, uid=5) == "/tmp/trail-5/traild.sock"
    assert resolve_socket_path("", {"TRAIL_SOCKET": "/b.sock"}) == "/b.sock"


def test_client_uses_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRAIL_SOCKET", raising=False)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    assert Trail(connect=False).socket_path == f"/tmp/trail-{os.getuid()}/traild.sock"
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/99")
    assert Trail(connect=False).socket_path == "/run/user/99/trail/traild.sock"
    assert AsyncTrail().socket_path == "/run/user/99/trail/traild.sock"
    monkeypatch.setenv("TRAIL_SOCKET", "/x/y.sock")
    assert Trail(connect=False).socket_path == "/x/y.sock"
    assert Trail("/given.sock", connect=False).socket_path == "/given.sock"


def test_trail_socket_env_reaches_the_daemon(daemon: Any, ns: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRAIL_SOCKET", daemon.sock)
    with Trail(default_ns=ns) as t:
        assert t.socket_path == daemon.sock
        i = t.deposit("found through TRAIL_SOCKET")["id"]

    async def main() -> None:
        async with AsyncTrail(default_ns=ns) as a:
            assert (await a.get(i))["note"]["body"] == "found through TRAIL_SOCKET"

    asyncio.run(main())


def test_explicit_path_beats_the_environment(daemon: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRAIL_SOCKET", str(tmp_path / "wrong.sock"))
    with Trail(daemon.sock) as t:
        assert t.stats()["ns"] == "default"
    with pytest.raises(DaemonUnavailable) as info:
        Trail()
    assert str(tmp_path / "wrong.sock") in info.value.message


def test_xdg_runtime_dir_shared_by_daemon_and_client(daemon_factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile
    runtime = tempfile.mkdtemp(prefix="trail-py-xdg-", dir="/tmp")
    try:
        d = daemon_factory(env={"XDG_RUNTIME_DIR": runtime}, socket=False)  # the daemon finds its own path
        expected = os.path.join(runtime, "trail", "traild.sock")
        assert os.path.exists(expected)
        monkeypatch.delenv("TRAIL_SOCKET", raising=False)
        monkeypatch.setenv("XDG_RUNTIME_DIR", runtime)
        with Trail() as t:
            assert t.socket_path == expected
            assert t.deposit("found through XDG_RUNTIME_DIR")["created"] is True

        async def main() -> None:
            async with AsyncTrail() as a:
                assert (await a.stats())["notes"] == 1

        asyncio.run(main())
        d.stop()
        with pytest.raises(DaemonUnavailable) as info:
            Trail()
        assert expected in info.value.message and "traild" in info.value.message
    finally:
        import shutil
        shutil.rmtree(runtime, ignore_errors=True)


def test_a_client_without_a_socket_of_its_own_finds_the_system_daemon(daemon: Any, tmp_path: Any) -> None:
    """Step 5: only when neither an explicit path nor TRAIL_SOCKET is given,
    and the user's default has no socket while the system one has."""
    from trail_client.discovery import resolve_socket_path
    env = {"XDG_RUNTIME_DIR": str(tmp_path / "u")}
    own = str(tmp_path / "u" / "trail" / "traild.sock")
    system = daemon.sock  # a real daemon stands in for the system one
    assert resolve_socket_path(None, env, system=str(tmp_path / "no-folder" / "none.sock")) == own
    # The folder decides: a stranger cannot see the socket in it, and hears "permission denied" there.
    assert resolve_socket_path(None, env, system=str(tmp_path / "none.sock")) == str(tmp_path / "none.sock")
    assert resolve_socket_path(None, env, system=system) == system
    with Trail(resolve_socket_path(None, env, system=system)) as t:
        assert t.server is not None
    assert resolve_socket_path("/x.sock", env, system=system) == "/x.sock"
    assert resolve_socket_path(None, {**env, "TRAIL_SOCKET": "/e.sock"}, system=system) == "/e.sock"
    (tmp_path / "u" / "trail").mkdir(parents=True)
    (tmp_path / "u" / "trail" / "traild.sock").touch()
    assert resolve_socket_path(None, env, system=system) == own
