#!/usr/bin/env python3
"""Exact k-nearest-neighbour search in sqlite-vec, for a side-by-side with traild.

    python3 Benchmarks/sqlite_vec_knn.py --vectors V.f32 --queries Q.f32 --dims 384 --k 10 [--json out.json]
        [--metric cosine|l2] [--db FILE] [--cache-dir DIR]

V.f32 and Q.f32 are raw little-endian float32 files, n x dims and q x dims.
The script loads V into a sqlite-vec `vec0` virtual table
(`embedding float[dims] distance_metric=cosine`; row i of V is rowid i + 1,
reported back as i), timing the build (create + inserts + commit), then asks
each query's nearest k with `WHERE embedding MATCH ? AND k = ?` (or
`ORDER BY distance LIMIT k` where the extension's SQLite wants that), timing
each query alone (execute + fetch, after one untimed warm-up query). vec0
0.1.x searches exactly (a full scan of its chunks), so its results are the
true nearest neighbours up to float32 rounding.

Output: the full report as JSON on stdout (and in --json FILE): n, dims, k,
queries, metric, build_seconds, p50_ms / p99_ms / mean_ms per query, the
sqlite-vec and SQLite versions, and `results`: per query, the 0-based row
indexes in V of its k nearest, nearest first (`distances` beside them). A
one-line summary goes to stderr.

The extension. When the `sqlite_vec` package is importable its vec0 is used;
otherwise the PyPI wheel is fetched once with `pip download --no-deps
sqlite-vec` into --cache-dir (default .build/sqlite-vec/ at the repository
root) and its sqlite_vec/vec0.so is unpacked there and loaded. Nothing is
installed into any Python.

Loading it needs sqlite3's enable_load_extension. Debian's /usr/bin/python3
has it; a Python built without it (pyenv's default build, for one) lacks it,
and then this script re-runs itself under the first of $SQLITE_VEC_PYTHON,
/usr/bin/python3, /usr/local/bin/python3 that has it (the script needs only
the standard library), or stops saying so.

Metric. Cosine is used when vec0 accepts `distance_metric=cosine` (sqlite-vec
0.1.2 and later); otherwise (or with --metric l2) L2, which on unit-length
vectors gives the same order as cosine (|a-b|^2 = 2 - 2 cos).
"""
from __future__ import annotations

import argparse
import array
import glob
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REEXEC_GUARD = "SQLITE_VEC_KNN_REEXEC"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def can_load_extensions(python: str | None = None) -> bool:
    if python is None:
        return hasattr(sqlite3.Connection, "enable_load_extension")
    try:
        return subprocess.run(
            [python, "-c", "import sqlite3,sys; sys.exit(0 if hasattr(sqlite3.Connection,'enable_load_extension') else 1)"],
            capture_output=True, timeout=60,
        ).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def ensure_loadable_sqlite() -> None:
    if can_load_extensions():
        return
    here = f"{sys.executable} (Python {sys.version.split()[0]})"
    if os.environ.get(REEXEC_GUARD):
        sys.exit(f"sqlite_vec_knn: {here} has no sqlite3 enable_load_extension; cannot load sqlite-vec")
    candidates = [os.environ.get("SQLITE_VEC_PYTHON"), "/usr/bin/python3", "/usr/local/bin/python3"]
    for c in candidates:
        if c and os.path.exists(c) and os.path.realpath(c) != os.path.realpath(sys.executable) and can_load_extensions(c):
            log(f"sqlite_vec_knn: {here} was built without sqlite3 extension loading; re-running under {c}")
            env = dict(os.environ, **{REEXEC_GUARD: "1"})
            os.execve(c, [c, os.path.abspath(__file__), *sys.argv[1:]], env)
    sys.exit(f"sqlite_vec_knn: {here} was built without sqlite3 extension loading (no enable_load_extension), "
             "and no other python3 with it was found (set SQLITE_VEC_PYTHON); Debian's python3 has it")


def pip_command() -> list[str]:
    """A pip to run: this Python's, else one on PATH."""
    if subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True).returncode == 0:
        return [sys.executable, "-m", "pip"]
    for name in ("pip3", "pip"):
        p = shutil.which(name)
        if p:
            return [p]
    sys.exit("sqlite_vec_knn: no pip found to download the sqlite-vec wheel")


def extension_path(cache: Path) -> tuple[str, str]:
    """(path of the vec0 loadable extension, where it came from)."""
    try:
        import sqlite_vec  # type: ignore
        return sqlite_vec.loadable_path(), f"installed package sqlite_vec ({sqlite_vec.__file__})"
    except ImportError:
        pass
    found = sorted(glob.glob(str(cache / "unpacked" / "*" / "sqlite_vec" / "vec0.*")))
    if not found:
        wheels = cache / "wheels"
        wheels.mkdir(parents=True, exist_ok=True)
        if not list(wheels.glob("sqlite_vec-*.whl")):
            cmd = pip_command() + ["download", "--no-deps", "--only-binary=:all:", "--dest", str(wheels), "sqlite-vec"]
            log("sqlite_vec_knn: " + " ".join(cmd))
            subprocess.run(cmd, check=True, stdout=sys.stderr)
        wheel = sorted(wheels.glob("sqlite_vec-*.whl"))[-1]
        dest = cache / "unpacked" / wheel.stem
        with zipfile.ZipFile(wheel) as z:
            members = [m for m in z.namelist() if m.startswith("sqlite_vec/vec0.")]
            if not members:
                sys.exit(f"sqlite_vec_knn: {wheel.name} has no sqlite_vec/vec0.* (a wheel for another platform?)")
            z.extractall(dest, members)
        found = sorted(glob.glob(str(dest / "sqlite_vec" / "vec0.*")))
    path = found[-1]
    return path, f"wheel unpacked at {Path(path).parent.parent}"


