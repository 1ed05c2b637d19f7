"""TLS between traild and PostgreSQL (issue 24): `sslmode` disable, prefer,
require, verify-ca and verify-full with `sslrootcert`, against a real server
with TLS on (a CA and a server certificate made here) and one without.

- every mode serves, and the server sees the daemon's sessions encrypted
  (pg_stat_ssl) exactly when the mode asks;
- a wrong CA, a certificate made out to another host, a server without TLS,
  an sslrootcert that is missing or holds no certificate, and a server that
  takes only TLS from a daemon that asks for none: traild stops at its start
  with one line that says why, never the password;
- a server whose certificate goes bad while traild runs: calls answer -32006
  naming the reason, and traild serves again once the certificate is good.
"""
from __future__ import annotations

import os
import pwd
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote

import pytest

from conftest import ENGINES, Daemon, assert_bad_start, deposit, pgcluster_module
from tlscerts import make_ca, make_server_cert

pytestmark = pytest.mark.skipif("postgres" not in ENGINES,
                                reason="needs the postgres engine: set TRAIL_E2E_ENGINES to include postgres")

BAD_START_BOUND = 10.0  # seconds: the connect timeout is 5 s
STORAGE_UNAVAILABLE = -32006
PASSWORD_ROLE = "tlsonly"
PASSWORD = "Tls-0nly:pw"


