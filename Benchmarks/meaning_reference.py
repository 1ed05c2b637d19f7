#!/usr/bin/env python3
"""Recall by meaning on the paraphrase corpus, measured with the reference model.

    python3 Benchmarks/meaning_reference.py [--model models/all-MiniLM-L6-v2]
        [--corpus tests/e2e/paraphrases.json] [--vectors cache.json] [--json out.json]

Embeds every note and every paraphrase of tests/e2e/paraphrases.json in ONE
call of the independent NumPy forward pass
(Tests/TrailEmbeddingTests/reference_forward.py; ~0.5 s a text), then, for
each paraphrase, ranks all notes by cosine similarity and reports top-1 and
top-3 accuracy (the paraphrase's own note first / among the first three),
with the same ranking by word overlap as the baseline: plain words (every
lower-cased word, stop words included, Jaccard) and content words (the
corpus test's crude stems, count of shared stems). Ties (e.g. every note at
overlap 0) are broken at random in expectation: a hit among t tied notes
counts as the chance that it lands in the top k.

--vectors keeps the embeddings in a JSON file (reused when it holds exactly
the corpus' texts), so the ranking can be re-run without the forward pass.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def corpus_rules():
    spec = importlib.util.spec_from_file_location("pc", ROOT / "tests/e2e/test_paraphrase_corpus.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def embed(texts: list[str], model: Path) -> np.ndarray:
    out = subprocess.run(
        [sys.executable, str(ROOT / "Tests/TrailEmbeddingTests/reference_forward.py"), str(model)],
        input=json.dumps(texts), capture_output=True, text=True, check=True,
    )
    return np.array(json.loads(out.stdout), dtype=np.float64)


def expected_hits(scores: np.ndarray, own: int, k: int) -> float:
    """Chance that `own` is in the top k when ties are broken at random."""
    above = int((scores > scores[own]).sum())
    tied = int((scores == scores[own]).sum())  # includes own
    if above >= k:
        return 0.0
    return min(1.0, (k - above) / tied)


def accuracy(matrix: np.ndarray) -> dict:
    """matrix[i, j] = score of note j for paraphrase i."""
    n = matrix.shape[0]
    return {f"top{k}": sum(expected_hits(matrix[i], i, k) for i in range(n)) / n for k in (1, 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(ROOT / "models/all-MiniLM-L6-v2"))
    ap.add_argument("--corpus", default=str(ROOT / "tests/e2e/paraphrases.json"))
    ap.add_argument("--vectors")
    ap.add_argument("--json")
    args = ap.parse_args()

    pairs = json.loads(Path(args.corpus).read_text(encoding="utf-8"))
    notes = [p["note"] for p in pairs]
    paras = [p["paraphrase"] for p in pairs]
    texts = notes + paras
    vecs = None
    if args.vectors and Path(args.vectors).exists():
        cached = json.loads(Path(args.vectors).read_text())
        if cached.get("texts") == texts:
            vecs = np.array(cached["vectors"])
    if vecs is None:
        vecs = embed(texts, Path(args.model))
        if args.vectors:
            Path(args.vectors).write_text(json.dumps({"texts": texts, "vectors": vecs.tolist()}))
    n = len(pairs)
    v = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    cos = v[n:] @ v[:n].T  # paraphrase x note

    rules = corpus_rules()
    plain = [set(re.findall(r"[0-9a-z]+", t.lower())) for t in texts]
    jac = np.array([[len(plain[n + i] & plain[j]) / len(plain[n + i] | plain[j]) for j in range(n)] for i in range(n)])
    stems = [rules.content_stems(t) for t in texts]
    content = np.array([[len(stems[n + i] & stems[j]) for j in range(n)] for i in range(n)], dtype=float)

    report = {
        "pairs": n,
        "model": accuracy(cos),
        "plain_word_jaccard": accuracy(jac),
        "content_word_overlap": accuracy(content),
        "own_cosine_mean": float(np.mean(np.diag(cos))),
        "own_cosine_min": float(np.min(np.diag(cos))),
        "best_other_cosine_mean": float(np.mean([np.max(np.delete(cos[i], i)) for i in range(n)])),
        "misses": [],
    }
    for i in range(n):
        order = np.argsort(-cos[i])
        rank = int(np.where(order == i)[0][0]) + 1
        if rank > 1:
            report["misses"].append({
                "paraphrase": paras[i], "own_note": notes[i], "own_rank": rank,
                "own_cosine": round(float(cos[i, i]), 4),
                "top_note": notes[order[0]], "top_cosine": round(float(cos[i, order[0]]), 4),
            })

    print(f"{n} pairs; paraphrase -> notes by cosine (all-MiniLM-L6-v2, reference forward pass)")
    for name in ("model", "plain_word_jaccard", "content_word_overlap"):
        a = report[name]
        print(f"  {name:22s} top-1 {a['top1']:.3f}  top-3 {a['top3']:.3f}")
    print(f"  own-note cosine mean {report['own_cosine_mean']:.3f} (min {report['own_cosine_min']:.3f}); "
          f"best other note mean {report['best_other_cosine_mean']:.3f}")
    for m in report["misses"]:
        print(f"  MISS rank {m['own_rank']}: {m['paraphrase']!r}\n      own  {m['own_cosine']:.3f} {m['own_note']!r}"
              f"\n      top  {m['top_cosine']:.3f} {m['top_note']!r}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