def read_f32(path: str, dims: int) -> array.array:
    a = array.array("f")
    raw = Path(path).read_bytes()
    if len(raw) % (4 * dims):
        sys.exit(f"sqlite_vec_knn: {path} is {len(raw)} bytes, not a whole number of {dims}-dim float32 rows")
    a.frombytes(raw)
    if sys.byteorder == "big":
        a.byteswap()
    return a


def row_bytes(a: array.array, i: int, dims: int) -> bytes:
    r = a[i * dims:(i + 1) * dims]
    if sys.byteorder == "big":
        r.byteswap()
    return r.tobytes()


def percentile(sorted_ms: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    if not sorted_ms:
        return float("nan")
    k = max(0, min(len(sorted_ms) - 1, int(-(-p * len(sorted_ms) // 100)) - 1))
    return sorted_ms[k]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vectors", required=True, help="raw little-endian float32, n x dims")
    ap.add_argument("--queries", required=True, help="raw little-endian float32, q x dims")
    ap.add_argument("--dims", type=int, default=384)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--json", help="also write the report here")
    ap.add_argument("--metric", choices=("cosine", "l2"), default="cosine")
    ap.add_argument("--db", default=":memory:", help="SQLite database file (default: in memory)")
    ap.add_argument("--cache-dir", default=str(ROOT / ".build" / "sqlite-vec"))
    args = ap.parse_args()

    ensure_loadable_sqlite()
    ext, origin = extension_path(Path(args.cache_dir))

    dims = args.dims
    vecs = read_f32(args.vectors, dims)
    qs = read_f32(args.queries, dims)
    n, q = len(vecs) // dims, len(qs) // dims
    if n == 0 or q == 0:
        sys.exit("sqlite_vec_knn: no vectors or no queries")
    k = min(args.k, n)

    if args.db != ":memory:" and os.path.exists(args.db):
        os.remove(args.db)
    db = sqlite3.connect(args.db, isolation_level=None)
    db.enable_load_extension(True)
    db.load_extension(os.path.splitext(ext)[0])
    db.enable_load_extension(False)
    vec_version = db.execute("SELECT vec_version()").fetchone()[0]
    notes = []

    t0 = time.perf_counter()
    metric = args.metric
    if metric == "cosine":
        try:
            db.execute(f"CREATE VIRTUAL TABLE knn USING vec0(embedding float[{dims}] distance_metric=cosine)")
        except sqlite3.OperationalError as e:
            notes.append(f"vec0 refused distance_metric=cosine ({e}); L2 used, same order as cosine on unit vectors")
            metric = "l2"
    if metric == "l2":
        db.execute(f"CREATE VIRTUAL TABLE knn USING vec0(embedding float[{dims}])")
        if args.metric == "l2":
            notes.append("L2 distance: the same order as cosine when the vectors are unit length")
    db.execute("BEGIN")
    db.executemany("INSERT INTO knn(rowid, embedding) VALUES (?, ?)",
                   ((i + 1, row_bytes(vecs, i, dims)) for i in range(n)))
    db.execute("COMMIT")
    build = time.perf_counter() - t0

    forms = [("k", "SELECT rowid, distance FROM knn WHERE embedding MATCH ? AND k = ? ORDER BY distance"),
             ("limit", "SELECT rowid, distance FROM knn WHERE embedding MATCH ? ORDER BY distance LIMIT ?")]
    form = None
    for name, sql in forms:
        try:
            db.execute(sql, (row_bytes(qs, 0, dims), k)).fetchall()  # also the warm-up
            form = (name, sql)
            break
        except sqlite3.OperationalError as e:
            notes.append(f"query form '{name}' refused: {e}")
    if form is None:
        sys.exit("sqlite_vec_knn: vec0 accepted neither `k = ?` nor `LIMIT ?`: " + "; ".join(notes))

    results, distances, times = [], [], []
    for j in range(q):
        blob = row_bytes(qs, j, dims)
        t = time.perf_counter()
        rows = db.execute(form[1], (blob, k)).fetchall()
        times.append((time.perf_counter() - t) * 1000)
        results.append([r[0] - 1 for r in rows])
        distances.append([r[1] for r in rows])
    db.close()

    s = sorted(times)
    report = {
        "tool": "sqlite-vec",
        "sqlite_vec_version": vec_version,
        "sqlite_version": sqlite3.sqlite_version,
        "python": f"{sys.executable} {sys.version.split()[0]}",
        "extension": ext,
        "extension_from": origin,
        "db": args.db,
        "n": n,
        "dims": dims,
        "k": k,
        "queries": q,
        "metric": metric,
        "query_form": form[0],
        "build_seconds": round(build, 4),
        "p50_ms": round(percentile(s, 50), 4),
        "p99_ms": round(percentile(s, 99), 4),
        "mean_ms": round(sum(s) / len(s), 4),
        "notes": notes,
        "results": results,
        "distances": distances,
    }
    text = json.dumps(report)
    if args.json:
        Path(args.json).write_text(text + "\n")
    print(text)
    log(f"sqlite-vec {vec_version} (SQLite {sqlite3.sqlite_version}), {metric}, k={k}: n={n} built in {build:.3f} s; "
        f"{q} queries p50 {report['p50_ms']:.2f} ms p99 {report['p99_ms']:.2f} ms")


if __name__ == "__main__":
    main()
