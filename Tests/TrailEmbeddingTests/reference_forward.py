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


def tensor(name):
    e = header[name]
    a, b = e["data_offsets"]
    return np.frombuffer(blob[a:b], dtype="<f4").reshape(e["shape"]).astype(np.float64)


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


def encode(ids):
    heads = config["num_attention_heads"]
    width = config["hidden_size"]
    d = width // heads
    x = tensor("embeddings.word_embeddings.weight")[ids] + tensor("embeddings.position_embeddings.weight")[: len(ids)]
    x = norm(x + tensor("embeddings.token_type_embeddings.weight")[0], "embeddings.LayerNorm")
    for n in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{n}"
        q, k, v = (dense(x, f"{p}.attention.self.{w}").reshape(len(ids), heads, d).transpose(1, 0, 2)
                   for w in ("query", "key", "value"))
        s = q @ k.transpose(0, 2, 1) / np.sqrt(d)
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        context = (s @ v).transpose(1, 0, 2).reshape(len(ids), width)
        x = norm(x + dense(context, f"{p}.attention.output.dense"), f"{p}.attention.output.LayerNorm")
        h = dense(x, f"{p}.intermediate.dense")
        h = 0.5 * h * (1 + erf(h / np.sqrt(2)))
        x = norm(x + dense(h, f"{p}.output.dense"), f"{p}.output.LayerNorm")
    pooled = x.mean(0)
    return pooled / np.linalg.norm(pooled)


tokenizer = Tokenizer.from_file(f"{folder}/tokenizer.json")
tokenizer.no_padding()
tokenizer.enable_truncation(limit)
texts = json.load(sys.stdin)
print(json.dumps([encode(tokenizer.encode(t).ids).tolist() for t in texts]))
