"""Who may do what (contract §10, issue 14): socket modes, access rules by
user and group, rights per method, filtered lists and watches, refusals that
name the namespace and the right, and SIGHUP re-reading the rules.

Clients run as real other users: the module makes a group and users with
groupadd/useradd (removed at the end) and runs each client under
`runuser -u NAME`. That needs root, as CI has; elsewhere the module is
skipped with the reason.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

from conftest import ROOT, Calls, deposit

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("useradd") or not shutil.which("runuser"),
                                reason="needs root with useradd and runuser to make users and run clients as them")

TAG = uuid.uuid4().hex[:6]
# The peer client needs only the standard library: the system's interpreter, which
# other users may run (a root-only pyenv's may not be).
PEER_PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


class Accounts:
    """A group `agents` (alice and bob are in it), a group `others` (carol),
    and dave in no group of ours: real entries of /etc/passwd and /etc/group."""

    def __init__(self) -> None:
        self.agents = f"trl{TAG}ag"
        self.others = f"trl{TAG}ot"
        self.alice, self.bob, self.carol, self.dave = (f"trl{TAG}{n}" for n in ("al", "bo", "ca", "da"))
        self.made_users: list[str] = []
        self.made_groups: list[str] = []

    def make(self) -> None:
        for g in (self.agents, self.others):
            subprocess.run(["groupadd", g], check=True)
            self.made_groups.append(g)
        for user, group in ((self.alice, self.agents), (self.bob, self.agents), (self.carol, self.others), (self.dave, None)):
            # Primary group is the user's own (-U) so that membership of ours comes from /etc/group.
            args = ["useradd", "-M", "-U", "-s", "/usr/sbin/nologin"] + (["-G", group] if group else []) + [user]
            subprocess.run(args, check=True)
            self.made_users.append(user)

    def remove(self) -> None:
        for u in self.made_users:
            subprocess.run(["userdel", u], check=False, capture_output=True)
        for g in self.made_groups:
            subprocess.run(["groupdel", g], check=False, capture_output=True)

    def uid(self, user: str) -> int:
        import pwd
        return pwd.getpwnam(user).pw_uid


@pytest.fixture(scope="module")
def accounts() -> Iterator[Accounts]:
    a = Accounts()
    try:
        a.make()
        yield a
    finally:
        a.remove()


class PeerConn(Calls):
    """A connection to traild opened by another user (tests/e2e/peer_client.py
    under runuser); the same call/result/error as conftest's Conn."""

    def __init__(self, user: str, socket_path: Path, script: Path) -> None:
        self.proc = subprocess.Popen(["runuser", "-u", user, "--", PEER_PYTHON, str(script), str(socket_path)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        first = json.loads(self._line(10))
        self.connect_error: str | None = first.get("connect_error")
        self.next_id = 1

    def _line(self, timeout: float = 30) -> bytes:
        import select
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            raise TimeoutError("no answer from traild in time")
        line = self.proc.stdout.readline()
        if not line:
            raise ConnectionError(f"the peer client ended: {self.proc.stderr.read().decode() if self.proc.stderr else ''}")
        return line

    def send(self, obj: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(obj).encode() + b"\n")
        self.proc.stdin.flush()

    def recv(self, timeout: float = 30) -> Any:
        return json.loads(self._line(timeout))

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> "PeerConn":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Colony:
    """A daemon whose socket lives in a folder it creates (so it sets the
    folder's mode), with a config file, and connections as any user."""

    def __init__(self, factory: Any, config: dict[str, Any], name: str = "acl") -> None:
        self.base = factory.short / f"{name}-pub"
        self.base.mkdir(mode=0o755, exist_ok=True)
        os.chmod(self.base, 0o755)
        os.chmod(factory.short, 0o755)
        self.script = self.base / "peer_client.py"
        shutil.copy(ROOT / "tests" / "e2e" / "peer_client.py", self.script)
        os.chmod(self.script, 0o644)
        self.config_path = self.base / "traild.json"
        self.write_config(config)
        self.socket_path = self.base / "run" / "traild.sock"
        self.daemon = factory(name, extra=["--config", str(self.config_path)], socket_path=self.socket_path)

    def write_config(self, config: dict[str, Any] | str) -> None:
        self.config_path.write_text(config if isinstance(config, str) else json.dumps(config))

    def hangup(self, log_line: str) -> None:
        """SIGHUP, then wait for the daemon to log `log_line`."""
        before = self.daemon.stderr().count(log_line)
        assert self.daemon.proc is not None
        self.daemon.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while self.daemon.stderr().count(log_line) <= before:
            assert time.monotonic() < deadline, f"no {log_line!r} in the log:\n{self.daemon.stderr()}"
            time.sleep(0.02)

    def peer(self, user: str) -> PeerConn:
        return PeerConn(user, self.socket_path, self.script)


def spec_rules(a: Accounts) -> dict[str, Any]:
    """The contract's example: team-* open to the agents group, alice its admin; the rest readable by anyone."""
    return {
        "socket_mode": "0666",
        "access": [
            {"ns": "team-*", "read": [f"group:{a.agents}"], "write": [f"group:{a.agents}"], "admin": [f"user:{a.alice}"]},
            {"ns": "*", "read": ["*"]},
        ],
    }


def test_socket_mode_and_group_shape_the_socket_and_its_folder(daemon_factory, accounts):
    import grp
    colony = Colony(daemon_factory, {"socket_group": accounts.agents, "socket_mode": "0660"})
    st, folder = os.stat(colony.socket_path), os.stat(colony.socket_path.parent)
    assert stat.S_IMODE(st.st_mode) == 0o660 and grp.getgrgid(st.st_gid).gr_name == accounts.agents
    assert stat.S_IMODE(folder.st_mode) == 0o750 and grp.getgrgid(folder.st_gid).gr_name == accounts.agents
    # A member of the group connects; anyone else is stopped by the file system.
    with colony.peer(accounts.alice) as alice:
        assert alice.connect_error is None
        assert alice.result("trail.hello")["server"] == "traild"
    with colony.peer(accounts.carol) as carol:
        assert carol.connect_error == "EACCES"
    colony.daemon.terminate()

    # 0666: everyone may connect; the folder is searchable by everyone.
    open_colony = Colony(daemon_factory, {"socket_mode": "0666"}, name="open")
    assert stat.S_IMODE(os.stat(open_colony.socket_path).st_mode) == 0o666
    assert stat.S_IMODE(os.stat(open_colony.socket_path.parent).st_mode) == 0o755
    with open_colony.peer(accounts.dave) as dave:
        assert dave.connect_error is None
        # Without an access key every peer holds every right.
        assert dave.result("trail.deposit", {"body": "anyone may write here", "ns": "team-x"})["created"] is True
        assert dave.result("trail.namespace.configure", {"ns": "team-x", "half_life_s": 60})["half_life_s"] == 60


def test_default_socket_is_the_owners_alone(daemon_factory, accounts):
    colony = Colony(daemon_factory, {})
    assert stat.S_IMODE(os.stat(colony.socket_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(colony.socket_path.parent).st_mode) == 0o700
    with colony.peer(accounts.alice) as alice:
        assert alice.connect_error == "EACCES"


def test_rules_decide_per_namespace_and_refusals_change_nothing(daemon_factory, accounts):
    a = accounts
    colony = Colony(daemon_factory, spec_rules(a))
    owner = colony.daemon.connect()
    shared = deposit(owner, "a note everyone may read", ns="default")
    other = deposit(owner, "another note in default", ns="default")
    team = deposit(owner, "the team's own note", ns="team-a")

    with colony.peer(a.alice) as alice, colony.peer(a.bob) as bob, colony.peer(a.carol) as carol:
        # bob (agents): reads and writes team-a, may not administer it.
        note = bob.result("trail.deposit", {"body": "bob was here", "ns": "team-a"})
        assert note["created"] is True
        err = bob.error("trail.namespace.configure", {"ns": "team-a", "half_life_s": 5})
        assert err["code"] == -32003 and err["data"] == {"reason": "permission_denied", "ns": "team-a", "right": "admin"}
        assert f"User {a.bob} (uid {a.uid(a.bob)})" in err["message"] and "admin right in namespace team-a" in err["message"]
        assert owner.result("trail.namespace.configure", {"ns": "team-a"})["half_life_s"] != 5
        err = bob.error("trail.compact", {})
        assert err["code"] == -32003 and err["data"]["right"] == "admin"
        # alice administers team-a.
        assert alice.result("trail.namespace.configure", {"ns": "team-a", "half_life_s": 7200})["half_life_s"] == 7200
        assert alice.result("trail.compact", {"ns": "team-a"})["ns"] == "team-a"
        # The first rule that matches decides: team-a is closed to carol although "*" may read the rest.
        err = carol.error("trail.sense", {"ns": "team-a"})
        assert err["data"] == {"reason": "permission_denied", "ns": "team-a", "right": "read"}
        assert carol.result("trail.get", {"id": shared["id"], "ns": "default"})["note"]["body"] == "a note everyone may read"
        # Refused writes change nothing.
        before = owner.result("trail.get", {"id": shared["id"]})["note"]
        for method, params in (
            ("trail.deposit", {"body": "carol's note", "ns": "default"}),
            ("trail.reinforce", {"id": shared["id"], "delta": 5}),
            ("trail.link", {"from": shared["id"], "to": other["id"]}),
            ("trail.retract", {"id": shared["id"], "reason": "carol disagrees"}),
            ("trail.revive", {"id": shared["id"]}),
            ("trail.import", {"ns": "default", "records": []}),
        ):
            err = carol.error(method, params)
            assert err["code"] == -32003 and err["data"] == {"reason": "permission_denied", "ns": "default", "right": "write"}, method
        for method, params in (("trail.namespace.configure", {"ns": "default", "half_life_s": 1}), ("trail.compact", {"ns": "default"})):
            err = carol.error(method, params)
            assert err["data"]["right"] == "admin", method
        after = owner.result("trail.get", {"id": shared["id"]})["note"]
        assert after["state"] == "live" and after["deposits"] == before["deposits"] and after["weight"] <= before["weight"]
        assert owner.result("trail.sense", {"ns": "default", "query": "carol"})["notes"] == []
        # What read allows, carol may do in default.
        assert carol.result("trail.hello")["protocol"] == 1
        assert {n["id"] for n in carol.result("trail.sense", {"ns": "default"})["notes"]} == {shared["id"], other["id"]}
        assert carol.result("trail.follow", {"from": shared["id"]})["trails"] == []
        assert carol.result("trail.stats", {"ns": "default"})["notes"] == 2
        assert len(carol.result("trail.export", {"ns": "default"})["records"]) == 2
        sub = carol.result("trail.watch", {"ns": "default"})["subscription"]
        assert carol.result("trail.unwatch", {"subscription": sub})["ok"] is True
        # namespace.list shows only what the peer may read.
        names = lambda c: sorted(n["name"] if "name" in n else n["ns"] for n in c.result("trail.namespace.list")["namespaces"])
        assert names(carol) == ["default"]
        assert names(bob) == ["default", "team-a"]
        assert team["id"] in [n["id"] for n in bob.result("trail.sense", {"ns": "team-a"})["notes"]]
    # The daemon's own uid holds every right.
    assert owner.result("trail.compact", {})["evaporated"] >= 0
    owner.close()
    assert colony.daemon.alive()


def test_watch_is_limited_to_what_the_peer_may_read(daemon_factory, accounts):
    a = accounts
    colony = Colony(daemon_factory, spec_rules(a), name="w")
    with colony.peer(a.bob) as bob, colony.peer(a.carol) as carol, colony.daemon.connect() as owner:
        err = carol.error("trail.watch", {"ns": "team-a"})
        assert err["data"] == {"reason": "permission_denied", "ns": "team-a", "right": "read"}
        bob_sub = bob.result("trail.watch", {"ns": "team-a"})["subscription"]
        carol_sub = carol.result("trail.watch", {"ns": "default"})["subscription"]
        deposit(owner, "for the team", ns="team-a")
        deposit(owner, "for everyone", ns="default")
        ev = bob.recv(10)
        assert ev["params"]["subscription"] == bob_sub and ev["params"]["note"]["body"] == "for the team"
        ev = carol.recv(10)
        assert ev["params"]["subscription"] == carol_sub and ev["params"]["note"]["body"] == "for everyone"

        # Rules made stricter by SIGHUP stop the events of a watch made before.
        rules = spec_rules(a)
        rules["access"][1] = {"ns": "*", "read": [f"group:{a.agents}"]}
        colony.write_config(rules)
        colony.hangup("access rules re-read")
        deposit(owner, "not for carol any more", ns="default")
        ev = bob.call("trail.hello")  # bob's connection still serves
        assert ev["result"]["server"] == "traild"
        with pytest.raises(TimeoutError):
            carol.recv(0.7)
        err = carol.error("trail.sense", {"ns": "default"})
        assert err["data"]["right"] == "read"


def test_sighup_rereads_the_rules_and_keeps_connections(daemon_factory, accounts):
    a = accounts
    colony = Colony(daemon_factory, spec_rules(a), name="hup")
    with colony.peer(a.carol) as carol, colony.peer(a.dave) as dave:
        assert carol.error("trail.deposit", {"body": "not yet", "ns": "default"})["data"]["right"] == "write"
        # Grant write in default to the others group and to dave by uid.
        rules = spec_rules(a)
        rules["access"].insert(1, {"ns": "default", "write": [f"group:{a.others}", f"uid:{a.uid(a.dave)}"]})
        colony.write_config(rules)
        colony.hangup("access rules re-read")
        # The same connections, now allowed.
        assert carol.result("trail.deposit", {"body": "now carol may", "ns": "default"})["created"] is True
        assert dave.result("trail.deposit", {"body": "and dave by uid", "ns": "default"})["created"] is True
        assert dave.error("trail.sense", {"ns": "team-a"})["data"]["right"] == "read"

        # A config that does not parse, or names someone who is not there: logged, the rules in force stay.
        for broken in ("{not json", json.dumps({"access": [{"ns": "*", "read": ["user:nobody-such-user-here"]}]}),
                       json.dumps({"access": [{"ns": "*", "reed": ["*"]}]}), json.dumps({"access": {"ns": "*"}})):
            colony.write_config(broken)
            colony.hangup("the config was refused and the access rules in force stay")
            assert carol.result("trail.deposit", {"body": f"still allowed {len(broken)}", "ns": "default"})["created"] is True
        log = colony.daemon.stderr()
        assert "nobody-such-user-here, who is not a user on this machine" in log
        assert "unknown key \"reed\"" in log

        # Removing the access key opens everything.
        colony.write_config({"socket_mode": "0666"})
        colony.hangup("access rules re-read")
        assert carol.result("trail.namespace.configure", {"ns": "team-a", "half_life_s": 99})["half_life_s"] == 99
    assert colony.daemon.alive()


def test_daemon_without_config_logs_sighup_and_goes_on(daemon):
    daemon.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while "started without --config" not in daemon.stderr():
        assert time.monotonic() < deadline, daemon.stderr()
        time.sleep(0.02)
    assert daemon.result("trail.hello")["server"] == "traild"


@pytest.mark.parametrize("config, says", [
    ({"access": "everyone"}, "access in"),
    ({"access": [{"read": ["*"]}]}, "needs ns"),
    ({"access": [{"ns": "Team/*", "read": ["*"]}]}, "has ns \"Team/*\""),
    ({"access": [{"ns": "*", "read": "*"}]}, "must be a list"),
    ({"access": [{"ns": "*", "read": [7]}]}, "must hold strings"),
    ({"access": [{"ns": "*", "read": ["someone"]}]}, "a principal is user:NAME"),
    ({"access": [{"ns": "*", "read": ["host:x"]}]}, "a principal is user:NAME"),
    ({"access": [{"ns": "*", "read": ["uid:abc"]}]}, "takes a whole number"),
    ({"access": [{"ns": "*", "write": ["group:no-such-group-trl"]}]}, "which is not a group on this machine"),
    ({"access": [{"ns": "*", "admin": ["user:no-such-user-trl"]}]}, "who is not a user on this machine"),
    ({"access": [{"ns": "*", "owner": ["*"]}]}, "unknown key \"owner\""),
    ({"socket_mode": "0777"}, "socket_mode"),
    ({"socket_mode": "0060"}, "socket_mode"),
    ({"socket_mode": 660}, "socket_mode"),
    ({"socket_mode": "rw-rw----"}, "socket_mode"),
    ({"socket_group": "no-such-group-trl"}, "is not a group on this machine"),
])
def test_bad_access_config_stops_the_daemon_with_the_reason(daemon_factory, tmp_path, config, says):
    cfg = tmp_path / "bad.json"
    cfg.write_text(json.dumps(config))
    d = daemon_factory("bad", extra=["--config", str(cfg)], start=False)
    with pytest.raises(RuntimeError) as failure:
        d.start()
    assert says in str(failure.value)
    assert d.proc.wait(timeout=10) != 0


def test_trailctl_shows_a_refusal(daemon_factory, accounts):
    a = accounts
    colony = Colony(daemon_factory, spec_rules(a), name="ctl")
    trailctl = os.environ.get("TRAILCTL_BIN") or str(ROOT / ".build" / "debug" / "trailctl")
    out = subprocess.run(["runuser", "-u", a.carol, "--", trailctl, "--socket", str(colony.socket_path),
                          "deposit", "--ns", "default", "carol tries"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1, out
    assert "lacks the write right in namespace default" in out.stderr and "permission_denied" in out.stderr
    out = subprocess.run(["runuser", "-u", a.carol, "--", trailctl, "--socket", str(colony.socket_path), "--json",
                          "sense", "--ns", "team-a"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "lacks the read right in namespace team-a" in out.stderr
    out = subprocess.run(["runuser", "-u", a.carol, "--", trailctl, "--socket", str(colony.socket_path), "ns"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "default" in out.stdout and "team-a" not in out.stdout


def test_trail_mcp_shows_a_refusal(daemon_factory, accounts):
    import asyncio

    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client
    from test_mcp import is_error, mcp_bin, structured, text

    a = accounts
    colony = Colony(daemon_factory, spec_rules(a), name="mcp")

    async def scenario() -> None:
        params = StdioServerParameters(command="runuser", args=["-u", a.carol, "--", mcp_bin(), "--socket", str(colony.socket_path)])
        with open(os.devnull, "w") as log:
            async with stdio_client(params, errlog=log) as (read, write):
                async with ClientSession(read, write) as s:
                    await s.initialize()
                    res = await s.call_tool("trail_deposit", {"body": "carol tries through MCP", "ns": "team-a"})
                    assert is_error(res)
                    assert "lacks the write right in namespace team-a" in text(res) and "[permission_denied]" in text(res)
                    error = structured(res)["error"]
                    assert error["reason"] == "permission_denied" and error["data"]["ns"] == "team-a" and error["data"]["right"] == "write"
                    res = await s.call_tool("trail_sense", {"ns": "default"})
                    assert not is_error(res)

    asyncio.run(asyncio.wait_for(scenario(), timeout=120))


def test_python_client_raises_permission_denied(daemon_factory, accounts):
    a = accounts
    colony = Colony(daemon_factory, spec_rules(a), name="py")
    shutil.copytree(ROOT / "Clients" / "python" / "trail_client", colony.base / "trail_client")
    subprocess.run(["chmod", "-R", "a+rX", str(colony.base / "trail_client")], check=True)
    script = f"""
import json, trail_client
t = trail_client.Trail({str(colony.socket_path)!r})
try:
    t.deposit("carol through the Python client", ns="team-a")
    print(json.dumps({{"raised": None}}))
except trail_client.PermissionDenied as e:
    print(json.dumps({{"raised": type(e).__name__, "data": e.data, "message": str(e)}}))
print(json.dumps({{"sensed": len(t.sense(ns="default")["notes"])}}))
"""
    out = subprocess.run(["runuser", "-u", a.carol, "--", "env", f"PYTHONPATH={colony.base}", PEER_PYTHON, "-c", script],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    raised, sensed = (json.loads(line) for line in out.stdout.splitlines())
    assert raised["raised"] == "PermissionDenied" and raised["data"]["ns"] == "team-a" and raised["data"]["right"] == "write"
    assert "lacks the write right in namespace team-a" in raised["message"]
    assert sensed == {"sensed": 0}
