"""docs/quickstart.md, run as written: its Python files are written out, its
shell blocks run in order in one bash (set -e) in an empty folder, with the
built binaries on PATH and a fresh virtual environment that installs the
client from this checkout (with its extras, from the package index: the
test needs the network, or pip's own PIP_INDEX_URL, or PIP_FIND_LINKS with
PIP_NO_INDEX=1, pointing at a mirror or a folder of wheels)."""
from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

from conftest import ROOT

PAGE = ROOT / "docs" / "quickstart.md"
#: What pip prints when it cannot reach the package index.
NO_INDEX = re.compile(r"Failed to establish a new connection|Temporary failure in name resolution|"
                      r"No matching distribution found|Could not find a version that satisfies")
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```$", re.S | re.M)


def blocks() -> tuple[dict[str, str], str]:
    files: dict[str, str] = {}
    script: list[str] = []
    for lang, info, body in FENCE.findall(PAGE.read_text()):
        name = re.search(r"file=(\S+)", info)
        if lang == "python" and name:
            files[name.group(1)] = body
        elif lang == "sh":
            script.append(body)
        else:
            raise AssertionError(f"a block of {PAGE.name} that the test would not run: ```{lang}{info}")
    return files, "\n".join(script)


def test_the_quickstart_runs_as_written(tmp_path: Path) -> None:
    files, script = blocks()
    assert set(files) == {"agent_langgraph.py", "agent_langchain.py"}
    for name, body in files.items():
        (tmp_path / name).write_text(body)
    bins = os.environ.get("TRAILD_BIN")
    path = str(Path(bins).parent) if bins else str(ROOT / ".build" / "debug")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAIL") and k not in ("XDG_RUNTIME_DIR", "VIRTUAL_ENV")}
    env.update(PATH=f"{path}:{env.get('PATH', '/usr/bin:/bin')}", TRAIL_REPO=str(ROOT))
    proc = subprocess.Popen(["bash", "-e", "-c", script], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=900)
    finally:
        # Whatever the page left running (traild, if it failed before step 6) goes with it.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        subprocess.run(["pkill", "-f", f"traild --socket {tmp_path}/trail.sock"], check=False)
    hint = ("the quickstart installs the client's extras from the package index and pip could not get them: "
            "is the network up? (PIP_INDEX_URL, or PIP_FIND_LINKS with PIP_NO_INDEX=1, points it at a mirror or a "
            "folder of wheels)\n") if NO_INDEX.search(out) else ""
    assert proc.returncode == 0, hint + out
    assert "LangGraph agent kept: The build fails until libzstd-dev is installed." in out, out
    found = [l for l in out.splitlines() if l.startswith("LangChain agent found:")]
    assert len(found) == 1 and "libzstd-dev" in found[0], out
    assert "weight 2.0" in out, out  # trailctl reinforce: 1 + 1 (get shows the weight)