class TLSServer:
    """A PostgreSQL cluster with TLS on: its certificate (for DNS:localhost
    only) signed by `ca`; `other_ca` signed nothing of it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.ca = make_ca(folder, "ca")
        self.other_ca = make_ca(folder, "other-ca")
        self.good = make_server_cert(folder, "server", self.ca, ["DNS:localhost"])
        self.bad = make_server_cert(folder, "server-by-other", self.other_ca, ["DNS:localhost"])
        # What the server reads: copies that a test may replace.
        self.cert, self.key = folder / "live.pem", folder / "live.key"
        self.use(self.good)
        self.cluster = pgcluster_module().Cluster(settings={
            "ssl": "on", "ssl_cert_file": f"'{self.cert}'", "ssl_key_file": f"'{self.key}'"})

    def use(self, pair: tuple[Path, Path]) -> None:
        """Puts this certificate and key where the server reads them (it
        reads them again on a reload)."""
        shutil.copyfile(pair[0], self.cert)
        shutil.copyfile(pair[1], self.key)
        os.chmod(self.cert, 0o644)
        os.chmod(self.key, 0o600)
        if os.geteuid() == 0:  # the server runs as postgres, which must own its key
            server = pwd.getpwnam("postgres")
            for f in (self.cert, self.key):
                os.chown(f, server.pw_uid, server.pw_gid)

    def url(self, db: str, host: str = "127.0.0.1", query: str = "") -> str:
        return self.cluster.url(db).replace("@127.0.0.1:", f"@{host}:") + query


@pytest.fixture(scope="module")
def tls_server() -> Iterator[TLSServer]:
    folder = Path(tempfile.mkdtemp(prefix="trail-tls-", dir="/tmp"))
    os.chmod(folder, 0o755)
    server = TLSServer(folder)
    server.cluster.start()
    try:
        # A role that may connect only over TLS (pg_hba.conf reads top down).
        server.cluster.psql(f"CREATE ROLE {PASSWORD_ROLE} LOGIN PASSWORD '{PASSWORD}'")
        hba = server.cluster.data_dir / "pg_hba.conf"
        lines = hba.read_text().splitlines(keepends=True)
        at = next(i for i, l in enumerate(lines) if l.startswith("host "))
        lines[at:at] = [f"hostssl all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256\n",
                        f"hostnossl all {PASSWORD_ROLE} 127.0.0.1/32 reject\n"]
        hba.write_text("".join(lines))
        server.cluster.psql("SELECT pg_reload_conf()")
        yield server
    finally:
        server.cluster.close()
        shutil.rmtree(folder, ignore_errors=True)


def start(tmp_path: Path, name: str, url: str, db: str, pg: Any) -> Daemon:
    d = Daemon(tmp_path / f"{name}.sock", tmp_path / name, store=url, database=db, pg=pg)
    return d.start()


def encrypted_sessions(pg: Any, db: str) -> list[bool]:
    out = pg.psql("SELECT s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) "
                  f"WHERE a.datname = '{db}' AND a.application_name LIKE 'traild%' ORDER BY a.pid")
    return [v == "t" for v in out.split()]


@pytest.mark.parametrize("mode,host,query,encrypted", [
    ("disable (no sslmode)", "127.0.0.1", "", False),
    ("prefer", "127.0.0.1", "?sslmode=prefer", True),
    ("require", "127.0.0.1", "?sslmode=require", True),
    ("verify-ca", "127.0.0.1", "?sslmode=verify-ca&sslrootcert={ca}", True),
    ("verify-full", "localhost", "?sslmode=verify-full&sslrootcert={ca}", True),
])
def test_every_sslmode_serves_and_encrypts_when_it_asks(tls_server, tmp_path, mode, host, query, encrypted):
    pg = tls_server.cluster
    db = pg.create_database()
    url = tls_server.url(db, host, query.format(ca=quote(str(tls_server.ca[0]), safe="/")))
    d = start(tmp_path, "d", url, db, pg)
    try:
        with d.connect() as c:
            note = deposit(c, f"written over {mode}")["id"]
            assert [n["id"] for n in c.result("trail.sense", {})["notes"]] == [note]
            hello = c.result("trail.hello", {})
            assert PASSWORD not in str(hello) and pg.password not in str(hello)
            if query:
                assert f"sslmode={query.split('sslmode=')[1].split('&')[0]}" in hello["database"], hello
        sessions = encrypted_sessions(pg, db)
        assert sessions and all(s == encrypted for s in sessions), (mode, sessions)
        print(f"{mode}: {len(sessions)} sessions, encrypted={encrypted}")
    finally:
        d.terminate()
        pg.drop_database(db, wait=False)


def test_a_bad_tls_start_exits_at_once_with_one_clear_line(tls_server, pg_cluster, tmp_path):
    pg = tls_server.cluster
    db = pg.create_database()
    plain_db = pg_cluster.create_database()
    ca = quote(str(tls_server.ca[0]), safe="/")
    other = quote(str(tls_server.other_ca[0]), safe="/")
    only_tls = pg.url(db, user=PASSWORD_ROLE, password=PASSWORD)
    cases = [
        ("a CA that did not sign the server's certificate", tls_server.url(db, query=f"?sslmode=verify-ca&sslrootcert={other}"),
         r"did not sign"),
        ("verify-full with a certificate for another host", tls_server.url(db, query=f"?sslmode=verify-full&sslrootcert={ca}"),
         r"not made out to 127\.0\.0\.1"),
        ("verify-full with a server without TLS", pg_cluster.url(plain_db) + f"?sslmode=verify-full&sslrootcert={ca}",
         r"does not offer TLS"),
        ("require with a server without TLS", pg_cluster.url(plain_db) + "?sslmode=require", r"does not offer TLS"),
        ("a missing sslrootcert", tls_server.url(db, query="?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem"),
         r"sslrootcert /nonexistent/ca.pem .* does not exist"),
        ("an sslrootcert without a certificate", tls_server.url(db, query="?sslmode=verify-full&sslrootcert=/etc/hostname"),
         r"holds no PEM certificate"),
        ("verify-full without sslrootcert", tls_server.url(db, query="?sslmode=verify-full"), r"names no certificate authority"),
        ("a server that takes only TLS, and no sslmode", only_tls, r"takes only TLS connections"),
    ]
    try:
        for i, (what, url, words) in enumerate(cases):
            assert_bad_start(tmp_path, i, what, url, words, [PASSWORD, quote(PASSWORD, safe=""), pg.password], BAD_START_BOUND)
        # The same role over TLS is let in: the refusal above was about TLS.
        url = pg.url(db, user=PASSWORD_ROLE, password=PASSWORD).replace("@127.0.0.1:", "@localhost:")
        pg.psql(f"GRANT ALL ON DATABASE {db} TO {PASSWORD_ROLE}; ALTER DATABASE {db} OWNER TO {PASSWORD_ROLE}")
        d = start(tmp_path, "ok", url + f"?sslmode=verify-full&sslrootcert={ca}", db, pg)
        with d.connect() as c:
            deposit(c, "over TLS only")
        d.terminate()
    finally:
        pg.drop_database(db, wait=False)
        pg_cluster.drop_database(plain_db, wait=False)


def test_a_certificate_that_goes_bad_later_answers_storage_unavailable_naming_why(tls_server, tmp_path):
    pg = tls_server.cluster
    db = pg.create_database()
    ca = quote(str(tls_server.ca[0]), safe="/")
    d = start(tmp_path, "d", tls_server.url(db, "localhost", f"?sslmode=verify-full&sslrootcert={ca}"), db, pg)
    try:
        with d.connect() as c:
            before = deposit(c, "before the certificate changed")["id"]
            tls_server.use(tls_server.bad)
            pg.psql("SELECT pg_reload_conf()")
            pg.psql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}'")
            seen: list[str] = []
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                resp = c.call("trail.deposit", {"ns": "default", "body": f"while the certificate is bad {len(seen)}"})
                err = resp.get("error")
                if err is not None:
                    assert err["code"] == STORAGE_UNAVAILABLE, err
                    seen.append(err["message"])
                    if "did not sign" in err["message"]:
                        break
                time.sleep(0.2)
            assert seen and "did not sign" in seen[-1], seen
            assert pg.password not in " ".join(seen)
            print(f"with a bad certificate: {seen[-1]}")
            tls_server.use(tls_server.good)
            pg.psql("SELECT pg_reload_conf()")
            deadline = time.monotonic() + 15
            while "error" in (resp := c.call("trail.deposit", {"ns": "default", "body": "after the certificate was mended"})):
                assert time.monotonic() < deadline, resp
                time.sleep(0.2)
            assert before in [n["id"] for n in c.result("trail.sense", {"limit": 10})["notes"]]
        assert d.alive()
    finally:
        tls_server.use(tls_server.good)
        pg.psql("SELECT pg_reload_conf()")
        d.terminate()
        pg.drop_database(db, wait=False)
