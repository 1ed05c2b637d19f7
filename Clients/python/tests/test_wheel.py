"""The client as users install it: `make wheel`'s command builds the wheel,
a fresh virtual environment installs it with its extras, and the installed
package (not this checkout) talks to a real traild through its LangGraph
store and its command.

The environment sees the system's site-packages, so that the extras'
dependencies (langgraph, langchain-core, which `make test` installs) are
found there and the install needs no package index.
"""
from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

CLIENT_DIR = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment with the freshly built wheel installed (with both extras); its python."""
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(work / "dist"), str(CLIENT_DIR)], check=True, timeout=300)
    wheels = list((work / "dist").glob("trail_client-*-py3-none-any.whl"))
    assert len(wheels) == 1, wheels
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(work / "env")
    python = work / "env" / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-index",
                    f"{wheels[0]}[langgraph,langchain]"], check=True, timeout=300)
    return python


def run(python: Path, code: str, *args: str) -> str:
    # From another directory, so that nothing of this checkout is importable by accident.
    return subprocess.run([str(python), "-c", code, *args], check=True, capture_output=True, text=True,
                          timeout=120, cwd="/").stdout


def test_the_installed_wheel_is_what_imports(installed: Path) -> None:
    where = run(installed, "import trail_client, trail_client.langgraph as g; print(trail_client.__file__, g.__file__)")
    assert str(installed.parents[1]) in where and str(CLIENT_DIR) not in where, where


def test_the_installed_langgraph_store_and_command_talk_to_traild(installed: Path, daemon, ns: str) -> None:
    out = run(installed,
              "import sys\n"
              "from trail_client.langgraph import TrailStore\n"
              "with TrailStore(sys.argv[1], ns=sys.argv[2]) as s:\n"
              "    s.put(('team', 'notes'), 'build', {'text': 'the build needs libzstd-dev'})\n"
              "    print(s.get(('team', 'notes'), 'build').value['text'])\n", daemon.sock, ns)
    assert out.strip() == "the build needs libzstd-dev"
    command = installed.parent / "trail-client"
    assert command.exists()
    help = subprocess.run([str(command), "--help"], check=True, capture_output=True, text=True, timeout=60).stdout
    assert "usage" in help.lower()
    hook = subprocess.run([str(installed.parent / "trail-claude-hook"), "stop"], input="{}", capture_output=True,
                          text=True, timeout=60)
    assert hook.returncode == 1 and "no session_id" in hook.stderr  # 1, never 2: see claude_code.py
