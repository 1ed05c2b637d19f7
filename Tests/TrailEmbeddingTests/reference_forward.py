"""An independent forward pass of the sentence encoder, in NumPy (float64).

Reads the texts as a JSON array on stdin and prints their vectors as a JSON
array: tokens from Hugging Face `tokenizers` over the model's tokenizer.json
(truncated at the model's limit), weights from model.safetensors read with
NumPy, BERT's layers written out below, mean pooling, unit length.
"""
import json
import struct
import sys

import numpy as np
from tokenizers import Tokenizer

folder = sys.argv[1]
config = json.load(open(f"{folder}/config.json"))
limit = json.load(open(f"{folder}/sentence_bert_config.json"))["max_seq_length"]

with open(f"{folder}/model.safetensors", "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(n))
    blob = f.read()


tensors = {}


def tensor(name):
    if name not in tensors:
        e = header[name]
        a, b = e["data_offsets"]
        tensors[name] = np.frombuffer(blob[a:b], dtype="<f4").reshape(e["shape"]).astype(np.float64)
    return tensors[name]


def norm(x, prefix):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + config["layer_norm_eps"]) * tensor(prefix + ".weight") + tensor(prefix + ".bias")


def dense(x, prefix):
    return x @ tensor(prefix + ".weight").T + tensor(prefix + ".bias")


def erf(x):
    # Abramowitz-Stegun 7.1.26 is too coarse; use math.erf elementwise.
    import math
    return np.vectorize(math.erf)(x)


def encode(sequences):
    """The vectors of `sequences` of token ids: their tokens go through the
    dense layers together (one matrix product each), attention within each."""
    heads = config["num_attention_heads"]
    width = config["hidden_size"]
    d = width // heads
    bounds = np.cumsum([0] + [len(ids) for ids in sequences])
    x = np.concatenate([tensor("embeddings.word_embeddings.weight")[ids] + tensor("embeddings.position_embeddings.weight")[: len(ids)]
                        for ids in sequences])
    x = norm(x + tensor("embeddings.token_type_embeddings.weight")[0], "embeddings.LayerNorm")
    for n in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{n}"
        q, k, v = (dense(x, f"{p}.attention.self.{w}") for w in ("query", "key", "value"))
        context = np.empty_like(x)
        for a, b in zip(bounds[:-1], bounds[1:]):
            qh, kh, vh = (m[a:b].reshape(b - a, heads, d).transpose(1, 0, 2) for m in (q, k, v))
            s = qh @ kh.transpose(0, 2, 1) / np.sqrt(d)
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            context[a:b] = (s @ vh).transpose(1, 0, 2).reshape(b - a, width)
        x = norm(x + dense(context, f"{p}.attention.output.dense"), f"{p}.attention.output.LayerNorm")
        h = dense(x, f"{p}.intermediate.dense")
        h = 0.5 * h * (1 + erf(h / np.sqrt(2)))
        x = norm(x + dense(h, f"{p}.output.dense"), f"{p}.output.LayerNorm")
    vectors = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        pooled = x[a:b].mean(0)
        vectors.append((pooled / np.linalg.norm(pooled)).tolist())
    return vectors


tokenizer = Tokenizer.from_file(f"{folder}/tokenizer.json")
tokenizer.no_padding()
tokenizer.enable_truncation(limit)
texts = json.load(sys.stdin)
print(json.dumps(encode([tokenizer.encode(t).ids for t in texts])))
