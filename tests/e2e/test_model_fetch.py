"""Daemon/fetch-model.py: the embedding model's files, each checked against
its recorded SHA-256; a damaged or missing file is fetched again, intact ones
are kept (make model runs it before the tests)."""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "Daemon" / "fetch-model.py"
MODEL = ROOT / "models" / "all-MiniLM-L6-v2"


def run(dest: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), str(dest)], capture_output=True, text=True, timeout=300)


def test_an_intact_model_is_kept_without_a_download():
    first = run(MODEL)
    assert first.returncode == 0, first.stderr
    again = run(MODEL)
    assert again.returncode == 0 and "is complete" in again.stdout and "downloading" not in again.stdout


def test_a_damaged_or_missing_file_is_fetched_again(tmp_path):
    dest = tmp_path / "model"
    shutil.copytree(MODEL, dest)
    (dest / "vocab.txt").write_text("[PAD]\nnot the vocabulary\n")
    (dest / "config.json").unlink()
    out = run(dest)
    assert out.returncode == 0, out.stderr
    assert "vocab.txt" in out.stdout and "config.json" in out.stdout and "model.safetensors" not in out.stdout
    for name in ("vocab.txt", "config.json"):
        assert hashlib.sha256((dest / name).read_bytes()).hexdigest() == hashlib.sha256((MODEL / name).read_bytes()).hexdigest()
